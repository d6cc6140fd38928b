"""The command: exit statuses, errors, streaming, signals, the examples."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers import AI_RECON, BURST, EXAMPLES, REPO, Run, run_py, run_rust


def test_usage_errors_exit_2() -> None:
    for args in (["detect", "--allowed-lateness", "-1"], [], ["frobnicate"]):
        r = run_py(*args)
        assert r.code == 2, args
        assert "usage:" in r.err
    # A --rules entry that is neither a built-in nor a rule file is a
    # configuration error, worded as recon detect words it.
    r = run_py("detect", "--rules", "sentinel,bogus", BURST)
    assert r.code == 2 and r.out == b""
    assert r.err == "recon: error: rules: bogus is neither a built-in (sentinel, elastic) nor an existing rule file or directory\n"


def test_configuration_errors_exit_2(tmp_path: Path) -> None:
    r = run_py("detect", "--allowed-lateness", "999999999", BURST)
    assert r.code == 2
    # The component's refusal, as recon detect words it (its message alone).
    assert r.err.startswith("recon: error: invalid detector configuration: allowed-lateness-ms ")
    for text, named in [
        ("bogus = 1\n", "bogus"),
        ("[sentinel]\ncomands = []\n", "comands"),
        ('profile = "loose"\n', "profile"),
        ("[limits]\nmax_event_bytes = -1\n", "max_event_bytes"),
        ("chunk_kib = 0\n", "chunk_kib"),
        ('[tenants]\nkey = "recipientAccountId"\n', "tenants.key"),
        ("rules = [\n", "bad.toml"),
    ]:
        path = tmp_path / "bad.toml"
        path.write_text(text)
        r = run_py("detect", "--config", path, BURST)
        assert r.code == 2, text
        assert named in r.err, (text, r.err)
    r = run_py("detect", "--config", tmp_path / "missing.toml", BURST)
    assert r.code == 2 and "missing.toml" in r.err


def test_an_unreadable_input_is_reported_and_the_others_processed(recon_bin: Path, tmp_path: Path) -> None:
    args = ["--config", str(AI_RECON), str(tmp_path / "missing.jsonl"), str(BURST)]
    rust = run_rust(recon_bin, *args)
    py = run_py("detect", *args)
    assert py.code == rust.code == 1
    assert py.out == rust.out and len(py.lines) == 1
    assert py.err == rust.err
    assert "missing.jsonl: No such file or directory" in py.err
    assert py.err.endswith("recon: 1 input(s) could not be read completely\n")


def test_output_file_and_info(tmp_path: Path) -> None:
    out = tmp_path / "alerts.ndjson"
    r = run_py("detect", "--config", AI_RECON, "-o", out, BURST)
    assert r.code == 0 and r.out == b""
    assert json.loads(out.read_text())["row"]["AccountName"] == "AdanAlvarez"
    info = run_py("info")
    assert info.code == 0
    assert len(json.loads(info.out)["sha256"]) == 64


def test_every_key_of_the_rust_file_at_its_default_changes_nothing(tmp_path: Path) -> None:
    """The keys `recon config --print-default` writes, at their defaults."""
    path = tmp_path / "defaults.toml"
    path.write_text(
        """
rules = ["sentinel", "elastic"]
profile = "default"
allowed_lateness_seconds = 60
chunk_kib = 1024
workers = 2
[sentinel]
window_seconds = 60
min_distinct = 8
[elastic]
window_seconds = 10
min_distinct = 6
providers = ["iam.amazonaws.com", "ec2.amazonaws.com", "s3.amazonaws.com", "rds.amazonaws.com",
  "lambda.amazonaws.com", "dynamodb.amazonaws.com", "kms.amazonaws.com", "cloudfront.amazonaws.com",
  "elasticloadbalancing.amazonaws.com"]
[limits]
max_event_bytes = 262144
max_open_groups = 100000
max_list_entries = 10000
max_time_jump_seconds = 3600
time_confirmations = 16
[sandbox]
max_memory_mib = 256
max_call_ms = 10000
fuel_per_call = 0
checkpoint_mib = 16
max_quarantined = 100
[tenants]
max_tenants = 64
[live]
idle_ms = 5000
max_lag_seconds = 3600
"""
    )
    sample = REPO / "tests" / "data" / "cloudtrail" / "traildiscover" / "traildiscover_dedup_sorted.jsonl"
    plain = run_py("detect", "--profile", "seed", sample)
    with_file = run_py("detect", "--config", path, "--profile", "seed", sample)
    assert with_file.code == plain.code == 0
    assert with_file.out == plain.out
    notes = [line for line in with_file.err.splitlines() if line.startswith("recon: note:")]
    assert len(notes) == 4  # workers, checkpoint_mib, max_quarantined, [live]
    assert [line for line in with_file.err.splitlines() if not line.startswith("recon: note:")] == plain.err.splitlines()


def test_an_alert_leaves_while_stdin_stays_open(recon_bin: Path, long_slow_trail: Path) -> None:
    trail = long_slow_trail
    expected = run_rust(recon_bin, trail).lines
    first = json.loads(expected[0])
    from datetime import datetime

    end = datetime.fromisoformat(first["window_end"].replace("Z", "+00:00")).timestamp()
    lines = trail.read_bytes().splitlines(keepends=True)
    # Records up to a minute past the window's end plus the default
    # lateness (15 minutes).
    upto = next(i for i, line in enumerate(lines) if _time(line) > end + 900 + 60)
    p = subprocess.Popen(
        [sys.executable, "-m", "recon_detector", "detect"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert p.stdin is not None and p.stdout is not None
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(p.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    p.stdin.write(b"".join(lines[:upto]))
    p.stdin.flush()
    reader.join(60)
    try:
        assert got and got[0] == expected[0] + b"\n", "the first alert leaves before the input ends"
    finally:
        p.stdin.close()
        p.wait(60)
    assert p.returncode == 0


def _time(line: bytes) -> float:
    from datetime import datetime

    t = json.loads(line).get("eventTime")
    return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() if isinstance(t, str) else 0.0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_stream_as_at_the_end_of_input(sig: int) -> None:
    """With stdin still open: what was read is processed, the stream ended
    (the burst's window closes: its alert), the summary says so, status 0."""
    # --show-rejects: far-ahead notices listed one by one, as they are read
    # (without it they are summarised at the end).
    p = subprocess.Popen(
        [sys.executable, "-m", "recon_detector", "detect", "--config", str(AI_RECON), "--show-rejects", "20"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert p.stdin is not None and p.stdout is not None and p.stderr is not None
    p.stdin.write(BURST.read_bytes())
    p.stdin.flush()
    # The first report on stderr: the records were read and pushed.
    first = p.stderr.readline()
    assert b"time far ahead of the stream" in first
    p.send_signal(sig)
    try:
        code = p.wait(60)
        out, err = p.stdout.read(), first + p.stderr.read()
    finally:
        p.stdin.close()
    assert code == 0, err
    assert json.loads(out)["row"]["CommadCount"] == 11
    assert "stopped by a signal" in err.decode()
    assert "read 29 records; 1 alerts" in err.decode()
    assert "Fatal" not in err.decode()


def test_the_first_alert_example() -> None:
    p = subprocess.run(
        [sys.executable, str(EXAMPLES / "first_alert.py")], cwd=REPO, capture_output=True, timeout=120, check=True
    )
    title, line = p.stdout.decode().splitlines()
    assert title == "Suspicious AWS CLI reconnaissance by AdanAlvarez - 11 commands"
    assert json.loads(line)["row"]["CommadCount"] == 11


def test_the_s3_example_in_local_directory_mode(recon_bin: Path, slow_trail: Path, tmp_path: Path) -> None:
    """Files land in two batches; the state file carries open windows over
    from the first run to the second; together they give what one stream
    gives."""
    import gzip

    lines = slow_trail.read_text().splitlines()
    root = tmp_path / "bucket"
    day = root / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1" / "2026" / "01" / "05"
    day.mkdir(parents=True)
    parts = 6
    files = []
    for i in range(parts):
        part = lines[i * len(lines) // parts : (i + 1) * len(lines) // parts]
        name = f"111122223333_CloudTrail_us-east-1_20260105T00{i:02d}Z_abc.json.gz"
        files.append((name, gzip.compress(('{"Records":[' + ",".join(part) + "]}").encode())))
    digests = root / "AWSLogs" / "111122223333" / "CloudTrail-Digest" / "us-east-1" / "2026" / "01" / "05"
    digests.mkdir(parents=True)
    (digests / "111122223333_CloudTrail-Digest_us-east-1_20260105T0100Z.json.gz").write_bytes(
        gzip.compress(b'{"awsAccountId":"111122223333","digestStartTime":"2026-01-05T00:00:00Z","logFiles":[]}')
    )
    state = tmp_path / "recon.state"
    script = [sys.executable, str(EXAMPLES / "s3_export.py"), "--dir", str(root), "--state", str(state)]
    script += ["--allowed-lateness", "60"]

    for name, data in files[:4]:
        (day / name).write_bytes(data)
    first = subprocess.run([*script, "--once"], capture_output=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert state.exists()
    for name, data in files[4:]:
        (day / name).write_bytes(data)
    second = subprocess.run([*script, "--finish"], capture_output=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert b"resumed from" in second.stderr
    assert not state.exists()

    expected = run_rust(recon_bin, slow_trail).out
    assert expected.count(b"\n") >= 2
    assert first.stdout + second.stdout == expected
    assert b"Digest" not in first.stderr + second.stderr
    # Some windows closed in the first run, the others after the restore.
    assert first.stdout and second.stdout


def test_help() -> None:
    r = subprocess.run([sys.executable, "-m", "recon_detector", "--help"], capture_output=True, timeout=60)
    assert r.returncode == 0 and b"detect" in r.stdout
    r = subprocess.run([sys.executable, "-m", "recon_detector", "detect", "--help"], capture_output=True, timeout=60)
    assert b"--allowed-lateness SECONDS" in r.stdout


SNAPSHOT_DIGEST = """
import hashlib, sys
import recon_detector as rd
d = rd.Detector()
d.push_ndjson(open(sys.argv[1], "rb").read())
snap = d.snapshot()
again = rd.Detector.restore(snap)
assert again.stats() == d.stats()
assert again.snapshot() == snap
print(hashlib.sha256(snap).hexdigest(), len(snap))
"""


def test_the_generic_value_path_gives_the_same_results(recon_bin: Path) -> None:
    """``list<u8>`` values written directly in wasmtime's value array (the
    default) and through wasmtime's public generic conversion (the
    fallback) give the same alert lines, stderr and snapshot bytes."""
    generic = {**os.environ, "RECON_DETECTOR_GENERIC_VALUES": "1"}
    args = [sys.executable, "-m", "recon_detector", "detect", "--config", str(AI_RECON), str(BURST)]
    slow = subprocess.run(args, env=generic, capture_output=True, timeout=300)
    rust = run_rust(recon_bin, "--config", AI_RECON, BURST)
    assert slow.returncode == rust.code == 0
    assert slow.stdout == rust.out and len(rust.lines) == 1
    assert slow.stderr.decode() == rust.err
    script = [sys.executable, "-c", SNAPSHOT_DIGEST, str(BURST)]
    direct = subprocess.run(script, capture_output=True, timeout=300, check=True).stdout
    through_generic = subprocess.run(script, env=generic, capture_output=True, timeout=300, check=True).stdout
    assert direct == through_generic
    assert int(direct.split()[1]) > 1000


def test_the_compiled_component_cache(tmp_path: Path) -> None:
    """The second run loads what the first compiled; a damaged entry is
    reported, recompiled and rewritten, never run; --no-cache keeps
    nothing."""
    cache = tmp_path / "cache"
    args = ["detect", "--config", str(AI_RECON), "--cache-dir", str(cache), str(BURST)]
    first = run_py(*args)
    (entry,) = cache.iterdir()
    assert entry.name.startswith("python-") and entry.suffix == ".cwasm"
    second = run_py(*args)
    assert first.code == second.code == 0 and first.out == second.out and first.err == second.err
    assert len(first.lines) == 1
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0x01
    entry.write_bytes(bytes(data))
    damaged = run_py(*args)
    assert damaged.out == first.out and damaged.code == 0
    assert damaged.err.startswith(
        "recon: the compiled component in the cache was not used (the cache file's checksum does not "
        "match its content); recompiled it\n"
    )
    assert damaged.err.endswith(first.err)
    assert run_py(*args).err == first.err  # rewritten
    entry.unlink()
    none = run_py("detect", "--config", str(AI_RECON), "--no-cache", str(BURST))
    assert none.out == first.out and not entry.exists()
    assert run_py("detect", "--no-cache", "--cache-dir", str(cache), str(BURST)).code == 2


# ---------------------------------------------------------------------------
# The real-time feeds' envelopes, and inputs that are not CloudTrail.


def _cloudwatch_message(messages: list[object]) -> str:
    """One CloudWatch Logs subscription message (as a Firehose object
    holds them) of ``messages``."""
    events = [{"id": str(i + 1), "timestamp": 1, "message": m} for i, m in enumerate(messages)]
    return json.dumps(
        {
            "messageType": "DATA_MESSAGE",
            "owner": "1",
            "logGroup": "g",
            "logStream": "s",
            "subscriptionFilters": ["f"],
            "logEvents": events,
        }
    )


_CONTROL_MESSAGE = json.dumps(
    {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}
        ],
    }
)


def _same_as_rust(recon_bin: Path, *args: str | os.PathLike[str], stdin: bytes | None = None) -> Run:
    """This CLI and ``recon detect`` on the same arguments and input: the
    same exit status, stdout and stderr."""
    py = run_py("detect", *args, stdin=stdin)
    # --live off: a pipe on stdin turns on recon detect's live mode, which
    # this host has not.
    rust = run_rust(recon_bin, "--live", "off", *args, stdin=stdin)
    assert py.err == rust.err
    assert py.out == rust.out
    assert py.code == rust.code
    return py


def test_cloudwatch_logs_messages_give_the_alerts_of_their_records(recon_bin: Path) -> None:
    records = BURST.read_text().splitlines()
    cloudwatch = ("\n".join([_CONTROL_MESSAGE] + [_cloudwatch_message([r]) for r in records]) + "\n").encode()
    plain = run_py("detect", "--config", AI_RECON, BURST)
    r = _same_as_rust(recon_bin, "--config", AI_RECON, "-", stdin=cloudwatch)
    assert r.code == 0, r.err
    assert r.out == plain.out and len(r.lines) == 1
    assert "recon: read 29 records; 1 alerts\n" in r.err
    assert (
        "\nrecon: 1 CloudWatch Logs control message skipped "
        "(a subscription's health checks, not CloudTrail records)\n" in r.err
    )
    # Places name the line and the log event.
    assert re.search(r"recon: <stdin>: 13 records with times far ahead .* at line 18, log event 1, line 19, ", r.err)
    assert "envelope values" not in r.err and "lines longer than" not in r.err
    listed = _same_as_rust(recon_bin, "--config", AI_RECON, "--show-rejects", "2", "-", stdin=cloudwatch)
    assert "recon: <stdin>: line 18, log event 1: time far ahead" in listed.err
    assert "recon: 11 more far-ahead notices not shown" in listed.err


def test_a_log_event_whose_message_is_not_text_is_reported_and_skipped(recon_bin: Path) -> None:
    records = BURST.read_text().splitlines()
    body = _cloudwatch_message(records[:2]) + "\n" + _cloudwatch_message([records[2], 42]) + "\n"
    r = _same_as_rust(recon_bin, "-", stdin=body.encode())
    assert r.code == 0, r.err
    assert re.search(r"recon: <stdin>: line 2, log event 2: rejected \(unknown-shape\): .*number", r.err)
    # Skipped values count as records read, as too-large lines do, and are
    # told apart from them.
    assert "recon: read 4 records; 0 alerts\n" in r.err
    assert (
        "\nrecon: 1 envelope values held no record, skipped by the reader (not counted by the rules below)\n"
        in r.err
    )
    assert "lines longer than" not in r.err and "control message" not in r.err


def test_s3_event_notifications_are_named_and_fail_the_run(recon_bin: Path, tmp_path: Path) -> None:
    # What an S3 bucket's event notification says about a CloudTrail log
    # file: its name, no records.
    notification = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "AWSLogs/1/CloudTrail/x.json.gz"}},
            }
        ]
    }
    path = tmp_path / "notifications.ndjson"
    path.write_text((json.dumps(notification) + "\n") * 3)
    r = _same_as_rust(recon_bin, path, BURST)
    assert r.code == 1, r.err
    assert r.out == b""
    summary = r.err.splitlines()
    verdict = f"recon: {path}: none of its 3 records could be read; this looks like S3 event notifications: "
    (at,) = [i for i, line in enumerate(summary) if line.startswith(verdict)]
    # With the summary, after the records read, before the skipped values
    # and the rules' lines.
    assert summary[at - 1].startswith("recon: read 32 records; ")
    assert summary[at + 1].startswith("recon: 3 envelope values held no record")
    assert summary[at + 2].startswith("recon: sentinel-aws-cli-recon: ")
    assert summary[-1] == "recon: 1 input(s) held no readable record"


def test_an_input_of_no_readable_record_fails_the_run(recon_bin: Path) -> None:
    r = _same_as_rust(recon_bin, "--show-rejects", "3", "-", stdin=b"x\n" * 30)
    assert r.code == 1
    assert r.err.count("rejected (invalid-json)") == 3
    assert "recon: 27 more rejected records not shown (--show-rejects)\n" in r.err
    assert "recon: <stdin>: none of its 30 records could be read; " in r.err
    assert r.err.endswith("\nrecon: 1 input(s) held no readable record\n")
