//! A detector driven by an arbitrary sequence of push / push-batch /
//! push-ndjson / scan + apply / flush / drain / snapshot + restore, with a
//! twin that gets every record through `push`, one by one. After every
//! step: no panic, `pushed = accepted + filtered + rejected + late` in
//! every rule, the twins' counters and alerts agree, and a snapshot
//! restores to the same detector. With early alerts on (tumbling windows,
//! no suppression), every group has exactly one early alert, before its
//! final one. Windows may slide and alerts be suppressed: the twins, the
//! accounting and the snapshots must hold alike.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recon_guest::config::{LimitSettings, Profile, Rule, RuleSettings, Settings, WindowMode};
use recon_guest::format::AlertFormat;
use recon_guest::{AlertKind, Detector, Scanner};

const T0: i64 = 1_767_571_200_000;

const COMMANDS: [&str; 10] = [
    "iam.list-users",
    "iam.list-groups",
    "ec2.describe-vpcs",
    "ec2.describe-subnets",
    "kms.list-keys",
    "kms.list-aliases",
    "iam.list-roles",
    "ec2.describe-security-groups",
    "ec2.describe-route-tables",
    "s3.ls",
];

/// A record: mostly well-formed (so the windows fill), sometimes raw.
#[derive(Arbitrary, Debug)]
enum Rec {
    Call {
        /// Seconds from T0 (negative: before it).
        at: i16,
        millis: u16,
        command: u8,
        user: u8,
        agent: u8,
        time_form: u8,
    },
    Raw(String),
}

impl Rec {
    fn text(&self) -> String {
        match self {
            Rec::Raw(s) => s.clone(),
            Rec::Call {
                at,
                millis,
                command,
                user,
                agent,
                time_form,
            } => {
                let ms = T0 + i64::from(*at) * 1000 + i64::from(*millis % 1000);
                let c = COMMANDS[*command as usize % COMMANDS.len()];
                let (service, op) = c.split_once('.').unwrap();
                let op: String = op
                    .split('-')
                    .map(|w| w[..1].to_uppercase() + &w[1..])
                    .collect();
                let agent = match agent % 4 {
                    0 => format!("aws-cli/2.13.25 Python/3.11.5 Linux/5.10 exe/x86_64 prompt/off command/{c}"),
                    1 => format!("aws-cli/2.31.1 md/prompt#off md/command#{c}"),
                    2 => "Boto3/1.34.0".to_owned(),
                    _ => "console.amazonaws.com".to_owned(),
                };
                let time = match time_form % 3 {
                    0 => ms.to_string(),
                    1 => format!("\"{}\"", fmt_time(ms)),
                    // Far ahead: 2099.
                    _ => "\"2099-01-01T00:00:00Z\"".to_owned(),
                };
                let u = user % 4;
                format!(
                    r#"{{"eventVersion":"1.08","eventTime":{time},"eventSource":"{service}.amazonaws.com","eventName":"{op}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u{u}","userName":"u{u}"}},"sourceIPAddress":"203.0.113.{u}","recipientAccountId":"111122223333","userAgent":"{agent}"}}"#
                )
            }
        }
    }
}

fn fmt_time(ms: i64) -> String {
    recon_guest::time::format_time(ms, true)
}

#[derive(Arbitrary, Debug)]
enum Op {
    Push(Rec),
    Batch(Vec<Rec>),
    Ndjson(Vec<Rec>),
    ScanApply(Vec<Rec>),
    Flush(Option<i16>),
    End,
    Drain,
    Snapshot,
}

#[derive(Arbitrary, Debug)]
struct Plan {
    seed_profile: bool,
    early: bool,
    sliding: bool,
    suppress_min: u8,
    rules: u8,
    confirmations: u8,
    max_groups: u8,
    max_list: u8,
    lateness_s: u8,
    ops: Vec<Op>,
}

fn settings(p: &Plan) -> Settings {
    let mut rules = Vec::new();
    if p.rules % 3 != 1 {
        rules.push(RuleSettings {
            min_distinct: Some(3),
            window: p.sliding.then_some(WindowMode::Sliding),
            suppress_ms: Some(u64::from(p.suppress_min % 4) * 60_000),
            ..RuleSettings::new(Rule::Sentinel)
        });
    }
    if p.rules % 3 != 0 {
        rules.push(RuleSettings {
            min_distinct: Some(2),
            window: p.sliding.then_some(WindowMode::Sliding),
            suppress_ms: Some(u64::from(p.suppress_min % 4) * 60_000),
            ..RuleSettings::new(Rule::Elastic)
        });
    }
    let profile = if p.seed_profile { Profile::Seed } else { Profile::Default };
    let mut s = Settings::with_rules(rules, profile);
    s.allowed_lateness_ms = Some(u64::from(p.lateness_s) * 1000);
    s.early_alerts = Some(p.early);
    s.limits = LimitSettings {
        max_open_groups: Some(1 + u32::from(p.max_groups % 8)),
        max_list_entries: Some(1 + u32::from(p.max_list % 4)),
        time_confirmations: Some(1 + u32::from(p.confirmations % 4)),
        max_time_jump_ms: Some(60_000),
        ..LimitSettings::default()
    };
    s
}

fn check(d: &Detector) {
    if let Err(e) = d.check_accounting() {
        panic!("{e}");
    }
}

/// A line for the bulk input: no line end inside, not blank.
fn line(r: &Rec) -> Option<String> {
    let t = r.text().replace(['\n', '\r'], " ");
    (!t.trim_matches([' ', '\t']).is_empty()).then_some(t)
}

fuzz_target!(|plan: Plan| {
    let s = settings(&plan);
    let mut d = Detector::new(s.clone()).unwrap();
    let mut twin = Detector::new(s.clone()).unwrap();
    twin.set_prefilter(false);
    let scanner = Scanner::new(s).unwrap();
    let mut alerts = (Vec::new(), Vec::new());
    for op in plan.ops.iter().take(64) {
        match op {
            Op::Push(r) => {
                let t = r.text();
                let a = d.push(&t);
                let b = twin.push(&t);
                assert_eq!(a, b);
            }
            Op::Batch(rs) => {
                let texts: Vec<String> = rs.iter().map(Rec::text).collect();
                let res = d.push_batch(&texts);
                assert_eq!(res.records as usize, texts.len());
                for t in &texts {
                    let _ = twin.push(t);
                }
            }
            Op::Ndjson(rs) | Op::ScanApply(rs) => {
                let lines: Vec<String> = rs.iter().filter_map(line).collect();
                let buf = lines.join("\n");
                let res = if matches!(op, Op::Ndjson(_)) {
                    d.push_ndjson(buf.as_bytes())
                } else {
                    let scanned = scanner.scan(buf.as_bytes());
                    assert_eq!(scanned.records as usize, lines.len());
                    d.apply(&scanned.payload).expect("a scanner's own payload")
                };
                assert_eq!(res.records as usize, lines.len());
                for r in &res.rules {
                    assert_eq!(
                        (r.accepted + r.filtered + r.late + r.rejected) as usize + res.rejected as usize,
                        lines.len()
                    );
                }
                for t in &lines {
                    let _ = twin.push(t);
                }
            }
            Op::Flush(to) => {
                let to = to.map(|s| T0 + i64::from(s) * 1000);
                assert_eq!(d.flush(to), twin.flush(to));
            }
            Op::End => {
                assert_eq!(d.flush(None), twin.flush(None));
            }
            Op::Drain => {
                alerts.0.extend(d.drain());
                alerts.1.extend(twin.drain());
            }
            Op::Snapshot => {
                let snap = d.snapshot();
                let restored = Detector::restore(&snap).expect("a detector restores its own snapshot");
                assert_eq!(restored.stats(), d.stats());
                assert_eq!(restored.snapshot(), snap);
                d = restored;
            }
        }
        check(&d);
        check(&twin);
        assert_eq!(d.stats(), twin.stats(), "the routes disagree after {op:?}");
    }
    d.flush(None);
    twin.flush(None);
    alerts.0.extend(d.drain());
    alerts.1.extend(twin.drain());
    assert_eq!(alerts.0, alerts.1);
    check(&d);
    // The alert formatter runs natively in the Rust host on alerts whose
    // rows hold record values: every alert formats, in both forms, with
    // and without a tenant, to one line of JSON.
    for a in &alerts.0 {
        for format in [AlertFormat::Native, AlertFormat::Ocsf] {
            for tenant in [None, Some("t\"\n\u{7f}")] {
                let line = recon_guest::format::alert_line(a, format, tenant)
                    .unwrap_or_else(|e| panic!("alert {} does not format: {e}", a.id));
                assert!(!line.contains('\n'), "{line}");
                serde_json::from_str::<serde_json::Value>(&line).expect("the line is JSON");
            }
        }
    }
    // Early alerts: one per group, before its final one, and only if asked
    // (sliding windows have none; suppression decides finals alone).
    if plan.sliding {
        assert!(alerts.0.iter().all(|a| a.kind == AlertKind::Final));
        return;
    }
    if plan.suppress_min % 4 != 0 {
        return;
    }
    let mut early: Vec<&str> = Vec::new();
    let mut finals: Vec<&str> = Vec::new();
    for a in &alerts.0 {
        match a.kind {
            AlertKind::Early => {
                assert!(plan.early, "an early alert without early alerts on");
                assert!(!early.contains(&a.id.as_str()), "two early alerts for {}", a.id);
                assert!(!finals.contains(&a.id.as_str()), "an early alert after its final one");
                early.push(&a.id);
            }
            AlertKind::Final => {
                assert!(!finals.contains(&a.id.as_str()), "two final alerts for {}", a.id);
                assert!(!plan.early || early.contains(&a.id.as_str()), "no early alert for {}", a.id);
                finals.push(&a.id);
            }
        }
    }
    assert_eq!(early.len(), if plan.early { finals.len() } else { 0 });
});
