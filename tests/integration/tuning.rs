//! Tuning through the `recon` command line: sliding windows and alert
//! suppression, from Sigma files and from the configuration file, through
//! a state file and a resumed run.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn recon(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_recon"))
        .env(
            "RECON_CACHE_DIR",
            std::env::temp_dir().join(format!("recon-tuning-cache-{}", std::process::id())),
        )
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "recon failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A record `s` seconds after 2026-03-01T00:00:00Z.
fn record(s: u32, user: &str, name: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"2026-03-01T{:02}:{:02}:{:02}Z","eventSource":"iam.amazonaws.com","eventName":"{name}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/{user}","userName":"{user}"}},"userAgent":"aws-cli/2.15.0 Python/3.11 Linux/5.10 exe/x86_64 prompt/off command/iam.list-users","sourceIPAddress":"198.51.100.7","recipientAccountId":"111122223333"}}"#,
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Every 20 minutes for three hours, a burst of 70 listings in five
/// minutes, straddling a 10-minute edge: 36 before it and 34 after. (Bursts
/// closer than the window would make one long episode.)
fn straddling_bursts() -> String {
    let mut lines = Vec::new();
    for burst in 0..9u32 {
        let start = burst * 1200 + 450; // 00:07:30, 00:27:30, ...
        for i in 0..70u32 {
            lines.push(record(start + i * 300 / 70, "alice", "ListUsers"));
        }
    }
    lines.join("\n") + "\n"
}

const RULE: &str = r#"
title: IAM listing
name: iam_listing
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventSource: iam.amazonaws.com
    eventName|startswith: List
  condition: sel
---
title: IAM user enumeration
name: iam_enumeration
rsigma.suppress: 1h
correlation:
  type: event_count
  rules: [iam_listing]
  group-by: [userIdentity.arn]
  timespan: 10m
WINDOW
  condition:
    gt: 50
level: medium
"#;

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("recon-tuning-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_sliding_suppressed_sigma_rule_alerts_once_an_hour_on_straddling_bursts() {
    let d = dir("sigma");
    let sliding = d.join("sliding.yml");
    std::fs::write(&sliding, RULE.replace("WINDOW\n", "")).unwrap();
    let tumbling = d.join("tumbling.yml");
    std::fs::write(&tumbling, RULE.replace("WINDOW", "  window: tumbling")).unwrap();
    let trail = straddling_bursts();

    // Tumbling buckets split every burst 35 + 35: nothing alerts.
    let out = recon(
        &["detect", "--rules", tumbling.to_str().unwrap(), "-"],
        &trail,
    );
    assert_eq!(ok(&out), Vec::<Value>::new());

    // Sliding (the default): every burst is an episode; an hour of
    // suppression lets one in three through, each saying what it held.
    let out = recon(
        &["detect", "--rules", sliding.to_str().unwrap(), "-"],
        &trail,
    );
    let alerts = ok(&out);
    let got: Vec<(String, u64)> = alerts
        .iter()
        .map(|a| {
            (
                a["window_end"].as_str().unwrap().to_owned(),
                a["suppressed"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("2026-03-01T00:11:04.001Z".to_owned(), 0),
            ("2026-03-01T01:11:04.001Z".to_owned(), 2),
            ("2026-03-01T02:11:04.001Z".to_owned(), 2),
        ]
    );
    assert!(alerts.iter().all(|a| a["row"]["count"] == 51));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("alerts 3 (6 more held back by suppression)"),
        "{stderr}"
    );

    // The registry says how it runs.
    let out = recon(&["rules", "check", sliding.to_str().unwrap()], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("per 10m sliding window"), "{text}");
    assert!(
        text.contains("a group's repeats held back for 1h after an alert"),
        "{text}"
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_built_in_slides_and_suppresses_from_the_configuration_file_across_a_state_file() {
    let d = dir("builtin");
    let config = d.join("recon.toml");
    std::fs::write(
        &config,
        "rules = [\"elastic\"]\n[elastic]\nwindow = \"sliding\"\nsuppress_seconds = 1800\n",
    )
    .unwrap();
    // Six distinct discovery calls in every minute of an hour, each set
    // across a 10-second edge (seconds 7 to 12).
    let names = [
        "ListUsers",
        "ListRoles",
        "ListGroups",
        "GetUser",
        "ListPolicies",
        "GetAccountSummary",
    ];
    let mut lines = Vec::new();
    for minute in 0..60u32 {
        for (i, n) in names.iter().enumerate() {
            lines.push(record(minute * 60 + 7 + i as u32, "carol", n));
        }
    }
    let c = config.to_str().unwrap();
    let whole = ok(&recon(
        &["detect", "--config", c, "-"],
        &(lines.join("\n") + "\n"),
    ));
    let held: Vec<u64> = whole
        .iter()
        .map(|a| a["suppressed"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(held, vec![0, 29], "{whole:?}");

    // The same in two runs through a state file.
    let state = d.join("state.json");
    let s = state.to_str().unwrap();
    let half = lines.len() / 2;
    let mut both = ok(&recon(
        &["detect", "--config", c, "--state", s, "-"],
        &(lines[..half].join("\n") + "\n"),
    ));
    both.extend(ok(&recon(
        &["detect", "--config", c, "--state", s, "--finish", "-"],
        &(lines[half..].join("\n") + "\n"),
    )));
    assert_eq!(both, whole);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_bad_window_or_suppression_setting_is_refused_naming_it() {
    let d = dir("bad");
    let config = d.join("recon.toml");
    for (text, want) in [
        ("[elastic]\nwindow = \"hopping\"\n", "hopping"),
        ("[sentinel]\nsuppress_seconds = 999999999\n", "suppress"),
    ] {
        std::fs::write(&config, text).unwrap();
        let out = recon(&["detect", "--config", config.to_str().unwrap(), "-"], "");
        assert_eq!(out.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{text}: {stderr}");
    }
    std::fs::remove_dir_all(&d).ok();
}

/// A record of tenant (account) `account` by `user`, `s` seconds in.
pub(crate) fn tenant_record(s: u32, account: &str, user: &str, name: &str) -> String {
    record(s, user, name).replace("111122223333", account)
}

const COMMON: &str = r#"
title: IAM listing
name: iam_listing
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName|startswith: List
  condition: sel
---
title: IAM listing burst
name: iam_burst
correlation:
  type: event_count
  rules: [iam_listing]
  group-by: [recipientAccountId, userIdentity.userName]
  timespan: 10m
  window: tumbling
  condition:
    gte: 3
"#;

/// Tenant A's exception: its inventory scanner lists all day.
const A_EXCEPTION: &str = r#"
title: A's scanner
name: a_scanner
filter:
  rules: [iam_listing]
  selection:
    userIdentity.userName: scanner
  condition: not selection
"#;

/// Tenant B's own rule: role reads.
const B_ROLES: &str = r#"
title: Role reads
name: role_reads
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName|startswith: GetRole
  condition: sel
---
title: Role read burst
name: role_burst
correlation:
  type: event_count
  rules: [role_reads]
  group-by: [userIdentity.userName]
  timespan: 10m
  window: tumbling
  condition:
    gte: 3
"#;

pub(crate) const A: &str = "111111111111";
pub(crate) const B: &str = "222222222222";

/// Both tenants: alice and the scanner list three times in each of two
/// windows, and both read roles three times.
fn tenants_trail() -> Vec<String> {
    let mut v = Vec::new();
    for w in 0..2u32 {
        for i in 0..3u32 {
            for account in [A, B] {
                let s = w * 600 + i * 60;
                v.push(tenant_record(s, account, "alice", "ListUsers"));
                v.push(tenant_record(s + 1, account, "scanner", "ListRoles"));
                v.push(tenant_record(s + 2, account, "alice", "GetRole"));
            }
        }
    }
    v
}

/// (tenant, rule, user) of each alert, sorted.
fn by_tenant(alerts: &[Value]) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = alerts
        .iter()
        .map(|a| {
            let row = &a["row"];
            (
                a["tenant"].as_str().unwrap_or("").to_owned(),
                a["rule"].as_str().unwrap().to_owned(),
                row["userIdentity.userName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A directory with the common rules, tenant A's exception and tenant
/// B's own rule, and a configuration naming them (its path).
pub(crate) fn tenant_setup(name: &str) -> (std::path::PathBuf, String) {
    let d = dir(name);
    std::fs::write(d.join("common.yml"), COMMON).unwrap();
    let rules = d.join("tenants");
    std::fs::create_dir_all(rules.join(B)).unwrap();
    std::fs::write(rules.join(format!("{A}.yml")), A_EXCEPTION).unwrap();
    std::fs::write(rules.join(B).join("roles.yml"), B_ROLES).unwrap();
    std::fs::write(rules.join("README.md"), "one entry per tenant").unwrap();
    let config = d.join("recon.toml");
    std::fs::write(
        &config,
        format!(
            "rules = [{:?}]\n[tenants]\nkey = \"recipientAccountId\"\nrules_dir = {:?}\n",
            d.join("common.yml").display().to_string(),
            rules.display().to_string()
        ),
    )
    .unwrap();
    (d.clone(), config.display().to_string())
}

#[test]
fn each_tenant_gets_exactly_its_own_rules_and_exceptions() {
    let (d, config) = tenant_setup("tenants");
    let trail = tenants_trail().join("\n") + "\n";
    let alerts = ok(&recon(&["detect", "--config", &config, "-"], &trail));
    let t = |tenant: &str, rule: &str, user: &str| {
        (tenant.to_owned(), rule.to_owned(), user.to_owned())
    };
    let mut want = vec![
        // A: the scanner is its exception; no role rule.
        t(A, "iam_burst", "alice"),
        t(A, "iam_burst", "alice"),
        // B: no exception, and its own role rule.
        t(B, "iam_burst", "alice"),
        t(B, "iam_burst", "alice"),
        t(B, "iam_burst", "scanner"),
        t(B, "iam_burst", "scanner"),
        t(B, "role_burst", "alice"),
        t(B, "role_burst", "alice"),
    ];
    want.sort();
    assert_eq!(by_tenant(&alerts), want);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_changed_tenant_rule_restarts_only_that_rule_for_that_tenant() {
    let (d, config) = tenant_setup("reload");
    let trail = tenants_trail();
    let whole = ok(&recon(
        &["detect", "--config", &config, "-"],
        &(trail.join("\n") + "\n"),
    ));
    // Half the first window, then A drops its exception.
    let state = d.join("state.json");
    let s = state.to_str().unwrap();
    let cut = 6;
    let mut alerts = ok(&recon(
        &["detect", "--config", &config, "--state", s, "-"],
        &(trail[..cut].join("\n") + "\n"),
    ));
    std::fs::remove_file(d.join("tenants").join(format!("{A}.yml"))).unwrap();
    let out = recon(
        &["detect", "--config", &config, "--state", s, "--finish", "-"],
        &(trail[cut..].join("\n") + "\n"),
    );
    alerts.extend(ok(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "recon: tenant {A}: iam_burst changed since the state was saved"
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&format!("tenant {B}: iam_burst changed"))
            && !stderr.contains(&format!("tenant {B}: role_burst changed")),
        "{stderr}"
    );
    // B ran on as if nothing happened.
    let of = |alerts: &[Value], tenant: &str| -> Vec<Value> {
        alerts
            .iter()
            .filter(|a| a["tenant"] == tenant)
            .cloned()
            .collect()
    };
    assert_eq!(of(&alerts, B), of(&whole, B));
    // A's burst rule started over without the exception: its scanner
    // alerts in the second window (the first was half gone).
    let a_users: Vec<_> = by_tenant(&of(&alerts, A))
        .into_iter()
        .map(|(_, _, u)| u)
        .collect();
    assert_eq!(a_users, vec!["alice", "scanner"], "{alerts:?}");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_tenant_rule_file_that_does_not_compile_stops_the_run_before_it_reads() {
    let (d, config) = tenant_setup("refused");
    let bad = d.join("tenants").join(format!("{A}.yml"));
    std::fs::write(
        &bad,
        "title: x\nfilter:\n  rules: [nothing]\n  sel:\n    a: b\n  condition: not sel\n",
    )
    .unwrap();
    let out = recon(
        &["detect", "--config", &config, "-"],
        &tenants_trail().join("\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&bad.display().to_string()), "{stderr}");
    // Without a tenant key, tenant rules mean nothing: refused.
    std::fs::write(
        d.join("nokey.toml"),
        format!(
            "[tenants]\nrules_dir = {:?}\n",
            d.join("tenants").display().to_string()
        ),
    )
    .unwrap();
    let out = recon(
        &[
            "detect",
            "--config",
            d.join("nokey.toml").to_str().unwrap(),
            "-",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tenants.key"));
    std::fs::remove_dir_all(&d).ok();
}
