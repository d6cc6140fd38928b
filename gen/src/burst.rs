//! Injected bursts: what each kind looks like, how its records are laid
//! out around bucket boundaries, and the ground truth reported for it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::pool::{self, CliForm, Identity, Pool, ui};
use crate::rng::Rng;
use crate::tables::{
    ACTIONS, BURST_CONFIG, BURST_DISCOVERY, BURST_SUSPICIOUS, BURST_SUSPICIOUS_ELASTIC_FROM,
    BURST_UNCOUNTED, CLI_V2_CURRENT, CLI_V2_CURRENT_TAILS, CLI_V2_LEGACY, ELASTIC_PROVIDERS,
    EMAIL_DOMAINS, FIRST, HUMAN_ROLES, LAST, REGIONS, SENTINEL_SEED_TERMS, SENTINEL_TERMS,
    SSO_PERMISSION_SETS,
};

/// The kinds of injected burst, in the order bursts cycle through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BurstKind {
    /// 8-12 distinct suspicious aws-cli commands in one minute bucket,
    /// legacy and current agent forms mixed: Sentinel alerts. Spaced so
    /// that no 10 s bucket holds more than 2 of them (Elastic stays quiet).
    SentinelHit,
    /// Exactly 7 distinct suspicious commands in one minute: a near miss.
    SentinelSeven,
    /// 8 distinct suspicious commands, 4 in the last 20 s of a minute and 4
    /// in the first 20 s of the next: a near miss (4 per minute).
    SentinelSplit,
    /// 6-8 distinct discovery calls (aws-cli/) in one 10 s bucket, plus
    /// calls Elastic does not count (`GetCallerIdentity`,
    /// `DescribeCapacityReservations`): Elastic alerts.
    ElasticHit,
    /// Exactly 5 distinct counted discovery calls in one 10 s bucket.
    ElasticFive,
    /// 6 distinct discovery calls, 3 in the last 5 s before a 10 s
    /// boundary and 3 in the 4 s after it.
    ElasticSplit,
    /// The root user (`arn:aws:iam::ACCT:root`) runs 8-10 distinct
    /// suspicious commands in one 10 s bucket: Sentinel alerts (the account
    /// name is the whole ARN), Elastic drops root (the ARN has no `/`).
    RootBurst,
    /// An `AWSServiceRoleForConfig` session with an aws-cli/ agent makes
    /// 6-7 distinct Describe calls in 10 s: Elastic drops the role.
    ConfigServiceRole,
    /// `[aws-cli/1.18.69 …]` making 8-10 distinct suspicious calls in 10 s:
    /// neither rule counts a bracketed agent.
    BracketedAgent,
    /// `AWS-CLI/2.13.25 … prompt/off command/…` making 8-10 distinct
    /// suspicious calls in 10 s: Sentinel matches case-insensitively and
    /// alerts; Elastic wants `aws-cli/` exactly.
    UpperCaseAgent,
}

impl BurstKind {
    /// Every kind, in cycle order.
    pub const ALL: [BurstKind; 10] = [
        BurstKind::SentinelHit,
        BurstKind::SentinelSeven,
        BurstKind::SentinelSplit,
        BurstKind::ElasticHit,
        BurstKind::ElasticFive,
        BurstKind::ElasticSplit,
        BurstKind::RootBurst,
        BurstKind::ConfigServiceRole,
        BurstKind::BracketedAgent,
        BurstKind::UpperCaseAgent,
    ];

    /// Kebab-case name (`sentinel-hit`).
    pub fn name(self) -> &'static str {
        match self {
            BurstKind::SentinelHit => "sentinel-hit",
            BurstKind::SentinelSeven => "sentinel-seven",
            BurstKind::SentinelSplit => "sentinel-split",
            BurstKind::ElasticHit => "elastic-hit",
            BurstKind::ElasticFive => "elastic-five",
            BurstKind::ElasticSplit => "elastic-split",
            BurstKind::RootBurst => "root-burst",
            BurstKind::ConfigServiceRole => "config-service-role",
            BurstKind::BracketedAgent => "bracketed-agent",
            BurstKind::UpperCaseAgent => "upper-case-agent",
        }
    }

    /// Whether the Sentinel rule (default profile) alerts on this kind.
    pub fn sentinel_alerts(self) -> bool {
        matches!(
            self,
            BurstKind::SentinelHit | BurstKind::RootBurst | BurstKind::UpperCaseAgent
        )
    }

    /// Whether the Elastic rule alerts on this kind.
    pub fn elastic_alerts(self) -> bool {
        self == BurstKind::ElasticHit
    }
}

/// Ground truth for one injected burst.
///
/// The counts are computed the way the rules compute them, over this
/// burst's records only (its identity and address are used by nothing
/// else): `sentinel_distinct` is the largest number of distinct suspicious
/// commands in one epoch-aligned minute (default profile: legacy
/// `command/` and current `md/command#` agents both count),
/// `sentinel_seed_distinct` the same under the seed profile (legacy form
/// only, and `iam.get-user` / `iam.list-access-keys` do not match its fused
/// entry), `elastic_distinct` the largest number of distinct event names
/// Elastic counts in one epoch-aligned 10 s bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InjectedBurst {
    /// What was injected.
    pub kind: BurstKind,
    /// Position among the bursts (0-based).
    pub index: u32,
    /// `eventTime` of the first record, ms since the epoch.
    pub start_ms: i64,
    /// `eventTime` of the last record.
    pub end_ms: i64,
    /// `userIdentity.arn`.
    pub arn: String,
    /// `recipientAccountId` (and `userIdentity.accountId`).
    pub account_id: String,
    /// `userIdentity.type`.
    pub identity_type: Option<String>,
    /// `userIdentity.userName` when present.
    pub user_name: Option<String>,
    /// `sourceIPAddress` (fresh for every burst).
    pub source_ip: String,
    /// `sessionContext.attributes.mfaAuthenticated` when present.
    pub mfa_authenticated: Option<String>,
    /// Records in the burst (duplicates not included).
    pub records: u32,
    /// Distinct aws-cli commands, in order of first use.
    pub commands: Vec<String>,
    /// Distinct event names, in order of first use.
    pub event_names: Vec<String>,
    /// See the type's documentation.
    pub sentinel_distinct: u32,
    /// See the type's documentation.
    pub sentinel_seed_distinct: u32,
    /// See the type's documentation.
    pub elastic_distinct: u32,
}

impl InjectedBurst {
    /// Whether the Sentinel rule (default profile, threshold 8) alerts.
    pub fn sentinel_alert(&self) -> bool {
        self.sentinel_distinct >= 8
    }

    /// Whether the Elastic rule (more than 5) alerts.
    pub fn elastic_alert(&self) -> bool {
        self.elastic_distinct > 5
    }
}

/// One planned record of a burst.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanRec {
    /// Seconds from the burst's aligned boundary.
    pub off_s: i64,
    pub action: u16,
    pub form: CliForm,
    pub tail: u8,
    pub fail: bool,
}

/// A burst before it is placed in time.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub kind: BurstKind,
    pub identity: usize,
    pub ip: String,
    pub region: &'static str,
    /// Injected when this many background records have been generated.
    pub bg_index: u64,
    /// Records sit around a boundary aligned to this.
    pub align_ms: i64,
    /// The earliest record is at most this long before the boundary.
    pub lead_ms: i64,
    pub recs: Vec<PlanRec>,
}

/// KQL `has`: `needle` occurs in `hay` with no ASCII letter or digit
/// directly before or after it.
pub(crate) fn has_term(hay: &str, needle: &str) -> bool {
    let h = hay.as_bytes();
    !needle.is_empty()
        && hay.match_indices(needle).any(|(i, _)| {
            let end = i + needle.len();
            (i == 0 || !h[i - 1].is_ascii_alphanumeric())
                && (end == h.len() || !h[end].is_ascii_alphanumeric())
        })
}

fn suspicious(command: &str, terms: &[&str]) -> bool {
    let lower = command.to_ascii_lowercase();
    terms.iter().any(|t| has_term(&lower, t))
}

/// `k` distinct entries of `items` in random order.
fn sample(rng: &mut Rng, items: &[&'static str], k: usize) -> Vec<&'static str> {
    let mut v = items.to_vec();
    let k = k.min(v.len());
    for i in 0..k {
        let j = i + rng.index(v.len() - i);
        v.swap(i, j);
    }
    v.truncate(k);
    v
}

/// The address of burst `i`: 185.220.0.0/15 is used by bursts only.
fn burst_ip(i: u32) -> String {
    format!("185.{}.{}.{}", 220 + (i >> 16), (i >> 8) & 255, i & 255)
}

struct Forms {
    legacy: u8,
    current: u8,
}

impl Forms {
    fn new(rng: &mut Rng) -> Forms {
        Forms {
            legacy: rng.index(CLI_V2_LEGACY.len()) as u8,
            current: rng.index(CLI_V2_CURRENT.len()) as u8,
        }
    }

    /// Legacy and current forms mixed: the first record legacy, the second
    /// current, the rest at random.
    fn mixed(&self, rng: &mut Rng, k: usize) -> CliForm {
        let legacy = match k {
            0 => true,
            1 => false,
            _ => rng.percent(50),
        };
        if legacy {
            CliForm::Legacy(self.legacy)
        } else {
            CliForm::Current(self.current)
        }
    }
}

/// Plans burst `index` of kind `kind`, adding its identity to `pool`.
pub(crate) fn plan(kind: BurstKind, index: u32, rng: &mut Rng, pool: &mut Pool) -> Plan {
    let acct = pool.accounts[rng.index(pool.accounts.len())].clone();
    let ip = burst_ip(index);
    let mut id = match kind {
        BurstKind::RootBurst => ui::root(rng, &acct),
        BurstKind::ConfigServiceRole => {
            ui::config_role(rng, &acct, &format!("AWSConfig-Describe-{index:04}"), false)
        }
        _ => human(rng, &acct, index),
    };
    id.ips = vec![ip.clone()];
    id.session_offset = rng.below(3600) as i64;
    let region = if rng.percent(60) {
        "us-east-1"
    } else {
        rng.pick(REGIONS)
    };
    id.region = region;
    let forms = Forms::new(rng);
    let fail_pct = 10;
    let mut recs = Vec::new();
    let push = |recs: &mut Vec<PlanRec>, rng: &mut Rng, cli: &str, off_s: i64, form: CliForm| {
        if let Some(action) = pool::find_cli(cli) {
            let fail = rng.percent(fail_pct);
            let tail = rng.index(CLI_V2_CURRENT_TAILS.len()) as u8;
            recs.push(PlanRec {
                off_s,
                action,
                form,
                tail,
                fail,
            });
        }
    };
    let elastic_suspicious = &BURST_SUSPICIOUS[BURST_SUSPICIOUS_ELASTIC_FROM..];
    let (align_ms, lead_ms) = match kind {
        BurstKind::SentinelHit | BurstKind::SentinelSeven => {
            let n = if kind == BurstKind::SentinelHit {
                rng.range(8, 12) as usize
            } else {
                7
            };
            for (k, cli) in sample(rng, BURST_SUSPICIOUS, n).into_iter().enumerate() {
                let off = 1 + (k as i64 * 58) / n as i64;
                let form = forms.mixed(rng, k);
                push(&mut recs, rng, cli, off, form);
            }
            (60_000, 0)
        }
        BurstKind::SentinelSplit => {
            for (k, cli) in sample(rng, BURST_SUSPICIOUS, 8).into_iter().enumerate() {
                let form = forms.mixed(rng, k);
                push(&mut recs, rng, cli, -20 + 5 * k as i64, form);
            }
            (60_000, 20_000)
        }
        BurstKind::ElasticHit | BurstKind::ElasticFive => {
            let n = if kind == BurstKind::ElasticHit {
                rng.range(6, 8) as usize
            } else {
                5
            };
            let k_susp = rng.below(3) as usize;
            let mut names = sample(rng, elastic_suspicious, k_susp);
            names.extend(sample(rng, BURST_DISCOVERY, n - k_susp));
            let names = sample(rng, &names, names.len());
            for (k, cli) in names.into_iter().enumerate() {
                let form = forms.mixed(rng, k);
                let off = rng.below(10) as i64;
                push(&mut recs, rng, cli, off, form);
            }
            if rng.percent(70) {
                let form = forms.mixed(rng, 2);
                push(&mut recs, rng, BURST_UNCOUNTED[0], 0, form);
            }
            if rng.percent(40) {
                let form = forms.mixed(rng, 2);
                let off = rng.below(10) as i64;
                push(&mut recs, rng, BURST_UNCOUNTED[1], off, form);
            }
            (10_000, 0)
        }
        BurstKind::ElasticSplit => {
            let k_susp = rng.below(3) as usize;
            let mut names = sample(rng, elastic_suspicious, k_susp);
            names.extend(sample(rng, BURST_DISCOVERY, 6 - k_susp));
            let names = sample(rng, &names, names.len());
            for (k, cli) in names.into_iter().enumerate() {
                let off = if k < 3 {
                    -4 + rng.below(4) as i64
                } else {
                    rng.below(4) as i64
                };
                let form = forms.mixed(rng, k);
                push(&mut recs, rng, cli, off, form);
            }
            if rng.percent(70) {
                let form = forms.mixed(rng, 2);
                push(&mut recs, rng, BURST_UNCOUNTED[0], -5, form);
            }
            (10_000, 5_000)
        }
        BurstKind::RootBurst | BurstKind::ConfigServiceRole => {
            let (pool_of, n) = if kind == BurstKind::RootBurst {
                (BURST_SUSPICIOUS, rng.range(8, 10) as usize)
            } else {
                (BURST_CONFIG, rng.range(6, 7) as usize)
            };
            for (k, cli) in sample(rng, pool_of, n).into_iter().enumerate() {
                let form = forms.mixed(rng, k);
                let off = rng.below(10) as i64;
                push(&mut recs, rng, cli, off, form);
            }
            (10_000, 0)
        }
        BurstKind::BracketedAgent | BurstKind::UpperCaseAgent => {
            let form = if kind == BurstKind::BracketedAgent {
                CliForm::Bracketed
            } else {
                CliForm::Upper
            };
            let n = rng.range(8, 10) as usize;
            for cli in sample(rng, elastic_suspicious, n) {
                let off = rng.below(10) as i64;
                push(&mut recs, rng, cli, off, form);
            }
            (10_000, 0)
        }
    };
    // A few repeated calls (a retry, a second page): more records, no new
    // distinct names.
    if !recs.is_empty() {
        for _ in 0..rng.below(3) {
            let mut r = recs[rng.index(recs.len())];
            r.fail = false;
            recs.push(r);
        }
    }
    recs.sort_by_key(|r| r.off_s);
    let identity = pool.add_private(id);
    Plan {
        kind,
        identity,
        ip,
        region,
        bg_index: 0,
        align_ms,
        lead_ms,
        recs,
    }
}

/// A person's identity for a burst: an IAM user with an access key, an
/// assumed role or an SSO role session named by e-mail. Names carry the
/// burst index so that no two bursts share one.
fn human(rng: &mut Rng, acct: &str, index: u32) -> Identity {
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    match rng.below(3) {
        0 => {
            let mut id = ui::iam_user(rng, acct, &format!("{first}.{last}{index}"), "false");
            // Long-term access key: the programmatic rendering, no session.
            id.ui[1] = id.ui[0].clone();
            id
        }
        k => {
            let session = format!("{first}.{last}{index}@{}", rng.pick(EMAIL_DOMAINS));
            let mfa = if rng.percent(50) { "true" } else { "false" };
            if k == 1 {
                let role = rng.pick(HUMAN_ROLES);
                ui::assumed(rng, acct, role, "", &session, mfa, "", None, true)
            } else {
                let role = format!(
                    "AWSReservedSSO_{}_{:016x}",
                    rng.pick(SSO_PERMISSION_SETS),
                    rng.next_u64()
                );
                ui::assumed(
                    rng,
                    acct,
                    &role,
                    "aws-reserved/sso.amazonaws.com/",
                    &session,
                    mfa,
                    "",
                    None,
                    true,
                )
            }
        }
    }
}

/// The ground truth of a placed burst, computed with the rules' semantics.
pub(crate) fn truth(plan: &Plan, index: u32, times: &[i64], id: &Identity) -> InjectedBurst {
    let mut commands: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut sentinel: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
    let mut seed: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
    let mut elastic: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
    for (r, &t) in plan.recs.iter().zip(times) {
        let Some(a) = ACTIONS.get(usize::from(r.action)) else {
            continue;
        };
        if !commands.iter().any(|c| c == a.cli) {
            commands.push(a.cli.to_owned());
        }
        if !names.iter().any(|n| n == a.name) {
            names.push(a.name.to_owned());
        }
        let sentinel_agent = matches!(
            r.form,
            CliForm::Legacy(_) | CliForm::Current(_) | CliForm::Upper
        );
        if sentinel_agent && suspicious(a.cli, SENTINEL_TERMS) {
            sentinel
                .entry(t.div_euclid(60_000))
                .or_default()
                .insert(a.cli);
        }
        let legacy_agent = matches!(r.form, CliForm::Legacy(_) | CliForm::Upper);
        if legacy_agent && suspicious(a.cli, SENTINEL_SEED_TERMS) {
            seed.entry(t.div_euclid(60_000)).or_default().insert(a.cli);
        }
        let elastic_agent = matches!(
            r.form,
            CliForm::Legacy(_) | CliForm::Current(_) | CliForm::V1(_)
        );
        let discovery = ["Describe", "Get", "List", "Generate"]
            .iter()
            .any(|p| a.name.starts_with(p))
            && a.name != "DescribeCapacityReservations";
        if id.elastic_ok && elastic_agent && discovery && ELASTIC_PROVIDERS.contains(&a.src) {
            elastic
                .entry(t.div_euclid(10_000))
                .or_default()
                .insert(a.name);
        }
    }
    let max =
        |m: &BTreeMap<i64, BTreeSet<&str>>| m.values().map(|s| s.len() as u32).max().unwrap_or(0);
    InjectedBurst {
        kind: plan.kind,
        index,
        start_ms: times.first().copied().unwrap_or(0),
        end_ms: times.last().copied().unwrap_or(0),
        arn: id.arn.clone().unwrap_or_default(),
        account_id: id.account.clone(),
        identity_type: id.identity_type.map(str::to_owned),
        user_name: id.user_name.clone(),
        source_ip: plan.ip.clone(),
        mfa_authenticated: id.ui[0].mfa.map(str::to_owned),
        records: plan.recs.len() as u32,
        commands,
        event_names: names,
        sentinel_distinct: max(&sentinel),
        sentinel_seed_distinct: max(&seed),
        elastic_distinct: max(&elastic),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_term_is_whole_word() {
        assert!(has_term("ec2.describe-vpc-endpoints", "ec2.describe-vpc"));
        assert!(!has_term("ec2.describe-vpcs", "ec2.describe-vpc"));
        assert!(!has_term(
            "ec2.describe-transit-gateway-vpc-attachments",
            "ec2.describe-transit-gateway-vpc-attachment"
        ));
        assert!(has_term("iam.list-users", "iam.list-users"));
    }

    #[test]
    fn burst_pools_match_their_purpose() {
        for c in BURST_SUSPICIOUS {
            assert!(suspicious(c, SENTINEL_TERMS), "{c}");
        }
        for c in BURST_DISCOVERY.iter().chain(BURST_UNCOUNTED) {
            assert!(!suspicious(c, SENTINEL_TERMS), "{c}");
        }
        for (i, c) in BURST_SUSPICIOUS.iter().enumerate() {
            let a = &ACTIONS[usize::from(pool::find_cli(c).unwrap())];
            assert_eq!(
                ELASTIC_PROVIDERS.contains(&a.src),
                i >= BURST_SUSPICIOUS_ELASTIC_FROM,
                "{c}"
            );
        }
        for c in BURST_DISCOVERY.iter().chain(BURST_CONFIG) {
            let a = &ACTIONS[usize::from(pool::find_cli(c).unwrap())];
            assert!(ELASTIC_PROVIDERS.contains(&a.src), "{c}");
        }
        assert_eq!(burst_ip(0x1_0203), "185.221.2.3");
    }
}
