//! `recon nats status` and `recon nats alerts`.

use std::io::Write;
use std::time::Duration;

use async_nats::jetstream::consumer::{self, pull};
use futures_util::StreamExt;
use serde::Serialize;

use crate::output::Format;

use super::layout::{ALERTS_STREAM, Configs, Layout, RECORDS_STREAM, state_bucket};
use super::worker::PartState;
use super::{Nats, NatsError, now_ms};

/// One partition as `status` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionStatus {
    /// Its number in the deployment (rule by rule, then partition).
    pub partition: usize,
    /// `<rule>.<index>`.
    pub name: String,
    /// The rule.
    pub rule: String,
    /// The worker holding an unexpired lease on it, if any.
    pub owner: Option<String>,
    /// Stream sequence of the last record message applied (its alerts
    /// published).
    pub applied: u64,
    /// Stream sequence of its last message in the records stream (0: none).
    pub last: u64,
    /// Whether its end-of-input marker was applied.
    pub ended: bool,
    /// Claims so far.
    pub epoch: u64,
    /// Position its snapshot covers.
    pub snapshot_applied: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Its record messages still in the store (the purge keeps those after
    /// its snapshot, and the one at the snapshot's position).
    pub stored_messages: u64,
    /// Their bytes, estimated: the messages times the records stream's
    /// mean message size (the server counts bytes per stream, not per
    /// subject).
    pub stored_bytes_estimate: u64,
}

/// What `status --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Partitions per rule.
    pub partitions_per_rule: u32,
    /// Bytes the records stream holds.
    pub records_bytes: u64,
    /// Its bound (`--records-max-mib`; `None`: no bound of its own).
    pub records_max_bytes: Option<u64>,
    /// Bytes the account's JetStream streams hold in all (records,
    /// alerts, snapshots, state), against the server's `max_file_store`
    /// (which a client cannot read).
    pub store_bytes: u64,
    /// Every partition.
    pub partitions: Vec<PartitionStatus>,
}

/// Reads every partition's state and the last position of its records.
pub fn status(nats: &Nats) -> Result<Status, NatsError> {
    let layout = Layout::load(nats)?;
    let run = layout.resolve()?;
    let kv = state_bucket(nats)?;
    let now = now_ms();
    let mut out = Vec::new();
    let stream = nats
        .block_on(nats.js.get_stream(RECORDS_STREAM))
        .map_err(|e| nats.err("opening the records stream", e))?;
    // Messages per partition's subject (paged by the server).
    let (info, per_subject) = nats.block_on(async {
        let mut pages = stream
            .info_with_subjects("recon.records.>")
            .await
            .map_err(|e| nats.err("reading the records stream", e))?;
        let mut counts = std::collections::HashMap::new();
        while let Some(next) = pages.next().await {
            let (subject, n) = next.map_err(|e| nats.err("reading the records stream", e))?;
            counts.insert(subject, n);
        }
        Ok::<_, NatsError>((pages.info.clone(), counts))
    })?;
    let mean = info
        .state
        .bytes
        .checked_div(info.state.messages)
        .unwrap_or(0);
    let account = nats
        .block_on(nats.js.query_account())
        .map_err(|e| nats.err("reading the account's store use", e))?;
    for (n, p) in layout
        .partition_ids(&Configs::of(&run)?)
        .into_iter()
        .enumerate()
    {
        let state: PartState = match nats
            .block_on(kv.get(p.state_key()))
            .map_err(|e| nats.err("reading a partition's state", e))?
        {
            Some(v) => serde_json::from_slice(&v).map_err(|e| {
                NatsError::Damaged(format!("state of partition {} is damaged: {e}", p.name()))
            })?,
            None => PartState::default(),
        };
        let last = match nats.block_on(stream.get_last_raw_message_by_subject(&p.records_subject()))
        {
            Ok(m) => m.sequence,
            Err(e)
                if e.kind()
                    == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
            {
                0
            }
            Err(e) => return Err(nats.err("reading a partition's last record", e)),
        };
        out.push(PartitionStatus {
            partition: n,
            name: p.name(),
            rule: p.rule.to_owned(),
            owner: (!state.owner.is_empty() && state.lease_until >= now)
                .then(|| state.owner.clone()),
            applied: state.applied,
            last,
            ended: state.ended,
            epoch: state.epoch,
            snapshot_applied: state.snapshot_applied,
            quarantined: state.quarantined,
            stored_messages: per_subject.get(&p.records_subject()).copied().unwrap_or(0) as u64,
            stored_bytes_estimate: per_subject
                .get(&p.records_subject())
                .map_or(0, |&n| n as u64 * mean),
        });
    }
    Ok(Status {
        partitions_per_rule: layout.partitions,
        records_bytes: info.state.bytes,
        records_max_bytes: u64::try_from(info.config.max_bytes).ok().filter(|&b| b > 0),
        store_bytes: account.storage,
        partitions: out,
    })
}

/// Writes `status` as a table.
pub fn write_status_table(s: &Status, out: &mut dyn Write) -> std::io::Result<()> {
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    writeln!(
        out,
        "records stream: {:.1} MiB of {}; all streams: {:.1} MiB (against the server's \
         max_file_store)",
        mib(s.records_bytes),
        s.records_max_bytes
            .map_or("no bound of its own".to_owned(), |b| format!(
                "{:.1} MiB ({:.0} %)",
                mib(b),
                100.0 * s.records_bytes as f64 / b as f64
            )),
        mib(s.store_bytes)
    )?;
    writeln!(
        out,
        "{:<34} {:<16} {:>12} {:>12} {:>6} {:>6} {:>10}",
        "PARTITION", "OWNER", "APPLIED", "LAST", "ENDED", "EPOCH", "STORED"
    )?;
    for p in &s.partitions {
        writeln!(
            out,
            "{:<34} {:<16} {:>12} {:>12} {:>6} {:>6} {:>9.1}M",
            p.name,
            p.owner.as_deref().unwrap_or("-"),
            p.applied,
            p.last,
            if p.ended { "yes" } else { "no" },
            p.epoch,
            mib(p.stored_bytes_estimate)
        )?;
    }
    Ok(())
}

/// Writes the alerts stored so far in `format`, one per line; with
/// `follow`, then waits for more until `stop` is set.
pub fn alerts(
    nats: &Nats,
    format: Format,
    follow: bool,
    stop: &std::sync::atomic::AtomicBool,
    out: &mut dyn Write,
) -> Result<u64, NatsError> {
    let filter = format!(
        "recon.alerts.{}.>",
        match format {
            Format::Native => "native",
            Format::Ocsf => "ocsf",
        }
    );
    nats.block_on(async {
        let stream = nats
            .js
            .get_stream_no_info(ALERTS_STREAM)
            .await
            .map_err(|e| nats.err("opening the alert stream", e))?;
        let mut c = stream
            .create_consumer(pull::Config {
                filter_subject: filter,
                deliver_policy: consumer::DeliverPolicy::All,
                ack_policy: consumer::AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .map_err(|e| nats.err("reading alerts", e))?;
        let pending = c
            .info()
            .await
            .map_err(|e| nats.err("reading alerts", e))?
            .num_pending;
        let mut written = 0u64;
        let mut messages = c
            .messages()
            .await
            .map_err(|e| nats.err("reading alerts", e))?;
        loop {
            if !follow && written >= pending {
                break;
            }
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let next = tokio::time::timeout(Duration::from_millis(200), messages.next()).await;
            let m = match next {
                Err(_) => continue,
                Ok(None) => break,
                Ok(Some(m)) => m.map_err(|e| nats.err("reading alerts", e))?,
            };
            out.write_all(&m.payload)?;
            out.write_all(b"\n")?;
            if follow {
                out.flush()?;
            }
            written += 1;
        }
        out.flush()?;
        Ok(written)
    })
}
