//! A deterministic generator of realistic raw AWS CloudTrail records
//! (NDJSON, one record per line) with injected AWS CLI reconnaissance
//! bursts and known ground truth: input for benchmarks, demos and property
//! tests of the detector.
//!
//! # What it makes
//!
//! Background traffic looks like an organisation's trail: 20-50 accounts
//! and a few hundred principals (more at higher rates) of every
//! `userIdentity` shape real trails carry — IAM users (`userName`, `AKIA`
//! keys, console sessions with `mfaAuthenticated`), assumed roles whose
//! session name is an e-mail, IAM Identity Center (`AWSReservedSSO_…`)
//! roles, application roles (EC2 instance sessions with
//! `ec2RoleDelivery`, Lambda and ECS sessions), the root user, federated
//! users, AWS services (`type` `AWSService`, `invokedBy`, no ARN), the AWS
//! Config service-linked role, anonymous S3 readers (`principalId`
//! `Anonymous`) and identities with no `type` at all, as some exports
//! have. Each principal keeps its habits: console users send console
//! agents (`AWS Internal`, `console.amazonaws.com`, browsers), CLI users
//! one aws-cli flavour (v1; v2 legacy `prompt/off command/svc.op`; v2
//! current `md/command#svc.op`), applications one SDK (Boto3, Go v2, Java,
//! JS), IaC Terraform, services their service name as agent and address.
//! Calls (95 kinds over IAM, EC2, S3, STS, KMS, Lambda, RDS,
//! DynamoDB, CloudFront, ELB, Route 53, ECS, Bedrock, SageMaker, Logs,
//! CloudTrail, Config and console sign-in) carry consistent `eventSource`,
//! `eventName`, `readOnly`, management/data category, small realistic
//! `requestParameters`/`responseElements`, `resources`, `tlsDetails`,
//! S3's `additionalEventData` and bracketed agents, and now and then an
//! `AccessDenied`/throttling error. An aws-cli agent always names the
//! command that makes the call (`ListUsers` ↔ `iam.list-users`). Over 90%
//! of records are 600-1500 bytes (long-lived assumed-role sessions with
//! S3 data events run to about 2 KB). Times are whole seconds, as in
//! CloudTrail.
//!
//! CLI users do run discovery commands in the background, but each is
//! seldom busy enough to reach either rule's threshold, so background alone
//! (practically) never alerts at the default rate; the identity pool grows
//! with the rate to keep it so up to about 10 000 events/s.
//!
//! # Bursts and near misses
//!
//! `bursts` bursts are injected, spread evenly over the background records
//! (burst `i` after background record `(2i+1)·B/(2·bursts)`), cycling
//! through [`BurstKind::ALL`]. Each comes from a fresh identity and a fresh
//! address (185.220.0.0/15, used by nothing else), so bursts never merge
//! with each other or with background groups. The layouts target the two
//! rules' buckets exactly:
//!
//! * Sentinel counts distinct suspicious commands per epoch-aligned minute
//!   (alert at 8). [`BurstKind::SentinelHit`] puts 8-12 in one minute,
//!   spaced about 5 s apart so no 10 s bucket holds more than two calls (so
//!   Elastic stays quiet); [`BurstKind::SentinelSeven`] puts 7;
//!   [`BurstKind::SentinelSplit`] puts 8 at -20, -15, -10, -5, 0, +5, +10,
//!   +15 s around a minute boundary (4 per minute).
//! * Elastic counts distinct discovery event names per epoch-aligned 10 s
//!   bucket (alert above 5). [`BurstKind::ElasticHit`] puts 6-8 in one
//!   bucket, [`BurstKind::ElasticFive`] 5, [`BurstKind::ElasticSplit`] 3
//!   before and 3 after a 10 s boundary; they add calls Elastic does not
//!   count (`sts:GetCallerIdentity`, `DescribeCapacityReservations`) and
//!   at most two Sentinel-suspicious commands.
//! * Filter cases, 6-10 distinct calls in one 10 s bucket:
//!   [`BurstKind::RootBurst`] (Sentinel alerts, Elastic drops root),
//!   [`BurstKind::ConfigServiceRole`] (Elastic drops the Config role),
//!   [`BurstKind::BracketedAgent`] (neither counts `[aws-cli/…]`),
//!   [`BurstKind::UpperCaseAgent`] (Sentinel alerts on `AWS-CLI/…`,
//!   Elastic does not).
//!
//! A burst may repeat a call or two (retries) and fail some calls with
//! `AccessDenied`, as real reconnaissance does; neither changes a distinct
//! count. [`Generator::injected`] reports each burst with its identity,
//! address, times and the distinct counts the rules would see
//! ([`InjectedBurst`]).
//!
//! With few records the background spans little time (10 000 records at
//! 200/s are 50 s), so bursts overlap in time; they stay apart by identity
//! and address.
//!
//! # Catalogue bursts
//!
//! With [`GenOptions::catalogue_rounds`] above 0, every rule of the Sigma
//! catalogue (`rules/`, listed in [`CATALOGUE`]) gets, per round, bursts
//! of exactly its threshold, one below (with near misses that would tip it
//! over if wrongly counted), one above, one across a window edge, and for
//! the rules the catalogue's filter names, a scanner's burst the filter
//! removes ([`CatalogueCase`]). Rounds follow each other every
//! [`CATALOGUE_ROUND_MS`] of event time from `start_ms`; each burst has
//! its own actor, so its groups hold its events only.
//! [`Generator::catalogue`] reports every burst's group, windows and
//! counts ([`CatalogueBurst`]). Catalogue records write `eventTime` with
//! 3, 6 or 9 fraction digits, with an offset, or as epoch milliseconds (a
//! JSON number), as well as in whole seconds, and are never duplicated.
//! With the option at 0 (the default) nothing of this runs and the output
//! is byte for byte what it was before the option existed
//! (`tests/stable_output.rs`).
//!
//! # Order, disorder, duplicates
//!
//! Records are generated in time order and written through a buffer keyed
//! by `eventTime + uniform(0, max_disorder_ms)`; a record leaves when its
//! key is at most the next generated time. So every record's `eventTime`
//! is at most `max_disorder_ms` earlier than any record written before it
//! (`0` gives sorted output; as times are whole seconds, disorder below
//! 2 s rarely shows). The buffer holds about `rate × max_disorder_ms`
//! records. A fraction `duplicate_rate` of records is
//! written twice in a row, byte for byte (same `eventID`), as trails
//! delivered twice are. `count` includes bursts and duplicates exactly.
//!
//! # Envelopes
//!
//! [`write_envelope`] writes the same records in the envelope of a
//! real-time feed: CloudWatch Logs subscription messages (decoded, as
//! Kinesis Data Firehose writes them to S3, or as Lambda events) or
//! EventBridge events (module `envelope`, [`Envelope`]).
//!
//! # Determinism
//!
//! The same options give the same bytes on every platform and every
//! version of this crate: the random numbers come from a hand-written
//! xoshiro256** seeded by SplitMix64 (module `rng`), derived values use no
//! platform math functions, and nothing reads a clock. Background gaps are
//! `3/rate · u²` seconds (`u` uniform): mean `1/rate`, clumpier than a
//! uniform gap, with no `ln`.
//!
//! # Speed
//!
//! Records are written field by field with `push_str` into a reused buffer
//! from prepared pieces (each identity's `userIdentity` JSON is built once;
//! all strings are plain ASCII, so nothing needs escaping), well over a
//! million records per second on one core in release builds.

mod burst;
mod catalogue;
mod delivery;
mod envelope;
mod pool;
mod record;
mod rng;
mod tables;

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io::Write;

pub use burst::{BurstKind, InjectedBurst};
pub use catalogue::{
    CATALOGUE, CATALOGUE_ROUND_MS, CatalogueBurst, CatalogueCase, CatalogueRule,
    MAX_CATALOGUE_ROUNDS,
};
pub use delivery::{
    DEFAULT_MAX_DELAY_MS, DEFAULT_MAX_OBJECTS_PER_SLOT, DeliveryOptions, DeliveryReport,
    MAX_DELAY_MS, SLOT_MS, write_delivery,
};
pub use envelope::{
    CONTROL_TEXT, DEFAULT_BATCH_MS, DEFAULT_EVENTS_PER_MESSAGE, EVENT_OVERHEAD_BYTES, Envelope,
    EnvelopeOptions, EnvelopeReport, MAX_BATCH_MS, MAX_EVENTS_PER_MESSAGE, MAX_MESSAGE_BYTES,
    SUBSCRIPTION_FILTER, write_envelope,
};

use burst::Plan;
use pool::{Pool, Style};
use record::{Failure, Rec, Ua, Writer};
use rng::Rng;
use tables::{
    ACTIONS, ANON_AGENTS, BROWSER_AGENTS, CLI_V2_CURRENT_TAILS, CONFIG_AGENTS, CONSOLE_AGENTS,
    EVENT_VERSIONS, REGIONS, SERVICES,
};

/// 2026-01-05T00:00:00Z, the default start.
pub const DEFAULT_START_MS: i64 = 1_767_571_200_000;
/// The latest time a record may carry: 9999-12-31T23:59:59Z.
pub const MAX_TIME_MS: i64 = 253_402_300_799_000;
/// The largest accepted `max_disorder_ms`: 7 days.
pub const MAX_DISORDER_MS: u64 = 7 * 86_400_000;
/// The most records the disorder buffer may be expected to hold
/// (`rate_per_sec × max_disorder_ms / 1000`).
pub const MAX_BUFFERED: u64 = 10_000_000;
/// The most bursts one generator injects.
pub const MAX_BURSTS: u32 = 100_000;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOptions {
    /// Same seed and options give byte-identical output.
    pub seed: u64,
    /// Records written, bursts and duplicates included.
    pub count: u64,
    /// Event time of the first background record, ms since the epoch.
    pub start_ms: i64,
    /// Mean background rate, events per second of event time (> 0).
    pub rate_per_sec: f64,
    /// Bounded disorder: each record's `eventTime` is at most this much
    /// earlier than the latest `eventTime` already written (0 = sorted).
    pub max_disorder_ms: u64,
    /// Injected bursts, spread over the time span, cycling through
    /// [`BurstKind::ALL`].
    pub bursts: u32,
    /// Fraction of records written twice (same `eventID`), in `[0, 1)`.
    pub duplicate_rate: f64,
    /// `None`: the realistic mix (about 3 % of background records from the
    /// aws-cli). `Some(f)`, `f` in `[0, 1]`: a fraction `f` of background
    /// records is drawn from aws-cli principals running aws-cli commands
    /// (the rest as in the realistic mix), so `Some(1.0)` makes every
    /// background record an aws-cli call: the worst case for a detector's
    /// pre-filter.
    pub aws_cli_share: Option<f64>,
    /// Rounds of catalogue bursts (0: none, the default): for every rule
    /// of the Sigma catalogue (`rules/`), bursts at its threshold, just
    /// below, just above and across a window edge, with near misses, one
    /// round every [`CATALOGUE_ROUND_MS`] of event time from `start_ms`
    /// (module `catalogue`; ground truth in [`Generator::catalogue`]).
    /// Their records write `eventTime` in every form a reader accepts
    /// (fractions of a second, an offset, epoch milliseconds). With 0 the
    /// output is exactly what it was before the option existed.
    pub catalogue_rounds: u32,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            seed: 1,
            count: 10_000,
            start_ms: DEFAULT_START_MS,
            rate_per_sec: 200.0,
            max_disorder_ms: 5_000,
            bursts: 10,
            duplicate_rate: 0.002,
            aws_cli_share: None,
            catalogue_rounds: 0,
        }
    }
}

/// Invalid options, or a failed write.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// `rate_per_sec` is not a finite number above 0.
    #[error("rate_per_sec must be a finite number greater than 0, got {0}")]
    InvalidRate(f64),
    /// `duplicate_rate` is outside `[0, 1)`.
    #[error("duplicate_rate must be in [0, 1), got {0}")]
    InvalidDuplicateRate(f64),
    /// `start_ms` is before 1970 or after 9999.
    #[error(
        "start_ms must be between 0 (1970-01-01) and {MAX_TIME_MS} (9999-12-31T23:59:59Z), got {0}"
    )]
    InvalidStart(i64),
    /// `max_disorder_ms` is above [`MAX_DISORDER_MS`].
    #[error("max_disorder_ms must be at most {MAX_DISORDER_MS} (7 days), got {0}")]
    InvalidDisorder(u64),
    /// The disorder buffer would hold too many records.
    #[error(
        "rate_per_sec x max_disorder_ms would keep about {0} records in the disorder buffer; at most {MAX_BUFFERED} are allowed"
    )]
    BufferTooLarge(u64),
    /// More bursts than [`MAX_BURSTS`].
    #[error("bursts must be at most {MAX_BURSTS}, got {0}")]
    TooManyBursts(u32),
    /// `count` cannot hold the bursts' records.
    #[error("count {count} is too small: {bursts} bursts need {needed} records")]
    CountTooSmall {
        /// The requested count.
        count: u64,
        /// The requested bursts.
        bursts: u32,
        /// Records the bursts need.
        needed: u64,
    },
    /// The records would run past the year 9999.
    #[error("{count} records at {rate_per_sec}/s from {start_ms} could run past 9999-12-31")]
    SpanTooLong {
        /// The requested count.
        count: u64,
        /// The requested rate.
        rate_per_sec: f64,
        /// The requested start.
        start_ms: i64,
    },
    /// Writing the output failed.
    #[error("writing records failed: {0}")]
    Io(#[from] std::io::Error),
    /// The aws-cli share is outside `[0, 1]`.
    #[error("the aws-cli share must be between 0 and 1, got {0}")]
    InvalidAwsCliShare(f64),
    /// A delivery delay above [`MAX_DELAY_MS`].
    #[error("the delivery delay must be at most {MAX_DELAY_MS} ms (one hour), got {0}")]
    InvalidDelay(u64),
    /// No object per slot.
    #[error("objects per slot must be at least 1")]
    InvalidObjectsPerSlot,
    /// More catalogue rounds than [`MAX_CATALOGUE_ROUNDS`].
    #[error("catalogue rounds must be at most {MAX_CATALOGUE_ROUNDS}, got {0}")]
    TooManyCatalogueRounds(u32),
    /// Log events per envelope message outside 1 to
    /// [`MAX_EVENTS_PER_MESSAGE`].
    #[error("events per message must be between 1 and {MAX_EVENTS_PER_MESSAGE}, got {0}")]
    InvalidEventsPerMessage(u32),
    /// An envelope batch time above [`MAX_BATCH_MS`].
    #[error("the batch time must be at most {MAX_BATCH_MS} ms (one hour), got {0}")]
    InvalidBatchMs(u64),
}

impl GenOptions {
    /// Checks the options (the bursts' record count is checked by
    /// [`Generator::new`]).
    pub fn validate(&self) -> Result<(), GenError> {
        let rate = self.rate_per_sec;
        if !rate.is_finite() || rate <= 0.0 {
            return Err(GenError::InvalidRate(rate));
        }
        if !(0.0..1.0).contains(&self.duplicate_rate) {
            return Err(GenError::InvalidDuplicateRate(self.duplicate_rate));
        }
        if let Some(share) = self.aws_cli_share
            && !(0.0..=1.0).contains(&share)
        {
            return Err(GenError::InvalidAwsCliShare(share));
        }
        if !(0..=MAX_TIME_MS).contains(&self.start_ms) {
            return Err(GenError::InvalidStart(self.start_ms));
        }
        if self.max_disorder_ms > MAX_DISORDER_MS {
            return Err(GenError::InvalidDisorder(self.max_disorder_ms));
        }
        let buffered = rate * self.max_disorder_ms as f64 / 1000.0;
        if buffered > MAX_BUFFERED as f64 {
            return Err(GenError::BufferTooLarge(
                buffered.min(u64::MAX as f64) as u64
            ));
        }
        if self.bursts > MAX_BURSTS {
            return Err(GenError::TooManyBursts(self.bursts));
        }
        if self.catalogue_rounds > MAX_CATALOGUE_ROUNDS {
            return Err(GenError::TooManyCatalogueRounds(self.catalogue_rounds));
        }
        // Worst case: every background gap at its maximum, 3000/rate ms;
        // catalogue rounds follow each other from the start.
        let span = self.count as f64 * 3000.0 / rate
            + 86_400_000.0
            + f64::from(self.catalogue_rounds) * CATALOGUE_ROUND_MS as f64;
        if self.start_ms as f64 + span > MAX_TIME_MS as f64 {
            return Err(GenError::SpanTooLong {
                count: self.count,
                rate_per_sec: rate,
                start_ms: self.start_ms,
            });
        }
        Ok(())
    }
}

/// A record waiting in the disorder buffer (min-heap on `(key, seq)`).
struct Entry {
    key: i64,
    seq: u64,
    dup: bool,
    text: String,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.key, self.seq) == (other.key, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.key, other.seq).cmp(&(self.key, self.seq))
    }
}

/// Where the next generated record comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    Background,
    Burst,
    Catalogue,
}

/// The generator: an iterator of records (JSON text, one line each).
pub struct Generator {
    opts: GenOptions,
    pool: Pool,
    /// Background choices and record contents.
    rng: Rng,
    /// Disorder keys and duplicate decisions.
    keys: Rng,
    writer: Writer,
    plans: Vec<Plan>,
    injected: Vec<InjectedBurst>,
    next_burst: usize,
    /// Records of bursts not yet injected.
    untriggered: u64,
    /// Injected burst records not yet generated: `(time, seq, burst, record)`.
    pending: BinaryHeap<Reverse<(i64, u64, u32, u16)>>,
    /// Catalogue bursts, planned at construction (empty without the option).
    cat: catalogue::Plan,
    /// The next catalogue record to generate (`cat.recs` is in time order).
    cat_next: usize,
    /// Catalogue record contents.
    cat_rng: Rng,
    bg_next_ms: f64,
    bg_gap_scale: f64,
    bg_index: u64,
    /// Records generated, duplicates included.
    pushed: u64,
    last_gen_ms: i64,
    seq: u64,
    heap: BinaryHeap<Entry>,
    free: Vec<String>,
    dup: Option<String>,
}

fn ceil_to(x: i64, step: i64) -> i64 {
    let r = x.rem_euclid(step);
    if r == 0 {
        x
    } else {
        x.saturating_add(step - r)
    }
}

impl Generator {
    /// A generator for `opts`, or why they are invalid.
    pub fn new(opts: GenOptions) -> Result<Generator, GenError> {
        opts.validate()?;
        let mut pool_rng = Rng::new(opts.seed, 1);
        let mut plan_rng = Rng::new(opts.seed, 2);
        let mut pool = Pool::new(&mut pool_rng, opts.rate_per_sec);
        let mut plans: Vec<Plan> = (0..opts.bursts)
            .map(|i| {
                let kind = BurstKind::ALL[i as usize % BurstKind::ALL.len()];
                burst::plan(kind, i, &mut plan_rng, &mut pool)
            })
            .collect();
        let cat = catalogue::plan(
            &mut Rng::new(opts.seed, 5),
            opts.start_ms,
            opts.catalogue_rounds,
        );
        let needed: u64 =
            plans.iter().map(|p| p.recs.len() as u64).sum::<u64>() + cat.recs.len() as u64;
        if needed > opts.count {
            return Err(GenError::CountTooSmall {
                count: opts.count,
                bursts: opts.bursts,
                needed,
            });
        }
        let expected_dups = (opts.count as f64 * opts.duplicate_rate).round() as u64;
        let background = opts
            .count
            .saturating_sub(needed)
            .saturating_sub(expected_dups);
        let n = u128::from(opts.bursts.max(1));
        for (i, p) in plans.iter_mut().enumerate() {
            p.bg_index = ((2 * i as u128 + 1) * u128::from(background) / (2 * n)) as u64;
        }
        Ok(Generator {
            rng: Rng::new(opts.seed, 3),
            keys: Rng::new(opts.seed, 4),
            pool,
            writer: Writer::default(),
            plans,
            injected: Vec::with_capacity(opts.bursts as usize),
            next_burst: 0,
            untriggered: needed - cat.recs.len() as u64,
            pending: BinaryHeap::new(),
            cat,
            cat_next: 0,
            cat_rng: Rng::new(opts.seed, 6),
            bg_next_ms: opts.start_ms as f64,
            bg_gap_scale: 3000.0 / opts.rate_per_sec,
            bg_index: 0,
            pushed: 0,
            last_gen_ms: opts.start_ms,
            seq: 0,
            heap: BinaryHeap::new(),
            free: Vec::new(),
            dup: None,
            opts,
        })
    }

    /// The options this generator was built with.
    pub fn options(&self) -> &GenOptions {
        &self.opts
    }

    /// What was injected so far (ground truth): one entry per burst, in
    /// injection order. A burst is listed once placed in time, which is
    /// before its records are written; after the last record every burst
    /// is listed.
    pub fn injected(&self) -> &[InjectedBurst] {
        &self.injected
    }

    /// Ground truth of the catalogue bursts (option
    /// [`GenOptions::catalogue_rounds`]): one entry per burst, all of them
    /// from the start (they are planned when the generator is made).
    pub fn catalogue(&self) -> &[CatalogueBurst] {
        &self.cat.truth
    }

    /// Catalogue records not yet generated.
    fn cat_left(&self) -> u64 {
        (self.cat.recs.len() - self.cat_next) as u64
    }

    /// Appends the next record's JSON text (one line, no newline) to `buf`;
    /// returns false when `count` records have been produced.
    pub fn next_into(&mut self, buf: &mut String) -> bool {
        if let Some(d) = self.dup.take() {
            buf.push_str(&d);
            self.recycle(d);
            return true;
        }
        loop {
            let next = self.next_source();
            let ready = match (self.heap.peek(), next) {
                (Some(top), Some((t, _))) => top.key <= t,
                (Some(_), None) => true,
                (None, None) => return false,
                (None, Some(_)) => false,
            };
            if ready {
                let Some(e) = self.heap.pop() else {
                    return false;
                };
                buf.push_str(&e.text);
                if e.dup {
                    self.dup = Some(e.text);
                } else {
                    self.recycle(e.text);
                }
                return true;
            }
            if let Some((t, source)) = next {
                self.generate(t, source);
            }
        }
    }

    /// Writes every remaining record to `out`, one per line, buffered;
    /// returns the number written.
    pub fn write_all(&mut self, out: &mut impl Write) -> Result<u64, GenError> {
        const FLUSH_AT: usize = 1 << 16;
        let mut buf = String::with_capacity(FLUSH_AT + 4096);
        let mut n = 0u64;
        while self.next_into(&mut buf) {
            buf.push('\n');
            n += 1;
            if buf.len() >= FLUSH_AT {
                out.write_all(buf.as_bytes())?;
                buf.clear();
            }
        }
        out.write_all(buf.as_bytes())?;
        out.flush()?;
        Ok(n)
    }

    fn recycle(&mut self, mut s: String) {
        if self.free.len() < 1024 {
            s.clear();
            self.free.push(s);
        }
    }

    /// The time and source of the next record to generate, injecting
    /// bursts whose turn has come; `None` when all `count` are generated.
    fn next_source(&mut self) -> Option<(i64, Source)> {
        loop {
            let remaining = self.opts.count - self.pushed;
            if remaining == 0 {
                return None;
            }
            let reserved = self.untriggered + self.pending.len() as u64 + self.cat_left();
            let bg_t = ((self.bg_next_ms as i64).div_euclid(1000) * 1000).min(MAX_TIME_MS);
            if let Some(plan) = self.plans.get(self.next_burst) {
                // Inject on schedule, or all at once when the remaining
                // budget is only enough for the bursts.
                if remaining <= reserved || plan.bg_index <= self.bg_index {
                    self.trigger(bg_t.max(self.last_gen_ms));
                    continue;
                }
            }
            let burst_t = self.pending.peek().map(|Reverse((t, ..))| *t);
            let cat_t = self.cat.recs.get(self.cat_next).map(|r| r.t_ms);
            // The earlier of the injected sources (bursts first on a tie).
            let special = match (burst_t, cat_t) {
                (Some(b), Some(c)) if c < b => Some((c, Source::Catalogue)),
                (Some(b), _) => Some((b, Source::Burst)),
                (None, Some(c)) => Some((c, Source::Catalogue)),
                (None, None) => None,
            };
            let background_ok = remaining > reserved;
            return match (special, background_ok) {
                (Some((t, source)), true) if t <= bg_t => Some((t, source)),
                (_, true) => Some((bg_t, Source::Background)),
                (Some((t, source)), false) => Some((t, source)),
                (None, false) => None,
            };
        }
    }

    /// Places the next burst at or after `now`.
    fn trigger(&mut self, now: i64) {
        let i = self.next_burst;
        self.next_burst += 1;
        let Some(plan) = self.plans.get(i) else {
            return;
        };
        let boundary = ceil_to(now.saturating_add(plan.lead_ms), plan.align_ms).min(MAX_TIME_MS);
        let times: Vec<i64> = plan
            .recs
            .iter()
            .map(|r| {
                boundary
                    .saturating_add(r.off_s * 1000)
                    .clamp(0, MAX_TIME_MS)
            })
            .collect();
        for (k, &t) in times.iter().enumerate() {
            self.pending
                .push(Reverse((t, self.seq, i as u32, k as u16)));
            self.seq += 1;
        }
        self.untriggered -= plan.recs.len() as u64;
        if let Some(id) = self.pool.identities.get(plan.identity) {
            self.injected.push(burst::truth(plan, i as u32, &times, id));
        }
    }

    fn generate(&mut self, t: i64, source: Source) {
        let mut text = self
            .free
            .pop()
            .unwrap_or_else(|| String::with_capacity(1536));
        match source {
            Source::Background => {
                self.write_background(&mut text, t);
                self.bg_index += 1;
                let u = self.rng.unit();
                self.bg_next_ms =
                    (self.bg_next_ms + self.bg_gap_scale * u * u).min(MAX_TIME_MS as f64);
            }
            Source::Burst => {
                if let Some(Reverse((_, _, b, r))) = self.pending.pop() {
                    self.write_burst(&mut text, t, b as usize, usize::from(r));
                }
            }
            Source::Catalogue => {
                if let Some(rec) = self.cat.recs.get(self.cat_next) {
                    if let Some(actor) = self.cat.actors.get(rec.burst as usize) {
                        catalogue::write(&mut text, actor, rec, &mut self.cat_rng);
                    }
                    self.cat_next += 1;
                }
            }
        }
        self.last_gen_ms = t;
        self.pushed += 1;
        let reserved = self.untriggered + self.pending.len() as u64 + self.cat_left();
        // A catalogue record is never written twice: that would change an
        // event count.
        let dup = !matches!(source, Source::Catalogue)
            && self.opts.duplicate_rate > 0.0
            && self.opts.count - self.pushed > reserved
            && self.keys.chance(self.opts.duplicate_rate);
        if dup {
            self.pushed += 1;
        }
        let jitter = self.keys.below(self.opts.max_disorder_ms.saturating_add(1)) as i64;
        self.heap.push(Entry {
            key: t.saturating_add(jitter),
            seq: self.seq,
            dup,
            text,
        });
        self.seq += 1;
    }

    fn write_background(&mut self, out: &mut String, t: i64) {
        let rng = &mut self.rng;
        let pool = &self.pool;
        let forced = self
            .opts
            .aws_cli_share
            .is_some_and(|share| rng.chance(share));
        let drawn = if forced {
            pool.draw_cli(rng)
        } else {
            pool.draw(rng)
        };
        let (idx, console, action) = drawn.unwrap_or((0, false, 0));
        let (Some(id), Some(a)) = (pool.identities.get(idx), ACTIONS.get(action)) else {
            return;
        };
        let console_agent = |rng: &mut Rng| {
            if a.signin() {
                rng.pick(BROWSER_AGENTS)
            } else {
                rng.pick(CONSOLE_AGENTS)
            }
        };
        let ua = match id.style {
            Style::Console => Ua::Static(console_agent(rng)),
            Style::Cli { .. } if console => Ua::Static(console_agent(rng)),
            Style::Cli { form, .. } => Ua::Cli(form, rng.index(CLI_V2_CURRENT_TAILS.len()) as u8),
            Style::Sdk(i) => Ua::Sdk(i),
            Style::Terraform(i) => Ua::Terraform(i),
            Style::Service(s) => {
                Ua::Static(SERVICES.get(usize::from(s)).map_or("AWS Internal", |s| s.0))
            }
            Style::Config => Ua::Static(rng.pick(CONFIG_AGENTS)),
            Style::Anonymous => Ua::Static(rng.pick(ANON_AGENTS)),
        };
        let ip: &str = match (id.style, ua) {
            (_, Ua::Static("AWS Internal")) => "AWS Internal",
            (Style::Anonymous, _) => &pool.anon_ips[rng.index(pool.anon_ips.len())],
            _ => id
                .ips
                .get(rng.index(id.ips.len()))
                .map_or("AWS Internal", String::as_str),
        };
        let region = if a.global() {
            "us-east-1"
        } else if rng.percent(85) {
            id.region
        } else {
            rng.pick(REGIONS)
        };
        let failure = match rng.below(1000) {
            _ if id.arn.is_none() => None,
            0..=17 => Some(Failure::AccessDenied),
            18..=25 if a.read_only() => Some(Failure::Throttled),
            _ => None,
        };
        let recipient: &str = if id.account.is_empty() {
            &pool.accounts[rng.index(pool.accounts.len())]
        } else {
            &id.account
        };
        let rec = Rec {
            id,
            console,
            action: a,
            t_ms: t,
            region,
            ip,
            ua,
            failure,
            version: rng.pick(EVENT_VERSIONS),
            recipient,
        };
        self.writer.write(out, &rec, rng);
    }

    fn write_burst(&mut self, out: &mut String, t: i64, b: usize, r: usize) {
        let Some(plan) = self.plans.get(b) else {
            return;
        };
        let (Some(pr), Some(id)) = (plan.recs.get(r), self.pool.identities.get(plan.identity))
        else {
            return;
        };
        let Some(a) = ACTIONS.get(usize::from(pr.action)) else {
            return;
        };
        let rec = Rec {
            id,
            console: false,
            action: a,
            t_ms: t,
            region: if a.global() { "us-east-1" } else { plan.region },
            ip: &plan.ip,
            ua: Ua::Cli(pr.form, pr.tail),
            failure: pr.fail.then_some(Failure::AccessDenied),
            version: self.rng.pick(EVENT_VERSIONS),
            recipient: &id.account,
        };
        self.writer.write(out, &rec, &mut self.rng);
    }
}

impl Iterator for Generator {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let mut s = String::with_capacity(1536);
        self.next_into(&mut s).then_some(s)
    }
}

/// Generates `opts.count` records into `out`, one per line (buffered);
/// returns the number written.
pub fn write_ndjson(opts: GenOptions, out: &mut impl Write) -> Result<u64, GenError> {
    Generator::new(opts)?.write_all(out)
}
