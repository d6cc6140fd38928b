//! `recon nats …` against the real `nats-server` (2.9.10 on the project's
//! machines): each test starts its own server on a free loopback port with
//! its own store directory, and kills every process it started when it
//! ends. Nothing waits a fixed time: every wait polls a condition with a
//! generous deadline.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::util::scratch_dir;

/// Longest any condition is waited for (a loaded 2-core machine).
const DEADLINE: Duration = Duration::from_secs(120);
/// Leases in these tests: takeovers within a few seconds.
const LEASE_MS: &str = "1500";

fn nats_server() -> &'static str {
    for p in ["/usr/sbin/nats-server", "/usr/bin/nats-server"] {
        if Path::new(p).exists() {
            return p;
        }
    }
    panic!("nats-server is not installed (apt-get install nats-server; .ci/run does)");
}

/// One component cache for every worker of this test binary, so that
/// each worker does not compile the component again.
fn cache_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| scratch_dir("nats-cache"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < DEADLINE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A nats-server of this test's own.
struct Server {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    config: Option<PathBuf>,
    starts: u32,
}

impl Server {
    fn start(name: &str) -> Server {
        Server::start_with(name, None)
    }

    fn start_with(name: &str, config: Option<&str>) -> Server {
        let dir = scratch_dir(&format!("nats-{name}"));
        let config = config.map(|text| {
            let path = dir.join("server.conf");
            std::fs::write(&path, text).unwrap();
            path
        });
        let mut s = Server {
            child: None,
            port: free_port(),
            dir,
            config,
            starts: 0,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let log = self.dir.join(format!("server-{}.log", self.starts));
        let mut cmd = Command::new(nats_server());
        cmd.args([
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-sd",
        ])
        .arg(self.dir.join("store"))
        .arg("-l")
        .arg(&log);
        if let Some(c) = &self.config {
            cmd.arg("-c").arg(c);
        }
        self.child = Some(cmd.stdin(Stdio::null()).spawn().unwrap());
        wait_until("nats-server to be ready", || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Server is ready"))
        });
    }

    /// SIGKILL, not a polite stop.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `recon` process running in the background (a worker).
struct Proc {
    child: Option<Child>,
    err: PathBuf,
}

impl Proc {
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    fn pid(&self) -> String {
        self.child.as_ref().unwrap().id().to_string()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for the exit.
    fn stop(&mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let mut c = self.child.take().unwrap();
        let start = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            assert!(start.elapsed() < DEADLINE, "the worker did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn recon_cmd(server: &Server) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_recon"));
    c.env("RECON_CACHE_DIR", cache_dir())
        .env_remove("RECON_NATS_SERVER")
        .env_remove("RECON_NATS_PASSWORD")
        .env_remove("RECON_NATS_TOKEN")
        .stdin(Stdio::null());
    let _ = server;
    c
}

/// Runs `recon nats <sub> --server URL <args>` to its end.
fn nats(server: &Server, sub: &str, args: &[&str]) -> Output {
    recon_cmd(server)
        .args(["nats", sub, "--server", &server.url()])
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn worker(server: &Server, id: &str, extra: &[&str]) -> Proc {
    let err = server.dir.join(format!("worker-{id}-{}.err", free_port()));
    let child = recon_cmd(server)
        .args(["nats", "worker", "--server", &server.url(), "--id", id])
        .args(["--lease-ms", LEASE_MS])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    Proc {
        child: Some(child),
        err,
    }
}

fn status(server: &Server) -> serde_json::Value {
    let out = ok(nats(server, "status", &["--json"]));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn partitions(s: &serde_json::Value) -> &Vec<serde_json::Value> {
    s["partitions"].as_array().unwrap()
}

/// A client of the test's own, named `name`, to `server`.
fn client(server: &Server, name: &str) -> recon::nats::Nats {
    recon::nats::Nats::connect(
        &recon::nats::ConnectOptions {
            server: server.url(),
            ..Default::default()
        },
        name,
    )
    .unwrap()
}

/// The records stream's last sequence, read by a client of the test's own
/// (milliseconds, where `recon nats status` is a process).
fn records_probe(server: &Server) -> impl Fn() -> u64 + use<> {
    let conn = client(server, "test");
    move || {
        conn.block_on(async {
            match conn.js.get_stream("RECON_RECORDS").await {
                Ok(s) => s.cached_info().state.last_sequence,
                Err(_) => 0,
            }
        })
    }
}

/// Every partition has applied everything in its stream.
fn caught_up(server: &Server) -> bool {
    let s = status(server);
    partitions(&s)
        .iter()
        .all(|p| p["applied"] == p["last"] && !p["owner"].is_null())
}

/// Every partition has applied its end of input.
fn ended(server: &Server) -> bool {
    let s = status(server);
    partitions(&s)
        .iter()
        .all(|p| p["ended"] == true && p["applied"] == p["last"])
}

fn sorted_lines(bytes: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

fn alerts(server: &Server, format: &str) -> Vec<String> {
    sorted_lines(&ok(nats(server, "alerts", &["--format", format])).stdout)
}

/// What `recon detect` writes for `inputs`.
fn detect(inputs: &[&Path], extra: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_recon"))
        .arg("detect")
        .args(extra)
        .arg("--no-cache")
        .args(inputs)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sorted_lines(&out.stdout)
}

/// A generated trail cut in two halves.
fn trail(dir: &Path, seed: u64, count: u64) -> (PathBuf, PathBuf, PathBuf) {
    let mut bytes = Vec::new();
    recon_gen::write_ndjson(
        recon_gen::GenOptions {
            seed,
            count,
            bursts: 14,
            ..recon_gen::GenOptions::default()
        },
        &mut bytes,
    )
    .unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let half = lines.len() / 2;
    let whole = dir.join("trail.ndjson");
    let first = dir.join("first.ndjson");
    let second = dir.join("second.ndjson");
    std::fs::write(&whole, &text).unwrap();
    std::fs::write(&first, lines[..half].join("\n") + "\n").unwrap();
    std::fs::write(&second, lines[half..].join("\n") + "\n").unwrap();
    (whole, first, second)
}

fn empty_file(dir: &Path) -> PathBuf {
    let p = dir.join("empty.ndjson");
    std::fs::write(&p, "").unwrap();
    p
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Point 1, and a publisher killed and run again: two workers, the alert
/// stream holds exactly what `recon detect` writes, in both formats.
#[test]
fn nats_two_workers_give_exactly_the_alerts_of_detect() {
    let server = Server::start("exact");
    let dir = server.dir.clone();
    let (whole, _, _) = trail(&dir, 11, 40_000);
    let want = detect(&[&whole], &[]);
    let want_ocsf = detect(&[&whole], &["--format", "ocsf"]);
    assert!(want.len() >= 5, "{} alerts", want.len());

    ok(nats(&server, "setup", &["--partitions", "3"]));
    // Idempotent; a different count is refused.
    let again = ok(nats(&server, "setup", &["--partitions", "3"]));
    assert!(String::from_utf8_lossy(&again.stderr).contains("unchanged"));
    let other = nats(&server, "setup", &["--partitions", "4"]);
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("3 partitions per rule, not 4"));

    // Two workers share the partitions.
    let mut a = worker(&server, "a", &[]);
    let mut b = worker(&server, "b", &[]);
    wait_until("both workers to hold partitions", || {
        let s = status(&server);
        let owners: std::collections::BTreeSet<String> = partitions(&s)
            .iter()
            .filter_map(|p| p["owner"].as_str().map(str::to_owned))
            .collect();
        owners.len() == 2 && partitions(&s).iter().all(|p| !p["owner"].is_null())
    });

    // A publisher killed (SIGKILL) mid-run, then run again. It reads the
    // trail through a named pipe that holds half of it and stays open, so
    // at the kill it has stored records and is waiting for more (a path
    // that is not `-` is batched by size only, as a file is: the second
    // run makes the same batches, and the stream drops what it holds).
    let fifo = crate::util::fifo(&dir, "trail.fifo");
    let mut first = recon_cmd(&server)
        .args([
            "nats",
            "publish",
            "--server",
            &server.url(),
            "--batch-kib",
            "1",
        ])
        .arg(&fifo)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (close, closed) = std::sync::mpsc::channel::<()>();
    let writer = {
        let fifo = fifo.clone();
        let text = std::fs::read(&whole).unwrap();
        std::thread::spawn(move || {
            let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            let _ = std::io::Write::write_all(&mut pipe, &text[..text.len() / 2]);
            let _ = closed.recv();
        })
    };
    let probe = records_probe(&server);
    wait_until("the first records in the stream", || probe() > 0);
    assert!(
        first.try_wait().unwrap().is_none(),
        "the publisher ended before the kill"
    );
    let _ = first.kill();
    let _ = first.wait();
    let _ = close.send(());
    let _ = writer.join();
    let out = ok(nats(
        &server,
        "publish",
        &["--batch-kib", "1", "--end", path(&whole)],
    ));
    let report = String::from_utf8_lossy(&out.stderr).into_owned();
    let dups: u64 = report
        .split(" already in the stream")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        dups > 0,
        "the second publish found nothing of the first: {report}"
    );

    wait_until("every partition to end", || ended(&server));
    assert_eq!(alerts(&server, "native"), want);
    assert_eq!(alerts(&server, "ocsf"), want_ocsf);
    assert!(a.stop().success());
    assert!(b.stop().success());
    // A publish run again after everything: the stream drops all of it.
    let out = ok(nats(
        &server,
        "publish",
        &["--batch-kib", "1", path(&whole)],
    ));
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(!report.contains("(0 already"), "{report}");
    assert_eq!(alerts(&server, "native"), want);
}

/// Point 2: a worker killed with SIGKILL after a snapshot, with records
/// taken but not acknowledged; another takes over, replays, and the
/// alerts it makes again are dropped as duplicates.
#[test]
fn nats_a_killed_worker_loses_nothing_and_doubles_nothing() {
    let server = Server::start("sigkill");
    let dir = server.dir.clone();
    let (whole, first, second) = trail(&dir, 12, 40_000);
    // A minute of lateness: windows of the first half close while the
    // second is applied, so w2 has published alerts before it is killed
    // (the generated trail spans less than the default 15 minutes).
    let config = dir.join("minute.toml");
    std::fs::write(&config, "allowed_lateness_seconds = 60\n").unwrap();
    let want = detect(&[&whole], &["--config", path(&config)]);
    ok(nats(
        &server,
        "setup",
        &["--partitions", "2", "--config", path(&config)],
    ));
    // Snapshots only when a partition is given up (or ends).
    let rare = [
        "--snapshot-records",
        "1000000000",
        "--snapshot-seconds",
        "100000",
    ];

    ok(nats(&server, "publish", &[path(&first)]));
    let mut w1 = worker(&server, "w1", &rare);
    wait_until("the first half applied", || caught_up(&server));
    assert!(w1.stop().success());
    // Every partition has a snapshot now.
    let s = status(&server);
    assert!(
        partitions(&s)
            .iter()
            .all(|p| p["snapshot_applied"].as_u64() > Some(0)),
        "{s}"
    );

    let mut w2 = worker(&server, "w2", &rare);
    ok(nats(&server, "publish", &[path(&second)]));
    wait_until("the second half applied", || caught_up(&server));
    let published = alerts(&server, "native").len();
    assert!(published > 0);
    w2.kill(); // SIGKILL: nothing given up, nothing snapshotted

    let mut w3 = worker(&server, "w3", &rare);
    wait_until("a takeover", || w3.stderr().contains("taken over from w2"));
    ok(nats(
        &server,
        "publish",
        &["--end", path(&empty_file(&dir))],
    ));
    wait_until("every partition to end", || ended(&server));
    assert_eq!(alerts(&server, "native"), want);
    let log = w3.stderr();
    assert!(
        log.contains("duplicate suppressed"),
        "the replay made no alert again, so dedup was never exercised: {log}"
    );
    let s = status(&server);
    assert!(
        partitions(&s)
            .iter()
            .all(|p| p["epoch"].as_u64() >= Some(3)),
        "{s}"
    );
    assert!(w3.stop().success());
}

/// Point 2: a worker paused (SIGSTOP) until its partitions moved, then
/// resumed, writes nothing over the new owner's state.
#[test]
fn nats_a_zombie_worker_is_fenced() {
    let server = Server::start("zombie");
    let dir = server.dir.clone();
    let (whole, first, second) = trail(&dir, 13, 30_000);
    let want = detect(&[&whole], &[]);
    ok(nats(&server, "setup", &["--partitions", "2"]));
    ok(nats(&server, "publish", &[path(&first)]));
    let mut zombie = worker(&server, "zombie", &[]);
    wait_until("the first half applied", || caught_up(&server));
    zombie.signal("STOP");
    let mut heir = worker(&server, "heir", &[]);
    wait_until("the heir to hold every partition", || {
        partitions(&status(&server))
            .iter()
            .all(|p| p["owner"] == "heir")
    });
    ok(nats(&server, "publish", &["--end", path(&second)]));
    wait_until("every partition to end", || ended(&server));
    let before = status(&server);
    zombie.signal("CONT");
    wait_until("the zombie to notice", || {
        zombie.stderr().contains("lost partition")
    });
    // Whatever the zombie had in hand, its writes were refused: the alerts
    // are exact, and every partition still ended with its position.
    assert_eq!(alerts(&server, "native"), want);
    let after = status(&server);
    for (b, a) in partitions(&before).iter().zip(partitions(&after)) {
        assert_eq!(b["applied"], a["applied"]);
        assert!(a["epoch"].as_u64() >= b["epoch"].as_u64());
        assert_eq!(a["ended"], true);
    }
    assert!(zombie.stop().success());
    assert!(heir.stop().success());
}

/// Point 2: the NATS server killed (SIGKILL) and restarted under a running
/// worker, between two halves of the input.
#[test]
fn nats_survives_a_server_restart() {
    let mut server = Server::start("restart");
    let dir = server.dir.clone();
    let (whole, first, second) = trail(&dir, 14, 30_000);
    let want = detect(&[&whole], &[]);
    ok(nats(&server, "setup", &["--partitions", "2"]));
    ok(nats(&server, "publish", &[path(&first)]));
    let mut w = worker(&server, "w", &["--snapshot-records", "1000"]);
    wait_until("the first half applied", || caught_up(&server));
    server.kill();
    server.spawn();
    ok(nats(&server, "publish", &["--end", path(&second)]));
    wait_until("every partition to end", || ended(&server));
    assert_eq!(alerts(&server, "native"), want);
    assert!(w.stop().success(), "{}", w.stderr());
}

/// Point 3: a snapshot of a detector holding 100 000 open groups (tens of
/// MB, far past the 1 MiB payload limit) is stored in chunks and restored,
/// and damage is caught by its checksum.
#[test]
fn nats_snapshots_past_the_payload_limit_round_trip() {
    use recon::nats::layout::PartitionId;
    use recon::nats::snapshot;
    use recon::runtime::{Config, Profile, Rule};

    let server = Server::start("snapshot");
    ok(nats(&server, "setup", &["--partitions", "1"]));
    let rt = crate::util::runtime();
    let mut instance = rt.instantiate().unwrap();
    let mut config = Config::defaults(
        &[Rule::from("elastic-aws-discovery-burst")],
        Profile::Default,
    );
    config.limits.max_open_groups = Some(100_000);
    let d = instance.create(&config).unwrap();
    let mut buf = String::new();
    for i in 0..100_000 {
        buf.push_str(&format!(
            r#"{{"eventTime":"2026-01-05T00:00:01Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u{i}"}},"userAgent":"aws-cli/2.13.25 Python/3.11.5"}}"#
        ));
        buf.push('\n');
    }
    instance.push_ndjson(d, buf.as_bytes()).unwrap();
    let stats = instance.stats(d).unwrap();
    assert_eq!(stats.rules[0].open_groups, 100_000);
    let bytes = instance.snapshot(d).unwrap();
    assert!(bytes.len() > 4 << 20, "{} bytes", bytes.len());

    let nats_conn = client(&server, "test");
    let p = PartitionId {
        rule_pos: 0,
        rule: "elastic-aws-discovery-burst",
        token: "elastic-aws-discovery-burst",
        index: 0,
    };
    let r = snapshot::store(&nats_conn, p, "1-1", &bytes).unwrap();
    assert!(r.chunks.len() > 4, "{} chunks", r.chunks.len());
    let back = snapshot::load(&nats_conn, p, &r).unwrap();
    assert_eq!(back, bytes);
    let restored = instance.restore(&back).unwrap();
    assert_eq!(
        instance.stats(restored).unwrap().rules[0].open_groups,
        100_000
    );
    // A reference with another checksum is refused before the component
    // sees the bytes.
    let mut wrong = r.clone();
    wrong.sha256 = "00".repeat(32);
    let e = snapshot::load(&nats_conn, p, &wrong).unwrap_err();
    assert!(e.to_string().contains("is damaged"), "{e}");
    // A chunk missing: refused too.
    let mut short = r.clone();
    short.chunks.pop();
    assert!(snapshot::load(&nats_conn, p, &short).is_err());
}

/// Point 5: an authorizing server refuses wrong credentials clearly, and
/// a user allowed only to publish records cannot read alerts or state.
#[test]
fn nats_credentials_and_permissions_are_enforced() {
    let conf = r#"
authorization {
  users = [
    { user: admin, password: adminpw }
    { user: publisher, password: pubpw, permissions: {
        publish: { allow: [
          "recon.records.>",
          "$JS.API.INFO",
          "$JS.API.STREAM.INFO.KV_recon-state",
          "$JS.API.DIRECT.GET.KV_recon-state.$KV.recon-state.layout"
        ] }
        subscribe: { allow: ["_INBOX.>"] }
    } }
  ]
}
"#;
    let server = Server::start_with("auth", Some(conf));
    let dir = server.dir.clone();
    let (whole, _, _) = trail(&dir, 15, 4_000);
    let admin = ["--user", "admin", "--password", "adminpw"];
    let publisher = ["--user", "publisher", "--password", "pubpw"];
    let with = |creds: &[&str], rest: &[&str]| -> Vec<String> {
        creds.iter().chain(rest).map(|s| s.to_string()).collect()
    };
    let run = |sub: &str, args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        nats(&server, sub, &args)
    };

    // Wrong password, and no credentials at all.
    for creds in [&["--user", "admin", "--password", "nope"][..], &[][..]] {
        let out = run("status", with(creds, &[]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains("cannot connect to NATS"), "{err}");
        assert!(err.to_lowercase().contains("authorization"), "{err}");
    }

    ok(run("setup", with(&admin, &["--partitions", "2"])));
    // The publisher publishes.
    ok(run("publish", with(&publisher, &["--end", path(&whole)])));
    // ... and reads neither alerts nor partition state.
    for (sub, extra) in [("alerts", &[][..]), ("status", &["--json"][..])] {
        let out = run(sub, with(&publisher, extra));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{sub}: {err}");
        assert!(err.contains("permission"), "{sub}: {err}");
    }
    // The admin sees what was published.
    let s = run("status", with(&admin, &["--json"]));
    let s: serde_json::Value = serde_json::from_slice(&ok(s).stdout).unwrap();
    assert!(partitions(&s).iter().any(|p| p["last"].as_u64() > Some(0)));
}

/// Point 6: a record that makes the component trap is quarantined with
/// its stream position and skipped; the partition goes on.
#[test]
fn nats_a_poison_record_is_quarantined_and_the_partition_goes_on() {
    let server = Server::start("poison");
    let dir = server.dir.clone();
    // The recovery test's poison: an aws-cli call with 900 KB of escaped
    // text, far more fuel than any 64 KiB batch of ordinary records.
    let mut trail = Vec::new();
    recon_gen::write_ndjson(
        recon_gen::GenOptions {
            seed: 3,
            count: 4_000,
            bursts: 12,
            ..recon_gen::GenOptions::default()
        },
        &mut trail,
    )
    .unwrap();
    let clean = String::from_utf8(trail).unwrap();
    let mut records: Vec<String> = clean.lines().map(str::to_owned).collect();
    let poison = records[2000]
        .replacen(
            "\"userAgent\":\"",
            "\"userAgent\":\"aws-cli/2.15.0 Python/3.11 Linux/6 prompt/off command/ec2.describe-vpcs\",\"x\":\"",
            1,
        )
        .replacen(
            "\"requestParameters\":",
            &format!("\"blob\":\"{}\",\"requestParameters\":", "\\u00e9".repeat(150_000)),
            1,
        );
    records.insert(2000, poison);
    let clean_path = dir.join("clean.ndjson");
    let poisoned_path = dir.join("poisoned.ndjson");
    std::fs::write(&clean_path, &clean).unwrap();
    std::fs::write(&poisoned_path, records.join("\n") + "\n").unwrap();
    let config = dir.join("fuel.toml");
    std::fs::write(
        &config,
        "chunk_kib = 64\n[limits]\nmax_event_bytes = 2000000\n[sandbox]\nfuel_per_call = 3000000\n",
    )
    .unwrap();
    let want = detect(&[&clean_path], &["--config", path(&config)]);
    assert!(!want.is_empty());

    ok(nats(
        &server,
        "setup",
        &["--partitions", "1", "--config", path(&config)],
    ));
    // The publisher places records in the sandbox, under the same fuel:
    // the poison traps there, is reported and left out, nothing else is.
    let out = ok(nats(
        &server,
        "publish",
        &["--batch-kib", "64", path(&poisoned_path)],
    ));
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        report.contains(
            "line 2001: not published: placing it made the component trap (`partition-of` \
             trapped"
        ),
        "{report}"
    );
    assert!(
        report.contains("; 1 quarantined (their placement trapped)"),
        "{report}"
    );
    // A poison record can still reach a worker (a publisher with other
    // bounds, another client on the subject): sent here straight to both
    // rules' partitions, between the clean records and the end.
    let conn = client(&server, "test");
    let s = status(&server);
    for p in partitions(&s) {
        let subject = format!("recon.records.{}", p["name"].as_str().unwrap());
        let poison = records[2000].clone() + "\n";
        conn.block_on(async {
            conn.js
                .publish(subject, poison.into())
                .await
                .unwrap()
                .await
                .unwrap()
        });
    }
    ok(nats(
        &server,
        "publish",
        &["--end", path(&empty_file(&dir))],
    ));
    let mut w = worker(&server, "w", &[]);
    wait_until("every partition to end", || ended(&server));
    assert_eq!(alerts(&server, "native"), want);
    let log = w.stderr();
    assert!(log.contains("made the component trap"), "{log}");
    assert!(log.contains("quarantined to RECON_POISON"), "{log}");
    let s = status(&server);
    let quarantined: u64 = partitions(&s)
        .iter()
        .map(|p| p["quarantined"].as_u64().unwrap())
        .sum();
    assert_eq!(quarantined, partitions(&s).len() as u64, "{s}");
    assert!(w.stop().success());
    // The operator finds it, with its position, in the poison stream.
    let m = conn
        .block_on(async {
            let stream = conn.js.get_stream_no_info("RECON_POISON").await.unwrap();
            stream.get_raw_message(1).await
        })
        .unwrap();
    assert_eq!(m.payload.len(), records[2000].len());
    assert!(m.headers.get("Recon-Stream-Sequence").is_some());
}

/// Point 4: a quiet partition of a live stream closes its windows on the
/// worker's clock; a backtest's (days old) never jumps.
#[test]
fn nats_quiet_live_partitions_close_by_the_clock_and_backtests_never_jump() {
    let server = Server::start("live");
    let dir = server.dir.clone();
    let config = dir.join("live.toml");
    std::fs::write(
        &config,
        "rules = [\"sentinel\"]\nallowed_lateness_seconds = 1\n\
         [sentinel]\nwindow_seconds = 2\n[limits]\ntime_confirmations = 1\n[live]\nidle_ms = 300\n",
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let commands = [
        "iam.list-users",
        "iam.list-groups",
        "ec2.describe-vpcs",
        "ec2.describe-subnets",
        "kms.list-keys",
        "kms.list-aliases",
        "iam.list-roles",
        "ec2.describe-security-groups",
        "ec2.describe-route-tables",
    ];
    let burst = |user: &str, at: i64| -> String {
        let t = time::OffsetDateTime::from_unix_timestamp(at - at % 2).unwrap();
        let t = t
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        commands
            .iter()
            .map(|c| {
                format!(
                    r#"{{"eventTime":"{t}","eventSource":"iam.amazonaws.com","eventName":"X","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/{user}","userName":"{user}"}},"sourceIPAddress":"198.51.100.7","recipientAccountId":"111122223333","userAgent":"aws-cli/2.13.25 Python/3.11.5 Linux/5.10 exe/x86_64.amzn.2 prompt/off command/{c}"}}"#
                ) + "\n"
            })
            .collect()
    };
    // The two bursts in different partitions (a partition is one ordered
    // stream: days-old records after recent ones would just be late).
    let scanner = recon_guest::Scanner::new(recon_guest::Settings::new(
        recon_guest::Rule::Sentinel,
        recon_guest::Profile::Default,
    ))
    .unwrap();
    let place = |text: &str| scanner.partition_of(text.as_bytes(), 2)[0].partition;
    let recent = burst("recent", now - 30);
    let old = (0..1000)
        .map(|i| burst(&format!("backtest{i}"), now - 3 * 24 * 3600))
        .find(|b| place(b) != place(&recent))
        .expect("no user name lands in the other partition");
    let input = dir.join("bursts.ndjson");
    std::fs::write(&input, recent + &old).unwrap();
    ok(nats(
        &server,
        "setup",
        &["--partitions", "2", "--config", path(&config)],
    ));
    ok(nats(&server, "publish", &[path(&input)]));
    let mut w = worker(&server, "w", &["--live"]);
    wait_until("the live window to close", || {
        alerts(&server, "native")
            .iter()
            .any(|a| a.contains(r#""AccountName":"recent""#))
    });
    let got = alerts(&server, "native");
    assert_eq!(
        got.len(),
        1,
        "the backtest's window closed on the clock: {got:?}"
    );
    // Its end of input closes the backtest's window.
    ok(nats(
        &server,
        "publish",
        &["--end", path(&empty_file(&dir))],
    ));
    wait_until("every partition to end", || ended(&server));
    let got = alerts(&server, "native");
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().any(|a| a.contains("backtest")));
    assert!(w.stop().success());
}

/// A refused connection is a clear error and a non-zero exit.
#[test]
fn nats_a_refused_connection_is_a_clear_error() {
    let port = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_recon"))
        .args([
            "nats",
            "status",
            "--server",
            &format!("nats://127.0.0.1:{port}"),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "cannot connect to NATS at nats://127.0.0.1:{port}"
        )),
        "{err}"
    );
    let _ = BufReader::new(&out.stderr[..]).lines();
}

/// `recon nats bridge`: records sent as Vector's `nats` sink (one JSON
/// object per message), Fluent Bit's `nats` output (`[[ts, {record}],
/// …]`, the record read by `tail` under `log`), CloudWatch Logs
/// subscription messages and EventBridge events give the alerts `recon
/// detect` gives on the same records.
#[test]
fn nats_bridge_takes_what_shippers_send() {
    let server = Server::start("bridge");
    let dir = server.dir.clone();
    let (whole, _, _) = trail(&dir, 16, 6_000);
    let want = detect(&[&whole], &[]);
    assert!(!want.is_empty());
    ok(nats(&server, "setup", &["--partitions", "2"]));
    let mut bridge = {
        let err = dir.join("bridge.err");
        let child = recon_cmd(&server)
            .args([
                "nats",
                "bridge",
                "--server",
                &server.url(),
                "--subject",
                "logs.>",
            ])
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Proc {
            child: Some(child),
            err,
        }
    };
    let conn = client(&server, "shipper");
    // Core NATS keeps nothing for later: send once the bridge listens.
    wait_until("the bridge to subscribe", || {
        bridge.stderr().contains("listening")
    });
    let text = std::fs::read_to_string(&whole).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let quarter = lines.len() / 4;
    let (vector, rest) = lines.split_at(quarter);
    let (fluent, rest) = rest.split_at(quarter);
    let (cwl, eventbridge) = rest.split_at(quarter);
    conn.block_on(async {
        // Vector, codec json: one event per message.
        for l in vector {
            conn.client
                .publish("logs.vector", l.to_string().into())
                .await
                .unwrap();
        }
        // CloudWatch Logs subscription data, decoded: 50 log events per
        // message, a control message first.
        let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
        conn.client
            .publish("logs.cwl", control.to_owned().into())
            .await
            .unwrap();
        for chunk in cwl.chunks(50) {
            let events: Vec<serde_json::Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, l)| serde_json::json!({"id": i.to_string(), "timestamp": 1, "message": l}))
                .collect();
            let body = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "g", "logStream": "s", "subscriptionFilters": ["f"], "logEvents": events});
            conn.client
                .publish("logs.cwl", body.to_string().into())
                .await
                .unwrap();
        }
        // EventBridge: one "AWS API Call via CloudTrail" event per message.
        for l in eventbridge {
            let body = format!(
                r#"{{"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"1","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{l}}}"#
            );
            conn.client
                .publish("logs.eventbridge", body.into())
                .await
                .unwrap();
        }
        // Fluent Bit: arrays of [timestamp, {"log": line}], 100 per flush.
        for chunk in fluent.chunks(100) {
            let items: Vec<serde_json::Value> = chunk
                .iter()
                .map(|l| serde_json::json!([1_700_000_000.5, {"log": l}]))
                .collect();
            let body = serde_json::to_string(&items).unwrap();
            conn.client
                .publish("logs.fluentbit", body.into())
                .await
                .unwrap();
        }
        conn.client.flush().await.unwrap();
    });
    let total = lines.len() as u64;
    wait_until("the bridge to publish every record", || {
        bridge
            .stderr()
            .contains(&format!("bridge: {total} records read"))
    });
    assert!(bridge.stop().success(), "{}", bridge.stderr());
    let log = bridge.stderr();
    assert!(log.contains(&format!("read {total} records")), "{log}");
    ok(nats(
        &server,
        "publish",
        &["--end", path(&empty_file(&dir))],
    ));
    let mut w = worker(&server, "w", &[]);
    wait_until("every partition to end", || ended(&server));
    assert_eq!(alerts(&server, "native"), want);
    assert!(w.stop().success());
}

/// Rules as data on NATS: rule files named in the stored configuration
/// run on every worker (setup stores their text), each data rule is
/// partitioned by its own group-by, and the alert stream holds exactly
/// what `recon detect` writes with the same rules, built-in beside data.
#[test]
fn nats_rule_files_run_partitioned_like_detect() {
    let server = Server::start("rules");
    let dir = server.dir.clone();
    let mut bytes = Vec::new();
    recon_gen::write_ndjson(
        recon_gen::GenOptions {
            seed: 5,
            count: 30_000,
            bursts: 10,
            catalogue_rounds: 2,
            ..recon_gen::GenOptions::default()
        },
        &mut bytes,
    )
    .unwrap();
    let whole = dir.join("trail.ndjson");
    std::fs::write(&whole, &bytes).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Copied next to the configuration: setup reads them, workers never do.
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    for f in [
        "aws_iam_enumeration.yml",
        "aws_console_password_spraying.yml",
    ] {
        std::fs::copy(root.join("rules").join(f), rules.join(f)).unwrap();
    }
    let config = dir.join("recon.toml");
    std::fs::write(
        &config,
        format!("rules = [\"sentinel\", {:?}]\n", path(&rules)),
    )
    .unwrap();
    let want = detect(&[&whole], &["--config", path(&config)]);
    let data: Vec<&String> = want
        .iter()
        .filter(|l| !l.contains("\"sentinel-aws-cli-recon\""))
        .collect();
    assert!(
        data.len() >= 3,
        "{} data-rule alerts of {}",
        data.len(),
        want.len()
    );

    ok(nats(
        &server,
        "setup",
        &["--partitions", "2", "--config", path(&config)],
    ));
    // The workers run what setup stored, even with the files gone.
    std::fs::remove_dir_all(&rules).unwrap();
    let s = status(&server);
    let names: std::collections::BTreeSet<&str> = partitions(&s)
        .iter()
        .filter_map(|p| p["rule"].as_str())
        .collect();
    assert!(names.contains("aws-iam-user-enumeration"), "{names:?}");
    assert!(names.contains("aws-console-password-spraying"), "{names:?}");
    let mut a = worker(&server, "a", &[]);
    let mut b = worker(&server, "b", &[]);
    ok(nats(&server, "publish", &["--end", path(&whole)]));
    wait_until("every partition to end", || ended(&server));
    assert_eq!(alerts(&server, "native"), want);
    assert!(a.stop().success());
    assert!(b.stop().success());
}

/// Tenants through `recon nats`: each tenant's own rules and exceptions,
/// one detector per tenant in each partition, kept across a worker given
/// up, one killed and two taking over; the alerts (with their tenant) are
/// exactly `recon detect`'s, each once.
#[test]
fn nats_tenants_keep_their_own_rules_and_state_per_partition() {
    use crate::tuning::{A, B, tenant_record, tenant_setup};
    const C: &str = "333333333333"; // no rules of its own
    let server = Server::start("tenants");
    let dir = server.dir.clone();
    let (rules_dir, config) = tenant_setup(&format!("nats-{}", free_port()));
    let mut lines = Vec::new();
    for w in 0..12u32 {
        for i in 0..4u32 {
            let s = w * 600 + i * 60;
            for account in [A, B, C] {
                lines.push(tenant_record(s, account, "alice", "ListUsers"));
                lines.push(tenant_record(s + 1, account, "scanner", "ListRoles"));
                lines.push(tenant_record(s + 2, account, "alice", "GetRole"));
                lines.push(tenant_record(
                    s + 3,
                    account,
                    &format!("u{w}"),
                    "ListGroups",
                ));
            }
            // No tenant key: the common rules, as tenant "(missing)".
            lines.push(
                tenant_record(s + 4, "x", "nobody", "ListUsers")
                    .replace(r#","recipientAccountId":"x""#, ""),
            );
        }
    }
    let half = lines.len() / 2;
    let whole = dir.join("tenants.ndjson");
    let first = dir.join("tenants-1.ndjson");
    let second = dir.join("tenants-2.ndjson");
    std::fs::write(&whole, lines.join("\n") + "\n").unwrap();
    std::fs::write(&first, lines[..half].join("\n") + "\n").unwrap();
    std::fs::write(&second, lines[half..].join("\n") + "\n").unwrap();
    let want = detect(&[&whole], &["--config", &config]);
    let want_ocsf = detect(&[&whole], &["--config", &config, "--format", "ocsf"]);
    let count = |pred: &dyn Fn(&serde_json::Value) -> bool| {
        want.iter()
            .filter(|l| pred(&serde_json::from_str(l).unwrap()))
            .count()
    };
    // Each tenant got its own: A's exception, B's own rule, C and the
    // records without a key the common rules alone.
    let user = |a: &serde_json::Value| a["row"]["userIdentity.userName"].clone();
    assert_eq!(count(&|a| a["tenant"] == A && user(a) == "scanner"), 0);
    assert_eq!(count(&|a| a["tenant"] == B && user(a) == "scanner"), 12);
    assert_eq!(
        count(&|a| a["tenant"] == B && a["rule"] == "role_burst"),
        12
    );
    assert_eq!(count(&|a| a["rule"] == "role_burst"), 12);
    assert_eq!(count(&|a| a["tenant"] == C && user(a) == "scanner"), 12);
    assert_eq!(count(&|a| a["tenant"] == "(missing)"), 12);

    ok(nats(
        &server,
        "setup",
        &["--partitions", "2", "--config", &config],
    ));
    // Workers run what setup stored, tenants' rules included.
    std::fs::remove_dir_all(&rules_dir).unwrap();
    let s = status(&server);
    let names: std::collections::BTreeSet<&str> = partitions(&s)
        .iter()
        .filter_map(|p| p["rule"].as_str())
        .collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["iam_burst", "role_burst"],
        "{s}"
    );
    let rare = [
        "--snapshot-records",
        "1000000000",
        "--snapshot-seconds",
        "100000",
    ];
    ok(nats(&server, "publish", &[path(&first)]));
    let mut w1 = worker(&server, "w1", &rare);
    wait_until("the first half applied", || caught_up(&server));
    // Given up: every partition snapshots each of its tenants' detectors.
    assert!(w1.stop().success());
    let mut w2 = worker(&server, "w2", &rare);
    wait_until("w2 to restore", || {
        w2.stderr().contains("restored snapshot")
    });
    ok(nats(&server, "publish", &[path(&second)]));
    wait_until("the second half applied", || caught_up(&server));
    w2.kill(); // SIGKILL: the next owners replay from w1's snapshots
    let mut w3 = worker(&server, "w3", &rare);
    let mut w4 = worker(&server, "w4", &rare);
    ok(nats(
        &server,
        "publish",
        &["--end", path(&empty_file(&dir))],
    ));
    wait_until("every partition to end", || ended(&server));
    assert_eq!(alerts(&server, "native"), want);
    assert_eq!(alerts(&server, "ocsf"), want_ocsf);
    assert!(w3.stop().success());
    assert!(w4.stop().success());
}

/// Issue 24's bounded store: a 150 k-record trail, every record from the
/// aws-cli (about 190 MB, twice that placed, one copy per rule), flows
/// through a server whose whole store is 40 MB. The records stream is
/// bounded at 12 MiB; workers snapshot early when it fills and purge what
/// their snapshots cover; the publisher waits for room, says why once, and
/// goes on. Nothing is lost and nothing doubled: the alerts are `recon
/// detect`'s, each once.
#[test]
fn nats_a_full_store_slows_the_publisher_and_stalls_nothing() {
    let server = Server::start_with("full", Some("jetstream { max_file_store: 40MB }\n"));
    let dir = server.dir.clone();
    let mut bytes = Vec::new();
    recon_gen::write_ndjson(
        recon_gen::GenOptions {
            seed: 21,
            count: 150_000,
            bursts: 10,
            aws_cli_share: Some(1.0),
            ..recon_gen::GenOptions::default()
        },
        &mut bytes,
    )
    .unwrap();
    assert!(bytes.len() > 150 << 20, "{} bytes", bytes.len());
    let whole = dir.join("aws-cli.ndjson");
    std::fs::write(&whole, &bytes).unwrap();
    drop(bytes);
    let want = detect(&[&whole], &[]);
    assert!(want.len() > 100, "{} alerts", want.len());

    ok(nats(
        &server,
        "setup",
        &["--partitions", "2", "--records-max-mib", "12"],
    ));
    let mut a = worker(&server, "a", &[]);
    let mut b = worker(&server, "b", &[]);
    let out = ok(nats(&server, "publish", &["--end", path(&whole)]));
    let report = String::from_utf8_lossy(&out.stderr);
    // It waited, said why once per spell naming the bound, and went on.
    assert!(
        report.contains("the store is full")
            && report.contains("the records stream RECON_RECORDS is at its bound of 12582912")
            && report.contains("--records-max-mib")
            && report.contains("room again after"),
        "{report}"
    );
    wait_until("every partition to end", || ended(&server));
    let s = status(&server);
    assert_eq!(alerts(&server, "native"), want);
    // Each partition keeps at most the message at its snapshot's position.
    assert!(
        partitions(&s)
            .iter()
            .all(|p| p["stored_messages"].as_u64() <= Some(1)),
        "{s}"
    );
    assert!(s["records_bytes"].as_u64() < Some(1 << 20), "{s}");
    assert_eq!(s["records_max_bytes"].as_u64(), Some(12 << 20), "{s}");
    // The workers were never starved: no failed heartbeat, no lost lease.
    for w in [&a, &b] {
        let log = w.stderr();
        assert!(!log.contains("writing the worker's heartbeat"), "{log}");
        assert!(!log.contains("insufficient resources"), "{log}");
        assert!(!log.contains("lost partition"), "{log}");
    }
    assert!(a.stop().success());
    assert!(b.stop().success());
}

/// Two workers started with one `--id`: the second waits, saying why, and
/// claims nothing while the first runs (they used to take partitions from
/// each other in a loop, neither told); the alerts stay exact. Once the
/// first stops, the second takes the id and the partitions.
#[test]
fn nats_a_second_worker_with_the_same_id_waits_and_says_why() {
    let server = Server::start("same-id");
    let dir = server.dir.clone();
    let (whole, _, _) = trail(&dir, 13, 20_000);
    let want = detect(&[&whole], &[]);
    ok(nats(&server, "setup", &["--partitions", "2"]));
    let mut first = worker(&server, "same", &[]);
    wait_until("the first to hold every partition", || {
        partitions(&status(&server))
            .iter()
            .all(|p| p["owner"] == "same")
    });
    let mut twin = worker(&server, "same", &[]);
    wait_until("the twin to say why it waits", || {
        twin.stderr()
            .contains("another worker's heartbeat holds this --id")
    });
    ok(nats(&server, "publish", &["--end", path(&whole)]));
    wait_until("every partition to end", || ended(&server));
    assert_eq!(alerts(&server, "native"), want);
    assert!(
        !twin.stderr().contains("claimed partition"),
        "{}",
        twin.stderr()
    );
    assert!(
        !first.stderr().contains("lost partition"),
        "{}",
        first.stderr()
    );
    assert!(first.stop().success());
    wait_until("the twin to take the id and the partitions", || {
        twin.stderr().contains("claimed partition")
    });
    assert!(twin.stop().success());
}

/// A worker killed (SIGKILL) with records in flight: frozen (SIGSTOP)
/// mid-stream after applying the first half, the second half published,
/// the status showing its partitions behind the stream, then killed. The
/// next owner replays from the last snapshot; the alerts are `recon
/// detect`'s, each once.
#[test]
fn nats_a_worker_killed_with_records_in_flight_loses_nothing() {
    let server = Server::start("inflight");
    let dir = server.dir.clone();
    let (whole, first, second) = trail(&dir, 17, 40_000);
    let want = detect(&[&whole], &[]);
    ok(nats(&server, "setup", &["--partitions", "2"]));
    // Snapshots every 2000 records: the kill falls after some.
    let mut w1 = worker(&server, "w1", &["--snapshot-records", "2000"]);
    ok(nats(&server, "publish", &[path(&first)]));
    wait_until("the first half applied", || caught_up(&server));
    w1.signal("STOP");
    ok(nats(&server, "publish", &[path(&second)]));
    let s = status(&server);
    assert!(
        partitions(&s)
            .iter()
            .any(|p| p["applied"].as_u64() < p["last"].as_u64()),
        "records were not in flight at the kill: {s}"
    );
    w1.kill();
    // What a snapshot cut off by a kill leaves: chunks no state names.
    let conn = client(&server, "test");
    let snapshot_subjects = || -> Vec<String> {
        conn.block_on(async {
            let stream = conn.js.get_stream("RECON_SNAPSHOTS").await.unwrap();
            let mut pages = stream.info_with_subjects("recon.snap.>").await.unwrap();
            let mut out = Vec::new();
            while let Some(next) = futures_util::StreamExt::next(&mut pages).await {
                out.push(next.unwrap().0);
            }
            out
        })
    };
    for p in partitions(&s) {
        let subject = format!("recon.snap.{}.999-9", p["name"].as_str().unwrap());
        conn.block_on(async {
            conn.js
                .publish(subject, "a chunk of a snapshot never committed".into())
                .await
                .unwrap()
                .await
                .unwrap()
        });
    }
    assert!(snapshot_subjects().iter().any(|s| s.ends_with(".999-9")));
    let mut w2 = worker(&server, "w2", &[]);
    ok(nats(
        &server,
        "publish",
        &["--end", path(&empty_file(&dir))],
    ));
    wait_until("every partition to end", || ended(&server));
    assert_eq!(alerts(&server, "native"), want);
    assert!(
        w2.stderr().contains("taken over from w1"),
        "{}",
        w2.stderr()
    );
    // Each claim removed its partition's snapshots that no state names.
    let left = snapshot_subjects();
    assert!(!left.iter().any(|s| s.ends_with(".999-9")), "{left:?}");
    assert!(w2.stop().success());
}
