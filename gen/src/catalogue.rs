//! Catalogue bursts (option [`GenOptions::catalogue_rounds`]): the events
//! each rule of the Sigma catalogue (`rules/` at the top of the
//! repository) counts, injected at exactly its threshold, just below and
//! just above it, split across a window edge, and surrounded by near
//! misses, with the ground truth of what each rule must report.
//!
//! # Layout
//!
//! Round `r` is anchored at `start_ms + r × 3 h`. For every catalogue
//! rule (threshold `m`, the smallest count that alerts, and window `w`),
//! one round injects:
//!
//! * **below**: `m − 1` counted events in one window, plus near misses;
//! * **at**: `m` counted events in one window, the first at the window's
//!   very first millisecond and the last at its very last;
//! * **above**: `m + 1` counted events in one window;
//! * **straddle**: `m + 1` counted events, about half in the last part of a
//!   window and the rest in the first part of the next, the two nearest
//!   one millisecond either side of the edge: fewer than `m` on each side,
//!   so no alert;
//! * **filtered** (the two rules the catalogue's filter names): `m + 1`
//!   events of a cloud security scanner, which the filter removes.
//!
//! For `value_count` rules "counted" means distinct values of the rule's
//! field; bursts add a few repeated values (more events, no more distinct
//! values), so an engine that counted events would alert on *below*.
//!
//! Every burst comes from a fresh actor: its own account
//! (`0000070xxxxx`, which no background account can be, as those are
//! drawn from 10^11 up), its own address (198.18.0.0/15, or 2001:db8::/32
//! for per-event addresses) and user and role names carrying the burst's
//! number; so the groups of one burst, under any of the catalogue's
//! group-by fields, hold that burst's events only. Rules without a
//! group-by (one count per window for the whole trail) get one window
//! per case. Background records never match a catalogue detection
//! that has no group-by, and cannot fall into a burst's group.
//!
//! Near misses sit in the *below* burst's group and window: each one
//! would tip the count to `m` if it were wrongly counted (right event
//! name from the wrong event source, the right call that failed or
//! succeeded when the rule wants the other, a value of another case where
//! the rule compares exactly, an agent or address the rule excludes, a
//! new distinct value carried by an event the rule does not count).
//!
//! # Times
//!
//! Catalogue records carry their `eventTime` in every form the detector
//! reads: whole seconds (`…:05Z`), milliseconds (`…:05.123Z`), six and
//! nine fraction digits (the digits past the millisecond are noise, which
//! readers truncate), a `+02:00` offset, and epoch milliseconds as a JSON
//! number. An event written in whole seconds is placed on its second, so
//! the times in [`CatalogueBurst`] are exactly those written.
//!
//! No catalogue record is ever written twice (a duplicate would change an
//! event count).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::pool::{hex, upper_alnum};
use crate::record::{format_time, push_u64, push_uuid};
use crate::rng::Rng;
use crate::tables::{APP_ROLES, FIRST, HUMAN_ROLES, LAST};

/// The most catalogue rounds one generator injects.
pub const MAX_CATALOGUE_ROUNDS: u32 = 1000;

/// Event time one round spans: the longest layout is a rule without a
/// group-by and a 30-minute window, which uses five windows after an
/// alignment of up to one.
pub const CATALOGUE_ROUND_MS: i64 = 3 * 3_600_000;

/// What one catalogue burst is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CatalogueCase {
    /// One less than the threshold, in one window, with near misses.
    Below,
    /// Exactly the threshold, in one window, from its first to its last
    /// millisecond.
    At,
    /// One more than the threshold, in one window.
    Above,
    /// One more than the threshold, split across a window edge so that
    /// neither window reaches it.
    Straddle,
    /// One more than the threshold, from an identity the catalogue's
    /// filter rule excludes.
    Filtered,
}

impl CatalogueCase {
    /// Kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            CatalogueCase::Below => "below",
            CatalogueCase::At => "at",
            CatalogueCase::Above => "above",
            CatalogueCase::Straddle => "straddle",
            CatalogueCase::Filtered => "filtered",
        }
    }
}

/// One rule of the catalogue, as the generator targets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CatalogueRule {
    /// The correlation's `name` (what its alerts carry as `rule`).
    pub name: &'static str,
    /// The file under `rules/` that holds it.
    pub file: &'static str,
    /// Window (the correlation's `timespan`), ms.
    pub window_ms: i64,
    /// The smallest count that alerts (`gte: n` is `n`, `gt: n` is `n + 1`).
    pub min_alert: u64,
    /// `value_count` (distinct values) rather than `event_count`.
    pub value_count: bool,
    /// The correlation's `group-by`, as written.
    pub group_by: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    IamEnum,
    IamDenied,
    PasswordData,
    RootFail,
    BruteIp,
    BruteUser,
    Spray,
    SecretsRapid,
    SecretsBatch,
    SsmDecrypt,
    DescribeRegions,
    Quotas,
    Userdata,
    S3Enum,
    AssumeRole,
}

const ARN: &str = "userIdentity.arn";

/// Every catalogue rule, in the order bursts are planned.
pub const CATALOGUE: [CatalogueRule; 15] = [
    CatalogueRule {
        name: "aws-iam-user-enumeration",
        file: "aws_iam_enumeration.yml",
        window_ms: 600_000,
        min_alert: 51,
        value_count: false,
        group_by: &[
            "userIdentity.principalId",
            "userIdentity.arn",
            "userIdentity.accountId",
        ],
    },
    CatalogueRule {
        name: "aws-iam-recon-access-denied",
        file: "aws_iam_enumeration.yml",
        window_ms: 600_000,
        min_alert: 15,
        value_count: false,
        group_by: &[ARN],
    },
    CatalogueRule {
        name: "aws-ec2-many-password-read-attempts",
        file: "aws_ec2_password_data_reads.yml",
        window_ms: 3_600_000,
        min_alert: 30,
        value_count: false,
        group_by: &[ARN],
    },
    CatalogueRule {
        name: "aws-console-root-login-failures",
        file: "aws_console_root_login_failures.yml",
        window_ms: 900_000,
        min_alert: 5,
        value_count: false,
        group_by: &["recipientAccountId"],
    },
    CatalogueRule {
        name: "aws-console-brute-force-by-source-ip",
        file: "aws_console_brute_force_by_ip.yml",
        window_ms: 300_000,
        min_alert: 10,
        value_count: false,
        group_by: &["sourceIPAddress"],
    },
    CatalogueRule {
        name: "aws-console-brute-force-single-user",
        file: "aws_console_brute_force_by_user.yml",
        window_ms: 300_000,
        min_alert: 10,
        value_count: false,
        group_by: &["userIdentity.userName"],
    },
    CatalogueRule {
        name: "aws-console-password-spraying",
        file: "aws_console_password_spraying.yml",
        window_ms: 3_600_000,
        min_alert: 6,
        value_count: true,
        group_by: &["recipientAccountId", "awsRegion"],
    },
    CatalogueRule {
        name: "aws-secretsmanager-rapid-secrets-retrieval",
        file: "aws_secretsmanager_rapid_retrieval.yml",
        window_ms: 300_000,
        min_alert: 20,
        value_count: true,
        group_by: &["userIdentity.principalId"],
    },
    CatalogueRule {
        name: "aws-secretsmanager-batch-retrieval-multi-region",
        file: "aws_secretsmanager_batch_multi_region.yml",
        window_ms: 600_000,
        min_alert: 5,
        value_count: true,
        group_by: &[ARN],
    },
    CatalogueRule {
        name: "aws-ssm-decrypt-parameters",
        file: "aws_ssm_decrypt_parameters.yml",
        window_ms: 3_600_000,
        min_alert: 11,
        value_count: true,
        group_by: &["recipientAccountId", ARN],
    },
    CatalogueRule {
        name: "aws-ec2-multi-region-describe-instances",
        file: "aws_ec2_multi_region_describe_instances.yml",
        window_ms: 30_000,
        min_alert: 15,
        value_count: true,
        group_by: &[ARN],
    },
    CatalogueRule {
        name: "aws-servicequotas-multi-region-requests",
        file: "aws_servicequotas_multi_region.yml",
        window_ms: 30_000,
        min_alert: 10,
        value_count: true,
        group_by: &[ARN],
    },
    CatalogueRule {
        name: "aws-ec2-bulk-userdata-download",
        file: "aws_ec2_download_userdata.yml",
        window_ms: 1_800_000,
        min_alert: 11,
        value_count: false,
        group_by: &[],
    },
    CatalogueRule {
        name: "aws-s3-storage-enumeration",
        file: "aws_s3_storage_enumeration.yml",
        window_ms: 600_000,
        min_alert: 6,
        value_count: false,
        group_by: &[ARN],
    },
    CatalogueRule {
        name: "aws-iam-assume-role-policy-brute-force",
        file: "aws_iam_assume_role_policy_brute_force.yml",
        window_ms: 1_200_000,
        min_alert: 25,
        value_count: false,
        group_by: &[],
    },
];

/// The generator's own names for the rules, in [`CATALOGUE`] order.
const RULES: [Rule; 15] = [
    Rule::IamEnum,
    Rule::IamDenied,
    Rule::PasswordData,
    Rule::RootFail,
    Rule::BruteIp,
    Rule::BruteUser,
    Rule::Spray,
    Rule::SecretsRapid,
    Rule::SecretsBatch,
    Rule::SsmDecrypt,
    Rule::DescribeRegions,
    Rule::Quotas,
    Rule::Userdata,
    Rule::S3Enum,
    Rule::AssumeRole,
];

impl Rule {
    /// Near-miss variants this rule's *below* burst carries.
    fn near_misses(self) -> u16 {
        match self {
            Rule::IamEnum => 3,
            Rule::IamDenied => 6,
            Rule::PasswordData => 2,
            Rule::RootFail => 3,
            Rule::BruteIp => 3,
            Rule::BruteUser => 3,
            Rule::Spray => 3,
            Rule::SecretsRapid => 5,
            Rule::SecretsBatch => 2,
            Rule::SsmDecrypt => 3,
            Rule::DescribeRegions => 2,
            Rule::Quotas => 3,
            Rule::Userdata => 2,
            Rule::S3Enum => 2,
            Rule::AssumeRole => 3,
        }
    }

    /// Whether the catalogue's filter rule names this rule.
    fn filtered(self) -> bool {
        matches!(self, Rule::IamEnum | Rule::IamDenied)
    }
}

/// Ground truth for one catalogue burst.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogueBurst {
    /// The correlation's name (the alerts' `rule`).
    pub rule: &'static str,
    /// What was injected.
    pub case: CatalogueCase,
    /// The round (0-based).
    pub round: u32,
    /// Position among the catalogue bursts (0-based).
    pub index: u32,
    /// The rule's window, ms.
    pub window_ms: i64,
    /// The smallest count that alerts.
    pub min_alert: u64,
    /// `value_count` rule.
    pub value_count: bool,
    /// The burst's group: each group-by field of the rule, as written, and
    /// its value in the burst's counted events (`None`: missing).
    pub group: Vec<(&'static str, Option<String>)>,
    /// Every window the burst's counted events fall in: its start (ms) and
    /// the count the rule makes there for the burst's group (events, or
    /// distinct values), before the filter (a *filtered* burst's events are
    /// all removed by it).
    pub windows: Vec<(i64, u64)>,
    /// Records written (near misses included).
    pub records: u32,
    /// Near misses among them.
    pub near_misses: u32,
    /// Earliest `eventTime` written, ms.
    pub start_ms: i64,
    /// Latest `eventTime` written, ms.
    pub end_ms: i64,
}

impl CatalogueBurst {
    /// Whether the rule alerts on this burst's group (in some window): a
    /// count reaches the threshold, and the events are not the catalogue
    /// filter's to remove.
    pub fn alerts(&self) -> bool {
        self.case != CatalogueCase::Filtered
            && self.windows.iter().any(|&(_, n)| n >= self.min_alert)
    }

    /// The alert row the rule's native line carries for `window`: each
    /// group-by field, then `count`, as compact JSON text.
    pub fn row(&self, count: u64) -> String {
        let mut s = String::from("{");
        for (field, value) in &self.group {
            s.push_str(&json_string(field));
            s.push(':');
            match value {
                Some(v) => s.push_str(&json_string(v)),
                None => s.push_str("null"),
            }
            s.push(',');
        }
        s.push_str("\"count\":");
        s.push_str(&count.to_string());
        s.push('}');
        s
    }
}

/// A JSON string literal (generated names are plain ASCII; this escapes
/// anyway).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How a record's `eventTime` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeFmt {
    /// `…:05Z` (the time is on its second).
    Whole,
    /// `…:05.123Z`.
    Millis,
    /// `…:05.123456Z`.
    Micros,
    /// `…:05.123456789Z`.
    Nanos,
    /// `…T02:00:05.123+02:00`.
    Offset,
    /// `1767571205123`.
    Epoch,
}

impl TimeFmt {
    /// A form for a record; `precise` ones keep the millisecond.
    fn pick(rng: &mut Rng, precise: bool) -> TimeFmt {
        if precise {
            return [
                TimeFmt::Millis,
                TimeFmt::Nanos,
                TimeFmt::Offset,
                TimeFmt::Epoch,
            ][rng.index(4)];
        }
        match rng.below(100) {
            0..=44 => TimeFmt::Whole,
            45..=64 => TimeFmt::Millis,
            65..=69 => TimeFmt::Micros,
            70..=74 => TimeFmt::Nanos,
            75..=79 => TimeFmt::Offset,
            _ => TimeFmt::Epoch,
        }
    }

    /// The time as it reads back.
    fn effective(self, t: i64) -> i64 {
        match self {
            TimeFmt::Whole => t - t.rem_euclid(1000),
            _ => t,
        }
    }
}

/// Counted, or a near miss (variant `j`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Match,
    Near(u16),
}

/// `v` of a counted event that carries no value of the rule's field.
const NO_VALUE: u16 = u16::MAX;

/// One planned record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CatRec {
    /// `eventTime` as written, ms.
    pub t_ms: i64,
    fmt: TimeFmt,
    pub burst: u32,
    kind: Kind,
    /// Which value (value_count) or which variation (event_count).
    v: u16,
}

/// Who a burst's events come from.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    rule: Rule,
    id: u32,
    account: String,
    /// The burst's own address.
    ip: String,
    region: &'static str,
    /// Offset into [`REGIONS`] for per-value regions.
    region_base: usize,
    /// `userIdentity` JSON of the counted events (console rules build
    /// theirs per event).
    ui: String,
    arn: Option<String>,
    principal: Option<String>,
    /// A user name: the identity's, or the base of per-event names.
    user: String,
    agent: &'static str,
}

impl Actor {
    fn group_value(&self, field: &str) -> Option<String> {
        match field {
            "userIdentity.principalId" => self.principal.clone(),
            "userIdentity.arn" => self.arn.clone(),
            "userIdentity.accountId" | "recipientAccountId" => Some(self.account.clone()),
            "userIdentity.userName" => Some(self.user.clone()),
            "sourceIPAddress" => Some(self.ip.clone()),
            "awsRegion" => Some(self.region.to_owned()),
            _ => None,
        }
    }
}

/// Every region a value_count rule may count (more than the 16 the largest
/// threshold needs).
const REGIONS: [&str; 30] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "ca-west-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-east-1",
    "sa-east-1",
    "me-south-1",
    "me-central-1",
    "af-south-1",
    "il-central-1",
    "mx-central-1",
];

const SDK_AGENTS: [&str; 4] = [
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0-18-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64",
    "Boto3/1.9.89 Python/3.7.3 Linux/4.19.0-kali1-amd64 Botocore/1.12.89",
    "aws-sdk-java/2.25.16 Linux/5.10.210-201.852.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/standard",
];
const BROWSERS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
];
const CONSOLE_INTERNAL: &str = "aws-internal/3 aws-sdk-java/1.12.720 Linux/5.10.219-186.866.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.412-b09 java/1.8.0_412 vendor/Oracle_Corporation cfg/retry-mode/standard";
const LOGIN_TO: &str =
    "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true";
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

const IAM_LIST: [&str; 6] = [
    "ListUsers",
    "ListRoles",
    "ListGroupsForUser",
    "ListAttachedUserPolicies",
    "ListAccessKeys",
    "ListAttachedRolePolicies",
];
/// Denied recon calls that match Panther's pattern with `AccessDenied`.
const DENIED: [(&str, &str); 7] = [
    ("iam.amazonaws.com", "ListUsers"),
    ("iam.amazonaws.com", "GetRole"),
    ("iam.amazonaws.com", "ListPolicies"),
    ("s3.amazonaws.com", "ListBuckets"),
    ("s3.amazonaws.com", "GetBucketPolicy"),
    ("rds.amazonaws.com", "DescribeDBInstances"),
    ("rds.amazonaws.com", "ListTagsForResource"),
];
const S3_ENUM: [&str; 7] = [
    "ListBuckets",
    "GetBucketCors",
    "GetBucketInventoryConfiguration",
    "GetBucketPublicAccessBlock",
    "GetBucketMetricsConfiguration",
    "GetBucketPolicy",
    "GetBucketTagging",
];

/// The burst's account: `0000070xxxxx`, never a background account.
fn account(id: u32) -> String {
    format!("{:012}", 7_000_000 + u64::from(id))
}

/// The burst's own IPv4 address, in 198.18.0.0/15 (used by nothing else).
fn ipv4(id: u32) -> String {
    format!("198.{}.{}.{}", 18 + (id >> 16), (id >> 8) & 255, id & 255)
}

/// Address `k` of burst `id`, in 2001:db8::/32.
fn ipv6(id: u32, k: u32) -> String {
    format!("2001:db8:{:x}:{:x}::{:x}", id >> 16, id & 0xffff, k + 1)
}

fn iam_user_ui(rng: &mut Rng, acct: &str, name: &str) -> (String, String, String) {
    let arn = format!("arn:aws:iam::{acct}:user/{name}");
    let pid = format!("AIDA{}", upper_alnum(rng, 17));
    let ui = format!(
        "{{\"type\":\"IAMUser\",\"principalId\":\"{pid}\",\"arn\":\"{arn}\",\"accountId\":\"{acct}\",\"accessKeyId\":\"AKIA{}\",\"userName\":\"{name}\"}}",
        upper_alnum(rng, 16)
    );
    (ui, arn, pid)
}

fn role_ui(
    rng: &mut Rng,
    acct: &str,
    role: &str,
    session: &str,
    created: &str,
) -> (String, String, String) {
    let arn = format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}");
    let role_id = format!("AROA{}", upper_alnum(rng, 17));
    let pid = format!("{role_id}:{session}");
    let ui = format!(
        "{{\"type\":\"AssumedRole\",\"principalId\":\"{pid}\",\"arn\":\"{arn}\",\"accountId\":\"{acct}\",\"accessKeyId\":\"ASIA{}\",\"sessionContext\":{{\"sessionIssuer\":{{\"type\":\"Role\",\"principalId\":\"{role_id}\",\"arn\":\"arn:aws:iam::{acct}:role/{role}\",\"accountId\":\"{acct}\",\"userName\":\"{role}\"}},\"webIdFederationData\":{{}},\"attributes\":{{\"creationDate\":\"{created}\",\"mfaAuthenticated\":\"false\"}}}}}}",
        upper_alnum(rng, 16)
    );
    (ui, arn, pid)
}

fn root_ui(acct: &str) -> String {
    format!(
        "{{\"type\":\"Root\",\"principalId\":\"{acct}\",\"arn\":\"arn:aws:iam::{acct}:root\",\"accountId\":\"{acct}\",\"accessKeyId\":\"\"}}"
    )
}

/// The `userIdentity` of a console sign-in for `user` (no ARN when the
/// sign-in failed, as AWS writes it).
fn signin_ui(acct: &str, user: &str, ok: bool) -> String {
    // A stable principal id per user name (FNV-1a of the name).
    let h = user.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    if user == HIDDEN {
        format!(
            "{{\"type\":\"IAMUser\",\"accountId\":\"{acct}\",\"accessKeyId\":\"\",\"userName\":\"{HIDDEN}\"}}"
        )
    } else if ok {
        format!(
            "{{\"type\":\"IAMUser\",\"principalId\":\"AIDA{h:016X}\",\"arn\":\"arn:aws:iam::{acct}:user/{user}\",\"accountId\":\"{acct}\",\"accessKeyId\":\"\",\"userName\":\"{user}\"}}"
        )
    } else {
        format!(
            "{{\"type\":\"IAMUser\",\"principalId\":\"AIDA{h:016X}\",\"accountId\":\"{acct}\",\"accessKeyId\":\"\",\"userName\":\"{user}\"}}"
        )
    }
}

/// Makes the actor of burst `id`.
fn actor(rng: &mut Rng, rule: Rule, case: CatalogueCase, id: u32, round_ms: i64) -> Actor {
    let acct = account(id);
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let created = String::from_utf8_lossy(&format_time(round_ms)).into_owned();
    let region = rng.pick(&REGIONS[..12]);
    let region_base = rng.index(REGIONS.len());
    let agent = SDK_AGENTS[rng.index(SDK_AGENTS.len())];
    let filtered = case == CatalogueCase::Filtered;
    let person = format!("{first}.{last}{id}");
    let mut a = Actor {
        rule,
        id,
        account: acct.clone(),
        ip: ipv4(id),
        region,
        region_base,
        ui: String::new(),
        arn: None,
        principal: None,
        user: person.clone(),
        agent,
    };
    fn set(a: &mut Actor, (ui, arn, pid): (String, String, String)) {
        a.ui = ui;
        a.arn = Some(arn);
        a.principal = Some(pid);
    }
    match rule {
        Rule::IamEnum => {
            let (role, session) = if filtered {
                ("WizAccess-Role".to_owned(), format!("wiz-scan-{id}"))
            } else if case == CatalogueCase::Above {
                // A lookalike of the scanner's role: the filter's pattern
                // ends at the role name, so this one is counted.
                ("WizAccess-RoleAudit".to_owned(), format!("audit-{id}"))
            } else {
                (
                    rng.pick(HUMAN_ROLES).to_owned(),
                    format!("{first}.{last}@example.com"),
                )
            };
            set(&mut a, role_ui(rng, &acct, &role, &session, &created));
        }
        Rule::IamDenied => {
            let name = if filtered {
                "prowler".to_owned()
            } else {
                person.clone()
            };
            set(&mut a, iam_user_ui(rng, &acct, &name));
            a.user = name;
            if id % 2 == 1 {
                a.ip = ipv6(id, 0);
            }
        }
        Rule::PasswordData | Rule::SsmDecrypt | Rule::SecretsBatch => {
            let role = rng.pick(HUMAN_ROLES);
            set(
                &mut a,
                role_ui(rng, &acct, role, &format!("{first}.{last}-{id}"), &created),
            );
        }
        Rule::SecretsRapid | Rule::Quotas | Rule::DescribeRegions => {
            let role = rng.pick(APP_ROLES);
            let session = format!("i-0{}", hex(rng, 16));
            set(&mut a, role_ui(rng, &acct, role, &session, &created));
        }
        Rule::S3Enum | Rule::Userdata | Rule::AssumeRole => {
            set(&mut a, iam_user_ui(rng, &acct, &person));
        }
        Rule::RootFail => {
            a.ui = root_ui(&acct);
            a.arn = Some(format!("arn:aws:iam::{acct}:root"));
            a.principal = Some(acct.clone());
        }
        Rule::BruteIp | Rule::BruteUser | Rule::Spray => {}
    }
    a
}

/// `n` times in `[lo, hi)`, sorted; with `ends`, the first is `lo` and the
/// last `hi − 1`.
fn spread(rng: &mut Rng, lo: i64, hi: i64, n: usize, ends: bool) -> Vec<i64> {
    let span = (hi - lo).max(1) as u64;
    let mut t: Vec<i64> = (0..n).map(|_| lo + rng.below(span) as i64).collect();
    t.sort_unstable();
    if ends && n >= 2 {
        t[0] = lo;
        t[n - 1] = hi - 1;
    }
    t
}

fn shuffle<T>(rng: &mut Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = rng.index(i + 1);
        v.swap(i, j);
    }
}

/// Everything the catalogue injects.
pub(crate) struct Plan {
    pub actors: Vec<Actor>,
    /// Sorted by time.
    pub recs: Vec<CatRec>,
    pub truth: Vec<CatalogueBurst>,
}

/// Plans `rounds` rounds from `start_ms`.
pub(crate) fn plan(rng: &mut Rng, start_ms: i64, rounds: u32) -> Plan {
    let mut actors = Vec::new();
    let mut recs: Vec<CatRec> = Vec::new();
    let mut truth = Vec::new();
    for round in 0..rounds {
        let anchor = start_ms + i64::from(round) * CATALOGUE_ROUND_MS;
        for (spec, &rule) in CATALOGUE.iter().zip(RULES.iter()) {
            let w = spec.window_ms;
            let w0 = anchor + (w - anchor.rem_euclid(w)) % w;
            let grouped = !spec.group_by.is_empty();
            let mut cases = vec![
                CatalogueCase::Below,
                CatalogueCase::At,
                CatalogueCase::Above,
                CatalogueCase::Straddle,
            ];
            if rule.filtered() {
                cases.push(CatalogueCase::Filtered);
            }
            for case in cases {
                let id = actors.len() as u32;
                let a = actor(rng, rule, case, id, anchor);
                let m = spec.min_alert as usize;
                // The window(s): grouped rules share one window per round
                // (each burst is its own group); ungrouped ones get one each.
                let slot = |k: i64| if grouped { w0 } else { w0 + k * w };
                let mut items: Vec<(Kind, u16)> = Vec::new();
                let n = match case {
                    CatalogueCase::Below => m - 1,
                    CatalogueCase::At => m,
                    _ => m + 1,
                };
                for v in 0..n {
                    items.push((Kind::Match, v as u16));
                }
                if spec.value_count {
                    let repeats = if case == CatalogueCase::Below { 2 } else { 1 };
                    for _ in 0..repeats {
                        let v = rng.index(n.min(u16::MAX as usize)) as u16;
                        items.push((Kind::Match, v));
                    }
                    if rule == Rule::Spray && case == CatalogueCase::At {
                        // A failure without a user name: an event of the
                        // group that adds no value.
                        items.push((Kind::Match, NO_VALUE));
                    }
                }
                if case == CatalogueCase::Below {
                    for j in 0..rule.near_misses() {
                        items.push((Kind::Near(j), (n + usize::from(j)) as u16));
                    }
                }
                let mut placed: Vec<(i64, Kind, u16)> = Vec::new();
                if case == CatalogueCase::Straddle {
                    // Counted events 0..a before the edge, a..n after:
                    // fewer than m on each side.
                    let edge = slot(4) + if grouped { w } else { 0 };
                    let half = (w / 2).max(2);
                    let a_left = n / 2;
                    let mut left: Vec<(Kind, u16)> = items
                        .iter()
                        .copied()
                        .filter(|&(_, v)| usize::from(v) < a_left)
                        .collect();
                    let mut right: Vec<(Kind, u16)> = items
                        .iter()
                        .copied()
                        .filter(|&(_, v)| usize::from(v) >= a_left && v != NO_VALUE)
                        .collect();
                    shuffle(rng, &mut left);
                    shuffle(rng, &mut right);
                    let mut tl = spread(rng, edge - half, edge, left.len(), false);
                    if let Some(last) = tl.last_mut() {
                        *last = edge - 1;
                    }
                    let mut tr = spread(rng, edge, edge + half, right.len(), false);
                    if let Some(first) = tr.first_mut() {
                        *first = edge;
                    }
                    placed.extend(tl.into_iter().zip(left).map(|(t, (k, v))| (t, k, v)));
                    placed.extend(tr.into_iter().zip(right).map(|(t, (k, v))| (t, k, v)));
                } else {
                    let k = match case {
                        CatalogueCase::Below | CatalogueCase::Filtered => 0,
                        CatalogueCase::At => 1,
                        _ => 2,
                    };
                    let lo = slot(k);
                    shuffle(rng, &mut items);
                    let times = spread(rng, lo, lo + w, items.len(), true);
                    placed.extend(times.into_iter().zip(items).map(|(t, (k, v))| (t, k, v)));
                }
                // Forms: the edge-most events keep their millisecond.
                let first_t = placed.iter().map(|p| p.0).min().unwrap_or(0);
                let last_t = placed.iter().map(|p| p.0).max().unwrap_or(0);
                let mut counts: BTreeMap<i64, (u64, BTreeSet<u16>)> = BTreeMap::new();
                let mut burst_recs = Vec::with_capacity(placed.len());
                for (t, kind, v) in placed {
                    let precise = t == first_t
                        || t == last_t
                        || (t + 1).rem_euclid(w) == 0
                        || t.rem_euclid(w) == 0;
                    let fmt = TimeFmt::pick(rng, precise);
                    let t = fmt.effective(t);
                    if kind == Kind::Match {
                        let e = counts.entry(t.div_euclid(w) * w).or_default();
                        e.0 += 1;
                        if v != NO_VALUE {
                            e.1.insert(v);
                        }
                    }
                    burst_recs.push(CatRec {
                        t_ms: t,
                        fmt,
                        burst: id,
                        kind,
                        v,
                    });
                }
                let windows = counts
                    .into_iter()
                    .map(|(s, (events, values))| {
                        (
                            s,
                            if spec.value_count {
                                values.len() as u64
                            } else {
                                events
                            },
                        )
                    })
                    .collect();
                truth.push(CatalogueBurst {
                    rule: spec.name,
                    case,
                    round,
                    index: id,
                    window_ms: w,
                    min_alert: spec.min_alert,
                    value_count: spec.value_count,
                    group: spec
                        .group_by
                        .iter()
                        .map(|&f| (f, a.group_value(f)))
                        .collect(),
                    windows,
                    records: burst_recs.len() as u32,
                    near_misses: burst_recs
                        .iter()
                        .filter(|r| matches!(r.kind, Kind::Near(_)))
                        .count() as u32,
                    start_ms: burst_recs.iter().map(|r| r.t_ms).min().unwrap_or(0),
                    end_ms: burst_recs.iter().map(|r| r.t_ms).max().unwrap_or(0),
                });
                recs.extend(burst_recs);
                actors.push(a);
            }
        }
    }
    recs.sort_by_key(|r| (r.t_ms, r.burst));
    Plan {
        actors,
        recs,
        truth,
    }
}

/// The parts of one record.
struct Ev<'a> {
    ui: &'a str,
    src: &'a str,
    name: &'a str,
    region: &'a str,
    ip: &'a str,
    agent: &'a str,
    /// `errorCode` (a failed console sign-in has none, only a message).
    code: Option<&'a str>,
    message: Option<String>,
    req: String,
    resp: String,
    extra: Option<String>,
    signin: bool,
    read_only: bool,
    recipient: &'a str,
}

fn denied_message(arn: &str, src: &str, name: &str) -> String {
    let svc = src.split('.').next().unwrap_or(src);
    format!(
        "User: {arn} is not authorized to perform: {svc}:{name} because no identity-based policy allows the {svc}:{name} action"
    )
}

fn push_event_time(out: &mut String, t: i64, fmt: TimeFmt, rng: &mut Rng) {
    let ms = t.rem_euclid(1000) as u64;
    let frac = |out: &mut String, ms: u64| {
        out.push('.');
        let d = [
            b'0' + (ms / 100) as u8,
            b'0' + (ms / 10 % 10) as u8,
            b'0' + (ms % 10) as u8,
        ];
        out.push_str(std::str::from_utf8(&d).unwrap_or("000"));
    };
    match fmt {
        TimeFmt::Epoch => {
            push_u64(out, t.max(0) as u64);
            return;
        }
        TimeFmt::Offset => {
            let local = format_time(t + 2 * 3_600_000);
            out.push('"');
            out.push_str(std::str::from_utf8(&local[..19]).unwrap_or(""));
            frac(out, ms);
            out.push_str("+02:00\"");
            return;
        }
        _ => {}
    }
    let utc = format_time(t);
    out.push('"');
    out.push_str(std::str::from_utf8(&utc[..19]).unwrap_or(""));
    match fmt {
        TimeFmt::Millis => frac(out, ms),
        TimeFmt::Micros => {
            frac(out, ms);
            let extra = rng.below(1000);
            out.push_str(&format!("{extra:03}"));
        }
        TimeFmt::Nanos => {
            frac(out, ms);
            let extra = rng.below(1_000_000);
            out.push_str(&format!("{extra:06}"));
        }
        _ => {}
    }
    out.push_str("Z\"");
}

fn write_ev(out: &mut String, ev: &Ev<'_>, t: i64, fmt: TimeFmt, rng: &mut Rng) {
    out.push_str("{\"eventVersion\":\"1.10\",\"userIdentity\":");
    out.push_str(ev.ui);
    out.push_str(",\"eventTime\":");
    push_event_time(out, t, fmt, rng);
    out.push_str(",\"eventSource\":\"");
    out.push_str(ev.src);
    out.push_str("\",\"eventName\":\"");
    out.push_str(ev.name);
    out.push_str("\",\"awsRegion\":\"");
    out.push_str(ev.region);
    out.push_str("\",\"sourceIPAddress\":\"");
    out.push_str(ev.ip);
    out.push_str("\",\"userAgent\":\"");
    out.push_str(ev.agent);
    out.push('"');
    if let Some(code) = ev.code {
        out.push_str(",\"errorCode\":\"");
        out.push_str(code);
        out.push('"');
    }
    if let Some(msg) = &ev.message {
        out.push_str(",\"errorMessage\":\"");
        out.push_str(msg);
        out.push('"');
    }
    out.push_str(",\"requestParameters\":");
    out.push_str(&ev.req);
    out.push_str(",\"responseElements\":");
    out.push_str(&ev.resp);
    if let Some(extra) = &ev.extra {
        out.push_str(",\"additionalEventData\":");
        out.push_str(extra);
    }
    if !ev.signin {
        out.push_str(",\"requestID\":\"");
        push_uuid(out, rng);
        out.push('"');
    }
    out.push_str(",\"eventID\":\"");
    push_uuid(out, rng);
    out.push_str("\",\"readOnly\":");
    out.push_str(if ev.read_only { "true" } else { "false" });
    out.push_str(if ev.signin {
        ",\"eventType\":\"AwsConsoleSignIn\""
    } else {
        ",\"eventType\":\"AwsApiCall\""
    });
    out.push_str(",\"managementEvent\":true,\"recipientAccountId\":\"");
    out.push_str(ev.recipient);
    out.push_str("\",\"eventCategory\":\"Management\"}");
}

/// Appends the JSON text of `rec` (one line, no newline).
pub(crate) fn write(out: &mut String, a: &Actor, rec: &CatRec, rng: &mut Rng) {
    let v = rec.v;
    let vi = usize::from(v);
    let near = match rec.kind {
        Kind::Match => None,
        Kind::Near(j) => Some(j),
    };
    let arn = a.arn.clone().unwrap_or_default();
    let region_v = REGIONS[(a.region_base + vi) % REGIONS.len()];
    // Console sign-ins build their identity per event.
    let signin_ui_text;
    let ip_text;
    let mut ev = Ev {
        ui: &a.ui,
        src: "",
        name: "",
        region: a.region,
        ip: &a.ip,
        agent: a.agent,
        code: None,
        message: None,
        req: "null".to_owned(),
        resp: "null".to_owned(),
        extra: None,
        signin: false,
        read_only: true,
        recipient: &a.account,
    };
    match a.rule {
        Rule::IamEnum => {
            ev.src = "iam.amazonaws.com";
            ev.region = "us-east-1";
            ev.name = match near {
                None => IAM_LIST[vi % IAM_LIST.len()],
                Some(0) => "listUsers",
                Some(1) => "ListUserPolicies",
                _ => "ListRoleTags",
            };
            ev.req = match ev.name {
                "ListUsers" | "ListRoles" | "listUsers" => "null".to_owned(),
                "ListAttachedRolePolicies" | "ListRoleTags" => {
                    format!("{{\"roleName\":\"{}\"}}", APP_ROLES[vi % APP_ROLES.len()])
                }
                _ => format!(
                    "{{\"userName\":\"{}.{}\"}}",
                    FIRST[vi % FIRST.len()],
                    LAST[vi % LAST.len()]
                ),
            };
        }
        Rule::IamDenied => {
            let (src, name) = DENIED[vi % DENIED.len()];
            ev.src = src;
            ev.name = name;
            ev.region = if src == "iam.amazonaws.com" {
                "us-east-1"
            } else {
                a.region
            };
            let mut code = "AccessDenied";
            match near {
                None => {}
                Some(0) => {
                    ev.src = "ec2.amazonaws.com";
                    ev.name = "DescribeInstances";
                    code = "Client.UnauthorizedOperation";
                }
                Some(1) => {
                    ev.src = "sts.amazonaws.com";
                    ev.name = "GetRole";
                }
                Some(2) => {
                    ev.src = "iam.amazonaws.com";
                    ev.name = "ListUsers";
                    ev.agent = CONSOLE_INTERNAL;
                }
                Some(3) => {
                    ev.src = "iam.amazonaws.com";
                    ev.name = "ListRoles";
                    ev.ip = "cloudformation.amazonaws.com";
                }
                Some(4) => {
                    ev.src = "iam.amazonaws.com";
                    ev.name = "CreateUser";
                    ev.read_only = false;
                }
                _ => {
                    ev.src = "iam.amazonaws.com";
                    ev.name = "ListUsers";
                    code = "AccessDeniedException";
                }
            }
            ev.code = Some(code);
            ev.message = Some(denied_message(&arn, ev.src, ev.name));
        }
        Rule::PasswordData => {
            ev.src = "ec2.amazonaws.com";
            ev.name = "GetPasswordData";
            match near {
                None => {}
                Some(0) => ev.src = "lightsail.amazonaws.com",
                _ => ev.name = "GetConsoleOutput",
            }
            ev.req = format!("{{\"instanceId\":\"i-0{}\"}}", hex(rng, 16));
            if near.is_none() && vi % 5 == 4 {
                ev.code = Some("Client.UnauthorizedOperation");
                ev.message = Some(format!(
                    "You are not authorized to perform this operation. User: {arn} is not authorized to perform: ec2:GetPasswordData on resource: arn:aws:ec2:{}:{}:instance/*",
                    a.region, a.account
                ));
            }
        }
        Rule::RootFail | Rule::BruteIp | Rule::BruteUser | Rule::Spray => {
            ev.src = "signin.amazonaws.com";
            ev.name = "ConsoleLogin";
            ev.signin = true;
            ev.read_only = false;
            ev.agent = BROWSERS[(a.id as usize + vi) % BROWSERS.len()];
            ev.region = if a.rule == Rule::Spray {
                a.region
            } else {
                "us-east-1"
            };
            let mut ok = false;
            let mut outcome = "Failure";
            let mut user: Option<String> = None;
            let mut root = false;
            match (a.rule, near) {
                (Rule::RootFail, None) => root = true,
                (Rule::RootFail, Some(0)) => {
                    root = true;
                    ok = true;
                }
                (Rule::RootFail, Some(1)) => user = Some(format!("{}.x", a.user)),
                (Rule::RootFail, Some(_)) => {
                    root = true;
                    outcome = "failure";
                }
                (Rule::BruteIp, None) => {
                    user = Some(if vi % 4 == 3 {
                        HIDDEN.to_owned()
                    } else {
                        format!("{}x{vi}", a.user)
                    })
                }
                (Rule::BruteIp, Some(0)) => {
                    user = Some(format!("{}x{vi}", a.user));
                    ok = true;
                }
                (Rule::BruteIp, Some(1)) => root = true,
                (Rule::BruteIp, Some(_)) => {
                    user = Some(format!("{}x{vi}", a.user));
                    ev.src = "sso.amazonaws.com";
                }
                (Rule::BruteUser, kind) => {
                    user = Some(a.user.clone());
                    ip_text = ipv6(a.id, u32::from(v));
                    ev.ip = &ip_text;
                    match kind {
                        None => {}
                        Some(0) => ok = true,
                        Some(1) => ev.src = "sso.amazonaws.com",
                        Some(_) => root = true,
                    }
                }
                (_, kind) => {
                    // Password spraying: user name v (none for NO_VALUE).
                    if v != NO_VALUE {
                        user = Some(format!("{}x{vi}", a.user));
                    } else {
                        root = true;
                    }
                    match kind {
                        None => {}
                        Some(0) => ok = true,
                        Some(1) => ev.signin = false,
                        Some(_) => outcome = "FAILURE",
                    }
                }
            }
            if ok {
                outcome = "Success";
            }
            signin_ui_text = match (&user, root) {
                (Some(u), true) => {
                    // A Root record that also carries a user name.
                    format!(
                        "{{\"type\":\"Root\",\"principalId\":\"{acct}\",\"arn\":\"arn:aws:iam::{acct}:root\",\"accountId\":\"{acct}\",\"accessKeyId\":\"\",\"userName\":\"{u}\"}}",
                        acct = a.account
                    )
                }
                (None, _) => root_ui(&a.account),
                (Some(u), false) => signin_ui(&a.account, u, ok),
            };
            ev.ui = &signin_ui_text;
            ev.resp = format!("{{\"ConsoleLogin\":\"{outcome}\"}}");
            if !ok {
                ev.message = Some("Failed authentication".to_owned());
            }
            let mfa = if ok { "Yes" } else { "No" };
            ev.extra = Some(format!(
                "{{\"LoginTo\":\"{LOGIN_TO}\",\"MobileVersion\":\"No\",\"MFAUsed\":\"{mfa}\"}}"
            ));
        }
        Rule::SecretsRapid => {
            ev.src = "secretsmanager.amazonaws.com";
            ev.name = "GetSecretValue";
            match near {
                None => {}
                Some(0) => {
                    ev.code = Some("AccessDeniedException");
                    ev.message = Some(denied_message(&arn, ev.src, ev.name));
                }
                Some(1) => ev.agent = BROWSERS[0],
                Some(2) => ev.ip = "kafka.amazonaws.com",
                Some(3) => ev.src = "ssm.amazonaws.com",
                _ => ev.name = "DescribeSecret",
            }
            ev.req = format!(
                "{{\"secretId\":\"arn:aws:secretsmanager:{}:{}:secret:prod/app{}/secret-{vi}\"}}",
                a.region, a.account, a.id
            );
        }
        Rule::SecretsBatch => {
            ev.src = "secretsmanager.amazonaws.com";
            ev.name = "BatchGetSecretValue";
            ev.region = region_v;
            match near {
                None => {}
                Some(0) => {
                    ev.code = Some("AccessDeniedException");
                    ev.message = Some(denied_message(&arn, ev.src, ev.name));
                }
                _ => ev.name = "GetSecretValue",
            }
            ev.req =
                "{\"filters\":[{\"key\":\"tag-key\",\"values\":[\"!tagKeyThatWillNeverExist\"]}]}"
                    .to_owned();
        }
        Rule::SsmDecrypt => {
            ev.src = "ssm.amazonaws.com";
            ev.name = "GetParameter";
            let name = format!("/credentials/app{}/param-{vi}", a.id);
            ev.req = match near {
                None => format!("{{\"name\":\"{name}\",\"withDecryption\":true}}"),
                Some(0) => format!("{{\"name\":\"{name}\",\"withDecryption\":false}}"),
                Some(1) => format!("{{\"name\":\"{name}\"}}"),
                _ => {
                    ev.name = "GetParameters";
                    format!("{{\"names\":[\"{name}\"],\"withDecryption\":true}}")
                }
            };
            if near.is_none() && vi % 5 == 4 {
                ev.code = Some("AccessDeniedException");
                ev.message = Some(denied_message(&arn, ev.src, ev.name));
            }
        }
        Rule::DescribeRegions => {
            ev.src = "ec2.amazonaws.com";
            ev.region = region_v;
            ev.name = match near {
                None => "DescribeInstances",
                Some(0) => "DescribeInstanceTypes",
                _ => "describeInstances",
            };
            ev.req = "{\"instancesSet\":{},\"filterSet\":{}}".to_owned();
        }
        Rule::Quotas => {
            ev.src = "servicequotas.amazonaws.com";
            ev.name = "GetServiceQuota";
            ev.region = region_v;
            let (svc, code) = match near {
                None => ("ec2", "L-1216C47A"),
                Some(0) => ("ec2", "L-34B43A08"),
                Some(1) => ("lambda", "L-B99A9384"),
                _ => {
                    ev.src = "ec2.amazonaws.com";
                    ("ec2", "L-1216C47A")
                }
            };
            ev.req = format!("{{\"serviceCode\":\"{svc}\",\"quotaCode\":\"{code}\"}}");
        }
        Rule::Userdata => {
            ev.src = "ec2.amazonaws.com";
            ev.name = "DescribeInstanceAttribute";
            let attribute = match near {
                // Sigma compares ignoring case: this one counts.
                None if vi == 1 => "USERDATA",
                None => "userData",
                Some(0) => "instanceType",
                _ => {
                    ev.src = "lightsail.amazonaws.com";
                    "userData"
                }
            };
            ev.req = format!(
                "{{\"instanceId\":\"i-0{}\",\"attribute\":\"{attribute}\"}}",
                hex(rng, 16)
            );
        }
        Rule::S3Enum => {
            ev.src = "s3.amazonaws.com";
            ev.name = match near {
                None => S3_ENUM[vi % S3_ENUM.len()],
                Some(0) => "GetBucketAcl",
                _ => {
                    ev.src = "s3-outposts.amazonaws.com";
                    "ListBuckets"
                }
            };
            ev.req = if ev.name == "ListBuckets" {
                "{\"Host\":\"s3.amazonaws.com\"}".to_owned()
            } else {
                format!(
                    "{{\"bucketName\":\"corp-data-{}-{vi}\",\"Host\":\"corp-data-{}-{vi}.s3.amazonaws.com\",\"{}\":\"\"}}",
                    a.id,
                    a.id,
                    ev.name.trim_start_matches("GetBucket").to_ascii_lowercase()
                )
            };
        }
        Rule::AssumeRole => {
            ev.src = "iam.amazonaws.com";
            ev.name = "UpdateAssumeRolePolicy";
            ev.region = "us-east-1";
            ev.read_only = false;
            let guess = format!("arn:aws:iam::{}:role/guess-{vi}", a.account);
            let mut code = Some("MalformedPolicyDocumentException");
            match near {
                None => {}
                Some(0) => code = Some("AccessDenied"),
                Some(1) => code = None,
                _ => ev.src = "sts.amazonaws.com",
            }
            ev.code = code;
            ev.message = code.map(|c| {
                if c == "AccessDenied" {
                    denied_message(&arn, ev.src, ev.name)
                } else {
                    format!("Invalid principal in policy: AWS {guess}")
                }
            });
            ev.req = format!("{{\"roleName\":\"target-role-{}\"}}", a.id);
        }
    }
    write_ev(out, &ev, rec.t_ms, rec.fmt, rng);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_planned_with_its_cases() {
        let mut rng = Rng::new(5, 5);
        let p = plan(&mut rng, 1_767_571_200_000, 2);
        assert_eq!(p.truth.len(), 2 * (15 * 4 + 2));
        for b in &p.truth {
            match b.case {
                CatalogueCase::At | CatalogueCase::Above => assert!(b.alerts(), "{b:?}"),
                _ => assert!(!b.alerts(), "{b:?}"),
            }
            if b.case == CatalogueCase::Straddle {
                assert_eq!(b.windows.len(), 2, "{b:?}");
                let total: u64 = b.windows.iter().map(|w| w.1).sum();
                assert!(total >= b.min_alert, "{b:?}");
            }
        }
        assert!(p.recs.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
    }
}
