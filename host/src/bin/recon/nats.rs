//! `recon nats …`: the subcommands' arguments, and what each runs
//! (through `recon::nats`).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use recon::nats::client::{ConnectOptions, DEFAULT_SERVER, Nats};
use recon::nats::publish::{DEFAULT_BATCH_BYTES, PublishOptions, publish};
use recon::nats::query::{alerts, status, write_status_table};
use recon::nats::setup::{
    DEFAULT_ALERTS_DEDUP, DEFAULT_RECORDS_DEDUP, DEFAULT_RECORDS_MAX_AGE,
    DEFAULT_RECORDS_MAX_BYTES, SetupOptions, SetupOutcome, setup,
};
use recon::nats::worker::{
    DEFAULT_LEASE, DEFAULT_SNAPSHOT_INTERVAL, DEFAULT_SNAPSHOT_RECORDS, WorkerOptions, run_worker,
};
use recon::nats::{Layout, bridge};
use recon::output::Format;
use recon::runtime::{Runtime, default_cache_dir};
use recon::settings::{FileSettings, RunConfig};

use recon::choice::Choice;

use crate::choice;

/// `recon nats`.
#[derive(Args)]
pub(crate) struct NatsArgs {
    #[command(subcommand)]
    command: NatsCommand,
}

#[derive(Subcommand)]
enum NatsCommand {
    /// Create the streams and the state bucket and store the partition
    /// count and configuration (idempotent; refuses to change either).
    Setup(SetupArgs),
    /// Read inputs as `recon detect` does and publish each record to its
    /// partitions (re-running it on the same inputs duplicates nothing).
    Publish(PublishArgs),
    /// Take records from a plain subject (Vector's and Fluent Bit's NATS
    /// outputs) and publish them as `publish` does, until SIGINT/SIGTERM.
    Bridge(BridgeArgs),
    /// Claim partitions, restore, replay, detect, publish alerts, snapshot;
    /// give partitions up on SIGTERM.
    Worker(WorkerArgs),
    /// Print the alerts published so far (or as they come), as `recon
    /// detect` writes them.
    Alerts(AlertsArgs),
    /// Per partition: owner, position applied, last position, ended.
    Status(StatusArgs),
}

/// Where and how to connect: every `recon nats` command takes these.
#[derive(Args)]
struct ConnectArgs {
    /// NATS server URL (several separated by commas).
    #[arg(long, default_value = DEFAULT_SERVER, env = "RECON_NATS_SERVER")]
    server: String,
    /// User name (with --password).
    #[arg(long, requires = "password")]
    user: Option<String>,
    /// Password (with --user).
    #[arg(long, env = "RECON_NATS_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Authentication token.
    #[arg(
        long,
        env = "RECON_NATS_TOKEN",
        hide_env_values = true,
        conflicts_with = "user"
    )]
    token: Option<String>,
    /// NATS credentials file (JWT and NKey seed).
    #[arg(long, conflicts_with_all = ["user", "token"])]
    creds: Option<PathBuf>,
    /// CA certificate (PEM) to trust for the server's TLS certificate;
    /// implies TLS.
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, with --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Client key (PEM), with --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require TLS even without --tls-ca (the system's roots are trusted).
    #[arg(long)]
    tls: bool,
}

impl From<ConnectArgs> for ConnectOptions {
    fn from(a: ConnectArgs) -> ConnectOptions {
        ConnectOptions {
            server: a.server,
            user: a.user,
            password: a.password,
            token: a.token,
            creds: a.creds,
            tls_ca: a.tls_ca,
            tls_cert: a.tls_cert,
            tls_key: a.tls_key,
            tls: a.tls,
        }
    }
}

#[derive(Args)]
struct SetupArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Partitions of each rule's work: the most workers that can share it.
    #[arg(long)]
    partitions: u32,
    /// Configuration file every worker runs (`recon config --print-default`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// How long the records stream drops a batch it already holds, in
    /// seconds: re-running a publish within it duplicates nothing.
    #[arg(long, default_value_t = DEFAULT_RECORDS_DEDUP.as_secs())]
    records_dedup_seconds: u64,
    /// How long the alert stream drops an alert it already holds, in
    /// seconds: more than the snapshot interval plus a takeover.
    #[arg(long, default_value_t = DEFAULT_ALERTS_DEDUP.as_secs())]
    alerts_dedup_seconds: u64,
    /// How long records are kept, in seconds (longer than the oldest
    /// snapshot a partition may restart from).
    #[arg(long, default_value_t = DEFAULT_RECORDS_MAX_AGE.as_secs())]
    records_max_age_seconds: u64,
    /// Most MiB the records stream holds (0: no bound of its own). Records
    /// every snapshot covers are purged, so this bounds the lag; a full
    /// stream makes publishers wait. Keep it well below the server's
    /// max_file_store (docs/scale-out.md, "Sizing the store"); running
    /// setup again with another value changes it in place.
    #[arg(long, default_value_t = DEFAULT_RECORDS_MAX_BYTES >> 20)]
    records_max_mib: u64,
}

#[derive(Args)]
struct PublishArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Inputs (`-` or none: stdin).
    inputs: Vec<PathBuf>,
    /// Then mark the end of input on every partition: every window closes
    /// (a backtest).
    #[arg(long)]
    end: bool,
    /// Bytes of records per message, in KiB (capped by the server's
    /// max_payload).
    #[arg(long, default_value_t = DEFAULT_BATCH_BYTES / 1024)]
    batch_kib: usize,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[derive(Args)]
struct BridgeArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Subject the shipper publishes to (wildcards allowed).
    #[arg(long)]
    subject: String,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[derive(Args)]
struct WorkerArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// This worker's name, unique among live workers [default: host-pid].
    #[arg(long)]
    id: Option<String>,
    /// Lease, in milliseconds: a dead worker's partitions are taken over
    /// after it.
    #[arg(long, default_value_t = DEFAULT_LEASE.as_millis() as u64)]
    lease_ms: u64,
    /// Snapshot a partition after this many records.
    #[arg(long, default_value_t = DEFAULT_SNAPSHOT_RECORDS)]
    snapshot_records: u64,
    /// ... or after this many seconds.
    #[arg(long, default_value_t = DEFAULT_SNAPSHOT_INTERVAL.as_secs())]
    snapshot_seconds: u64,
    /// Live mode: quiet partitions close their windows on this machine's
    /// clock (settings from the configuration's [live] section).
    #[arg(long)]
    live: bool,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

/// The component's sandbox, for the commands that run it (workers detect;
/// publishers place records with it).
#[derive(Args)]
struct SandboxArgs {
    /// Compile the component afresh instead of using the cache.
    #[arg(long)]
    no_cache: bool,
}

impl SandboxArgs {
    /// The deployment's layout and configuration, and a sandbox with the
    /// configuration's bounds.
    fn start(&self, nats: &Nats) -> anyhow::Result<(Layout, RunConfig, Runtime)> {
        let layout = Layout::load(nats)?;
        let run = layout.resolve()?;
        let limits = run.sandbox;
        let runtime = match (self.no_cache, default_cache_dir()) {
            (false, Some(dir)) => Runtime::cached(limits, &dir),
            _ => Runtime::new(limits),
        }
        .context("starting the detector sandbox")?;
        Ok((layout, run, runtime))
    }
}

#[derive(Args)]
struct AlertsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Keep printing alerts as they are published (until SIGINT/SIGTERM).
    #[arg(long)]
    follow: bool,
    /// Alert format.
    #[arg(long, value_parser = choice::parser::<Format>(), default_value = Format::Native.name())]
    format: Format,
}

#[derive(Args)]
struct StatusArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// One JSON object with a `partitions` array.
    #[arg(long)]
    json: bool,
}

fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    ctrlc::set_handler(move || s.store(true, Ordering::Relaxed))
        .context("installing the signal handler")?;
    Ok(stop)
}

/// Runs `recon nats …`.
pub(crate) fn run(args: NatsArgs) -> Result<ExitCode> {
    match args.command {
        NatsCommand::Setup(a) => {
            let text = match &a.config {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
                None => String::new(),
            };
            // Refuse a bad file here, with the file's name.
            FileSettings::parse(&text)
                .and_then(|s| s.resolve())
                .with_context(|| format!("reading {}", a.config.unwrap_or_default().display()))?;
            let nats = Nats::connect(&a.connect.into(), "recon setup")?;
            let outcome = setup(
                &nats,
                &SetupOptions {
                    partitions: a.partitions,
                    config: text,
                    records_dedup: Duration::from_secs(a.records_dedup_seconds),
                    alerts_dedup: Duration::from_secs(a.alerts_dedup_seconds),
                    records_max_age: Duration::from_secs(a.records_max_age_seconds),
                    records_max_bytes: a.records_max_mib.saturating_mul(1 << 20),
                },
            )?;
            eprintln!(
                "recon: {} ({} partitions per rule)",
                match outcome {
                    SetupOutcome::Created => "set up",
                    SetupOutcome::Unchanged => "already set up, unchanged",
                },
                a.partitions
            );
            Ok(ExitCode::SUCCESS)
        }
        NatsCommand::Publish(a) => {
            let nats = Nats::connect(&a.connect.into(), "recon publish")?;
            let (layout, run, runtime) = a.sandbox.start(&nats)?;
            let inputs = if a.inputs.is_empty() {
                vec![PathBuf::from("-")]
            } else {
                a.inputs
            };
            let from_pipe = inputs.iter().any(|p| p.as_os_str() == "-");
            let options = PublishOptions {
                batch_bytes: a.batch_kib.saturating_mul(1024),
                linger: from_pipe.then_some(recon::input::DEFAULT_LINGER),
            };
            let s = publish(
                &nats,
                &runtime,
                layout,
                run,
                &inputs,
                options,
                a.end,
                &mut io::stderr().lock(),
            )?;
            eprintln!(
                "recon: read {} records; published {} in {} messages ({} already in the \
                 stream: duplicates suppressed); {} counted by no rule, not published; {} too \
                 large{}{}{}",
                s.records,
                s.published,
                s.batches,
                s.duplicates,
                s.unplaced,
                s.oversized,
                if s.quarantined > 0 {
                    format!("; {} quarantined (their placement trapped)", s.quarantined)
                } else {
                    String::new()
                },
                if s.full_waits > 0 {
                    format!(
                        "; waited for room in a full store {} times ({:.1}s in all)",
                        s.full_waits,
                        s.full_wait.as_secs_f64()
                    )
                } else {
                    String::new()
                },
                if a.end {
                    "; end of input marked on every partition"
                } else {
                    ""
                }
            );
            Ok(if s.unreadable > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        NatsCommand::Bridge(a) => {
            let nats = Nats::connect(&a.connect.into(), "recon bridge")?;
            let (layout, run, runtime) = a.sandbox.start(&nats)?;
            let stop = stop_flag()?;
            let s = bridge::bridge(
                &nats,
                &runtime,
                (layout, run),
                &a.subject,
                &stop,
                &mut io::stderr().lock(),
            )?;
            eprintln!(
                "recon: bridge stopped: read {} records; published {} in {} messages; {} \
                 counted by no rule",
                s.records, s.published, s.batches, s.unplaced
            );
            Ok(ExitCode::SUCCESS)
        }
        NatsCommand::Worker(a) => {
            let nats = Nats::connect(&a.connect.into(), "recon worker")?;
            let (layout, run, runtime) = a.sandbox.start(&nats)?;
            let id = a.id.unwrap_or_else(|| {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_owned())
                    .unwrap_or_else(|_| "worker".into());
                format!("{host}-{}", std::process::id())
            });
            let options = WorkerOptions {
                id,
                lease: Duration::from_millis(a.lease_ms.max(300)),
                snapshot_records: a.snapshot_records.max(1),
                snapshot_interval: Duration::from_secs(a.snapshot_seconds),
                live: a.live.then_some(run.live),
            };
            let s = run_worker(&nats, &runtime, layout, run, options, io::stderr())?;
            eprintln!(
                "recon: worker stopped: {} claims ({} takeovers), {} lost, {} alerts published \
                 ({} duplicates suppressed), {} snapshots, {} records quarantined",
                s.claims,
                s.takeovers,
                s.lost,
                s.alerts,
                s.duplicate_alerts,
                s.snapshots,
                s.quarantined
            );
            Ok(ExitCode::SUCCESS)
        }
        NatsCommand::Alerts(a) => {
            let nats = Nats::connect(&a.connect.into(), "recon alerts")?;
            let stop = stop_flag()?;
            let mut out = io::BufWriter::new(io::stdout().lock());
            alerts(&nats, a.format, a.follow, &stop, &mut out)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        NatsCommand::Status(a) => {
            let nats = Nats::connect(&a.connect.into(), "recon status")?;
            let s = status(&nats)?;
            let mut out = io::stdout().lock();
            if a.json {
                serde_json::to_writer(&mut out, &s)?;
                writeln!(out)?;
            } else {
                write_status_table(&s, &mut out)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// True for errors in the stored or given configuration (exit status 2).
pub(crate) fn is_config_error(e: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        e.downcast_ref::<recon::nats::NatsError>(),
        Some(
            recon::nats::NatsError::Settings(_)
                | recon::nats::NatsError::Host(recon::runtime::HostError::Config(_))
        )
    )
}
