//! The data path: a partition's records fetched and applied in stream
//! order, records that trap quarantined, alerts published, and live mode's
//! clock on quiet partitions.

use super::*;

impl<'r, E: Write> Worker<'r, '_, E> {
    /// Fetches and applies the next messages of partition `i`; true if
    /// there were any.
    pub(super) fn step(&mut self, i: usize) -> Result<bool, NatsError> {
        if self.owned[i].revision == 0 {
            return Ok(false);
        }
        let messages = match self.fetch(i) {
            Ok(m) => m,
            Err(e) => {
                // The consumer is gone (a server restart): start again
                // from the position applied.
                self.log(format_args!(
                    "partition {}: reading records failed ({e}); retrying",
                    self.owned[i].id.name()
                ));
                self.owned[i].consumer = None;
                return Ok(false);
            }
        };
        if messages.is_empty() {
            return Ok(false);
        }
        for (seq, end, payload) in messages {
            let o = &mut self.owned[i];
            if seq <= o.applied {
                continue;
            }
            o.clocks.iter_mut().for_each(LiveClock::input_seen);
            o.unpurged.push(seq);
            o.since_snapshot_bytes += payload.len() as u64;
            if end {
                o.tenants.flush(None)?;
                o.ended = true;
            } else {
                for b in o.tenants.push_ndjson(&payload)? {
                    let g = b.outcome;
                    let o = &mut self.owned[i];
                    o.since_snapshot += u64::from(g.result.records);
                    o.quarantined += g.quarantined.len() as u64;
                    for q in g.quarantined {
                        self.summary.quarantined += 1;
                        self.quarantine(i, seq, &q)?;
                    }
                }
            }
            self.owned[i].applied = seq;
        }
        self.publish_alerts(i)?;
        let o = &self.owned[i];
        let due = o.since_snapshot >= self.options.snapshot_records
            || (o.since_snapshot > 0
                && o.last_snapshot.elapsed() >= self.options.snapshot_interval)
            || (o.ended && !o.state.ended);
        if due {
            self.commit(i, false)?;
        }
        Ok(true)
    }

    pub(super) fn fetch(&mut self, i: usize) -> Result<Vec<(u64, bool, bytes::Bytes)>, NatsError> {
        let nats = self.nats;
        let o = &mut self.owned[i];
        if o.consumer.is_none() {
            let subject = o.id.records_subject();
            let start = o.applied + 1;
            let c = nats.block_on(async {
                let stream = nats
                    .js
                    .get_stream_no_info(RECORDS_STREAM)
                    .await
                    .map_err(|e| nats.err("opening the records stream", e))?;
                stream
                    .create_consumer(pull::Config {
                        filter_subject: subject,
                        deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                            start_sequence: start,
                        },
                        ack_policy: consumer::AckPolicy::None,
                        inactive_threshold: Duration::from_secs(60),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| nats.err("reading a partition's records", e))
            })?;
            o.consumer = Some(c);
        }
        let Some(c) = &o.consumer else {
            return Ok(Vec::new());
        };
        let fetch = async {
            let mut batch = c
                .fetch()
                .max_messages(FETCH_MESSAGES)
                .messages()
                .await
                .map_err(|e| nats.err("fetching records", e))?;
            let mut out = Vec::new();
            while let Some(m) = batch.next().await {
                let m = m.map_err(|e| nats.err("fetching records", e))?;
                let info = m
                    .info()
                    .map_err(|e| nats.err("reading a record's position", e))?;
                let seq = info.stream_sequence;
                let end = m
                    .headers
                    .as_ref()
                    .is_some_and(|h| h.get(END_HEADER).is_some());
                out.push((seq, end, m.message.payload.clone()));
            }
            Ok(out)
        };
        // A pull request lost with a server that went away is never
        // answered: give up on it and start again from the position.
        nats.block_on(async { tokio::time::timeout(FETCH_TIMEOUT, fetch).await })
            .unwrap_or_else(|_| Err(nats.err("fetching records", "no answer in time")))
    }

    pub(super) fn quarantine(
        &mut self,
        i: usize,
        seq: u64,
        q: &crate::guard::Quarantined,
    ) -> Result<(), NatsError> {
        let p = self.owned[i].id;
        let reason = q.reason.lines().next().unwrap_or("").to_owned();
        self.log(format_args!(
            "partition {}: the record at stream sequence {seq}, line {} of its message, made \
             the component trap ({reason}); quarantined to {POISON_STREAM} and skipped",
            p.name(),
            q.index + 1
        ));
        let mut headers = HeaderMap::new();
        headers.insert(
            "Nats-Msg-Id",
            format!("{}:{seq}:{}", p.name(), q.index).as_str(),
        );
        headers.insert("Recon-Partition", p.name().as_str());
        headers.insert("Recon-Stream-Sequence", seq.to_string().as_str());
        headers.insert("Recon-Line", (q.index + 1).to_string().as_str());
        headers.insert("Recon-Reason", reason.replace(['\r', '\n'], " ").as_str());
        let nats = self.nats;
        nats.block_on(async {
            nats.js
                .publish_with_headers(p.poison_subject(), headers, q.bytes.clone().into())
                .await
                .map_err(|e| nats.err("quarantining a record", e))?
                .await
                .map_err(|e| nats.err("quarantining a record", e))
        })?;
        Ok(())
    }

    /// Drains partition `i`'s alerts and publishes them, waiting until
    /// the stream holds each.
    pub(super) fn publish_alerts(&mut self, i: usize) -> Result<(), NatsError> {
        let router = &mut self.owned[i].tenants;
        let fresh = router.drain()?;
        let keyed = router.key().is_some();
        let fresh: Vec<_> = fresh
            .into_iter()
            .map(|(t, a)| (keyed.then(|| router.tenants()[t].id.to_string()), a))
            .collect();
        self.owned[i].unsent.extend(fresh);
        if self.owned[i].unsent.is_empty() {
            return Ok(());
        }
        let alerts = self.owned[i].unsent.clone();
        let nats = self.nats;
        let mut acks = Vec::new();
        for (tenant, a) in &alerts {
            for (format, suffix) in [(Format::Native, ""), (Format::Ocsf, ":ocsf")] {
                let line = output::alert_line(a, tenant.as_deref(), format)
                    .map_err(|e| NatsError::Damaged(format!("formatting an alert: {e}")))?;
                // Two tenants' detectors may make alerts with one id (the
                // same group and window in each): the tenant keeps them
                // apart.
                let tenant_part = tenant
                    .as_deref()
                    .map(|t| format!("{}:", hex(t.as_bytes())))
                    .unwrap_or_default();
                let mut headers = HeaderMap::new();
                headers.insert(
                    "Nats-Msg-Id",
                    format!("{tenant_part}{}:{}{suffix}", a.id, alert_kind(a)).as_str(),
                );
                let subject =
                    alerts_subject(if suffix.is_empty() { "native" } else { "ocsf" }, &a.rule);
                let ack = nats
                    .block_on(nats.js.publish_with_headers(subject, headers, line.into()))
                    .map_err(|e| nats.err("publishing an alert", e))?;
                acks.push((a.id.clone(), suffix.is_empty(), ack));
            }
        }
        for (id, native, ack) in acks {
            let ack = nats
                .block_on(ack.into_future())
                .map_err(|e| nats.err("publishing an alert", e))?;
            if native {
                self.summary.alerts += 1;
                if ack.duplicate {
                    self.summary.duplicate_alerts += 1;
                    let p = self.owned[i].id.name();
                    self.log(format_args!(
                        "partition {p}: alert {id} was already published (a replay made it \
                         again): duplicate suppressed"
                    ));
                }
            }
        }
        self.owned[i].unsent.clear();
        Ok(())
    }

    /// Live mode on a quiet partition: windows close on this machine's
    /// clock, as `recon detect --live` closes them.
    pub(super) fn live_tick(&mut self, i: usize) -> Result<(), NatsError> {
        let Some(options) = self.options.live else {
            return Ok(());
        };
        let o = &mut self.owned[i];
        if o.ended {
            return Ok(());
        }
        // Each tenant's stream on its own clock, as `recon detect --live`
        // keeps them.
        let tenants = o.tenants.tenants_mut();
        o.clocks.resize_with(tenants.len(), LiveClock::new);
        let mut advanced = false;
        for (t, clock) in tenants.iter_mut().zip(&mut o.clocks) {
            let to = clock.step(&options, || {
                let stats = t.detector.stats()?;
                Ok::<_, NatsError>(stats.rules.iter().filter_map(|r| r.watermark).max())
            })?;
            if let Some(to) = to {
                t.detector.flush(Some(to))?;
                advanced = true;
            }
        }
        if advanced {
            self.publish_alerts(i)?;
        }
        Ok(())
    }
}
