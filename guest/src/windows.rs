//! Event-time windowing shared by both rules: epoch-aligned buckets, a
//! watermark, allowed lateness, bounded state, counters and snapshots.
//!
//! A bucket `[s, s + width)` is final once the watermark reaches
//! `s + width + allowed_lateness`; it is then closed, its qualifying groups
//! become alerts (sorted by group key, so the output does not depend on
//! arrival order or batching), and its state is freed. An event whose
//! bucket is already final is late: counted, not applied.
//!
//! Early alerts (`early_alerts`): a distinct count only grows, so the event
//! that brings a group's count from below the threshold to it makes the
//! group an alert before its window closes. That event produces an early
//! alert at once (the row so far, with the same id as the final one); the
//! final alert still comes when the window closes, unchanged. The crossing
//! is read off the group's own state, so a restored detector never reports
//! a group early twice.
//!
//! Late records explained: for each late event the rule's windows keep how far
//! behind the watermark it was, and the smallest allowed lateness that
//! would have kept its window open (the watermark does not depend on the
//! lateness, so that is exact).
//!
//! Time you can trust: one record cannot move the watermark far. A record
//! more than `limits.max-time-jump-ms` ahead of it (a clock error, a
//! forgery, a record dated 2099) is still counted in its own window, but
//! the watermark follows it only once `limits.time-confirmations` records
//! that far ahead have arrived within [`CONFIRMATION_HORIZON`] times that
//! many records; it then moves to their median. A real gap (a trail that
//! resumes hours later) brings that many at once and loses nothing; a
//! handful of wild records never closes a window. Until the first
//! confirmations the watermark is unset: no window closes on one record's
//! word either.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::alert::{Alert, AlertKind};
use crate::config::{RuleConfig, RuleName};
use crate::event::{Event, EventError, RejectReason};
use crate::results::{RuleOutcome, RuleStats};
use crate::rules::{RuleLogic, Selector};
use crate::time::{self, bucket_start};
use crate::wire::{Reader, WireError};

/// What happened to one valid event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Counted in a window.
    Accepted,
    /// Valid, dropped by the rule's filters.
    Filtered,
    /// Its window was already final.
    Late,
}

/// Records far ahead count towards a jump for this many times
/// `time-confirmations` arrivals; older ones are forgotten, so sporadic
/// wild records never add up.
pub const CONFIRMATION_HORIZON: u64 = 64;

/// Running counters of one detector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Events pushed.
    pub pushed: u64,
    /// Events counted in a window.
    pub accepted: u64,
    /// Valid events dropped by the filters.
    pub filtered: u64,
    /// Late events.
    pub late: u64,
    /// Rejected events per reason, indexed as [`RejectReason::ALL`].
    pub rejected: [u64; 7],
    /// Final alerts produced.
    pub alerts: u64,
    /// Early alerts produced.
    #[serde(default)]
    pub early_alerts: u64,
    /// Of the late events, the furthest behind the watermark when it
    /// arrived, ms (0 when none was, or for those counted before snapshot
    /// version 3).
    #[serde(default)]
    pub late_worst_ms: u64,
    /// The smallest allowed lateness, ms, that would have applied every
    /// late event counted here (0 when none was late).
    #[serde(default)]
    pub lateness_needed_ms: u64,
    /// Records that arrived more than the allowed jump ahead of the
    /// watermark (counted in their windows; the watermark followed only
    /// on confirmation).
    #[serde(default)]
    pub ahead: u64,
}

/// The serialisable part of a rule's windows.
#[derive(Serialize, Deserialize)]
pub(crate) struct State<K, G> {
    windows: Vec<(i64, Vec<(K, G)>)>,
    watermark: Option<i64>,
    ended: bool,
    pending: Vec<Pending>,
    counters: Counters,
    #[serde(default)]
    ahead: Vec<Ahead>,
}

/// An alert waiting for `drain`, with the step that produced it: the
/// rule's arrival count (`counters.pushed`) when it was produced, so that
/// alerts of several rules drain in the order the stream produced them.
/// Alerts saved by snapshot version 2 carry no step (0: before anything
/// that follows).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    #[serde(default)]
    pub(crate) step: u64,
    #[serde(flatten)]
    pub(crate) alert: Alert,
}

/// Records far ahead of the watermark, waiting for confirmation: their
/// latest time, how many, and the arrival count when they came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ahead {
    time: i64,
    count: u64,
    arrived: u64,
}

/// One rule running over event-time windows.
pub(crate) struct Windows<R: RuleLogic> {
    rule: R,
    config: RuleConfig,
    windows: BTreeMap<i64, HashMap<R::Key, R::Group>>,
    open_groups: usize,
    watermark: Option<i64>,
    ended: bool,
    pending: Vec<Pending>,
    pub(crate) counters: Counters,
    ahead: Vec<Ahead>,
}

impl<R: RuleLogic> Windows<R> {
    pub(crate) fn new(rule: R, config: RuleConfig) -> Self {
        Windows {
            rule,
            config,
            windows: BTreeMap::new(),
            open_groups: 0,
            watermark: None,
            ended: false,
            pending: Vec::new(),
            counters: Counters::default(),
            ahead: Vec::new(),
        }
    }

    /// Whether the bucket starting at `start` is final.
    fn is_final(&self, start: i64) -> bool {
        self.ended
            || self.watermark.is_some_and(|w| {
                start
                    .saturating_add(self.config.window_ms)
                    .saturating_add(self.config.allowed_lateness_ms)
                    <= w
            })
    }

    /// Counts a record no rule could read.
    pub(crate) fn reject(&mut self, reason: RejectReason) {
        self.counters.pushed = self.counters.pushed.saturating_add(1);
        self.counters.rejected[reason as usize] =
            self.counters.rejected[reason as usize].saturating_add(1);
    }

    /// Applies `n` valid records this rule filters, the latest at `max_t`:
    /// they count and move the watermark, nothing else.
    pub(crate) fn filtered(&mut self, n: u64, max_t: i64) -> bool {
        self.counters.pushed = self.counters.pushed.saturating_add(n);
        self.counters.filtered = self.counters.filtered.saturating_add(n);
        self.observe(max_t, n)
    }

    /// Whether a time is within the allowed jump of a set watermark (so it
    /// moves the watermark directly).
    pub(crate) fn within(&self, t: i64) -> bool {
        !self.ended
            && self
                .watermark
                .is_some_and(|w| t <= w.saturating_add(self.config.limits.max_time_jump_ms))
    }

    /// The times of `n` readable records, the latest `t`: moves the
    /// watermark under the time policy (module documentation). Returns
    /// whether they were far ahead of it.
    fn observe(&mut self, t: i64, n: u64) -> bool {
        if self.ended {
            return false;
        }
        if self.within(t) {
            self.advance(t);
            return false;
        }
        let limits = self.config.limits;
        let unset = self.watermark.is_none();
        let arrivals = self.counters.pushed;
        let horizon = CONFIRMATION_HORIZON * u64::from(limits.time_confirmations);
        self.ahead
            .retain(|a| arrivals.saturating_sub(a.arrived) <= horizon);
        self.ahead.push(Ahead {
            time: t,
            count: n,
            arrived: arrivals,
        });
        let total = self
            .ahead
            .iter()
            .fold(0u64, |sum, a| sum.saturating_add(a.count));
        if total >= u64::from(limits.time_confirmations) {
            // Confirmed: the watermark moves to the median of them.
            let mut times: Vec<Ahead> = std::mem::take(&mut self.ahead);
            times.sort_by_key(|a| a.time);
            let mut seen = 0u64;
            let median = times
                .iter()
                .find(|a| {
                    seen = seen.saturating_add(a.count);
                    seen.saturating_mul(2) >= total
                })
                .map_or(t, |a| a.time);
            self.advance(median);
        }
        // Before the first confirmation no record is "ahead" of anything.
        if !unset {
            self.counters.ahead = self.counters.ahead.saturating_add(n);
        }
        !unset
    }

    /// Applies one readable event at time `t`, selected (with its key and
    /// contribution) or filtered by this rule.
    pub(crate) fn event(
        &mut self,
        t: i64,
        selection: Option<(R::Key, R::Item)>,
    ) -> (Result<Outcome, EventError>, bool) {
        self.counters.pushed = self.counters.pushed.saturating_add(1);
        let mut ahead = false;
        let result = self.apply(t, selection, &mut ahead);
        match &result {
            Ok(Outcome::Accepted) => bump(&mut self.counters.accepted),
            Ok(Outcome::Filtered) => bump(&mut self.counters.filtered),
            Ok(Outcome::Late) => bump(&mut self.counters.late),
            Err(e) => bump(&mut self.counters.rejected[e.reason as usize]),
        }
        (result, ahead)
    }

    fn apply(
        &mut self,
        t: i64,
        selection: Option<(R::Key, R::Item)>,
        ahead: &mut bool,
    ) -> Result<Outcome, EventError> {
        let outcome = match selection {
            None => Outcome::Filtered,
            Some((key, item)) => {
                let start = bucket_start(t, self.config.window_ms);
                if self.is_final(start) {
                    self.explain_late(t, start);
                    Outcome::Late
                } else {
                    self.add(start, key, item)?;
                    Outcome::Accepted
                }
            }
        };
        *ahead = self.observe(t, 1);
        Ok(outcome)
    }

    /// Keeps the figures that explain a late event at `t` (bucket `start`):
    /// how far behind the watermark it was, and the allowed lateness that
    /// would have kept its bucket open (one past the watermark's lead over
    /// the bucket's end). An event late only because the stream ended says
    /// nothing about lateness.
    fn explain_late(&mut self, t: i64, start: i64) {
        let (Some(w), false) = (self.watermark, self.ended) else {
            return;
        };
        let behind = i128::from(w) - i128::from(t);
        let needed = i128::from(w) - i128::from(start.saturating_add(self.config.window_ms)) + 1;
        let c = &mut self.counters;
        c.late_worst_ms = c.late_worst_ms.max(u64::try_from(behind).unwrap_or(0));
        c.lateness_needed_ms = c.lateness_needed_ms.max(u64::try_from(needed).unwrap_or(0));
    }

    fn add(&mut self, start: i64, key: R::Key, item: R::Item) -> Result<(), EventError> {
        let max_list = self.config.limits.max_list_entries as usize;
        let threshold = &self.config.threshold;
        // Early alerts need a measure that, once it meets the threshold,
        // stays there: a threshold that only bounds from below.
        let early = self.config.early_alerts && threshold.is_monotone();
        if let Some(group) = self.windows.get_mut(&start).and_then(|w| w.get_mut(&key)) {
            // Whether the group met the threshold before the event, when
            // early alerts need it.
            let before = !early || threshold.holds(self.rule.measure(group));
            self.rule.add(group, item, max_list);
            if !before && threshold.holds(self.rule.measure(group)) {
                let end = start.saturating_add(self.config.window_ms);
                let mut alert = self.rule.alert(start, end, &key, group);
                alert.kind = AlertKind::Early;
                self.push_early(alert);
            }
            return Ok(());
        }
        let limit = self.config.limits.max_open_groups as usize;
        if self.open_groups >= limit {
            return Err(EventError::new(
                RejectReason::StateLimit,
                format!(
                    "{limit} groups are open (limits.max-open-groups); this event would open another"
                ),
            ));
        }
        let mut group = R::Group::default();
        self.rule.add(&mut group, item, max_list);
        if early && threshold.holds(self.rule.measure(&group)) {
            let end = start.saturating_add(self.config.window_ms);
            let mut alert = self.rule.alert(start, end, &key, &group);
            alert.kind = AlertKind::Early;
            self.push_early(alert);
        }
        self.windows.entry(start).or_default().insert(key, group);
        self.open_groups += 1;
        Ok(())
    }

    fn push_early(&mut self, alert: Alert) {
        self.pending.push(Pending {
            step: self.counters.pushed,
            alert,
        });
        self.counters.early_alerts += 1;
    }

    /// Moves the watermark to `t` if later, closing the buckets that became
    /// final. Returns the number of alerts produced.
    fn advance(&mut self, t: i64) -> u32 {
        if self.ended || self.watermark.is_some_and(|w| w >= t) {
            return 0;
        }
        self.watermark = Some(t);
        let mut produced = 0;
        while let Some((&start, _)) = self.windows.first_key_value() {
            if !self.is_final(start) {
                break;
            }
            produced += self.close_first();
        }
        produced
    }

    /// Closes the earliest open bucket.
    fn close_first(&mut self) -> u32 {
        let Some((start, groups)) = self.windows.pop_first() else {
            return 0;
        };
        self.open_groups -= groups.len();
        let end = start.saturating_add(self.config.window_ms);
        let threshold = &self.config.threshold;
        let mut hits: Vec<(R::Key, R::Group)> = groups
            .into_iter()
            .filter(|(_, g)| threshold.holds(self.rule.measure(g)))
            .collect();
        hits.sort_by(|a, b| a.0.cmp(&b.0));
        let n = hits.len() as u32;
        let step = self.counters.pushed;
        for (key, group) in &hits {
            self.pending.push(Pending {
                step,
                alert: self.rule.alert(start, end, key, group),
            });
        }
        self.counters.alerts = self.counters.alerts.saturating_add(u64::from(n));
        n
    }

    pub(crate) fn flush(&mut self, to: Option<i64>) -> u32 {
        match to {
            Some(t) => self.advance(t),
            None => {
                let mut produced = 0;
                while !self.windows.is_empty() {
                    produced += self.close_first();
                }
                self.ended = true;
                produced
            }
        }
    }

    pub(crate) fn drain(&mut self) -> Vec<Pending> {
        std::mem::take(&mut self.pending)
    }

    pub(crate) fn open_windows(&self) -> usize {
        self.windows.len()
    }

    pub(crate) fn open_groups(&self) -> usize {
        self.open_groups
    }

    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    pub(crate) fn state(&self) -> State<R::Key, &R::Group> {
        State {
            // Groups sorted by key: a hash map's order is its own, and the
            // same state must give the same snapshot.
            windows: self
                .windows
                .iter()
                .map(|(s, groups)| {
                    let mut groups: Vec<(R::Key, &R::Group)> =
                        groups.iter().map(|(k, g)| (k.clone(), g)).collect();
                    groups.sort_by(|a, b| a.0.cmp(&b.0));
                    (*s, groups)
                })
                .collect(),
            watermark: self.watermark,
            ended: self.ended,
            pending: self.pending.clone(),
            counters: self.counters.clone(),
            ahead: self.ahead.clone(),
        }
    }

    /// Rebuilds a rule's windows from a snapshot's state, checking what the
    /// windowing relies on: window starts in range and aligned to the width.
    pub(crate) fn from_state(
        rule: R,
        config: RuleConfig,
        state: State<R::Key, R::Group>,
    ) -> Result<Self, String> {
        let mut built = Windows::new(rule, config);
        for (start, groups) in state.windows {
            if time::check_range(start).is_err()
                || bucket_start(start, built.config.window_ms) != start
            {
                return Err(format!("window start {start} is not a bucket start"));
            }
            if groups.iter().any(|(_, g)| !built.rule.check(g)) {
                return Err(format!(
                    "a group of window {start} is damaged (unsorted, repeated or empty values)"
                ));
            }
            let n = groups.len();
            let groups: HashMap<R::Key, R::Group> = groups.into_iter().collect();
            if groups.len() != n {
                return Err(format!("window {start} holds a group twice"));
            }
            if built.windows.insert(start, groups).is_some() {
                return Err(format!("window {start} appears twice"));
            }
        }
        built.open_groups = built.windows.values().map(HashMap::len).sum();
        built.watermark = state.watermark;
        built.ended = state.ended;
        built.pending = state.pending;
        let waiting = state
            .ahead
            .iter()
            .try_fold(0u64, |sum, a| sum.checked_add(a.count));
        if waiting.is_none_or(|n| n > state.counters.pushed)
            || state
                .ahead
                .iter()
                .any(|a| a.arrived > state.counters.pushed)
        {
            return Err(
                "the records waiting to confirm a jump are more than the records pushed".into(),
            );
        }
        built.counters = state.counters;
        built.ahead = state.ahead;
        Ok(built)
    }
}

/// Counts one more: counters saturate, never wrap (`restore` refuses
/// counters without room to count on, so a live detector never gets
/// there).
pub(crate) fn bump(counter: &mut u64) {
    *counter = counter.saturating_add(1);
}

/// A decoded selection of one rule (its key and contribution), whatever
/// the rule.
pub(crate) type Selection = Box<dyn std::any::Any + Send>;

/// One rule running over its windows, whatever the rule: what the
/// detector and the payload reader call. Implemented once, for
/// [`Windows`] of any [`RuleLogic`].
pub(crate) trait RuleWindows: Send {
    /// Which rule.
    fn rule(&self) -> RuleName;
    /// The rule's per-event steps, for a scanner.
    fn selector(&self) -> Box<dyn Selector>;
    /// Selects and applies one readable event: its outcome, and whether it
    /// was far ahead of the watermark.
    fn push(&mut self, event: &Event<'_>) -> (RuleOutcome, bool);
    /// Reads a selection back from a payload.
    fn decode(&self, r: &mut Reader<'_>) -> Result<Selection, WireError>;
    /// Applies one readable event at `t`, selected (a selection this rule
    /// decoded) or filtered.
    fn apply(&mut self, t: i64, selection: Option<Selection>) -> (RuleOutcome, bool);
    /// See [`Windows::filtered`].
    fn filtered(&mut self, n: u64, max_t: i64) -> bool;
    /// See [`Windows::within`].
    fn within(&self, t: i64) -> bool;
    /// See [`Windows::reject`].
    fn reject(&mut self, reason: RejectReason);
    /// See [`Windows::flush`].
    fn flush(&mut self, to: Option<i64>) -> u32;
    /// See [`Windows::drain`].
    fn drain(&mut self) -> Vec<Pending>;
    /// Running counters.
    fn counters(&self) -> &Counters;
    /// Alerts not yet drained.
    fn pending(&self) -> usize;
    /// Counters and state sizes.
    fn stats(&self) -> RuleStats;
    /// The state a snapshot keeps.
    fn state(&self) -> serde_json::Value;
    /// Replaces empty windows with a snapshot's state, checked.
    fn restore(&mut self, state: serde_json::Value) -> Result<(), String>;
}

impl<R: RuleLogic> RuleWindows for Windows<R> {
    fn rule(&self) -> RuleName {
        self.config.name.clone()
    }

    fn selector(&self) -> Box<dyn Selector> {
        Box::new(self.rule.clone())
    }

    fn push(&mut self, event: &Event<'_>) -> (RuleOutcome, bool) {
        let selection = self.rule.select(event);
        self.event(event.time_ms, selection)
    }

    fn decode(&self, r: &mut Reader<'_>) -> Result<Selection, WireError> {
        Ok(Box::new(self.rule.decode(r)?))
    }

    fn apply(&mut self, t: i64, selection: Option<Selection>) -> (RuleOutcome, bool) {
        let selection = selection
            .and_then(|s| s.downcast::<(R::Key, R::Item)>().ok())
            .map(|s| *s);
        self.event(t, selection)
    }

    fn filtered(&mut self, n: u64, max_t: i64) -> bool {
        Windows::filtered(self, n, max_t)
    }

    fn within(&self, t: i64) -> bool {
        Windows::within(self, t)
    }

    fn reject(&mut self, reason: RejectReason) {
        Windows::reject(self, reason)
    }

    fn flush(&mut self, to: Option<i64>) -> u32 {
        Windows::flush(self, to)
    }

    fn drain(&mut self) -> Vec<Pending> {
        Windows::drain(self)
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    fn pending(&self) -> usize {
        Windows::pending(self)
    }

    fn stats(&self) -> RuleStats {
        RuleStats {
            rule: self.config.name.clone(),
            counters: self.counters.clone(),
            open_windows: self.open_windows() as u32,
            open_groups: self.open_groups() as u32,
            watermark: self.watermark(),
        }
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(Windows::state(self))
            .expect("rule state holds only strings, integers and lists")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), String> {
        let state: State<R::Key, R::Group> =
            serde_json::from_value(state).map_err(|e| e.to_string())?;
        let rule = self.rule.clone();
        *self = Windows::from_state(rule, self.config.clone(), state)?;
        Ok(())
    }
}
