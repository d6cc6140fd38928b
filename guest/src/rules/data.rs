//! Data rules (compiled Sigma, see `crate::sigma`) as a [`RuleLogic`]:
//! per event, the rule's condition and group key; per group, a count or a
//! set of distinct values; per alert, the row `docs/sigma.md` specifies.
//! Windowing, lateness, limits and snapshots are the built-ins' own
//! (`crate::windows`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::alert::{Alert, AlertKind, alert_id};
use crate::config::{Profile, RuleConfig};
use crate::event::Event;
use crate::format::rfc3339;
use crate::rules::RuleLogic;
use crate::rules::sentinel::{insert_sorted, is_sorted_set};
use crate::sigma::{Canonical, DataKind, DataRule, FieldRef, Measure};
use crate::wire::{self, Reader, WireError};

/// The row fields of a detection rule running alone, before its own
/// `fields:`.
pub const EVENT_ROW: &[(&str, FieldRef)] = &[
    ("eventID", FieldRef::Canonical(Canonical::EventId)),
    ("eventName", FieldRef::Canonical(Canonical::EventName)),
    ("eventSource", FieldRef::Canonical(Canonical::EventSource)),
    (
        "userIdentity.arn",
        FieldRef::Canonical(Canonical::IdentityArn),
    ),
    ("sourceIPAddress", FieldRef::Canonical(Canonical::SourceIp)),
];

/// A data rule, configured.
#[derive(Debug, Clone)]
pub struct Data {
    rule: Arc<DataRule>,
    profile: Profile,
    /// The fields whose values make the key, as named in the row (built
    /// once: every selected event and alert reads them).
    key_fields: Arc<[(String, FieldRef)]>,
}

/// A group's aggregate: how many events, and (for `value_count`) the
/// distinct values, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Events counted.
    pub n: u64,
    /// Distinct values of the measured field (`value_count` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Box<str>>,
}

/// A group key: each group-by field's first value, or `None` when missing.
pub type Key = Vec<Option<String>>;

/// The fields whose values make a data rule's key, as named in its row:
/// its group-by, or for a detection rule alone [`EVENT_ROW`] and its
/// `fields:`.
fn key_fields(rule: &DataRule) -> Arc<[(String, FieldRef)]> {
    match &rule.kind {
        DataKind::Correlation { group_by, .. } => group_by.iter().cloned().collect(),
        DataKind::Event { fields } => EVENT_ROW
            .iter()
            .map(|(n, f)| ((*n).to_owned(), *f))
            .chain(fields.iter().cloned())
            .collect(),
    }
}

impl RuleLogic for Data {
    type Key = Key;
    type Item = Vec<String>;
    type Group = Group;

    fn new(config: &RuleConfig) -> Self {
        let rule = config
            .data
            .clone()
            .expect("a data rule's configuration carries its definition");
        Data {
            key_fields: key_fields(&rule),
            rule,
            profile: config.profile,
        }
    }

    fn select(&self, event: &Event<'_>) -> Option<(Key, Vec<String>)> {
        if !self.rule.filter.eval(event, self.profile) {
            return None;
        }
        let key = self
            .key_fields
            .iter()
            .map(|(_, f)| {
                f.values(event, self.profile)
                    .into_iter()
                    .next()
                    .map(|c| c.into_owned())
            })
            .collect();
        let item = match &self.rule.kind {
            DataKind::Correlation {
                measure: Measure::Distinct(f),
                ..
            } => f
                .values(event, self.profile)
                .into_iter()
                .map(|c| c.into_owned())
                .collect(),
            _ => Vec::new(),
        };
        Some((key, item))
    }

    fn add(&self, group: &mut Group, item: Vec<String>, _max_list: usize) {
        group.n = group.n.saturating_add(1);
        for v in &item {
            insert_sorted(&mut group.values, v);
        }
    }

    fn check(&self, group: &Group) -> bool {
        let distinct = matches!(
            self.rule.kind,
            DataKind::Correlation {
                measure: Measure::Distinct(_),
                ..
            }
        );
        group.n >= 1
            && is_sorted_set(&group.values)
            && (distinct || group.values.is_empty())
            && group.values.len() as u64
                <= group
                    .n
                    .saturating_mul(crate::fields::MAX_VALUES_PER_PATH as u64)
    }

    fn encode(&self, key: &Key, item: &Vec<String>, out: &mut Vec<u8>) {
        wire::put_varint(out, key.len() as u64);
        for k in key {
            match k {
                None => out.push(0),
                Some(s) => {
                    out.push(1);
                    wire::put_str(out, s);
                }
            }
        }
        wire::put_varint(out, item.len() as u64);
        for v in item {
            wire::put_str(out, v);
        }
    }

    fn decode(&self, r: &mut Reader<'_>) -> Result<(Key, Vec<String>), WireError> {
        let n = r.varint()?;
        if n != self.key_fields.len() as u64 {
            return Err(WireError(format!(
                "a key of {n} fields for rule {}, which groups by {}",
                self.rule.name,
                self.key_fields.len()
            )));
        }
        let mut key = Vec::with_capacity(n as usize);
        for _ in 0..n {
            key.push(match r.u8()? {
                0 => None,
                1 => Some(r.str()?.to_owned()),
                t => return Err(WireError(format!("key tag {t}"))),
            });
        }
        let m = r.varint()?;
        if m > r.rest().len() as u64 {
            return Err(WireError(format!(
                "{m} values in a payload too short for them"
            )));
        }
        let mut item = Vec::with_capacity(m as usize);
        for _ in 0..m {
            item.push(r.str()?.to_owned());
        }
        Ok((key, item))
    }

    fn measure(&self, group: &Group) -> u64 {
        match &self.rule.kind {
            DataKind::Correlation {
                measure: Measure::Distinct(_),
                ..
            } => group.values.len() as u64,
            _ => group.n,
        }
    }

    fn alert(&self, window_start: i64, window_end: i64, key: &Key, group: &Group) -> Alert {
        let r = &self.rule;
        let mut row = Map::new();
        if matches!(r.kind, DataKind::Event { .. }) {
            row.insert("eventTime".into(), Value::String(rfc3339(window_start)));
        }
        for ((name, _), v) in self.key_fields.iter().zip(key) {
            row.insert(name.clone(), v.clone().map_or(Value::Null, Value::String));
        }
        if matches!(r.kind, DataKind::Correlation { .. }) {
            row.insert("count".into(), Value::from(self.measure(group)));
        }
        Alert {
            rule: r.name.clone(),
            rule_id: r.id.clone(),
            id: alert_id(&r.name, window_start, window_end, key),
            window_start,
            window_end,
            row: Value::Object(row).to_string(),
            title: r.title.clone(),
            description: r.description.clone(),
            severity: r.severity.clone(),
            tactics: r.tactics.clone(),
            techniques: r.techniques.clone(),
            entities: Vec::new(),
            custom_details: "{}".to_owned(),
            truncated: false,
            kind: AlertKind::Final,
            suppressed: 0,
        }
    }
}
