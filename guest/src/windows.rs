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

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::alert::{Alert, AlertKind};
use crate::config::{RuleConfig, RuleName, WindowMode};
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
    /// Final alerts held back by suppression (the rule's `suppress` span).
    /// Left out of snapshots while 0, so a rule that never suppresses
    /// keeps the snapshot text it had before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppressed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The serialisable part of a rule's windows.
#[derive(Serialize, Deserialize)]
pub(crate) struct State<K, G, I> {
    windows: Vec<(i64, Vec<(K, G)>)>,
    watermark: Option<i64>,
    ended: bool,
    pending: Vec<Pending>,
    counters: Counters,
    #[serde(default)]
    ahead: Vec<Ahead>,
    /// Suppression of groups that alerted (snapshot version 5; empty when
    /// the rule does not suppress).
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    held: Vec<(K, Hold)>,
    /// Sliding windows (snapshot version 5): the events not yet final, in
    /// time and then arrival order, with their group keys.
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    slide_pending: Vec<(i64, K, I)>,
    /// Sliding windows: each open group's final events still needed.
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    slide_groups: Vec<(K, Vec<(i64, I)>)>,
    /// Sliding windows: events at or before this time are final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slide_done: Option<i64>,
    /// Sliding windows: the frontier at the last sweep of idle groups.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    slide_swept: i64,
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

/// Sliding windows: the events of one time, each with its group key, in
/// arrival order.
type Arrivals<K, I> = Vec<(K, I)>;

/// Sliding windows: a group's events with their times, oldest first.
type Timed<I> = Vec<(i64, I)>;

/// One group of a sliding window: its final events that a window to come
/// may still count (oldest first), and how many of its events are not
/// final yet.
struct Slot<I> {
    items: VecDeque<(i64, I)>,
    pending: u32,
}

impl<I> Slot<I> {
    /// Forgets the events at or before `from`: out of every window to come.
    fn age(&mut self, from: i64) {
        while self.items.front().is_some_and(|(t, _)| *t <= from) {
            self.items.pop_front();
        }
    }
}

/// A group's suppression after an alert that went out: alerts of its
/// windows starting before `until` are held back, and counted in `held`
/// until the next alert of the group that goes out carries the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Hold {
    until: i64,
    held: u64,
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
    /// Suppressed groups (empty unless `config.suppress_ms` is set).
    held: HashMap<R::Key, Hold>,
    /// Sliding windows: events not yet final, by time, each with its
    /// group key, in arrival order.
    slide_pending: BTreeMap<i64, Arrivals<R::Key, R::Item>>,
    /// Sliding windows: the open groups.
    slide_groups: HashMap<R::Key, Slot<R::Item>>,
    /// Sliding windows: events at or before this time are final (the
    /// watermark less the allowed lateness, once set).
    slide_done: Option<i64>,
    /// Sliding windows: the frontier at the last sweep of idle groups.
    slide_swept: i64,
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
            held: HashMap::new(),
            slide_pending: BTreeMap::new(),
            slide_groups: HashMap::new(),
            slide_done: None,
            slide_swept: 0,
        }
    }

    /// Whether the rule's windows slide.
    fn sliding(&self) -> bool {
        self.config.window_mode == WindowMode::Sliding
    }

    /// Whether a group's alert for the window starting at `start` is held
    /// back by an earlier alert of the group (without counting it).
    fn is_held(&self, key: &R::Key, start: i64) -> bool {
        self.config.suppress_ms > 0 && self.held.get(key).is_some_and(|h| start < h.until)
    }

    /// Decides a final alert of `key`'s window starting at `start` under
    /// suppression: `None` when it is held back (and counted), else the
    /// number held back since the group's previous alert, which the alert
    /// carries. Windows close in start order, so a replay decides alike.
    fn release(&mut self, key: &R::Key, start: i64) -> Option<u64> {
        let span = self.config.suppress_ms;
        if span <= 0 {
            return Some(0);
        }
        let until = start.saturating_add(span);
        match self.held.get_mut(key) {
            Some(h) if start < h.until => {
                h.held = h.held.saturating_add(1);
                bump(&mut self.counters.suppressed);
                None
            }
            Some(h) => {
                let n = h.held;
                *h = Hold { until, held: 0 };
                Some(n)
            }
            None => {
                self.held.insert(key.clone(), Hold { until, held: 0 });
                Some(0)
            }
        }
    }

    /// Forgets suppressions no future alert can fall under: a window that
    /// can still take an event starts after `watermark - width -
    /// lateness`. A group with alerts held back keeps its entry until its
    /// next alert reports them, within `limits.max-open-groups` entries
    /// (past that, the oldest go; their count stays in `suppressed`).
    fn prune_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let horizon = match (self.ended, self.watermark) {
            (true, _) => i64::MAX,
            (false, Some(w)) => w
                .saturating_sub(self.config.window_ms)
                .saturating_sub(self.config.allowed_lateness_ms),
            (false, None) => return,
        };
        self.held.retain(|_, h| h.until > horizon || h.held > 0);
        let limit = self.config.limits.max_open_groups as usize;
        if self.held.len() > limit {
            // Exactly the excess, oldest span first (ties by key, so a
            // replay forgets the same ones).
            let mut oldest: Vec<(i64, R::Key)> = self
                .held
                .iter()
                .map(|(k, h)| (h.until, k.clone()))
                .collect();
            oldest.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            for (_, key) in oldest.into_iter().take(self.held.len() - limit) {
                self.held.remove(&key);
            }
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
            Some((key, item)) if self.sliding() => {
                if self.ended || self.slide_done.is_some_and(|d| t <= d) {
                    // As if its window were the one that ends at it.
                    self.explain_late(t, t.saturating_sub(self.config.window_ms));
                    Outcome::Late
                } else {
                    self.slide_add(t, key, item)?;
                    Outcome::Accepted
                }
            }
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
        // An early alert of a group under suppression is held back (and
        // not counted: the final alert's decision, when the window closes,
        // is the one counted).
        let held = early && self.is_held(&key, start);
        if let Some(group) = self.windows.get_mut(&start).and_then(|w| w.get_mut(&key)) {
            // Whether the group met the threshold before the event, when
            // early alerts need it.
            let before = !early || threshold.holds(self.rule.measure(group));
            self.rule.add(group, item, max_list);
            if !before && threshold.holds(self.rule.measure(group)) && !held {
                let end = start.saturating_add(self.config.window_ms);
                let mut alert = self.rule.alert(start, end, &key, group);
                alert.kind = AlertKind::Early;
                self.push_early(alert);
            }
            return Ok(());
        }
        self.may_open_group()?;
        let mut group = R::Group::default();
        self.rule.add(&mut group, item, max_list);
        if early && !held && threshold.holds(self.rule.measure(&group)) {
            let end = start.saturating_add(self.config.window_ms);
            let mut alert = self.rule.alert(start, end, &key, &group);
            alert.kind = AlertKind::Early;
            self.push_early(alert);
        }
        self.windows.entry(start).or_default().insert(key, group);
        self.open_groups += 1;
        Ok(())
    }

    /// Whether one more group may open (`limits.max-open-groups`).
    fn may_open_group(&self) -> Result<(), EventError> {
        let limit = self.config.limits.max_open_groups as usize;
        if self.open_groups >= limit {
            return Err(EventError::new(
                RejectReason::StateLimit,
                format!(
                    "{limit} groups are open (limits.max-open-groups); this event would open another"
                ),
            ));
        }
        Ok(())
    }

    /// Sliding windows: keeps an event until it is final.
    fn slide_add(&mut self, t: i64, key: R::Key, item: R::Item) -> Result<(), EventError> {
        match self.slide_groups.get_mut(&key) {
            Some(slot) => slot.pending = slot.pending.saturating_add(1),
            None => {
                self.may_open_group()?;
                self.slide_groups.insert(
                    key.clone(),
                    Slot {
                        items: VecDeque::new(),
                        pending: 1,
                    },
                );
                self.open_groups += 1;
            }
        }
        self.slide_pending.entry(t).or_default().push((key, item));
        Ok(())
    }

    /// Sliding windows: makes the events at or before `f` final, in time
    /// order, and evaluates each group at each of its event times (see
    /// `docs/rules.md`). Returns the number of alerts produced.
    fn slide_to(&mut self, f: i64) -> u32 {
        if self.slide_done.is_some_and(|d| d >= f) {
            return 0;
        }
        self.slide_done = Some(f);
        let mut hits: Vec<(i64, R::Key, R::Group)> = Vec::new();
        while let Some(entry) = self.slide_pending.first_entry() {
            if *entry.key() > f {
                break;
            }
            let (t, mut events) = entry.remove_entry();
            // By key (stable: arrival order within a key), so the alerts
            // of one time come out in key order.
            events.sort_by(|a, b| a.0.cmp(&b.0));
            let mut it = events.into_iter().peekable();
            while let Some((key, item)) = it.next() {
                let mut run = vec![item];
                while let Some((_, i)) = it.next_if(|(k, _)| *k == key) {
                    run.push(i);
                }
                if let Some(group) = self.slide_group(t, &key, run) {
                    hits.push((t, key, group));
                }
            }
        }
        self.sweep(f);
        let span = self.config.window_ms;
        let step = self.counters.pushed;
        let mut n = 0u32;
        for (t, key, group) in hits {
            // The window `(t - span, t]`, as `[start, end)` in ms.
            let (start, end) = (
                t.saturating_sub(span).saturating_add(1),
                t.saturating_add(1),
            );
            let Some(suppressed) = self.release(&key, start) else {
                continue;
            };
            let mut alert = self.rule.alert(start, end, &key, &group);
            alert.suppressed = suppressed;
            self.pending.push(Pending { step, alert });
            n += 1;
        }
        self.counters.alerts = self.counters.alerts.saturating_add(u64::from(n));
        n
    }

    /// Sliding windows: applies a group's events at `t` (all of them, in
    /// arrival order) and evaluates it there. Returns the group's aggregate
    /// over `(t - span, t]` when the group meets the threshold at `t` and
    /// did not just before `t` (an episode starts), else `None`.
    ///
    /// A group keeps only the shortest run of its latest events that meets
    /// the threshold (or, while none does, every event a window to come may
    /// count, up to `limits.max-list-entries`). The measure only grows with
    /// events, so whenever an older event would still be in a window, the
    /// kept run is too and meets the threshold by itself: whether the group
    /// meets it is the same, and when an episode starts nothing older was
    /// in the window, so its row is exact.
    fn slide_group(&mut self, t: i64, key: &R::Key, run: Vec<R::Item>) -> Option<R::Group> {
        let span = self.config.window_ms;
        let max_list = self.config.limits.max_list_entries as usize;
        let Windows {
            rule,
            config,
            slide_groups,
            ..
        } = self;
        let slot = slide_groups.get_mut(key)?;
        slot.pending = slot.pending.saturating_sub(run.len() as u32);
        let from = t.saturating_sub(span);
        slot.age(from);
        // The aggregate of the events before `t`, then with those at `t`.
        let mut group = R::Group::default();
        for (_, i) in &slot.items {
            rule.add(&mut group, i.clone(), max_list);
        }
        let before = !slot.items.is_empty() && config.threshold.holds(rule.measure(&group));
        for i in run {
            rule.add(&mut group, i.clone(), max_list);
            slot.items.push_back((t, i));
        }
        let at = config.threshold.holds(rule.measure(&group));
        if at {
            // The shortest latest run that meets the threshold.
            let mut g = R::Group::default();
            let mut keep = slot.items.len();
            for (n, (_, i)) in slot.items.iter().rev().enumerate() {
                rule.add(&mut g, i.clone(), max_list);
                if config.threshold.holds(rule.measure(&g)) {
                    keep = n + 1;
                    break;
                }
            }
            slot.items.drain(..slot.items.len() - keep);
        }
        if slot.items.len() > max_list {
            slot.items.drain(..slot.items.len() - max_list);
        }
        (at && !before).then_some(group)
    }

    /// Sliding windows: forgets the events no window to come can count
    /// (windows to come end after `f`), and the groups left with none,
    /// once per window width of event time.
    fn sweep(&mut self, f: i64) {
        let span = self.config.window_ms;
        if f != i64::MAX && f < self.slide_swept.saturating_add(span) {
            return;
        }
        self.slide_swept = f;
        let from = f.saturating_sub(span);
        self.slide_groups.retain(|_, slot| {
            slot.age(from);
            !slot.items.is_empty() || slot.pending > 0
        });
        self.open_groups = self.slide_groups.len();
        if !self.held.is_empty() {
            self.prune_held();
        }
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
        if self.sliding() {
            produced += self.slide_to(t.saturating_sub(self.config.allowed_lateness_ms));
        }
        while let Some((&start, _)) = self.windows.first_key_value() {
            if !self.is_final(start) {
                break;
            }
            produced += self.close_first();
        }
        if produced > 0 || self.held.len() > self.config.limits.max_open_groups as usize {
            self.prune_held();
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
        let step = self.counters.pushed;
        let mut n = 0u32;
        for (key, group) in &hits {
            let Some(suppressed) = self.release(key, start) else {
                continue;
            };
            let mut alert = self.rule.alert(start, end, key, group);
            alert.suppressed = suppressed;
            self.pending.push(Pending { step, alert });
            n += 1;
        }
        self.counters.alerts = self.counters.alerts.saturating_add(u64::from(n));
        n
    }

    pub(crate) fn flush(&mut self, to: Option<i64>) -> u32 {
        match to {
            Some(t) => self.advance(t),
            None => {
                let mut produced = 0;
                if self.sliding() {
                    produced += self.slide_to(i64::MAX);
                    self.slide_groups.clear();
                    self.open_groups = 0;
                }
                while !self.windows.is_empty() {
                    produced += self.close_first();
                }
                self.ended = true;
                self.prune_held();
                produced
            }
        }
    }

    pub(crate) fn drain(&mut self) -> Vec<Pending> {
        std::mem::take(&mut self.pending)
    }

    /// Open windows: tumbling buckets, or sliding groups (each its own).
    pub(crate) fn open_windows(&self) -> usize {
        if self.sliding() {
            self.slide_groups.len()
        } else {
            self.windows.len()
        }
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

    pub(crate) fn state(&self) -> State<R::Key, &R::Group, R::Item> {
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
            held: {
                let mut held: Vec<(R::Key, Hold)> =
                    self.held.iter().map(|(k, h)| (k.clone(), *h)).collect();
                held.sort_by(|a, b| a.0.cmp(&b.0));
                held
            },
            slide_pending: self
                .slide_pending
                .iter()
                .flat_map(|(t, evs)| evs.iter().map(|(k, i)| (*t, k.clone(), i.clone())))
                .collect(),
            slide_groups: {
                let mut groups: Vec<(R::Key, Timed<R::Item>)> = self
                    .slide_groups
                    .iter()
                    .filter(|(_, s)| !s.items.is_empty())
                    .map(|(k, s)| (k.clone(), s.items.iter().cloned().collect()))
                    .collect();
                groups.sort_by(|a, b| a.0.cmp(&b.0));
                groups
            },
            slide_done: self.slide_done,
            slide_swept: self.slide_swept,
        }
    }

    /// Rebuilds a rule's windows from a snapshot's state, checking what the
    /// windowing relies on: window starts in range and aligned to the width.
    pub(crate) fn from_state(
        rule: R,
        config: RuleConfig,
        state: State<R::Key, R::Group, R::Item>,
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
        let n = state.held.len();
        built.held = state.held.into_iter().collect();
        if built.held.len() != n {
            return Err("a group's suppression appears twice".into());
        }
        if !built.held.is_empty() && built.config.suppress_ms <= 0 {
            return Err("the state holds suppressions for a rule that does not suppress".into());
        }
        let slid = !state.slide_pending.is_empty()
            || !state.slide_groups.is_empty()
            || state.slide_done.is_some();
        if slid && !built.sliding() {
            return Err("the state holds sliding windows for a rule whose windows tumble".into());
        }
        if built.sliding() && !built.windows.is_empty() {
            return Err("the state holds tumbling windows for a rule whose windows slide".into());
        }
        for (key, items) in state.slide_groups {
            if items.is_empty() || items.windows(2).any(|w| w[0].0 > w[1].0) {
                return Err("a sliding group's events are missing or out of time order".into());
            }
            if items.len() > built.config.limits.max_list_entries as usize {
                return Err(
                    "a sliding group holds more events than limits.max-list-entries".into(),
                );
            }
            let slot = Slot {
                items: items.into_iter().collect(),
                pending: 0,
            };
            if built.slide_groups.insert(key, slot).is_some() {
                return Err("a sliding group appears twice".into());
            }
        }
        for (t, key, item) in state.slide_pending {
            if time::check_range(t).is_err() || state.slide_done.is_some_and(|d| t <= d) {
                return Err(format!(
                    "a pending event at {t} is out of range or already final"
                ));
            }
            built
                .slide_groups
                .entry(key.clone())
                .or_insert_with(|| Slot {
                    items: VecDeque::new(),
                    pending: 0,
                })
                .pending += 1;
            built.slide_pending.entry(t).or_default().push((key, item));
        }
        built.slide_done = state.slide_done;
        built.slide_swept = state.slide_swept;
        if built.sliding() {
            built.open_groups = built.slide_groups.len();
        }
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
    /// Starts empty windows in a stream already under way (a rule changed
    /// on reload): `pushed` records so far, of which `filtered` count as
    /// filtered and `rejected` as rejected, and the stream's watermark.
    fn start_at(&mut self, pushed: u64, filtered: u64, rejected: [u64; 7], watermark: Option<i64>);
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

    fn start_at(&mut self, pushed: u64, filtered: u64, rejected: [u64; 7], watermark: Option<i64>) {
        self.counters.pushed = pushed;
        self.counters.filtered = filtered;
        self.counters.rejected = rejected;
        self.watermark = watermark;
        if self.sliding() {
            self.slide_done = watermark.map(|w| w.saturating_sub(self.config.allowed_lateness_ms));
            self.slide_swept = self.slide_done.unwrap_or(0);
        }
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), String> {
        let state: State<R::Key, R::Group, R::Item> =
            serde_json::from_value(state).map_err(|e| e.to_string())?;
        let rule = self.rule.clone();
        *self = Windows::from_state(rule, self.config.clone(), state)?;
        Ok(())
    }
}
