//! Tenants: one detector per tenant, each in its own component instance.
//!
//! A multi-tenant pipeline must not let one tenant's traffic change what is
//! detected for another: a flood of identities filling the state bounds,
//! records with wild times moving the watermark, records that trap. The
//! [`Router`] reads one field of each record (the *tenant key*, e.g.
//! `recipientAccountId`) and hands the record to that tenant's detector,
//! which lives in its own component instance with its own linear memory,
//! fuel, deadline, state bounds, watermark and trap recovery. What one
//! tenant does reaches no other: each tenant's alerts are exactly those it
//! gets when it runs alone.
//!
//! Without a key the router holds one detector and routes nothing (no
//! record is read on the host side): that is the ordinary `recon detect`.
//!
//! Tenants may have rules of their own (`tenants.rules_dir`): a tenant's
//! detector runs the common configuration plus its own rule files, so its
//! filters are exceptions to the common rules for it alone, and nothing it
//! defines reaches another tenant. Resumed from a state file, a tenant's
//! detector is reloaded under its current rules: only the rules that
//! changed start over (see the contract's `reload`).
//!
//! Bounds: at most `max_tenants` tenants get their own detector; records of
//! any further tenant share one more, [`TenantId::Other`] (so a stream that
//! invents tenant names cannot make the host start instances without end).
//! Records without the key, or that are not JSON objects, go to
//! [`TenantId::Missing`] (where the detector rejects what it cannot read,
//! so they are still counted).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use crate::guard::{GuardSettings, Guarded, GuardedDetector};
use crate::runtime::{Alert, BatchResult, Config, HostError, Rule, RuleFile, Runtime, Stats};

/// Default most tenants with a detector of their own: 64.
pub const DEFAULT_MAX_TENANTS: usize = 64;

/// Which tenant a record belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TenantId {
    /// The key's value (a number is written as its JSON text).
    Named(String),
    /// The record has no such key (or a value that is neither text nor a
    /// number, or it is not a JSON object).
    Missing,
    /// A tenant past `max_tenants`: all such tenants share this one.
    Other,
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TenantId::Named(v) => f.write_str(v),
            TenantId::Missing => f.write_str("(missing)"),
            TenantId::Other => f.write_str("(other)"),
        }
    }
}

impl TenantId {
    /// The name its state is saved under in a state file.
    pub fn state_name(&self) -> String {
        match self {
            TenantId::Named(v) => format!("tenant={v}"),
            TenantId::Missing => "tenant-missing".into(),
            TenantId::Other => "tenant-other".into(),
        }
    }

    /// The tenant a state entry name belongs to.
    pub fn from_state_name(name: &str) -> Option<TenantId> {
        match name {
            "tenant-missing" => Some(TenantId::Missing),
            "tenant-other" => Some(TenantId::Other),
            _ => name
                .strip_prefix("tenant=")
                .map(|v| TenantId::Named(v.to_owned())),
        }
    }
}

/// A field of a record, as a dotted path (`recipientAccountId`,
/// `userIdentity.accountId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantKey {
    path: Vec<String>,
}

impl TenantKey {
    /// Parses a dotted path.
    pub fn parse(s: &str) -> Result<TenantKey, String> {
        let path: Vec<String> = s.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(format!(
                "tenant key {s:?} is not a dotted path of field names"
            ));
        }
        Ok(TenantKey { path })
    }

    /// The tenant of one NDJSON line: the key's value, read without
    /// building the record (other members are skipped).
    pub fn tenant_of(&self, line: &[u8]) -> Option<String> {
        let mut de = serde_json::Deserializer::from_slice(line);
        Probe { path: &self.path }
            .deserialize(&mut de)
            .ok()
            .flatten()
    }
}

impl fmt::Display for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path.join("."))
    }
}

/// Looks for `path` in a JSON value; the first occurrence wins.
struct Probe<'p> {
    path: &'p [String],
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = Option<String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            if found.is_none() && k == self.path[0].as_str() {
                found = Some(if self.path.len() == 1 {
                    match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::String(s) => Some(s),
                        serde_json::Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    }
                } else {
                    map.next_value_seed(Probe {
                        path: &self.path[1..],
                    })?
                });
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found.flatten())
    }

    // Anything but an object holds no key.
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// A member name, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// One tenant: its detector and what went through it.
pub struct Tenant<'r> {
    /// Who.
    pub id: TenantId,
    /// Its detector, in its own instance.
    pub detector: GuardedDetector<'r>,
    /// Final alerts it produced in this run (early ones are not counted:
    /// the figure is the same with early alerts on or off).
    pub alerts: u64,
    /// Records of it quarantined in this run.
    pub quarantined: u64,
}

/// One tenant's part of a buffer.
pub struct TenantBatch {
    /// Index of the tenant in [`Router::tenants`].
    pub tenant: usize,
    /// What its detector did; every index (errors, far-ahead records,
    /// quarantined records) is a line of the whole buffer.
    pub outcome: Guarded<BatchResult>,
}

/// A buffer's lines split among slots (tenants, or the scanners of their
/// configurations): each slot's own NDJSON buffer, and for each of its
/// lines that line's number in the whole buffer. Blank lines go nowhere;
/// the buffers are kept between calls.
#[derive(Debug, Default)]
pub struct Split {
    /// Per slot: its lines, each ending with a line end, and where each
    /// came from.
    pub parts: Vec<(Vec<u8>, Vec<u32>)>,
}

impl Split {
    /// Splits the lines of `data` by `slot_of` (called once per non-blank
    /// line, in order).
    pub fn split<E>(
        &mut self,
        data: &[u8],
        mut slot_of: impl FnMut(&[u8]) -> Result<usize, E>,
    ) -> Result<(), E> {
        for (buf, lines) in &mut self.parts {
            buf.clear();
            lines.clear();
        }
        let mut start = 0;
        let mut line_no = 0u32;
        while start < data.len() {
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i + 1);
            let line = &data[start..end];
            if !line
                .iter()
                .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            {
                let slot = slot_of(line)?;
                if self.parts.len() <= slot {
                    self.parts.resize_with(slot + 1, Default::default);
                }
                let (buf, lines) = &mut self.parts[slot];
                buf.extend_from_slice(line);
                if !line.ends_with(b"\n") {
                    buf.push(b'\n');
                }
                lines.push(line_no);
            }
            start = end;
            line_no += 1;
        }
        Ok(())
    }

    /// The whole buffer's line of `slot`'s line `i`.
    pub fn line(&self, slot: usize, i: u32) -> u32 {
        self.parts[slot].1.get(i as usize).copied().unwrap_or(i)
    }
}

/// The configuration of a tenant with rule files of its own: the common
/// configuration, its rule files after the common ones.
pub fn tenant_config(common: &Config, files: &[RuleFile]) -> Config {
    let mut config = common.clone();
    config.rule_files.extend(files.iter().cloned());
    config
}

/// Records to detectors, one per tenant (see the module documentation).
pub struct Router<'r> {
    runtime: &'r Runtime,
    config: Config,
    guard: GuardSettings,
    key: Option<TenantKey>,
    max_tenants: usize,
    tenants: Vec<Tenant<'r>>,
    index: HashMap<TenantId, usize>,
    /// The configuration of each tenant with rules of its own.
    own: HashMap<String, Config>,
    /// Per tenant: its lines of the current buffer (reused between
    /// buffers).
    scratch: Split,
}

impl<'r> Router<'r> {
    /// A router by `key` (or, without one, a single detector created now),
    /// with each tenant's own rule files (`tenant_rules`, only with a key).
    pub fn new(
        runtime: &'r Runtime,
        config: &Config,
        guard: GuardSettings,
        key: Option<TenantKey>,
        max_tenants: usize,
        tenant_rules: &[(String, Vec<RuleFile>)],
    ) -> Result<Self, HostError> {
        let own = tenant_rules
            .iter()
            .map(|(t, files)| (t.clone(), tenant_config(config, files)))
            .collect();
        Router::with_configs(runtime, config, own, guard, key, max_tenants)
    }

    /// A router whose tenants with rules of their own run the
    /// configurations `own` (by tenant), every other tenant `config`.
    /// (`recon nats` gives each partition's router that partition's share
    /// of every configuration.)
    pub fn with_configs(
        runtime: &'r Runtime,
        config: &Config,
        own: Vec<(String, Config)>,
        guard: GuardSettings,
        key: Option<TenantKey>,
        max_tenants: usize,
    ) -> Result<Self, HostError> {
        // Every tenant's rules compile now, before any record is read: a
        // refused file stops the run here, naming it, not mid-stream.
        if !own.is_empty() {
            let mut instance = runtime.instantiate()?;
            for (_, c) in &own {
                instance.list_rules(c)?.map_err(HostError::Config)?;
            }
        }
        let mut router = Router {
            runtime,
            config: config.clone(),
            guard,
            key,
            max_tenants: max_tenants.max(1),
            tenants: Vec::new(),
            index: HashMap::new(),
            own: own.into_iter().collect(),
            scratch: Split::default(),
        };
        if router.key.is_none() {
            router.tenant(TenantId::Missing)?;
        }
        Ok(router)
    }

    /// The tenant key, if records are routed.
    pub fn key(&self) -> Option<&TenantKey> {
        self.key.as_ref()
    }

    /// The tenants so far, in order of first appearance.
    pub fn tenants(&self) -> &[Tenant<'r>] {
        &self.tenants
    }

    /// The tenants, to call their detectors directly.
    pub fn tenants_mut(&mut self) -> &mut [Tenant<'r>] {
        &mut self.tenants
    }

    /// Adds a tenant restored from a snapshot (resuming a saved run). With
    /// tenants' own rules in use, the snapshot is reloaded under the
    /// tenant's current rules: returned are the rules that started over
    /// (changed, or new, since the snapshot).
    pub fn restore(
        &mut self,
        id: TenantId,
        snapshot: &[u8],
    ) -> Result<(usize, Vec<Rule>), HostError> {
        if self.own.is_empty() {
            let detector = GuardedDetector::restore(self.runtime, snapshot, self.guard)?;
            return Ok((self.add(id, detector), Vec::new()));
        }
        let config = self.config_of(&id).clone();
        let (detector, restarted) =
            GuardedDetector::reload(self.runtime, snapshot, &config, self.guard)?;
        Ok((self.add(id, detector), restarted))
    }

    /// The configuration tenant `id` runs: the common one, with its own
    /// rule files if it has some.
    pub fn config_of(&self, id: &TenantId) -> &Config {
        match id {
            TenantId::Named(t) => self.own.get(t).unwrap_or(&self.config),
            _ => &self.config,
        }
    }

    fn add(&mut self, id: TenantId, detector: GuardedDetector<'r>) -> usize {
        let i = self.tenants.len();
        self.index.insert(id.clone(), i);
        self.tenants.push(Tenant {
            id,
            detector,
            alerts: 0,
            quarantined: 0,
        });
        i
    }

    /// The index of tenant `id`, created if new (past `max_tenants`, the
    /// shared [`TenantId::Other`]).
    pub fn tenant(&mut self, id: TenantId) -> Result<usize, HostError> {
        if let Some(&i) = self.index.get(&id) {
            return Ok(i);
        }
        // Tenants with rules of their own always get their detector (the
        // operator listed them); the others count against `max_tenants`.
        let named = self
            .tenants
            .iter()
            .filter(|t| matches!(&t.id, TenantId::Named(n) if !self.own.contains_key(n)))
            .count();
        let id = match id {
            TenantId::Named(n) if named >= self.max_tenants && !self.own.contains_key(&n) => {
                TenantId::Other
            }
            other => other,
        };
        if let Some(&i) = self.index.get(&id) {
            return Ok(i);
        }
        let config = self.config_of(&id).clone();
        let detector = GuardedDetector::create(self.runtime, &config, self.guard)?;
        Ok(self.add(id, detector))
    }

    /// The index of the tenant `line` belongs to.
    pub fn route(&mut self, line: &[u8]) -> Result<usize, HostError> {
        let id = match self.key.as_ref().and_then(|k| k.tenant_of(line)) {
            Some(v) => TenantId::Named(v),
            None => TenantId::Missing,
        };
        self.tenant(id)
    }

    /// Pushes a buffer of NDJSON: each line to its tenant's detector (one
    /// `push-ndjson` per tenant present), recovering from traps.
    pub fn push_ndjson(&mut self, data: &[u8]) -> Result<Vec<TenantBatch>, HostError> {
        if self.key.is_none() {
            let outcome = self.tenants[0].detector.push_ndjson(data)?;
            self.count(0, &outcome);
            return Ok(vec![TenantBatch { tenant: 0, outcome }]);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let split = scratch.split(data, |line| self.route(line));
        self.scratch = scratch;
        split?;
        let mut batches = Vec::new();
        for t in 0..self.scratch.parts.len() {
            if self.scratch.parts[t].1.is_empty() {
                continue;
            }
            let mut outcome = self.tenants[t]
                .detector
                .push_ndjson(&self.scratch.parts[t].0)?;
            let map = |i: u32| self.scratch.line(t, i);
            for e in &mut outcome.result.errors {
                e.index = map(e.index);
            }
            for a in &mut outcome.result.ahead {
                *a = map(*a);
            }
            for q in &mut outcome.quarantined {
                q.index = map(q.index);
            }
            self.count(t, &outcome);
            batches.push(TenantBatch { tenant: t, outcome });
        }
        Ok(batches)
    }

    fn count(&mut self, t: usize, outcome: &Guarded<BatchResult>) {
        self.tenants[t].quarantined += outcome.quarantined.len() as u64;
    }

    /// Every tenant's pending alerts (early and final), tenant by tenant.
    pub fn drain(&mut self) -> Result<Vec<(usize, Alert)>, HostError> {
        let mut out = Vec::new();
        for (i, t) in self.tenants.iter_mut().enumerate() {
            let alerts = t.detector.drain()?;
            t.alerts += alerts
                .iter()
                .filter(|a| a.kind == crate::runtime::AlertKind::Final)
                .count() as u64;
            out.extend(alerts.into_iter().map(|a| (i, a)));
        }
        Ok(out)
    }

    /// `flush` on every tenant's detector.
    pub fn flush(&mut self, to: Option<i64>) -> Result<(), HostError> {
        for t in &mut self.tenants {
            t.detector.flush(to)?;
        }
        Ok(())
    }

    /// Every tenant's counters, in tenant order.
    pub fn stats(&mut self) -> Result<Vec<Stats>, HostError> {
        self.tenants
            .iter_mut()
            .map(|t| t.detector.stats())
            .collect()
    }

    /// Every tenant's snapshot, in tenant order.
    pub fn snapshots(&mut self) -> Result<Vec<(TenantId, Vec<u8>)>, HostError> {
        self.tenants
            .iter_mut()
            .map(|t| Ok((t.id.clone(), t.detector.snapshot()?)))
            .collect()
    }

    /// Rebuilds after traps, over every tenant.
    pub fn recoveries(&self) -> u64 {
        self.tenants.iter().map(|t| t.detector.recoveries()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(key: &str, line: &str) -> Option<String> {
        TenantKey::parse(key).unwrap().tenant_of(line.as_bytes())
    }

    #[test]
    fn the_key_is_read_without_the_rest_of_the_record() {
        let r = r#"{"eventTime":"x","recipientAccountId":"111","userIdentity":{"accountId":222,"arn":"a"}}"#;
        assert_eq!(tenant("recipientAccountId", r).as_deref(), Some("111"));
        assert_eq!(tenant("userIdentity.accountId", r).as_deref(), Some("222"));
        assert_eq!(tenant("userIdentity.missing", r), None);
        assert_eq!(tenant("nope", r), None);
        // Escaped names and values are read as JSON says.
        assert_eq!(
            tenant(
                "recipientAccountId",
                r#"{"x":"recipientAccountId","recipient\u0041ccountId":"a\"b"}"#
            )
            .as_deref(),
            Some("a\"b")
        );
        // Not an object, not JSON, a value of the wrong type: no tenant.
        assert_eq!(tenant("a", "[1,2]"), None);
        assert_eq!(tenant("a", "{\"a\":"), None);
        assert_eq!(tenant("a", r#"{"a":{"b":1}}"#), None);
        assert_eq!(tenant("a", r#"{"a":null}"#), None);
        // The first occurrence wins.
        assert_eq!(tenant("a", r#"{"a":"1","a":"2"}"#).as_deref(), Some("1"));
        assert!(TenantKey::parse("a..b").is_err());
        assert!(TenantKey::parse("").is_err());
    }

    #[test]
    fn state_names_round_trip() {
        for id in [
            TenantId::Named("123".into()),
            TenantId::Named("tenant-other".into()),
            TenantId::Missing,
            TenantId::Other,
        ] {
            assert_eq!(TenantId::from_state_name(&id.state_name()), Some(id));
        }
    }
}
