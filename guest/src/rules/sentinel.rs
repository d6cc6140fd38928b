//! Rule 1: Microsoft Sentinel "Suspicious AWS CLI Command Execution".
//!
//! Each numbered step of `docs/rules.md` is one function here, so each
//! can be tested alone. Missing fields read as `""` (KQL has no null
//! strings).

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem::Finder;

use serde::{Deserialize, Serialize};

use crate::alert::{Alert, AlertKind, Entity, alert_id, strings};
use crate::config::{Profile, Rule, RuleConfig};
use crate::event::Event;
use crate::rules::RuleLogic;
use crate::time::format_time;
use crate::wire::{self, Reader, WireError};

/// The upstream rule id (Azure-Sentinel, `AWSCloudTrail`).
pub const RULE_ID: &str = "8c2dc344-9352-4ca1-8863-b1b7a5e09e59";
pub const TACTICS: &[&str] = &["Reconnaissance"];
pub const TECHNIQUES: &[&str] = &[
    "T1595",
    "T1592.004",
    "T1589.002",
    "T1589.003",
    "T1590",
    "T1591",
    "T1596",
];

/// Step 1: the user agent starts with `aws-cli`, ignoring ASCII case.
pub fn is_aws_cli(user_agent: &str) -> bool {
    user_agent
        .as_bytes()
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"aws-cli"))
}

/// Step 2: the command named in the user agent.
///
/// Legacy aws-cli v2 form: the text after the first `off command/`, up to
/// the next `off command/` or the end (KQL `split(UserAgent,
/// "off command/", 1)[0]`). In the default profile, when that marker is
/// absent, the token after `md/command#` up to the next space (current
/// aws-cli v2 form). `""` when there is none.
pub fn extract_command(user_agent: &str, profile: Profile) -> &str {
    const LEGACY: &str = "off command/";
    const CURRENT: &str = "md/command#";
    // Searchers built once: building one per call (as `str::find` does)
    // costs more than the search in an agent string.
    static FINDERS: LazyLock<[Finder<'static>; 2]> =
        LazyLock::new(|| [Finder::new(LEGACY), Finder::new(CURRENT)]);
    let [legacy, current] = &*FINDERS;
    if let Some(i) = legacy.find(user_agent.as_bytes()) {
        let rest = &user_agent[i + LEGACY.len()..];
        return legacy.find(rest.as_bytes()).map_or(rest, |j| &rest[..j]);
    }
    if profile == Profile::Default
        && let Some(i) = current.find(user_agent.as_bytes())
    {
        let rest = &user_agent[i + CURRENT.len()..];
        return rest.find(' ').map_or(rest, |j| &rest[..j]);
    }
    ""
}

/// Step 3, one needle: KQL `has`. `needle_lower` (already ASCII-lowercased)
/// occurs in `command_lower` at a position where neither the character
/// before nor the one after is an ASCII letter or digit.
pub fn has_term(command_lower: &str, needle_lower: &str) -> bool {
    has_term_with(command_lower, &Finder::new(needle_lower))
}

/// [`has_term`] with the needle's searcher built once.
fn has_term_with(command_lower: &str, needle: &Finder<'_>) -> bool {
    let len = needle.needle().len();
    if len == 0 {
        return false;
    }
    let hay = command_lower.as_bytes();
    needle.find_iter(hay).any(|i| {
        let end = i + len;
        let before_ok = i == 0 || !hay[i - 1].is_ascii_alphanumeric();
        let after_ok = end == hay.len() || !hay[end].is_ascii_alphanumeric();
        before_ok && after_ok
    })
}

/// Who an event is attributed to (step 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution<'a> {
    /// `UserIdentityArn` after the resource-ARN fallback.
    pub user_identity_arn: Cow<'a, str>,
    /// `AccountName`.
    pub account_name: Cow<'a, str>,
    /// `AccountUPNSuffix`.
    pub upn_suffix: Cow<'a, str>,
}

/// Step 4: `UserIdentityArn`, `AccountName`, `AccountUPNSuffix`.
pub fn attribute<'a>(event: &Event<'a>, profile: Profile) -> Attribution<'a> {
    let non_empty = |f: &Option<Cow<'a, str>>| f.as_ref().filter(|s| !s.is_empty()).cloned();
    let arn = non_empty(&event.identity_arn)
        .or_else(|| event.resource_arn.clone())
        .unwrap_or(Cow::Borrowed(""));
    let user_name_from_arn: Cow<'a, str> = match &arn {
        Cow::Borrowed(s) => Cow::Borrowed(s.rsplit('/').next().unwrap_or("")),
        Cow::Owned(s) => Cow::Owned(s.rsplit('/').next().unwrap_or("").to_owned()),
    };
    let account: Cow<'a, str> = if event.principal_id.as_deref() == Some("Anonymous") {
        Cow::Borrowed("Anonymous")
    } else {
        non_empty(&event.user_name).unwrap_or(user_name_from_arn)
    };
    let (account_name, upn_suffix) = match account.find('@') {
        None => (account, Cow::Borrowed("")),
        Some(at) => {
            let after = &account[at + 1..];
            let suffix = after.find('@').map_or(after, |j| &after[..j]).to_owned();
            let name = account[..at].to_owned();
            let suffix = match profile {
                Profile::Default => Cow::Owned(suffix),
                // The seed's `extend` computes the suffix from the name it
                // has just cut, which holds no `@` any more.
                Profile::Seed => Cow::Borrowed(""),
            };
            (Cow::Owned(name), suffix)
        }
    };
    Attribution {
        user_identity_arn: arn,
        account_name,
        upn_suffix,
    }
}

/// The names of step 5's grouping fields (after the time bucket), in the
/// query's order.
pub const KEY_FIELDS: [&str; 6] = [
    "recipient_account_id",
    "account_name",
    "account_upn_suffix",
    "user_identity_user_name",
    "source_ip_address",
    "session_mfa_authenticated",
];

/// Step 5's grouping key (after the time bucket): `RecipientAccountId`,
/// `AccountName`, `AccountUPNSuffix`, `UserIdentityUserName` (raw),
/// `SourceIpAddress`, `SessionMfaAuthenticated`.
///
/// The six fields are packed into one allocation (the text of all six and
/// where each ends), so an open group costs one small string rather than
/// six. Ordering compares field by field, as a tuple of the six would;
/// serialised, it is an object with the six field names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    text: Box<str>,
    ends: [u32; 6],
}

impl Key {
    /// A key from its six fields, in [`KEY_FIELDS`] order.
    pub fn new(fields: [&str; 6]) -> Key {
        let mut text = String::with_capacity(fields.iter().map(|f| f.len()).sum());
        let mut ends = [0u32; 6];
        for (i, f) in fields.iter().enumerate() {
            text.push_str(f);
            // Fields come from one event, itself bounded in size.
            ends[i] = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        Key {
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// The six fields, in [`KEY_FIELDS`] order.
    pub fn fields(&self) -> [&str; 6] {
        let mut out = [""; 6];
        let mut start = 0usize;
        for (i, end) in self.ends.iter().enumerate() {
            let end = *end as usize;
            out[i] = self.text.get(start..end).unwrap_or("");
            start = end;
        }
        out
    }

    /// `RecipientAccountId`.
    pub fn recipient_account_id(&self) -> &str {
        self.fields()[0]
    }

    /// `AccountName`.
    pub fn account_name(&self) -> &str {
        self.fields()[1]
    }

    /// `AccountUPNSuffix`.
    pub fn account_upn_suffix(&self) -> &str {
        self.fields()[2]
    }

    /// `UserIdentityUserName`.
    pub fn user_identity_user_name(&self) -> &str {
        self.fields()[3]
    }

    /// `SourceIpAddress`.
    pub fn source_ip_address(&self) -> &str {
        self.fields()[4]
    }

    /// `SessionMfaAuthenticated`.
    pub fn session_mfa_authenticated(&self) -> &str {
        self.fields()[5]
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.fields().cmp(&other.fields())
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Key", 6)?;
        for (name, value) in KEY_FIELDS.iter().zip(self.fields()) {
            st.serialize_field(name, value)?;
        }
        st.end()
    }
}

#[derive(Deserialize)]
struct KeyFields {
    recipient_account_id: String,
    account_name: String,
    account_upn_suffix: String,
    user_identity_user_name: String,
    source_ip_address: String,
    session_mfa_authenticated: String,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = KeyFields::deserialize(d)?;
        Ok(Key::new([
            &f.recipient_account_id,
            &f.account_name,
            &f.account_upn_suffix,
            &f.user_identity_user_name,
            &f.source_ip_address,
            &f.session_mfa_authenticated,
        ]))
    }
}

/// One counted event: its command and event name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// `command`.
    pub command: String,
    /// `EventName`.
    pub event_name: String,
}

/// Step 5's aggregates for one group. The distinct sets are sorted vectors
/// (a group rarely holds more than a dozen values, and a vector costs one
/// allocation where a tree costs a node of several hundred bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Distinct commands (`dcount(command)`), sorted.
    pub distinct_commands: Vec<Box<str>>,
    /// Distinct event names (`dcount(EventName)`), sorted.
    pub distinct_events: Vec<Box<str>>,
    /// `make_list(command)`, arrival order, at most the configured length.
    pub commands: Vec<Box<str>>,
    /// `make_list(EventName)`, likewise.
    pub events: Vec<Box<str>>,
    /// Whether the lists were cut.
    pub truncated: bool,
}

/// Inserts `value` into the sorted set `set` unless it is there.
pub(crate) fn insert_sorted(set: &mut Vec<Box<str>>, value: &str) {
    if let Err(at) = set.binary_search_by(|v| v.as_ref().cmp(value)) {
        set.insert(at, value.into());
    }
}

/// Whether `set` holds no value twice and is sorted (checked on restore).
pub(crate) fn is_sorted_set(set: &[Box<str>]) -> bool {
    set.windows(2).all(|w| w[0] < w[1])
}

/// The query's output row, fields in the query's order and spelling.
#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
struct Row<'a> {
    TimeGenerated: String,
    RecipientAccountId: &'a str,
    AccountName: &'a str,
    AccountUPNSuffix: &'a str,
    UserIdentityUserName: &'a str,
    SourceIpAddress: &'a str,
    SessionMfaAuthenticated: &'a str,
    CommadCount: usize,
    EventCount: usize,
    commands: &'a [Box<str>],
    Events: &'a [Box<str>],
}

#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
struct CustomDetails<'a> {
    SuspiciousCommand: &'a [Box<str>],
    AWSUser: &'a str,
    AWSUserIp: &'a str,
}

/// The Sentinel rule, configured.
#[derive(Debug, Clone)]
pub struct Sentinel {
    profile: Profile,
    /// Suspicious commands, ASCII-lowercased once, with their searchers.
    needles: Vec<Finder<'static>>,
}

impl Sentinel {
    /// The rule under `config`.
    pub fn new(config: &RuleConfig) -> Self {
        let mut needles: Vec<String> = config
            .commands
            .iter()
            .map(|c| c.to_ascii_lowercase())
            .collect();
        needles.sort();
        needles.dedup();
        Sentinel {
            profile: config.profile,
            needles: needles
                .iter()
                .map(|n| Finder::new(n.as_bytes()).into_owned())
                .collect(),
        }
    }

    /// Step 3: `command has_any (SuspiciousCommands)`.
    pub fn is_suspicious(&self, command: &str) -> bool {
        if command.is_empty() {
            return false;
        }
        let lower = command.to_ascii_lowercase();
        self.needles.iter().any(|n| has_term_with(&lower, n))
    }
}

fn text<'a>(f: &'a Option<Cow<'a, str>>) -> &'a str {
    f.as_deref().unwrap_or("")
}

impl RuleLogic for Sentinel {
    type Key = Key;
    type Item = Item;
    type Group = Group;

    fn new(config: &RuleConfig) -> Self {
        Sentinel::new(config)
    }

    fn select(&self, event: &Event<'_>) -> Option<(Key, Item)> {
        let ua = text(&event.user_agent);
        if !is_aws_cli(ua) {
            return None;
        }
        let command = extract_command(ua, self.profile);
        if !self.is_suspicious(command) {
            return None;
        }
        let who = attribute(event, self.profile);
        let key = Key::new([
            text(&event.recipient_account),
            &who.account_name,
            &who.upn_suffix,
            text(&event.user_name),
            text(&event.source_ip),
            text(&event.mfa),
        ]);
        let item = Item {
            command: command.to_owned(),
            event_name: text(&event.event_name).to_owned(),
        };
        Some((key, item))
    }

    fn add(&self, group: &mut Group, item: Item, max_list: usize) {
        insert_sorted(&mut group.distinct_commands, &item.command);
        insert_sorted(&mut group.distinct_events, &item.event_name);
        if group.commands.len() < max_list {
            group.commands.push(item.command.into_boxed_str());
            group.events.push(item.event_name.into_boxed_str());
        } else {
            group.truncated = true;
        }
    }

    fn check(&self, group: &Group) -> bool {
        is_sorted_set(&group.distinct_commands)
            && is_sorted_set(&group.distinct_events)
            && group.commands.len() == group.events.len()
            && !group.distinct_commands.is_empty()
    }

    fn encode(&self, key: &Key, item: &Item, out: &mut Vec<u8>) {
        for f in key.fields() {
            wire::put_str(out, f);
        }
        wire::put_str(out, &item.command);
        wire::put_str(out, &item.event_name);
    }

    fn decode(&self, r: &mut Reader<'_>) -> Result<(Key, Item), WireError> {
        let mut f = [""; 6];
        for slot in &mut f {
            *slot = r.str()?;
        }
        let key = Key::new(f);
        let item = Item {
            command: r.str()?.to_owned(),
            event_name: r.str()?.to_owned(),
        };
        Ok((key, item))
    }

    fn measure(&self, group: &Group) -> u64 {
        group.distinct_commands.len() as u64
    }

    fn alert(&self, window_start: i64, window_end: i64, key: &Key, group: &Group) -> Alert {
        let [
            recipient_account_id,
            account_name,
            account_upn_suffix,
            user_identity_user_name,
            source_ip_address,
            session_mfa_authenticated,
        ] = key.fields();
        let row = Row {
            TimeGenerated: format_time(window_start, false),
            RecipientAccountId: recipient_account_id,
            AccountName: account_name,
            AccountUPNSuffix: account_upn_suffix,
            UserIdentityUserName: user_identity_user_name,
            SourceIpAddress: source_ip_address,
            SessionMfaAuthenticated: session_mfa_authenticated,
            CommadCount: group.distinct_commands.len(),
            EventCount: group.distinct_events.len(),
            commands: &group.commands,
            Events: &group.events,
        };
        let details = CustomDetails {
            SuspiciousCommand: &group.commands,
            AWSUser: user_identity_user_name,
            AWSUserIp: source_ip_address,
        };
        let name = Rule::Sentinel.name();
        Alert {
            rule: name.to_owned(),
            rule_id: RULE_ID.to_owned(),
            id: alert_id(name, window_start, window_end, key),
            window_start,
            window_end,
            row: serde_json::to_string(&row).expect("a row of strings serialises"),
            title: format!(
                "Suspicious AWS CLI reconnaissance by {} - {} commands",
                account_name, row.CommadCount
            ),
            description: format!(
                "User {} executed {} suspicious AWS CLI reconnaissance commands from {} within 1 minute window.",
                account_name, row.CommadCount, source_ip_address
            ),
            severity: "Medium".to_owned(),
            tactics: strings(TACTICS),
            techniques: strings(TECHNIQUES),
            entities: vec![Entity {
                kind: "Account".to_owned(),
                fields: vec![
                    ("Name".to_owned(), account_name.to_owned()),
                    ("UPNSuffix".to_owned(), account_upn_suffix.to_owned()),
                    (
                        "CloudAppAccountId".to_owned(),
                        recipient_account_id.to_owned(),
                    ),
                ],
            }],
            custom_details: serde_json::to_string(&details).expect("details serialise"),
            truncated: group.truncated,
            kind: AlertKind::Final,
            suppressed: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_event;

    const LEGACY: &str = "aws-cli/2.2.23 Python/3.8.8 Linux/4.14.133-113.105.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/iam.list-users";
    const CURRENT: &str = "aws-cli/2.31.1 md/awscrt#0.27.6 ua/2.1 os/linux#6.1 md/arch#x86_64 lang/python#3.13.7 md/prompt#off md/command#iam.list-users";

    fn rule(profile: Profile) -> Sentinel {
        Sentinel::new(&RuleConfig::single(Rule::Sentinel, profile))
    }

    #[test]
    fn step1_user_agent_prefix_ignores_case() {
        assert!(is_aws_cli(LEGACY));
        assert!(is_aws_cli("AWS-CLI/1.18.0 Python/3"));
        assert!(is_aws_cli("aws-cli"));
        assert!(!is_aws_cli("[aws-cli/1.18.0 Python/3]"));
        assert!(!is_aws_cli("aws-cl"));
        assert!(!is_aws_cli("Boto3/1.9 aws-cli/2"));
        assert!(!is_aws_cli(""));
    }

    #[test]
    fn step2_legacy_form_in_both_profiles() {
        for p in [Profile::Default, Profile::Seed] {
            assert_eq!(extract_command(LEGACY, p), "iam.list-users");
        }
        // Up to the next marker, not past it; the rest of the string otherwise.
        assert_eq!(
            extract_command(
                "aws-cli/2 prompt/off command/a.b x off command/c.d",
                Profile::Seed
            ),
            "a.b x "
        );
        assert_eq!(
            extract_command("aws-cli/2 prompt/off command/a.b extra", Profile::Seed),
            "a.b extra"
        );
        assert_eq!(
            extract_command("aws-cli/1.18 Python/3", Profile::Default),
            ""
        );
    }

    #[test]
    fn step2_current_form_only_in_default_profile() {
        assert_eq!(extract_command(CURRENT, Profile::Default), "iam.list-users");
        assert_eq!(extract_command(CURRENT, Profile::Seed), "");
        assert_eq!(
            extract_command("aws-cli/2 md/command#s3.ls md/x#y", Profile::Default),
            "s3.ls"
        );
        // The legacy marker wins when both are present.
        assert_eq!(
            extract_command(
                "aws-cli/2 md/command#a.b prompt/off command/c.d",
                Profile::Default
            ),
            "c.d"
        );
    }

    #[test]
    fn step3_has_is_a_whole_term_match() {
        assert!(has_term("ec2.describe-vpc", "ec2.describe-vpc"));
        assert!(has_term(
            "ec2.describe-vpc-peering-connections",
            "ec2.describe-vpc"
        ));
        assert!(!has_term("ec2.describe-vpcs", "ec2.describe-vpc"));
        assert!(!has_term("xec2.describe-vpc", "ec2.describe-vpc"));
        assert!(has_term("x.ec2.describe-vpc", "ec2.describe-vpc"));
        // A later occurrence counts when the first is not a whole term.
        assert!(has_term(
            "ec2.describe-vpcs ec2.describe-vpc",
            "ec2.describe-vpc"
        ));
        assert!(!has_term("", "ec2.describe-vpc"));

        let r = rule(Profile::Default);
        assert!(r.is_suspicious("ec2.describe-vpc"));
        assert!(r.is_suspicious("ec2.describe-vpcs"));
        assert!(r.is_suspicious("ec2.describe-vpc-peering-connections"));
        assert!(r.is_suspicious("EC2.Describe-VPCs"));
        assert!(!r.is_suspicious("ec2.describe-instances"));
        assert!(!r.is_suspicious(""));
    }

    #[test]
    fn step3_seed_profile_keeps_the_missing_comma() {
        let seed = rule(Profile::Seed);
        assert!(!seed.is_suspicious("iam.get-user"));
        assert!(!seed.is_suspicious("iam.list-access-keys"));
        assert!(seed.is_suspicious("iam.get-useriam.list-access-keys"));
        let default = rule(Profile::Default);
        assert!(default.is_suspicious("iam.get-user"));
        assert!(default.is_suspicious("iam.list-access-keys"));
        assert!(!default.is_suspicious("iam.get-useriam.list-access-keys"));
        // `-` is not a letter or digit, so `iam.get-user` is a whole term of
        // `iam.get-user-policy`, as KQL `has` would say.
        assert!(default.is_suspicious("iam.get-user-policy"));
    }

    fn ev(json: &str) -> Event<'_> {
        parse_event(json).unwrap()
    }

    #[test]
    fn step4_empty_arn_falls_back_to_the_first_resource_arn() {
        let e = ev(
            r#"{"eventTime":"2024-01-01T00:00:00Z","userIdentity":{"arn":""},
            "resources":[{"ARN":"arn:aws:iam::1:role/path/deploy"},{"ARN":"arn:other"}]}"#,
        );
        let a = attribute(&e, Profile::Default);
        assert_eq!(a.user_identity_arn, "arn:aws:iam::1:role/path/deploy");
        assert_eq!(a.account_name, "deploy");
        let none = ev(r#"{"eventTime":"2024-01-01T00:00:00Z","userIdentity":{}}"#);
        let a = attribute(&none, Profile::Default);
        assert_eq!(
            (a.user_identity_arn.as_ref(), a.account_name.as_ref()),
            ("", "")
        );
        let no_slash = ev(
            r#"{"eventTime":"2024-01-01T00:00:00Z","userIdentity":{"arn":"arn:aws:iam::1:root"}}"#,
        );
        assert_eq!(
            attribute(&no_slash, Profile::Default).account_name,
            "arn:aws:iam::1:root"
        );
    }

    #[test]
    fn step4_account_name_precedence() {
        let named = ev(
            r#"{"eventTime":"2024-01-01T00:00:00Z","userIdentity":{"arn":"arn:aws:iam::1:user/fromarn","userName":"bob"}}"#,
        );
        assert_eq!(attribute(&named, Profile::Default).account_name, "bob");
        let anon = ev(
            r#"{"eventTime":"2024-01-01T00:00:00Z","userIdentity":{"principalId":"Anonymous","userName":"bob"}}"#,
        );
        assert_eq!(attribute(&anon, Profile::Default).account_name, "Anonymous");
        let anon_case = ev(
            r#"{"eventTime":"2024-01-01T00:00:00Z","userIdentity":{"principalId":"anonymous","arn":"a/x"}}"#,
        );
        assert_eq!(attribute(&anon_case, Profile::Default).account_name, "x");
    }

    #[test]
    fn step4_upn_suffix_in_default_profile_only() {
        let e = ev(
            r#"{"eventTime":"2024-01-01T00:00:00Z","userIdentity":{"arn":"arn:aws:sts::1:assumed-role/R/alice@example.com"}}"#,
        );
        let d = attribute(&e, Profile::Default);
        assert_eq!(
            (d.account_name.as_ref(), d.upn_suffix.as_ref()),
            ("alice", "example.com")
        );
        let s = attribute(&e, Profile::Seed);
        assert_eq!(
            (s.account_name.as_ref(), s.upn_suffix.as_ref()),
            ("alice", "")
        );
        let two = ev(r#"{"eventTime":"2024-01-01T00:00:00Z","userIdentity":{"userName":"a@b@c"}}"#);
        let d = attribute(&two, Profile::Default);
        assert_eq!((d.account_name.as_ref(), d.upn_suffix.as_ref()), ("a", "b"));
    }

    #[test]
    fn step5_key_reads_missing_fields_as_empty() {
        let r = rule(Profile::Default);
        let json = format!(
            r#"{{"eventTime":"2024-01-01T00:00:00Z","eventName":"ListUsers","userAgent":"{LEGACY}"}}"#
        );
        let e = ev(&json);
        let (key, item) = r.select(&e).unwrap();
        assert_eq!(key.recipient_account_id(), "");
        assert_eq!(key.session_mfa_authenticated(), "");
        assert_eq!(item.command, "iam.list-users");
        assert_eq!(item.event_name, "ListUsers");
    }

    #[test]
    fn step5_aggregates_count_distinct_and_keep_lists_in_order() {
        let r = rule(Profile::Default);
        let mut g = Group::default();
        for (c, e) in [("a", "X"), ("b", "X"), ("a", "Y"), ("c", "")] {
            r.add(
                &mut g,
                Item {
                    command: c.into(),
                    event_name: e.into(),
                },
                3,
            );
        }
        assert_eq!(r.measure(&g), 3);
        assert_eq!(g.distinct_events.len(), 3); // "X", "Y" and ""
        assert_eq!(g.commands, ["a".into(), "b".into(), "a".into()]);
        assert_eq!(g.events, ["X".into(), "X".into(), "Y".into()]);
        assert_eq!(g.distinct_commands, ["a".into(), "b".into(), "c".into()]);
        assert!(g.truncated);
    }

    #[test]
    fn packed_keys_order_serialise_and_travel_like_six_fields() {
        let a = Key::new(["1", "ab", "", "", "", ""]);
        let b = Key::new(["1", "a", "b", "", "", ""]);
        // As a tuple: ("1", "a", …) < ("1", "ab", …), whatever the packed text.
        assert!(b < a);
        assert_ne!(a, b);
        assert_eq!(a.fields(), ["1", "ab", "", "", "", ""]);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(
            json,
            r#"{"recipient_account_id":"1","account_name":"ab","account_upn_suffix":"","user_identity_user_name":"","source_ip_address":"","session_mfa_authenticated":""}"#
        );
        assert_eq!(serde_json::from_str::<Key>(&json).unwrap(), a);
        let r = rule(Profile::Default);
        let item = Item {
            command: "c".into(),
            event_name: "E".into(),
        };
        let mut out = Vec::new();
        r.encode(&a, &item, &mut out);
        let mut reader = Reader::new(&out);
        assert_eq!(r.decode(&mut reader).unwrap(), (a, item));
        assert!(reader.is_empty());
    }

    #[test]
    fn alert_row_has_the_query_field_names_in_order() {
        let r = rule(Profile::Default);
        let mut g = Group::default();
        r.add(
            &mut g,
            Item {
                command: "iam.list-users".into(),
                event_name: "ListUsers".into(),
            },
            10,
        );
        let key = Key::new(["111", "alice", "example.com", "", "1.2.3.4", "false"]);
        let a = r.alert(60_000, 120_000, &key, &g);
        assert_eq!(
            a.row,
            r#"{"TimeGenerated":"1970-01-01T00:01:00Z","RecipientAccountId":"111","AccountName":"alice","AccountUPNSuffix":"example.com","UserIdentityUserName":"","SourceIpAddress":"1.2.3.4","SessionMfaAuthenticated":"false","CommadCount":1,"EventCount":1,"commands":["iam.list-users"],"Events":["ListUsers"]}"#
        );
        assert_eq!(
            a.title,
            "Suspicious AWS CLI reconnaissance by alice - 1 commands"
        );
        assert_eq!(
            a.description,
            "User alice executed 1 suspicious AWS CLI reconnaissance commands from 1.2.3.4 within 1 minute window."
        );
        assert_eq!(a.severity, "Medium");
        assert_eq!(a.techniques.len(), 7);
        assert_eq!(
            a.custom_details,
            r#"{"SuspiciousCommand":["iam.list-users"],"AWSUser":"","AWSUserIp":"1.2.3.4"}"#
        );
        assert_eq!(
            a.entities[0].fields[2],
            ("CloudAppAccountId".into(), "111".into())
        );
    }
}
