//! `recon rules test`: the test cases a rule file carries (rsigma's
//! `rsigma.exemplars`, read by the guest crate's
//! [`recon_guest::sigma::exemplars`]), with the exact alerts a side file
//! (`<rule>.tests.toml`) may add, run through [`crate::detect::detect`]:
//! each case's events are an input of `recon detect --rules FILE`, and the
//! target rule's alerts are compared with what the case expects.
//! docs/sigma.md ("Rule tests") is the specification.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use recon_guest::sigma::exemplars::{self, TargetKind};

use crate::detect::{DetectError, DetectOptions, Summary, detect};
use crate::runtime::{
    ConfigError, HostError, Profile, RuleFile, RuleInfo, Runtime, config_error_text,
};
use crate::settings::{FileSettings, RuleChoice, SettingsError};

/// How a side file's name ends: `rules/x.yml` has `rules/x.tests.toml`.
/// Not `.yml`, so that nothing that reads a directory of rules (`--rules
/// DIR`, the embedded catalogue, the Python package) takes it for one.
pub const SIDE_FILE_EXTENSION: &str = "tests.toml";

/// The side file of a rule file: the same name, ending `.tests.toml`.
pub fn side_file(rule_file: &Path) -> PathBuf {
    rule_file.with_extension(SIDE_FILE_EXTENSION)
}

/// One `[[case]]` of a side file: more about a case of the rule file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SideCase {
    /// The rule, by the name its alerts carry or by its id.
    rule: String,
    /// The case, by its name (or its index, as rsigma names an unnamed
    /// case).
    name: String,
    /// Exactly this many alerts of the rule.
    alerts: Option<u64>,
    /// The alerts' rows, in any order: each alert's row must hold every
    /// member its expected row names, with that value.
    rows: Option<Vec<Map<String, Value>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Side {
    #[serde(default)]
    case: Vec<SideCase>,
}

/// What a case expects of its rule's alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// `expect: match` (at least one alert) or `no-match` (none).
    pub expect_match: bool,
    /// From the side file: exactly this many alerts.
    pub alerts: Option<u64>,
    /// From the side file: these rows (members not named are not
    /// compared), one per alert.
    pub rows: Option<Vec<Map<String, Value>>>,
}

/// One case, ready to run.
#[derive(Debug, Clone)]
pub struct Test {
    /// The rule whose alerts are compared (the `rule` of its alerts).
    pub rule: String,
    /// The case's name.
    pub case: String,
    /// Its records, as pushed, one JSON object each.
    pub records: Vec<String>,
    /// A detection rule's case that runs with the file's correlations
    /// left out (the rule alerts on its own only then).
    pub alone: bool,
    /// What must come out.
    pub expected: Expectation,
}

/// A rule file's tests.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The rule file, as named.
    pub file: String,
    text: String,
    alone_text: Option<String>,
    /// Its side file, when it has one.
    pub side: Option<String>,
    /// Every case, in file order.
    pub tests: Vec<Test>,
    /// The rules that alert and carry no case.
    pub untested: Vec<String>,
}

/// A case's verdict.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// The rule.
    pub rule: String,
    /// The case's name.
    pub case: String,
    /// `None` when it passed; else what differs, line by line.
    pub failure: Option<Vec<String>>,
}

/// A failure that stops a run (not a failed case).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The run of a case failed.
    #[error(transparent)]
    Detect(#[from] DetectError),
    /// The configuration of a case's run was refused.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The component failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The case's events could not be written to the scratch directory.
    #[error("writing a case's events to {path}: {source}")]
    Io {
        /// Where.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What the component compiles `files` to, or why not (as `recon rules
/// check` asks it).
fn compile(
    runtime: &Runtime,
    files: Vec<RuleFile>,
) -> Result<Result<Vec<RuleInfo>, ConfigError>, HostError> {
    let mut instance = runtime.instantiate()?;
    let mut config = instance.default_config(&[], Profile::Default)?;
    config.rules.clear();
    config.rule_files = files;
    instance.list_rules(&config)
}

/// Reads a rule file's cases and its side file's expectations, and checks
/// both against what the component compiles the file to. The outer error
/// is the component failing; the inner one, the file refused (the message
/// names the file, and the line or case).
pub fn prepare(
    runtime: &Runtime,
    name: &str,
    text: &str,
    side: Option<(String, String)>,
) -> Result<Result<Suite, String>, HostError> {
    let file = RuleFile {
        name: name.to_owned(),
        text: text.to_owned(),
    };
    if let Err(e) = compile(runtime, vec![file.clone()])? {
        return Ok(Err(config_error_text(&e)));
    }
    let read = match exemplars::read(&recon_guest::RuleFile {
        name: name.to_owned(),
        text: text.to_owned(),
    }) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e.to_string())),
    };
    if let Some(alone) = &read.detections_alone
        && let Err(e) = compile(
            runtime,
            vec![RuleFile {
                name: name.to_owned(),
                text: alone.clone(),
            }],
        )?
    {
        return Ok(Err(format!(
            "{name}: its detection rules' cases run with its correlations left out, and \
             without them the file does not compile: {}",
            config_error_text(&e)
        )));
    }
    let mut tests = Vec::new();
    let mut untested = Vec::new();
    for r in &read.rules {
        if r.cases.is_empty() && r.alerts {
            untested.push(r.rule.clone());
        }
        for c in &r.cases {
            tests.push(Test {
                rule: r.rule.clone(),
                case: c.name.clone(),
                records: c.records.clone(),
                alone: r.kind == TargetKind::Detection && !r.alerts,
                expected: Expectation {
                    expect_match: c.expect_match,
                    alerts: None,
                    rows: None,
                },
            });
        }
    }
    let side_name = side.as_ref().map(|(n, _)| n.clone());
    if let Some((side_name, side_text)) = side
        && let Err(e) = apply_side(&read, &mut tests, name, &side_name, &side_text)
    {
        return Ok(Err(e));
    }
    Ok(Ok(Suite {
        file: name.to_owned(),
        text: text.to_owned(),
        alone_text: read.detections_alone,
        side: side_name,
        tests,
        untested,
    }))
}

/// Adds a side file's expectations to the cases they name.
fn apply_side(
    read: &exemplars::FileCases,
    tests: &mut [Test],
    name: &str,
    side_name: &str,
    side_text: &str,
) -> Result<(), String> {
    let side: Side = toml::from_str(side_text).map_err(|e| format!("{side_name}: {e}"))?;
    let mut seen = HashSet::new();
    for (i, s) in side.case.iter().enumerate() {
        let at = format!(
            "{side_name}: case {} (rule {:?}, {:?})",
            i + 1,
            s.rule,
            s.name
        );
        let Some(rule) = read
            .rules
            .iter()
            .find(|r| r.rule == s.rule || (!r.id.is_empty() && r.id == s.rule))
        else {
            let known: Vec<&str> = read.rules.iter().map(|r| r.rule.as_str()).collect();
            return Err(format!(
                "{at}: {name} has no rule {:?} (its rules: {})",
                s.rule,
                known.join(", ")
            ));
        };
        let Some(case) = rule.cases.iter().find(|c| c.name == s.name) else {
            let known: Vec<String> = rule.cases.iter().map(|c| format!("{:?}", c.name)).collect();
            return Err(format!(
                "{at}: rule {:?} has no case {:?} in {name} (its cases: {})",
                rule.rule,
                s.name,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        };
        if !seen.insert((rule.rule.clone(), case.name.clone())) {
            return Err(format!("{at}: the case is named twice"));
        }
        let alerts = match (s.alerts, &s.rows) {
            (Some(n), Some(rows)) if n != rows.len() as u64 => {
                return Err(format!(
                    "{at}: alerts = {n} but {} rows are given; give one row per alert",
                    rows.len()
                ));
            }
            (Some(n), _) => Some(n),
            (None, Some(rows)) => Some(rows.len() as u64),
            (None, None) => None,
        };
        match alerts {
            Some(0) if case.expect_match => {
                return Err(format!(
                    "{at}: the case says `expect: match` but expects no alert here"
                ));
            }
            Some(n) if n > 0 && !case.expect_match => {
                return Err(format!(
                    "{at}: the case says `expect: no-match` but expects {n} alert(s) here"
                ));
            }
            _ => {}
        }
        let t = tests
            .iter_mut()
            .find(|t| t.rule == rule.rule && t.case == case.name)
            .expect("every case of the file is a test");
        t.expected.alerts = alerts;
        t.expected.rows = s.rows.clone();
    }
    Ok(())
}

/// One alert of the target rule, as its line gives it.
#[derive(Debug, Clone)]
struct Got {
    window_start: String,
    row: Map<String, Value>,
}

/// A scratch directory for the cases' inputs, removed when dropped.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// Creates `recon-rules-test-<pid>` under the system's temporary
    /// directory.
    pub fn new() -> Result<Scratch, RunError> {
        let dir = std::env::temp_dir().join(format!("recon-rules-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| RunError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(Scratch { dir })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs every case of `suite`, each through its own `recon detect` run
/// (the file's rules, default settings, the case's events as the input).
pub fn run(
    runtime: &Runtime,
    suite: &Suite,
    scratch: &Scratch,
) -> Result<Vec<CaseReport>, RunError> {
    let input = scratch.dir.join("case.ndjson");
    let mut reports = Vec::new();
    for t in &suite.tests {
        let text = match (&suite.alone_text, t.alone) {
            (Some(alone), true) => alone.clone(),
            _ => suite.text.clone(),
        };
        let mut records = t.records.join("\n");
        records.push('\n');
        std::fs::write(&input, records).map_err(|source| RunError::Io {
            path: input.display().to_string(),
            source,
        })?;
        let settings = FileSettings {
            rules: Some(vec![RuleChoice::Path(PathBuf::from(&suite.file))]),
            ..FileSettings::default()
        };
        let config = settings.resolve_with(crate::settings::RuleTexts {
            files: vec![(suite.file.clone(), text)],
            tenants: Vec::new(),
        })?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let summary = detect(
            runtime,
            std::slice::from_ref(&input),
            &DetectOptions::new(config),
            &mut out,
            &mut err,
        )?;
        let got: Vec<Got> = String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|a| a["rule"] == t.rule.as_str())
            .map(|a| Got {
                window_start: a["window_start"].as_str().unwrap_or_default().to_owned(),
                row: a["row"].as_object().cloned().unwrap_or_default(),
            })
            .collect();
        let diagnostics: Vec<String> = String::from_utf8_lossy(&err)
            .lines()
            .map(|l| l.replace(&input.display().to_string(), "case"))
            .collect();
        let mut failure = compare(&t.expected, &got);
        let rejected = summary.stats.as_ref().map_or(0, |s| s.rejected);
        if rejected > 0 {
            failure.push(format!(
                "{rejected} of the case's {} events could not be read:",
                t.records.len()
            ));
            failure.extend(diagnostics.iter().map(|d| format!("  {d}")));
        }
        if !failure.is_empty() {
            failure.push(events_line(&summary, t));
        }
        reports.push(CaseReport {
            rule: t.rule.clone(),
            case: t.case.clone(),
            failure: (!failure.is_empty()).then_some(failure),
        });
    }
    Ok(reports)
}

/// What the rule made of the case's events, for a failure's last line.
fn events_line(summary: &Summary, t: &Test) -> String {
    let mut line = format!("events: {}", t.records.len());
    if let Some(r) = summary.rules.iter().find(|r| r.rule == t.rule) {
        line.push_str(&format!(
            ", counted by the rule {}, not matching it {}",
            r.stats.accepted, r.stats.filtered
        ));
        if r.stats.rejected > 0 {
            line.push_str(&format!(", unreadable {}", r.stats.rejected));
        }
        if r.stats.late > 0 {
            line.push_str(&format!(", late {}", r.stats.late));
        }
    }
    if t.alone {
        line.push_str(" (the detection rule run alone: the file's correlations left out)");
    }
    line
}

fn json(row: &Map<String, Value>) -> String {
    Value::Object(row.clone()).to_string()
}

/// Whether `row` holds every member `expected` names, with its value.
fn satisfies(expected: &Map<String, Value>, row: &Map<String, Value>) -> bool {
    expected.iter().all(|(k, v)| row.get(k) == Some(v))
}

/// What differs between the expectation and the alerts, line by line;
/// empty when the case passed.
fn compare(e: &Expectation, got: &[Got]) -> Vec<String> {
    let n = got.len() as u64;
    let plural = |n: u64| if n == 1 { "alert" } else { "alerts" };
    let mut out = Vec::new();
    match e.alerts {
        Some(want) if want != n => {
            out.push(format!("alerts: expected {want} {}, got {n}", plural(want)))
        }
        None if e.expect_match && n == 0 => {
            out.push("alerts: expected at least 1 (expect: match), got 0".to_owned())
        }
        None if !e.expect_match && n > 0 => {
            out.push(format!("alerts: expected none (expect: no-match), got {n}"))
        }
        _ => {}
    }
    let Some(rows) = &e.rows else {
        if !out.is_empty() && !got.is_empty() {
            out.push("got:".to_owned());
            for g in got {
                out.push(format!(
                    "  {}  (window from {})",
                    json(&g.row),
                    g.window_start
                ));
            }
        }
        return out;
    };
    // Rows as expected first; then each other expected row beside the
    // alert closest to it; then the alerts no row expected.
    let mut used = vec![false; got.len()];
    let mut missing = Vec::new();
    let mut lines = Vec::new();
    for want in rows {
        match (0..got.len()).find(|&i| !used[i] && satisfies(want, &got[i].row)) {
            Some(i) => {
                used[i] = true;
                lines.push(format!("  = {}", json(want)));
            }
            None => missing.push(want),
        }
    }
    for want in &missing {
        let closest = (0..got.len()).filter(|&i| !used[i]).max_by_key(|&i| {
            let same = want
                .iter()
                .filter(|(k, v)| got[i].row.get(*k) == Some(*v))
                .count();
            (same, std::cmp::Reverse(i))
        });
        lines.push(format!("  - {}", json(want)));
        if let Some(i) = closest {
            used[i] = true;
            let g = &got[i];
            lines.push(format!(
                "  + {}  (window from {})",
                json(&g.row),
                g.window_start
            ));
            for (k, v) in *want {
                match g.row.get(k) {
                    Some(have) if have == v => {}
                    Some(have) => lines.push(format!("      {k}: expected {v}, got {have}")),
                    None => lines.push(format!("      {k}: expected {v}, the row has no {k}")),
                }
            }
        }
    }
    for (i, g) in got.iter().enumerate() {
        if !used[i] {
            lines.push(format!(
                "  + {}  (window from {})",
                json(&g.row),
                g.window_start
            ));
        }
    }
    if !missing.is_empty() || used.iter().any(|u| !u) {
        out.push(
            "rows (= as expected, - expected but not given, + given but not expected):".into(),
        );
        out.extend(lines);
    } else if !out.is_empty() {
        out.push("rows:".into());
        out.extend(lines);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn got(v: Value) -> Got {
        Got {
            window_start: "2023-11-14T22:10:00Z".into(),
            row: row(v),
        }
    }

    #[test]
    fn match_and_no_match_compare_the_count() {
        let m = Expectation {
            expect_match: true,
            alerts: None,
            rows: None,
        };
        assert!(compare(&m, &[got(serde_json::json!({"count": 3}))]).is_empty());
        assert_eq!(
            compare(&m, &[]),
            ["alerts: expected at least 1 (expect: match), got 0"]
        );
        let none = Expectation {
            expect_match: false,
            ..m
        };
        assert!(compare(&none, &[]).is_empty());
        let d = compare(&none, &[got(serde_json::json!({"count": 3}))]);
        assert_eq!(d[0], "alerts: expected none (expect: no-match), got 1");
        assert!(d[2].contains(r#"{"count":3}"#), "{d:?}");
    }

    #[test]
    fn rows_are_compared_on_the_members_named() {
        let e = Expectation {
            expect_match: true,
            alerts: Some(2),
            rows: Some(vec![
                row(serde_json::json!({"user": "alice", "count": 5})),
                row(serde_json::json!({"user": "bob", "count": 5})),
            ]),
        };
        let alice = got(serde_json::json!({"user": "alice", "region": "x", "count": 5}));
        let bob = got(serde_json::json!({"user": "bob", "region": "x", "count": 5}));
        assert!(compare(&e, &[bob.clone(), alice.clone()]).is_empty());
        let bob4 = got(serde_json::json!({"user": "bob", "region": "x", "count": 4}));
        let d = compare(&e, &[alice.clone(), bob4]);
        assert_eq!(
            d,
            [
                "rows (= as expected, - expected but not given, + given but not expected):",
                r#"  = {"user":"alice","count":5}"#,
                r#"  - {"user":"bob","count":5}"#,
                r#"  + {"user":"bob","region":"x","count":4}  (window from 2023-11-14T22:10:00Z)"#,
                "      count: expected 5, got 4",
            ]
        );
        let d = compare(&e, &[alice]);
        assert_eq!(d[0], "alerts: expected 2 alerts, got 1");
        assert_eq!(d[3], r#"  - {"user":"bob","count":5}"#);
    }
}
