//! `recon gen`: deterministic CloudTrail with injected bursts, as NDJSON, as
//! CloudTrail delivers it to S3, or in the envelope of a real-time feed
//! (`recon_gen`).

use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

#[derive(Args)]
pub(crate) struct GenArgs {
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
    #[arg(long, requires = "output", conflicts_with = "envelope")]
    delivery: bool,
    /// With --delivery: the longest delay between a record's event time
    /// and its object's slot, before rounding up to the slot (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = recon_gen::DEFAULT_MAX_DELAY_MS / 1000, requires = "delivery")]
    max_delay: u64,
    /// With --delivery: the most objects one account and region write per
    /// slot.
    #[arg(long, value_name = "N", default_value_t = recon_gen::DEFAULT_MAX_OBJECTS_PER_SLOT, requires = "delivery")]
    objects_per_slot: u32,
    /// Write the records in the envelope of a real-time feed (same records
    /// as the plain NDJSON, same order within each account and region):
    /// `cwl`, CloudWatch Logs subscription messages as decoded, one per
    /// line; `firehose`, those messages gzipped one by one and
    /// concatenated, as Firehose writes them to S3; `lambda`, a subscribed
    /// Lambda function's `{"awslogs":{"data":...}}` events; `eventbridge`,
    /// `AWS API Call via CloudTrail` events. See docs/cli.md.
    #[arg(long, value_enum, value_name = "KIND")]
    envelope: Option<EnvelopeKind>,
    /// With --envelope: the most log events per CloudWatch Logs message.
    #[arg(long, value_name = "N", default_value_t = recon_gen::DEFAULT_EVENTS_PER_MESSAGE, requires = "envelope")]
    events_per_message: u32,
    /// With --envelope: a log stream's batch goes out once the trail's
    /// event time is this many seconds past the batch's first record.
    #[arg(long, value_name = "SECONDS", default_value_t = recon_gen::DEFAULT_BATCH_MS as f64 / 1000.0, requires = "envelope")]
    batch_seconds: f64,
    /// Rounds of the rule catalogue's test bursts (`rules/`): per rule and
    /// round, bursts just below, at and just above its threshold, one
    /// across a window edge and one its filter removes, in varied time
    /// formats (every 3 hours of event time). 0: none.
    #[arg(long, value_name = "ROUNDS", default_value_t = 0)]
    catalogue: u32,
}

/// `--envelope`'s kinds.
#[derive(Clone, Copy, ValueEnum)]
enum EnvelopeKind {
    /// CloudWatch Logs subscription messages, decoded, one per line.
    Cwl,
    /// Kinesis Data Firehose's S3 object: gzipped messages, concatenated.
    Firehose,
    /// Lambda events of a CloudWatch Logs subscription, one per line.
    Lambda,
    /// EventBridge `AWS API Call via CloudTrail` events, one per line.
    Eventbridge,
}

impl From<EnvelopeKind> for recon_gen::Envelope {
    fn from(kind: EnvelopeKind) -> Self {
        match kind {
            EnvelopeKind::Cwl => recon_gen::Envelope::Cwl,
            EnvelopeKind::Firehose => recon_gen::Envelope::Firehose,
            EnvelopeKind::Lambda => recon_gen::Envelope::Lambda,
            EnvelopeKind::Eventbridge => recon_gen::Envelope::EventBridge,
        }
    }
}

/// Runs `recon gen`.
pub(crate) fn run(args: GenArgs) -> Result<ExitCode> {
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
        catalogue_rounds: args.catalogue,
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
    if let Some(kind) = args.envelope {
        if !(args.batch_seconds.is_finite() && args.batch_seconds >= 0.0) {
            anyhow::bail!("--batch-seconds must be a non-negative number of seconds");
        }
        let eopts = recon_gen::EnvelopeOptions {
            events_per_message: args.events_per_message,
            batch_ms: (args.batch_seconds * 1000.0) as u64,
        };
        let envelope = recon_gen::Envelope::from(kind);
        let report = match &args.output {
            Some(path) => {
                let file = std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?;
                recon_gen::write_envelope(opts, envelope, eopts, &mut BufWriter::new(file))?
            }
            None => recon_gen::write_envelope(
                opts,
                envelope,
                eopts,
                &mut BufWriter::new(io::stdout().lock()),
            )?,
        };
        let plural = |n: u64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
        match envelope {
            recon_gen::Envelope::EventBridge => eprintln!(
                "recon: wrote {} records in {}",
                report.records,
                plural(report.messages, "EventBridge event")
            ),
            _ => eprintln!(
                "recon: wrote {} records in {} ({})",
                report.records,
                plural(report.messages, "message"),
                plural(report.control_messages, "control message")
            ),
        }
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
