//! Rule 2: Elastic "AWS Discovery API Calls via CLI from a Single Resource".
//!
//! ES|QL has nulls and a `where` whose condition is null drops the row, so
//! every step here treats a missing field (`None`) as a drop unless the
//! specification says otherwise. String comparisons are exact-case.

use serde::Serialize;

use crate::alert::{Alert, AlertKind, alert_id, strings};
use crate::config::{Rule, RuleConfig};
use crate::event::{Event, Shape};
use crate::rules::RuleLogic;
use crate::rules::sentinel::{insert_sorted, is_sorted_set};
use crate::time::format_time;
use crate::wire::{self, Reader, WireError};

/// The upstream rule id (elastic/detection-rules).
pub const RULE_ID: &str = "74f45152-9aee-11ef-b0a5-f661ea17fbcd";
pub const TITLE: &str = "AWS Discovery API Calls via CLI from a Single Resource";
pub const TACTICS: &[&str] = &["Discovery"];
pub const TECHNIQUES: &[&str] = &["T1580"];
const PREFIXES: &[&str] = &["Describe", "Get", "List", "Generate"];

/// Step 1: `event.dataset == "aws.cloudtrail"`. Raw CloudTrail and Sentinel
/// input are CloudTrail by construction; an ECS document is checked when it
/// carries the field.
pub fn is_cloudtrail_dataset(event: &Event<'_>) -> bool {
    match (&event.shape, event.dataset.as_deref()) {
        (Shape::Ecs, Some(d)) => d == "aws.cloudtrail",
        _ => true,
    }
}

/// Step 4: `user_agent.name == "aws-cli"`. ECS documents may carry the
/// parsed name; otherwise it is derived: the agent starts with `aws-cli/`,
/// exact case (so `[aws-cli/…]` and `AWS-CLI/…` are not `aws-cli`).
pub fn is_aws_cli(event: &Event<'_>) -> bool {
    match event.ua_name.as_deref() {
        Some(name) => name == "aws-cli",
        None => event
            .user_agent
            .as_deref()
            .is_some_and(|ua| ua.starts_with("aws-cli/")),
    }
}

/// Steps 5 and 6: not `DescribeCapacityReservations`, and a discovery
/// verb prefix (`Describe`, `Get`, `List`, `Generate`), exact case.
pub fn is_discovery_action(name: &str) -> bool {
    name != "DescribeCapacityReservations" && PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Step 7: the `roles` piece of `dissect arn
/// "%{}::%{owner}:%{type}/%{roles}"`, or `None` when the ARN does not fit.
pub fn dissect_roles(arn: &str) -> Option<&str> {
    let b = arn.as_bytes();
    let at = memchr::memchr_iter(b':', b).find(|&i| b.get(i + 1) == Some(&b':'))?;
    let rest = &arn[at + 2..];
    let rest = &rest[rest.find(':')? + 1..];
    Some(&rest[rest.find('/')? + 1..])
}

/// The Elastic rule, configured.
#[derive(Debug, Clone)]
pub struct Elastic {
    providers: Vec<String>,
}

impl Elastic {
    /// The rule under `config`.
    pub fn new(config: &RuleConfig) -> Self {
        Elastic {
            providers: config.providers.clone(),
        }
    }
}

/// A group's aggregate: the distinct event names, sorted.
pub type Group = Vec<Box<str>>;

#[derive(Serialize)]
struct Row<'a> {
    #[serde(rename = "Esql.time_window_date_trunc")]
    window: String,
    #[serde(rename = "aws.cloudtrail.user_identity.arn")]
    arn: &'a str,
    #[serde(rename = "Esql.event_action_count_distinct")]
    count: usize,
}

impl RuleLogic for Elastic {
    type Key = String;
    type Item = String;
    type Group = Group;

    fn new(config: &RuleConfig) -> Self {
        Elastic::new(config)
    }

    fn select(&self, event: &Event<'_>) -> Option<(String, String)> {
        if !is_cloudtrail_dataset(event) {
            return None;
        }
        let source = event.event_source.as_deref()?;
        if !self.providers.iter().any(|p| p == source) {
            return None;
        }
        if event.identity_type.as_deref()? == "AWSService" {
            return None;
        }
        if !is_aws_cli(event) {
            return None;
        }
        let name = event.event_name.as_deref()?;
        if !is_discovery_action(name) {
            return None;
        }
        let arn = event.identity_arn.as_deref()?;
        if dissect_roles(arn)?.starts_with("AWSServiceRoleForConfig") {
            return None;
        }
        Some((arn.to_owned(), name.to_owned()))
    }

    fn add(&self, group: &mut Group, item: String, _max_list: usize) {
        insert_sorted(group, &item);
    }

    fn check(&self, group: &Group) -> bool {
        is_sorted_set(group) && !group.is_empty()
    }

    fn encode(&self, key: &String, item: &String, out: &mut Vec<u8>) {
        wire::put_str(out, key);
        wire::put_str(out, item);
    }

    fn decode(&self, r: &mut Reader<'_>) -> Result<(String, String), WireError> {
        Ok((r.str()?.to_owned(), r.str()?.to_owned()))
    }

    fn measure(&self, group: &Group) -> u64 {
        group.len() as u64
    }

    fn alert(&self, window_start: i64, window_end: i64, key: &String, group: &Group) -> Alert {
        let row = Row {
            window: format_time(window_start, false),
            arn: key,
            count: group.len(),
        };
        let name = Rule::Elastic.name();
        Alert {
            rule: name.to_owned(),
            rule_id: RULE_ID.to_owned(),
            id: alert_id(name, window_start, window_end, key),
            window_start,
            window_end,
            row: serde_json::to_string(&row).expect("a row of strings serialises"),
            title: TITLE.to_owned(),
            description: format!(
                "{key} made {} distinct AWS discovery API calls (Describe, Get, List, Generate) \
                 via the AWS CLI within one {} second window.",
                group.len(),
                (window_end - window_start) / 1000
            ),
            severity: "Low".to_owned(),
            tactics: strings(TACTICS),
            techniques: strings(TECHNIQUES),
            entities: Vec::new(),
            custom_details: "{}".to_owned(),
            truncated: false,
            kind: AlertKind::Final,
            suppressed: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;
    use crate::event::parse_event;

    fn rule() -> Elastic {
        Elastic::new(&RuleConfig::single(Rule::Elastic, Profile::Default))
    }

    fn record(identity: &str, ua: &str, source: &str, name: &str) -> String {
        format!(
            r#"{{"eventTime":"2024-01-01T00:00:01Z","userIdentity":{identity},"userAgent":"{ua}","eventSource":"{source}","eventName":"{name}"}}"#
        )
    }

    const USER: &str = r#"{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice"}"#;

    fn selected(json: &str) -> Option<(String, String)> {
        rule().select(&parse_event(json).unwrap())
    }

    #[test]
    fn dissect_follows_the_pattern() {
        assert_eq!(dissect_roles("arn:aws:iam::123:user/alice"), Some("alice"));
        assert_eq!(
            dissect_roles("arn:aws:sts::123:assumed-role/AWSServiceRoleForConfig/s"),
            Some("AWSServiceRoleForConfig/s")
        );
        assert_eq!(dissect_roles("arn:aws:iam::123:root"), None);
        assert_eq!(dissect_roles("no-colons"), None);
        assert_eq!(dissect_roles("arn:aws:iam:::/"), Some(""));
    }

    #[test]
    fn counts_an_aws_cli_discovery_call() {
        let r = selected(&record(
            USER,
            "aws-cli/2.15 Python/3",
            "iam.amazonaws.com",
            "ListUsers",
        ));
        assert_eq!(
            r,
            Some((
                "arn:aws:iam::123456789012:user/alice".into(),
                "ListUsers".into()
            ))
        );
    }

    #[test]
    fn nulls_and_near_misses_drop_the_event() {
        let cli = "aws-cli/2.15 Python/3";
        let iam = "iam.amazonaws.com";
        // Missing identity type is null: dropped.
        assert_eq!(
            selected(&record(
                r#"{"arn":"arn:aws:iam::1:user/a"}"#,
                cli,
                iam,
                "ListUsers"
            )),
            None
        );
        assert_eq!(
            selected(&record(
                r#"{"type":"AWSService","arn":"arn:aws:iam::1:user/a"}"#,
                cli,
                iam,
                "ListUsers"
            )),
            None
        );
        // Root ARN does not fit the dissect pattern.
        assert_eq!(
            selected(&record(
                r#"{"type":"Root","arn":"arn:aws:iam::1:root"}"#,
                cli,
                iam,
                "ListUsers"
            )),
            None
        );
        // Config service-role sessions.
        assert_eq!(
            selected(&record(
                r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/AWSServiceRoleForConfig/x"}"#,
                cli,
                iam,
                "ListUsers"
            )),
            None
        );
        // Bracketed and upper-case agents are not `aws-cli`.
        assert_eq!(
            selected(&record(USER, "[aws-cli/1.18.0 Python/3]", iam, "ListUsers")),
            None
        );
        assert_eq!(
            selected(&record(USER, "AWS-CLI/2.15", iam, "ListUsers")),
            None
        );
        // Provider and verb.
        assert_eq!(
            selected(&record(USER, cli, "sts.amazonaws.com", "GetCallerIdentity")),
            None
        );
        assert_eq!(selected(&record(USER, cli, iam, "CreateUser")), None);
        assert_eq!(
            selected(&record(
                USER,
                cli,
                "ec2.amazonaws.com",
                "DescribeCapacityReservations"
            )),
            None
        );
        assert_eq!(selected(&record(USER, cli, iam, "listUsers")), None);
        assert!(selected(&record(USER, cli, "kms.amazonaws.com", "GenerateDataKey")).is_some());
    }

    #[test]
    fn ecs_dataset_and_parsed_agent_name_are_honoured() {
        let doc = |dataset: &str, name: &str| {
            format!(
                r#"{{"@timestamp":"2024-01-01T00:00:01Z","event":{{"action":"ListUsers","provider":"iam.amazonaws.com"{dataset}}},
                "user_agent":{{"original":"aws-cli/2"{name}}},
                "aws":{{"cloudtrail":{{"user_identity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"}}}}}}}}"#
            )
        };
        assert!(selected(&doc("", "")).is_some());
        assert!(selected(&doc(r#","dataset":"aws.cloudtrail""#, "")).is_some());
        assert!(selected(&doc(r#","dataset":"aws.s3access""#, "")).is_none());
        assert!(selected(&doc("", r#","name":"Boto3""#)).is_none());
    }
}
