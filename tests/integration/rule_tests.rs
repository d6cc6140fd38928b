//! `recon rules test`: the catalogue passes its own cases; a broken rule
//! or expectation fails with a diff (exit 1); malformed cases refuse the
//! file (exit 2), naming it.

use std::path::{Path, PathBuf};

use crate::cli::recon;

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

/// A scratch directory of its own for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("recon-rule-tests-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies a catalogue file and its side file into `dir`, editing each.
fn copy_edited(
    dir: &Path,
    stem: &str,
    rule: impl Fn(String) -> String,
    side: impl Fn(String) -> String,
) -> PathBuf {
    let read =
        |ext: &str| std::fs::read_to_string(rules_dir().join(format!("{stem}.{ext}"))).unwrap();
    let file = dir.join(format!("{stem}.yml"));
    std::fs::write(&file, rule(read("yml"))).unwrap();
    std::fs::write(
        dir.join(format!("{stem}.tests.toml")),
        side(read("tests.toml")),
    )
    .unwrap();
    file
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every catalogue file carries cases, every correlation passes at least
/// two (one that alerts, one that does not), and no rule is untested.
#[test]
fn the_catalogue_passes_its_own_cases() {
    let dir = rules_dir();
    let out = recon(
        &["rules", "test", "--require-tests", dir.to_str().unwrap()],
        None,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.lines().all(|l| l.starts_with("PASS ")), "{stdout}");
    let listed = recon(&["rules", "list", "--rules", "catalogue", "--json"], None);
    let correlations: Vec<String> = text(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "correlation")
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(correlations.len(), 15, "{correlations:?}");
    for c in &correlations {
        let cases = stdout
            .lines()
            .filter(|l| l.contains(&format!(": {c}: ")))
            .count();
        assert!(cases >= 2, "{c} has {cases} cases:\n{stdout}");
    }
    let passed = stdout.lines().count();
    assert!(
        stderr.contains(&format!("recon: {passed} cases: {passed} passed, 0 failed")),
        "{stderr}"
    );
}

/// A threshold changed by one fails the cases at the threshold, with the
/// count and the row that went missing; an expected row that is wrong
/// shows beside the row given, member by member.
#[test]
fn a_broken_rule_or_expectation_fails_with_a_diff() {
    let dir = scratch("broken");
    let stem = "aws_iam_enumeration";
    // `gt: 50` read as `gt: 51`: the 51-call burst no longer alerts.
    let file = copy_edited(&dir, stem, |t| t.replace("gt: 50", "gt: 51"), |t| t);
    let out = recon(&["rules", "test", file.to_str().unwrap()], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let name = format!(
        "{}: aws-iam-user-enumeration: 51 IAM List calls",
        file.display()
    );
    assert!(stdout.contains(&format!("FAIL {name}")), "{stdout}");
    assert!(
        stdout.contains("    alerts: expected 1 alert, got 0\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"      - {"count":51,"userIdentity.accountId":"111111111111","userIdentity.arn":"arn:aws:iam::111111111111:user/alice","userIdentity.principalId":"AIDAEXAMPLEALICE0001"}"#),
        "{stdout}"
    );
    assert!(
        stdout.contains("    events: 51, counted by the rule 51, not matching it 0"),
        "{stdout}"
    );
    // The other cases of the file still pass.
    assert!(
        stdout.contains(&format!(
            "PASS {}: aws-iam-recon-access-denied: ",
            file.display()
        )),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains(" 1 failed"),
        "{}",
        text(&out.stderr)
    );

    // `gt: 49`: the 50-call burst alerts, and the case says it must not.
    let file = copy_edited(&dir, stem, |t| t.replace("gt: 50", "gt: 49"), |t| t);
    let stdout = text(&recon(&["rules", "test", file.to_str().unwrap()], None).stdout);
    assert!(
        stdout.contains(&format!(
            "FAIL {}: aws-iam-user-enumeration: 50 IAM List calls\n    alerts: expected none (expect: no-match), got 1\n    got:\n      {{\"userIdentity.principalId\":\"AIDAEXAMPLEALICE0001\",\"userIdentity.arn\":\"arn:aws:iam::111111111111:user/alice\",\"userIdentity.accountId\":\"111111111111\",\"count\":50}}  (window from 2023-11-14T22:10:00Z)",
            file.display()
        )),
        "{stdout}"
    );

    // The rule is right and the side file expects 52: the row differs.
    let file = copy_edited(&dir, stem, |t| t, |t| t.replace("count = 51", "count = 52"));
    let out = recon(&["rules", "test", file.to_str().unwrap()], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("      count: expected 52, got 51"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "    rows (= as expected, - expected but not given, + given but not expected):"
        ),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

const RULE: &str = "title: List calls
name: list_calls
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName|startswith: List
  condition: sel
---
title: Many List calls
name: many-lists
correlation:
  type: event_count
  rules: [list_calls]
  group-by: [userIdentity.arn]
  timespan: 5m
  window: tumbling
  condition: {gte: 2}
";

const CASES: &str = "rsigma.exemplars:
  - name: two calls
    expect: match
    events:
      - {offset: 0s, event: &e {eventName: ListUsers, userIdentity: {arn: alice}}}
      - {offset: 1s, event: *e}
";

/// Malformed cases, cases on a filter, and a side file naming a case the
/// file does not have refuse the file (exit 2), naming it and what is
/// wrong; a file with no case is reported, and fails only under
/// `--require-tests`; a case whose event cannot be read fails.
#[test]
fn bad_cases_are_refused_and_rules_without_cases_reported() {
    let dir = scratch("refused");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let good = write("good.yml", &format!("{RULE}{CASES}"));
    let out = recon(&["rules", "test", good.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("PASS {}: many-lists: two calls\n", good.display())
    );

    let bad = write(
        "bad.yml",
        &format!("{RULE}{}", CASES.replace("expect: match", "expect: maybe")),
    );
    let out = recon(
        &[
            "rules",
            "test",
            bad.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:18: rule \"many-lists\": field \"rsigma.exemplars\": rsigma.exemplars[0].expect: invalid expect 'maybe'; expected match or no-match",
            bad.display()
        )),
        "{err}"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("REFUSED {}", bad.display())),
        "{stdout}"
    );
    // The other file still runs.
    assert!(
        stdout.contains(&format!("PASS {}", good.display())),
        "{stdout}"
    );

    let filter = write(
        "filter.yml",
        &format!(
            "{RULE}{CASES}---\ntitle: not bob\nlogsource: {{product: aws}}\nfilter:\n  rules: [list_calls]\n  selection:\n    userIdentity.arn: bob\n  condition: not selection\n{}",
            CASES.replace("two calls", "on a filter")
        ),
    );
    let out = recon(&["rules", "test", filter.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("a filter rule carries no cases"),
        "{}",
        text(&out.stderr)
    );

    write(
        "good.tests.toml",
        "[[case]]\nrule = \"many-lists\"\nname = \"three calls\"\nalerts = 1\n",
    );
    let out = recon(&["rules", "test", good.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("rule \"many-lists\" has no case \"three calls\""),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(dir.join("good.tests.toml")).unwrap();

    let untested = write("untested.yml", RULE);
    let out = recon(&["rules", "test", untested.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!(
            "UNTESTED {}: many-lists: no test cases\n",
            untested.display()
        )
    );
    let out = recon(
        &[
            "rules",
            "test",
            "--require-tests",
            untested.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));

    // `userIdentity` as text, where CloudTrail has an object: the record
    // is unreadable and the case fails, saying why.
    let unreadable = write(
        "unreadable.yml",
        &format!(
            "{RULE}{}",
            CASES.replace("userIdentity: {arn: alice}", "userIdentity: alice")
        ),
    );
    let out = recon(&["rules", "test", unreadable.to_str().unwrap()], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("2 of the case's 2 events could not be read"),
        "{stdout}"
    );
    assert!(
        stdout.contains("      recon: case: line 1: rejected (unknown-shape)"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
