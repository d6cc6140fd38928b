//! `recon`: streaming detection of AWS CLI reconnaissance in CloudTrail,
//! with the detection logic in a sandboxed WebAssembly component.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use recon::detect::{DetectOptions, Progress, detect, summary_lines};
use recon::output::Format;
use recon::runtime::{CacheOutcome, Runtime, default_cache_dir};
use recon::settings::{FileSettings, ProfileName, RuleName};
use recon::sources::Order;

#[derive(Parser)]
#[command(name = "recon", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the detection rules over CloudTrail and print alerts as NDJSON.
    ///
    /// Inputs may be `{"Records":[...]}` files, JSON arrays, single
    /// objects or one record per line, any of them gzip-compressed; `-` (or
    /// no input) reads stdin. Alerts go to stdout, one JSON object per line;
    /// rejected records and a summary go to stderr.
    Detect(DetectArgs),
    /// Generate realistic CloudTrail records (NDJSON) with injected
    /// reconnaissance bursts and near misses, deterministically.
    ///
    /// The same options always give the same bytes. Output goes to stdout
    /// (or `--output`), ready for `recon detect -`.
    Gen(GenArgs),
    /// Work with the configuration file.
    Config(ConfigArgs),
    /// Write the detector component (the WebAssembly file this program
    /// embeds) for other hosts to load: the Node and Python packages under
    /// `hosts/` take it from here.
    Component(ComponentArgs),
    /// Scale out on NATS JetStream: partitioned records, workers that
    /// take over each other's partitions, every alert exactly once.
    Nats(recon::nats::cli::NatsArgs),
}

#[derive(Args)]
struct ConfigArgs {
    /// Write the complete default configuration file, every key with its
    /// default and what it does.
    #[arg(long, required = true)]
    print_default: bool,
}

#[derive(Args)]
struct ComponentArgs {
    /// Write here instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

fn run_component(args: ComponentArgs) -> Result<ExitCode> {
    use std::io::Write;
    match &args.output {
        Some(path) => std::fs::write(path, recon::runtime::COMPONENT)
            .with_context(|| format!("writing {}", path.display()))?,
        None => io::stdout()
            .lock()
            .write_all(recon::runtime::COMPONENT)
            .context("writing the component to stdout")?,
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
struct GenArgs {
    /// Seed of the pseudo-random generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Records to write, bursts included.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Event time of the first record (RFC 3339).
    #[arg(long, default_value = "2026-01-05T00:00:00Z")]
    start: String,
    /// Mean background events per second of event time.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Bound on disorder: no record is more than this many seconds older
    /// than one written before it (0: sorted by time).
    #[arg(long, default_value_t = 5.0)]
    disorder: f64,
    /// Reconnaissance bursts (and near misses) to inject.
    #[arg(long, default_value_t = 10)]
    bursts: u32,
    /// Fraction of records repeated as exact duplicates.
    #[arg(long, default_value_t = 0.002)]
    duplicates: f64,
    /// Fraction of background records made by aws-cli principals running
    /// aws-cli commands (1.0: every record from the aws-cli, the worst case
    /// for a pre-filter) [default: the realistic mix, about 3 %].
    #[arg(long, value_name = "FRACTION")]
    aws_cli_share: Option<f64>,
    /// Write here instead of stdout (with --delivery: the directory).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Write the trail as CloudTrail delivers it to S3, into the --output
    /// directory: gzipped `{"Records":[...]}` objects per account, region
    /// and five-minute slot (several per slot, records shuffled inside),
    /// under `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`, each
    /// record in the first slot after its delivery delay (--disorder is
    /// not used). See docs/delivery.md.
    #[arg(long, requires = "output")]
    delivery: bool,
    /// With --delivery: the longest delay between a record's event time
    /// and its object's slot, before rounding up to the slot (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = recon_gen::DEFAULT_MAX_DELAY_MS / 1000, requires = "delivery")]
    max_delay: u64,
    /// With --delivery: the most objects one account and region write per
    /// slot.
    #[arg(long, value_name = "N", default_value_t = recon_gen::DEFAULT_MAX_OBJECTS_PER_SLOT, requires = "delivery")]
    objects_per_slot: u32,
}

fn run_gen(args: GenArgs) -> Result<ExitCode> {
    let start =
        time::OffsetDateTime::parse(&args.start, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("--start {:?} is not an RFC 3339 time", args.start))?;
    if !(args.disorder.is_finite() && args.disorder >= 0.0) {
        anyhow::bail!("--disorder must be a non-negative number of seconds");
    }
    let opts = recon_gen::GenOptions {
        seed: args.seed,
        count: args.count,
        start_ms: (start.unix_timestamp_nanos() / 1_000_000) as i64,
        rate_per_sec: args.rate,
        max_disorder_ms: (args.disorder * 1000.0) as u64,
        bursts: args.bursts,
        duplicate_rate: args.duplicates,
        aws_cli_share: args.aws_cli_share,
    };
    if args.delivery {
        let dir = args.output.as_ref().expect("clap requires --output");
        let delivery = recon_gen::DeliveryOptions {
            max_delay_ms: args.max_delay.saturating_mul(1000),
            max_objects_per_slot: args.objects_per_slot,
        };
        let report = recon_gen::write_delivery(opts, delivery, dir)
            .with_context(|| format!("writing the delivery under {}", dir.display()))?;
        eprintln!(
            "recon: wrote {} records in {} objects under {}",
            report.records,
            report.objects,
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let written = match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            recon_gen::write_ndjson(opts, &mut BufWriter::new(file))?
        }
        None => recon_gen::write_ndjson(opts, &mut BufWriter::new(io::stdout().lock()))?,
    };
    eprintln!("recon: wrote {written} records");
    Ok(ExitCode::SUCCESS)
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LiveMode {
    Auto,
    On,
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
struct DetectArgs {
    /// Input files, directories (read recursively, in CloudTrail's
    /// delivery order) or zip archives; `-` is stdin (the default when none
    /// is given).
    #[arg(value_name = "FILE|DIR|-")]
    inputs: Vec<PathBuf>,
    /// Order of the inputs given: `given`, or `delivery` (by the time in
    /// CloudTrail's object names, then by name, as directories are read).
    #[arg(long, value_enum, default_value_t = Order::Given)]
    order: Order,
    /// Rules to run, comma-separated [default: all].
    #[arg(long, value_delimiter = ',', value_enum)]
    rules: Option<Vec<RuleName>>,
    /// `default` (the queries' intent) or `seed` (their letter).
    #[arg(long, value_enum)]
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
    /// Most rejected records reported one by one.
    #[arg(long, default_value_t = 20)]
    show_rejects: usize,
    /// Longest complete lines wait for more input before they are pushed
    /// (milliseconds), so alerts from a slow stream are not held back.
    #[arg(long, value_name = "MS", default_value_t = 200)]
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
    #[arg(long, value_enum, default_value_t = Format::Native)]
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

/// The `--allowed-lateness` help, with the default from its one definition.
fn lateness_help() -> String {
    format!(
        "How late (seconds behind the newest event) an event may arrive and still count \
         [default: {}, CloudTrail's delivery delay: see docs/delivery.md]",
        recon_guest::config::DEFAULT_ALLOWED_LATENESS_MS / 1000
    )
}

fn run_detect(args: DetectArgs) -> Result<ExitCode> {
    let mut settings = match &args.config {
        Some(path) => FileSettings::load(path)?,
        None => FileSettings::default(),
    };
    if let Some(rules) = args.rules {
        settings.rules = Some(rules);
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
    if let Some(k) = args.tenant_key {
        settings.tenants.key = Some(k);
        settings.set_by_flag("tenants.key");
    }
    let inputs = if args.inputs.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.inputs
    };
    let limits = settings.sandbox()?;
    let cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.or_else(default_cache_dir)
    };
    let runtime = match &cache_dir {
        Some(dir) => Runtime::cached(limits, dir),
        None => Runtime::new(limits),
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
        LiveMode::On => Some(settings.live_options()?),
        LiveMode::Auto if reads_stdin && stdin_is_a_stream() => Some(settings.live_options()?),
        _ => None,
    };
    // SIGINT and SIGTERM stop reading; what was read is processed and the
    // stream ended (or saved) as at the end of input.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed))
            .context("installing the signal handler")?;
    }
    let options = DetectOptions {
        settings,
        show_rejects: args.show_rejects,
        linger: Duration::from_millis(args.linger_ms),
        state: args.state,
        finish: args.finish,
        quarantine: args.quarantine,
        live,
        stop: Some(stop),
        format: args.format,
        progress: None,
        order: args.order,
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
        let mut options = options;
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
    if summary.unreadable.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "recon: {} input(s) could not be read completely",
            summary.unreadable.len()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// A progress line on stderr (a terminal): bytes and records read, the
/// rate, alerts so far; redrawn ten times a second from the run's totals.
struct ProgressDisplay {
    bar: indicatif::ProgressBar,
    done: Arc<AtomicBool>,
    ticker: std::thread::JoinHandle<()>,
}

impl ProgressDisplay {
    fn start(progress: Arc<Progress>) -> ProgressDisplay {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .expect("a valid template"),
        );
        let done = Arc::new(AtomicBool::new(false));
        let start = std::time::Instant::now();
        let update = move |bar: &indicatif::ProgressBar| {
            let records = progress.records.load(Ordering::Relaxed);
            let secs = start.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} read, {records} records ({:.0}/s), {} alerts",
                indicatif::HumanBytes(progress.bytes.load(Ordering::Relaxed)),
                records as f64 / secs,
                progress.alerts.load(Ordering::Relaxed),
            ));
        };
        // The line says what it counts from the first time it is drawn,
        // even when the run ends before the ticker's first turn.
        update(&bar);
        let ticker = {
            let (bar, done) = (bar.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    update(&bar);
                    bar.tick();
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        ProgressDisplay { bar, done, ticker }
    }

    /// Diagnostics written around the progress line, a whole line at a time.
    fn writer(&self) -> LinesAround {
        LinesAround {
            bar: self.bar.clone(),
            pending: Vec::new(),
        }
    }

    fn finish(self) {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.ticker.join();
        self.bar.finish_and_clear();
    }
}

/// Writes whole lines to stderr with the progress line out of the way.
struct LinesAround {
    bar: indicatif::ProgressBar,
    pending: Vec<u8>,
}

impl Write for LinesAround {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') {
            let lines: Vec<u8> = self.pending.drain(..=end).collect();
            self.bar.suspend(|| io::stderr().lock().write_all(&lines))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LinesAround {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let _ = io::stderr().lock().write_all(&self.pending);
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Detect(args) => run_detect(args),
        Command::Gen(args) => run_gen(args),
        Command::Component(args) => run_component(args),
        Command::Nats(args) => recon::nats::cli::run(args),
        Command::Config(_) => {
            print!("{}", recon::settings::default_file());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("recon: error: {e:#}");
            if is_config_error(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// True for errors in the configuration (exit status 2, like a usage
/// error); anything else that stops a run is status 1.
fn is_config_error(e: &anyhow::Error) -> bool {
    use recon::detect::DetectError;
    use recon::runtime::HostError;
    use recon::settings::SettingsError;
    e.chain().any(|c| {
        c.is::<SettingsError>()
            || matches!(c.downcast_ref::<HostError>(), Some(HostError::Config(_)))
            || matches!(
                c.downcast_ref::<DetectError>(),
                Some(DetectError::Settings(_) | DetectError::Host(HostError::Config(_)))
            )
    })
}
