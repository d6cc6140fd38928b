//! `recon detect`: its arguments, the configuration file with the options
//! over it, resolved once into the run's configuration, and the run.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use recon::choice::Choice;
use recon::detect::{
    DEFAULT_LINGER, DEFAULT_SHOW_REJECTS, DetectOptions, Progress, detect, summary_lines,
};
use recon::output::Format;
use recon::runtime::{CacheOutcome, Runtime, default_cache_dir};
use recon::settings::{FileSettings, ProfileName, RuleChoice};
use recon::sources::Order;

use crate::choice;
use crate::progress::ProgressDisplay;

/// `--live`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LiveMode {
    /// On when reading stdin from a pipe or terminal.
    Auto,
    /// On.
    On,
    /// Off: windows close on event time only.
    Off,
}

/// True if stdin is a pipe, a terminal or a socket (not a file).
fn stdin_is_a_stream() -> bool {
    use std::os::fd::AsFd;
    let Ok(fd) = io::stdin().as_fd().try_clone_to_owned() else {
        return false;
    };
    std::fs::File::from(fd)
        .metadata()
        .is_ok_and(|m| !m.file_type().is_file())
}

#[derive(Args)]
pub(crate) struct DetectArgs {
    /// Input files, directories (read recursively, in CloudTrail's
    /// delivery order) or zip archives; `-` is stdin (the default when none
    /// is given).
    #[arg(value_name = "FILE|DIR|-")]
    inputs: Vec<PathBuf>,
    /// Order of the inputs given: `given`, or `delivery` (by the time in
    /// CloudTrail's object names, then by name, as directories are read).
    #[arg(long, value_parser = choice::parser::<Order>(), default_value = Order::Given.name())]
    order: Order,
    /// Rules to run (repeatable, or comma-separated): a built-in by name
    /// (`sentinel`, `elastic`), or a Sigma rule file or a directory of them
    /// (docs/sigma.md). Exactly the rules named run [default: the
    /// built-ins].
    #[arg(long, value_delimiter = ',', value_name = "NAME|FILE|DIR", value_parser = rule_choice)]
    rules: Option<Vec<RuleChoice>>,
    /// `default` (the queries' intent) or `seed` (their letter).
    #[arg(long, value_parser = choice::parser::<ProfileName>())]
    profile: Option<ProfileName>,
    /// How late (seconds behind the newest event) an event may arrive and
    /// still count.
    #[arg(long, value_name = "SECONDS", help = lateness_help())]
    allowed_lateness: Option<u64>,
    /// Early alerts: also report a group the moment it reaches the rule's
    /// threshold, before its window closes (`"kind": "early"`); the final
    /// row follows when the window closes, with the same id [default: on
    /// in live mode, off otherwise].
    #[arg(long, overrides_with = "no_early")]
    early: bool,
    /// No early alerts, in live mode too: only the final rows.
    #[arg(long, overrides_with = "early")]
    no_early: bool,
    /// A TOML configuration file (see README); options given here win.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// KiB of input per call into the component [default: 1024].
    #[arg(long, value_name = "KIB")]
    chunk_kib: Option<usize>,
    /// Scanning threads, each with its own component instance
    /// [default: the number of cores].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Most rejected records reported one by one; given, far-ahead notices
    /// are listed one by one too (within the same number), rather than
    /// summarised per input [default: 20].
    #[arg(long, value_name = "N")]
    show_rejects: Option<usize>,
    /// Longest complete lines wait for more input before they are pushed
    /// (milliseconds), so alerts from a slow stream are not held back.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_LINGER.as_millis() as u64)]
    linger_ms: u64,
    /// Where the compiled component is kept between runs [default:
    /// $RECON_CACHE_DIR, else $XDG_CACHE_HOME/recon, else ~/.cache/recon].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile the component afresh and keep nothing.
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
    /// Resume from, and save to, this state file: windows still open at
    /// the end carry over to the next run instead of being closed.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// With --state: end the stream (close every window) and remove the
    /// state file.
    #[arg(long, requires = "state")]
    finish: bool,
    /// Give each tenant its own detector, in its own component instance,
    /// by this field of each record (a dotted path, e.g.
    /// `recipientAccountId`); alerts then carry a `tenant` member.
    #[arg(long, value_name = "FIELD")]
    tenant_key: Option<String>,
    /// Live mode: when input goes quiet, close windows on this machine's
    /// clock (advancing by the time passed since input paused, only for a
    /// stream within `live.max_lag_seconds` of the wall clock). `auto`: on
    /// when reading stdin from a pipe or terminal.
    #[arg(long, value_enum, default_value_t = LiveMode::Auto)]
    live: LiveMode,
    /// `native` (the rule's own row and metadata) or `ocsf` (an OCSF 1.8
    /// Detection Finding, the native line under `unmapped`).
    #[arg(long, value_parser = choice::parser::<Format>(), default_value = Format::Native.name())]
    format: Format,
    /// Write alerts to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// No progress display (it is shown only when stderr is a terminal).
    #[arg(long)]
    no_progress: bool,
    /// Write records that make the component trap on their own (they are
    /// left out, reported and counted) to this file, one per line.
    #[arg(long, value_name = "FILE")]
    quarantine: Option<PathBuf>,
}

/// A `--rules` entry: a built-in's name, else a path.
fn rule_choice(text: &str) -> Result<RuleChoice, String> {
    if text.is_empty() {
        return Err("an empty rule name or path".into());
    }
    Ok(RuleChoice::parse(text))
}

/// The `--allowed-lateness` help, with the default from its one definition.
fn lateness_help() -> String {
    format!(
        "How late (seconds behind the newest event) an event may arrive and still count \
         [default: {}, CloudTrail's delivery delay: see docs/delivery.md]",
        recon_guest::config::DEFAULT_ALLOWED_LATENESS_MS / 1000
    )
}

/// The configuration file with the options given here over it: the one
/// place the command line meets the file.
fn settings(args: &DetectArgs) -> Result<FileSettings> {
    let mut settings = match &args.config {
        Some(path) => FileSettings::load(path)?,
        None => FileSettings::default(),
    };
    if let Some(rules) = &args.rules {
        settings.rules = Some(rules.clone());
    }
    if let Some(p) = args.profile {
        settings.profile = Some(p);
    }
    if let Some(l) = args.allowed_lateness {
        settings.allowed_lateness_seconds = Some(l);
        settings.set_by_flag("allowed_lateness_seconds");
    }
    if args.early || args.no_early {
        settings.early_alerts = Some(args.early);
        settings.set_by_flag("early_alerts");
    }
    if let Some(c) = args.chunk_kib {
        settings.chunk_kib = Some(c);
        settings.set_by_flag("chunk_kib");
    }
    if let Some(w) = args.workers {
        settings.workers = Some(w);
        settings.set_by_flag("workers");
    }
    if let Some(k) = &args.tenant_key {
        settings.tenants.key = Some(k.clone());
        settings.set_by_flag("tenants.key");
    }
    Ok(settings)
}

/// Runs `recon detect`.
pub(crate) fn run(args: DetectArgs) -> Result<ExitCode> {
    // Resolved once: every setting checked before anything starts.
    let config = settings(&args)?.resolve()?;
    let inputs = if args.inputs.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.inputs
    };
    let cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.or_else(default_cache_dir)
    };
    let runtime = match &cache_dir {
        Some(dir) => Runtime::cached(config.sandbox, dir),
        None => Runtime::new(config.sandbox),
    }
    .context("starting the detector sandbox")?;
    if let CacheOutcome::Miss {
        refused: Some(why), ..
    } = runtime.cache_outcome()
    {
        eprintln!("recon: the compiled component in the cache was not used ({why}); recompiled it");
    }
    let reads_stdin = inputs.iter().all(|p| p.as_os_str() == "-");
    let live = match args.live {
        LiveMode::On => true,
        LiveMode::Auto => reads_stdin && stdin_is_a_stream(),
        LiveMode::Off => false,
    };
    // SIGINT and SIGTERM stop reading; what was read is processed and the
    // stream ended (or saved) as at the end of input.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed))
            .context("installing the signal handler")?;
    }
    let mut options = DetectOptions {
        show_rejects: args.show_rejects.unwrap_or(DEFAULT_SHOW_REJECTS),
        list_notices: args.show_rejects.is_some(),
        linger: Duration::from_millis(args.linger_ms),
        state: args.state,
        finish: args.finish,
        quarantine: args.quarantine,
        live,
        stop: Some(stop),
        format: args.format,
        order: args.order,
        ..DetectOptions::new(config)
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    let show_progress = !args.no_progress && io::stderr().is_terminal();
    let summary = if show_progress {
        let progress = Arc::new(Progress::default());
        options.progress = Some(progress.clone());
        let display = ProgressDisplay::start(progress);
        let mut err = display.writer();
        let summary = detect(&runtime, &inputs, &options, &mut out, &mut err);
        display.finish();
        summary?
    } else {
        let mut err = io::stderr().lock();
        detect(&runtime, &inputs, &options, &mut out, &mut err)?
    };
    out.flush().context("writing alerts")?;
    drop(out);
    for line in summary_lines(&summary) {
        eprintln!("{line}");
    }
    let none_readable = summary
        .verdicts
        .iter()
        .filter(|(_, v)| v.none_readable)
        .count();
    if !summary.unreadable.is_empty() {
        eprintln!(
            "recon: {} input(s) could not be read completely",
            summary.unreadable.len()
        );
    }
    if none_readable > 0 {
        // Input that no rule can read is not a quiet success.
        eprintln!("recon: {none_readable} input(s) held no readable record");
    }
    Ok(if summary.unreadable.is_empty() && none_readable == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
