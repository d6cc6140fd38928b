//! The compiler's refusals and what it builds, on small rule files.

use super::*;
use crate::event::parse_event_with;

fn file(text: &str) -> Vec<RuleFile> {
    vec![RuleFile {
        name: "t.yml".into(),
        text: text.into(),
    }]
}

const IAM_LIST: &str = r#"
title: IAM listing
id: 11111111-1111-1111-1111-111111111111
name: iam_list
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventSource: iam.amazonaws.com
    eventName|startswith: List
  filter_svc:
    userIdentity.type: AWSService
  condition: selection and not filter_svc
---
title: IAM user enumeration
id: 22222222-2222-2222-2222-222222222222
name: iam_enum
level: medium
tags:
  - attack.discovery
  - attack.t1087.004
correlation:
  type: event_count
  rules:
    - iam_list
  group-by:
    - userIdentity.arn
    - recipientAccountId
  timespan: 10m
  window: tumbling
  condition:
    gt: 2
"#;

#[test]
fn a_correlation_compiles_to_one_rule_with_its_window_and_threshold() {
    let c = compile(&file(IAM_LIST)).unwrap();
    assert_eq!(c.rules.len(), 1);
    let r = &c.rules[0];
    assert_eq!(r.name, "iam_enum");
    assert_eq!(r.severity, "Medium");
    assert_eq!(r.tactics, ["Discovery"]);
    assert_eq!(r.techniques, ["T1087.004"]);
    match &r.kind {
        DataKind::Correlation {
            window_ms,
            threshold,
            group_by,
            ..
        } => {
            assert_eq!(*window_ms, 600_000);
            assert_eq!(threshold, &Threshold(vec![(Op::Gt, 2)]));
            assert_eq!(group_by.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    // Needles: the event source, and the name prefix.
    assert_eq!(
        r.needles,
        vec![
            vec!["iam.amazonaws.com".to_owned()],
            vec!["list".to_owned()]
        ]
    );
}

#[test]
fn the_condition_matches_as_sigma_says() {
    let c = compile(&file(IAM_LIST)).unwrap();
    let r = &c.rules[0];
    let ev = |t: &str| {
        let text = format!(
            r#"{{"eventTime":"2024-01-01T00:00:00Z","eventSource":"iam.amazonaws.com",{t}}}"#
        );
        let e = parse_event_with(&text, &c.schema).unwrap().extra.clone();
        let ev = parse_event_with(&text, &c.schema).unwrap();
        let _ = e;
        r.filter.eval(&ev, crate::Profile::Default)
    };
    assert!(ev(
        r#""eventName":"ListUsers","userIdentity":{"type":"IAMUser"}"#
    ));
    assert!(ev(r#""eventName":"listusers""#));
    assert!(!ev(r#""eventName":"GetUser""#));
    assert!(!ev(
        r#""eventName":"ListUsers","userIdentity":{"type":"AWSService"}"#
    ));
}

#[test]
fn unsupported_constructs_are_refused_naming_them() {
    let refuse = |text: &str, what: &str| {
        let e = compile(&file(text)).unwrap_err();
        assert!(e.message.contains(what), "{what}: {e}");
        assert_eq!(e.file, "t.yml");
    };
    // No window named: sliding, which takes no upper bound.
    assert!(compile(&file(&IAM_LIST.replace("window: tumbling", ""))).is_ok());
    refuse(
        &IAM_LIST.replace("window: tumbling", "window: session\n  gap: 5m"),
        "session",
    );
    refuse(&IAM_LIST.replace("event_count", "temporal"), "temporal");
    refuse(
        &IAM_LIST.replace("eventName|startswith", "eventName|base64"),
        "|base64",
    );
    refuse(
        &IAM_LIST.replace("- iam_list", "- nothing_here"),
        "nothing_here",
    );
    refuse(
        "title: x\nlogsource: {}\ndetection:\n  keywords:\n    - foo\n  condition: keywords\n",
        "keyword",
    );
    let e = compile(&file(
        &IAM_LIST.replace("eventName|startswith", "eventName|base64"),
    ))
    .unwrap_err();
    assert_eq!(e.line, Some(11), "{e}");
    assert_eq!(e.rule.as_deref(), Some("iam_list"));
}

#[test]
fn filters_apply_by_id_or_by_name() {
    for target in ["iam_list", "11111111-1111-1111-1111-111111111111"] {
        let text = format!(
            "{IAM_LIST}---\ntitle: not alice\nname: no_alice\nfilter:\n  rules:\n    - {target}\n  selection:\n    userIdentity.userName: alice\n  condition: not selection\n"
        );
        let c = compile(&file(&text)).unwrap();
        assert_eq!(
            c.filters,
            vec![("no_alice".to_owned(), vec!["iam_list".to_owned()])]
        );
        let r = &c.rules[0];
        let text = r#"{"eventTime":"2024-01-01T00:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","userIdentity":{"userName":"alice"}}"#;
        let ev = parse_event_with(text, &c.schema).unwrap();
        assert!(!r.filter.eval(&ev, crate::Profile::Default), "{target}");
    }
}

#[test]
fn a_lone_detection_rule_alerts_per_event_and_reads_its_paths() {
    let text = "title: bucket acl\nname: acl\nlogsource: {product: aws}\nfields: [requestParameters.bucketName]\ndetection:\n  sel:\n    eventName: GetBucketAcl\n    requestParameters.bucketName|contains: secret\n  condition: sel\n";
    let c = compile(&file(text)).unwrap();
    assert_eq!(c.rules.len(), 1);
    assert!(matches!(c.rules[0].kind, DataKind::Event { .. }));
    assert_eq!(c.schema.slots(), 1);
    let rec = r#"{"eventTime":"2024-01-01T00:00:00Z","eventName":"GetBucketAcl","requestParameters":{"bucketName":"my-SECRET-b"}}"#;
    let ev = parse_event_with(rec, &c.schema).unwrap();
    assert!(c.rules[0].filter.eval(&ev, crate::Profile::Default));
}

#[test]
fn limits_are_enforced() {
    let deep = format!(
        "title: x\nlogsource: {{}}\ndetection:\n  a:\n    eventName: X\n  condition: {}a{}\n",
        "(".repeat(MAX_CONDITION_DEPTH + 1),
        ")".repeat(MAX_CONDITION_DEPTH + 1)
    );
    assert!(compile(&file(&deep)).unwrap_err().message.contains("nest"));
    let big = "x".repeat(MAX_RULE_FILE_BYTES + 1);
    assert!(compile(&file(&big)).unwrap_err().message.contains("limit"));
    let re = format!(
        "title: x\nlogsource: {{}}\ndetection:\n  a:\n    eventName|re: '{}'\n  condition: a\n",
        "(a|b){1000}".repeat(3)
    );
    assert!(
        compile(&file(&re))
            .unwrap_err()
            .message
            .contains("regular expression")
    );
}

#[test]
fn deeply_nested_yaml_is_refused_not_a_crash() {
    for depth in [200, 20_000] {
        let text = format!(
            "title: x\nlogsource: {{}}\ndetection:\n  a:\n    eventName: {}1{}\n  condition: a\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        // Refused or compiled, never a stack overflow.
        let _ = compile(&file(&text));
        let nested = format!(
            "title: x\nlogsource: {{}}\ndetection:\n  a:\n{}\n  condition: a\n",
            (0..depth.min(2000))
                .map(|i| format!("{}- eventName: X", "  ".repeat(i + 2)))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let _ = compile(&file(&nested));
    }
}
