//! `recon rules`: what rules there are (`list`) and what a rule file
//! compiles to (`check`), both from the component's registry
//! (`list-rules`): the component parses and compiles, this only prints.
//! `test` runs the test cases rule files carry (`recon::rule_tests`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use recon::rule_tests;
use recon::runtime::{
    ConfigError, Profile, Rule, RuleInfo, RuleKind, Runtime, SandboxLimits, WindowMode,
    config_error_text,
};
use recon::settings::RuleChoice;

#[derive(Args)]
pub(crate) struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// List rules: the built-ins and the catalogue (or those `--rules`
    /// names), one per line, or as JSON.
    List {
        /// Rules to list (as `recon detect --rules`) [default: the
        /// built-ins and the catalogue].
        #[arg(long, value_delimiter = ',', value_name = "NAME|FILE|DIR")]
        rules: Option<Vec<String>>,
        /// One JSON object per rule instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Validate Sigma rule files and print what each compiled to: its
    /// window, group-by, measure, threshold and the detection rules and
    /// filters it counts. Exits 2 when a file is refused.
    Check {
        /// Rule files or directories.
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// One JSON object per rule instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the test cases rule files carry (`rsigma.exemplars`, and the
    /// exact alerts of a `<rule>.tests.toml` beside the file): each case's
    /// events through `recon detect --rules FILE`, the rule's alerts
    /// compared. One line per case, a diff on failure. Exits 0 when every
    /// case passes, 1 when one fails, 2 when a file is refused.
    Test {
        /// Rule files or directories (each file runs alone).
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// A rule that alerts and has no case fails the run (exit 1)
        /// instead of being reported as untested.
        #[arg(long)]
        require_tests: bool,
    },
}

/// The registry of a configuration running `choices`: built-ins by name,
/// rule files read.
fn registry(choices: &[RuleChoice]) -> Result<Result<Vec<RuleInfo>, ConfigError>> {
    let builtins: Vec<Rule> = choices
        .iter()
        .filter_map(|c| match c {
            RuleChoice::BuiltIn(b) => Some(b.rule()),
            _ => None,
        })
        .collect();
    let files = recon::rules::rule_files(choices)?;
    let runtime = runtime()?;
    let mut instance = runtime.instantiate()?;
    let mut config = instance.default_config(&builtins, Profile::Default)?;
    if builtins.is_empty() {
        config.rules.clear();
    }
    config.rule_files = files
        .into_iter()
        .map(|(name, text)| recon::runtime::RuleFile { name, text })
        .collect();
    Ok(instance.list_rules(&config)?)
}

fn kind(k: RuleKind) -> &'static str {
    match k {
        RuleKind::BuiltIn => "built-in",
        RuleKind::Correlation => "correlation",
        RuleKind::Detection => "detection",
    }
}

fn window(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms}ms"),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms => format!("{}s", ms as f64 / 1000.0),
    }
}

fn window_mode(w: WindowMode) -> &'static str {
    match w {
        WindowMode::Tumbling => "tumbling",
        WindowMode::Sliding => "sliding",
    }
}

fn json(r: &RuleInfo) -> serde_json::Value {
    serde_json::json!({
        "name": r.name,
        "id": r.id,
        "title": r.title,
        "kind": kind(r.kind),
        "file": r.file,
        "window_ms": r.window_ms,
        "window": window_mode(r.window),
        "suppress_ms": r.suppress_ms,
        "measure": r.measure,
        "threshold": r.threshold,
        "group_by": r.group_by,
        "detections": r.detections,
        "filters": r.filters,
        "severity": r.severity,
        "tactics": r.tactics,
        "techniques": r.techniques,
        "settings": r.settings,
    })
}

fn print(rules: &[RuleInfo], as_json: bool, detail: bool) {
    for r in rules {
        if as_json {
            println!("{}", json(r));
            continue;
        }
        let group = if r.group_by.is_empty() {
            String::new()
        } else {
            format!(" by {}", r.group_by.join(", "))
        };
        let threshold = match r.kind {
            RuleKind::Detection => "every matching event".to_owned(),
            _ => format!(
                "{} {}{group} per {} {} window",
                r.measure,
                r.threshold,
                window(r.window_ms),
                window_mode(r.window)
            ),
        };
        println!("{}  [{}] {}", r.name, kind(r.kind), r.title);
        let suppress = if r.suppress_ms > 0 {
            format!(
                "; a group's repeats held back for {} after an alert",
                window(r.suppress_ms)
            )
        } else {
            String::new()
        };
        println!("    alerts: {threshold}; severity {}{suppress}", r.severity);
        if detail {
            if let Some(f) = &r.file {
                println!("    file: {f}");
            }
            if !r.id.is_empty() {
                println!("    id: {}", r.id);
            }
            if !r.detections.is_empty() {
                println!("    counts events of: {}", r.detections.join(", "));
            }
            if !r.filters.is_empty() {
                println!("    exceptions (filters): {}", r.filters.join(", "));
            }
            if !r.tactics.is_empty() || !r.techniques.is_empty() {
                println!(
                    "    ATT&CK: {}",
                    r.tactics
                        .iter()
                        .chain(&r.techniques)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
}

/// The compiled component from the cache `recon detect` keeps (a fresh
/// compile takes seconds).
fn runtime() -> Result<Runtime> {
    let limits = SandboxLimits::default();
    Ok(match recon::runtime::default_cache_dir() {
        Some(dir) => Runtime::cached(limits, &dir)?,
        None => Runtime::new(limits)?,
    })
}

/// Runs `recon rules test`.
fn test(paths: &[PathBuf], require_tests: bool) -> Result<ExitCode> {
    let files = recon::rules::load_rule_files(paths)?;
    let runtime = runtime()?;
    let scratch = rule_tests::Scratch::new()?;
    let (mut passed, mut failed, mut untested, mut refused) = (0usize, 0usize, 0usize, 0usize);
    for (name, text) in &files {
        let side_path = rule_tests::side_file(Path::new(name));
        let side = match std::fs::read_to_string(&side_path) {
            Ok(t) => Some((side_path.display().to_string(), t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                eprintln!("recon: reading {}: {e}", side_path.display());
                refused += 1;
                continue;
            }
        };
        let suite = match rule_tests::prepare(&runtime, name, text, side)? {
            Ok(s) => s,
            Err(why) => {
                println!("REFUSED {name}");
                eprintln!("recon: {why}");
                refused += 1;
                continue;
            }
        };
        for r in rule_tests::run(&runtime, &suite, &scratch)
            .with_context(|| format!("running the cases of {name}"))?
        {
            match &r.failure {
                None => {
                    passed += 1;
                    println!("PASS {name}: {}: {}", r.rule, r.case);
                }
                Some(lines) => {
                    failed += 1;
                    println!("FAIL {name}: {}: {}", r.rule, r.case);
                    for l in lines {
                        println!("    {l}");
                    }
                }
            }
        }
        for rule in &suite.untested {
            untested += 1;
            let what = if require_tests { "FAIL" } else { "UNTESTED" };
            println!("{what} {name}: {rule}: no test cases");
        }
    }
    let mut summary = format!(
        "recon: {} cases: {passed} passed, {failed} failed",
        passed + failed
    );
    if untested > 0 {
        summary.push_str(&format!(
            "; {untested} rule(s) without cases{}",
            if require_tests {
                " (failures: --require-tests)"
            } else {
                ""
            }
        ));
    }
    if refused > 0 {
        summary.push_str(&format!("; {refused} file(s) refused"));
    }
    eprintln!("{summary}");
    Ok(if refused > 0 {
        ExitCode::from(2)
    } else if failed > 0 || (require_tests && untested > 0) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs `recon rules`.
pub(crate) fn run(args: RulesArgs) -> Result<ExitCode> {
    match args.command {
        RulesCommand::Test {
            paths,
            require_tests,
        } => test(&paths, require_tests),
        RulesCommand::List { rules, json } => {
            let choices: Vec<RuleChoice> = match rules {
                Some(r) => r.iter().map(|t| RuleChoice::parse(t)).collect(),
                None => recon::rules::RULES
                    .iter()
                    .map(|r| RuleChoice::BuiltIn(r.name))
                    .chain([RuleChoice::Catalogue])
                    .collect(),
            };
            match registry(&choices)? {
                Ok(rules) => {
                    print(&rules, json, false);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("recon: {}", config_error_text(&e));
                    Ok(ExitCode::from(2))
                }
            }
        }
        RulesCommand::Check { paths, json } => {
            let choices: Vec<RuleChoice> = paths.into_iter().map(RuleChoice::Path).collect();
            let rules = registry(&choices).context("checking the rule files")?;
            match rules {
                Ok(rules) => {
                    print(&rules, json, true);
                    if !json {
                        eprintln!("recon: {} rules compiled", rules.len());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("recon: {}", config_error_text(&e));
                    Ok(ExitCode::from(2))
                }
            }
        }
    }
}
