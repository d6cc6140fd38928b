//! `recon nats setup`: the streams, the state bucket and the layout;
//! idempotent, and checked against what the server says it holds (a 2.9
//! server ignores options it does not know rather than refusing them).

use std::time::Duration;

use async_nats::jetstream::{kv, stream};

use super::layout::{
    ALERTS_STREAM, Configs, LAYOUT_KEY, LAYOUT_VERSION, Layout, POISON_STREAM, RECORDS_STREAM,
    SNAPSHOTS_STREAM, STATE_BUCKET,
};
use super::{Nats, NatsError};

/// Most partitions per rule.
pub const MAX_PARTITIONS: u32 = 1024;

/// Default [`SetupOptions::records_dedup`]: two hours.
pub const DEFAULT_RECORDS_DEDUP: Duration = Duration::from_secs(2 * 3600);
/// Default [`SetupOptions::alerts_dedup`]: one day.
pub const DEFAULT_ALERTS_DEDUP: Duration = Duration::from_secs(24 * 3600);
/// Default [`SetupOptions::records_max_age`]: seven days.
pub const DEFAULT_RECORDS_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default [`SetupOptions::records_max_bytes`]: 1 GiB.
pub const DEFAULT_RECORDS_MAX_BYTES: u64 = 1 << 30;

/// What `setup` creates.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// Partitions of each rule's work.
    pub partitions: u32,
    /// The configuration file's text every process will run.
    pub config: String,
    /// How long the records stream remembers a batch's id: a publisher
    /// run again within it (after a crash) duplicates nothing.
    pub records_dedup: Duration,
    /// How long the alert stream remembers an alert's id: a worker that
    /// replays from a snapshot this old or younger publishes no alert
    /// twice. Keep it above the snapshot interval plus any takeover delay.
    pub alerts_dedup: Duration,
    /// How long records are kept (they must outlive the oldest snapshot
    /// a partition may restart from).
    pub records_max_age: Duration,
    /// Most bytes the records stream holds (0: no bound of its own).
    /// Records a partition's snapshot covers are purged as workers
    /// snapshot, so this bounds the lag, not the history; a publisher that
    /// finds it full waits for room. Keep it below the server's
    /// `max_file_store`, leaving room for alerts, snapshots and the state
    /// bucket, so that workers can always write those (docs/scale-out.md,
    /// "Sizing the store").
    pub records_max_bytes: u64,
}

/// What `setup` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupOutcome {
    /// Everything was created.
    Created,
    /// Everything was there already, with the same partition count and
    /// configuration.
    Unchanged,
}

fn stream_config(name: &str, subjects: &str, dedup: Duration, max_age: Duration) -> stream::Config {
    stream::Config {
        name: name.to_owned(),
        subjects: vec![subjects.to_owned()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: dedup,
        max_age,
        allow_direct: true,
        ..Default::default()
    }
}

/// The records stream's bound: `max_bytes` bytes (none for 0), new
/// records refused (never old ones dropped) when it is reached.
fn bounded(mut config: stream::Config, max_bytes: u64) -> stream::Config {
    config.max_bytes = if max_bytes == 0 {
        -1
    } else {
        i64::try_from(max_bytes).unwrap_or(i64::MAX)
    };
    config.discard = stream::DiscardPolicy::New;
    config
}

/// Creates (or checks) everything a deployment needs.
pub fn setup(nats: &Nats, options: &SetupOptions) -> Result<SetupOutcome, NatsError> {
    if options.partitions == 0 || options.partitions > MAX_PARTITIONS {
        return Err(NatsError::Setup(format!(
            "--partitions must be between 1 and {MAX_PARTITIONS}"
        )));
    }
    // The rule files the configuration names are read here, once, and
    // stored with it: workers on other machines run exactly these.
    // So are each tenant's own (`tenants.rules_dir`).
    let texts = crate::settings::FileSettings::parse(&options.config)?.read_rule_texts()?;
    let layout = Layout {
        version: LAYOUT_VERSION,
        partitions: options.partitions,
        config: options.config.clone(),
        rule_files: texts.files,
        tenant_rule_files: texts.tenants,
    };
    // Refuse a configuration the detector would refuse (the common one
    // or any tenant's), before storing it.
    let run = layout.resolve()?;
    Configs::of(&run)?;
    let streams = [
        bounded(
            stream_config(
                RECORDS_STREAM,
                "recon.records.>",
                options.records_dedup,
                options.records_max_age,
            ),
            options.records_max_bytes,
        ),
        stream_config(
            ALERTS_STREAM,
            "recon.alerts.>",
            options.alerts_dedup,
            Duration::ZERO,
        ),
        stream_config(
            SNAPSHOTS_STREAM,
            "recon.snap.>",
            Duration::from_secs(120),
            Duration::ZERO,
        ),
        stream_config(
            POISON_STREAM,
            "recon.poison.>",
            Duration::from_secs(3600),
            Duration::ZERO,
        ),
    ];
    nats.block_on(async {
        for want in streams {
            let info = match nats.js.get_stream(&want.name).await {
                Ok(mut s) => s
                    .info()
                    .await
                    .map_err(|e| nats.err("reading a stream", e))?
                    .clone(),
                Err(_) => nats
                    .js
                    .create_stream(want.clone())
                    .await
                    .map_err(|e| nats.err(format!("creating stream {}", want.name), e))?
                    .cached_info()
                    .clone(),
            };
            let got = &info.config;
            if got.subjects != want.subjects
                || got.duplicate_window != want.duplicate_window
                || got.storage != want.storage
            {
                return Err(NatsError::Setup(format!(
                    "stream {} exists with other settings (subjects {:?}, duplicate window \
                     {:?}); delete it or run setup against another server",
                    want.name, got.subjects, got.duplicate_window
                )));
            }
            // The records stream's bound may change under running state:
            // the server applies it in place.
            if want.name == RECORDS_STREAM
                && (got.max_bytes != want.max_bytes || got.discard != want.discard)
            {
                nats.js
                    .update_stream(&want)
                    .await
                    .map_err(|e| nats.err(format!("updating stream {}", want.name), e))?;
            }
        }
        Ok(())
    })?;
    let kv = nats.block_on(async {
        match nats.js.get_key_value(STATE_BUCKET).await {
            Ok(kv) => Ok(kv),
            Err(_) => nats
                .js
                .create_key_value(kv::Config {
                    bucket: STATE_BUCKET.to_owned(),
                    description: "recon: layout and partition state".into(),
                    history: 4,
                    storage: stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|e| nats.err("creating the state bucket", e)),
        }
    })?;
    // The bucket's stream as the server holds it: a 2.9 server must have
    // kept what key-value needs.
    let info = nats.block_on(async {
        let mut s = nats
            .js
            .get_stream(format!("KV_{STATE_BUCKET}"))
            .await
            .map_err(|e| nats.err("reading the state bucket", e))?;
        Ok::<_, NatsError>(
            s.info()
                .await
                .map_err(|e| nats.err("reading the state bucket", e))?
                .clone(),
        )
    })?;
    if !info.config.allow_rollup || info.config.max_messages_per_subject < 1 {
        return Err(NatsError::Setup(
            "the server did not keep the state bucket's settings (rollup, history)".into(),
        ));
    }
    let text = serde_json::to_vec(&layout).map_err(|e| NatsError::Damaged(e.to_string()))?;
    match nats.block_on(kv.create(LAYOUT_KEY, text.into())) {
        Ok(_) => Ok(SetupOutcome::Created),
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
            let stored = Layout::load(nats)?;
            if stored.partitions != layout.partitions {
                return Err(NatsError::Setup(format!(
                    "the deployment has {} partitions per rule, not {}: the partition of a \
                     record depends on the count, so it cannot change under running state \
                     (set up a new deployment and publish again to change it)",
                    stored.partitions, layout.partitions
                )));
            }
            if stored.config != layout.config {
                return Err(NatsError::Setup(
                    "the deployment runs another configuration: it cannot change under \
                     running state"
                        .into(),
                ));
            }
            if stored.rule_files != layout.rule_files
                || stored.tenant_rule_files != layout.tenant_rule_files
            {
                return Err(NatsError::Setup(
                    "the deployment runs other rule files (or other tenants' rule files) \
                     than the configuration now names: they cannot change under running state"
                        .into(),
                ));
            }
            Ok(SetupOutcome::Unchanged)
        }
        Err(e) => Err(nats.err("storing the layout", e)),
    }
}
