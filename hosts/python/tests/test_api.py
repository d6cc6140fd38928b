"""The Python API: Detector, detect()/detect_file(), errors, sandbox bounds."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

import recon_detector as rd
from helpers import AI_COMMANDS, AI_RECON, BURST, Trails, run_rust

AI_CONFIG = rd.Config(rules=[rd.RuleConfig("sentinel", commands=AI_COMMANDS)])
#: The built-ins' names, as alerts and stats carry them.
SENTINEL = "sentinel-aws-cli-recon"
ELASTIC = "elastic-aws-discovery-burst"


def chunks(data: bytes, size: int = 1 << 20) -> list[bytes]:
    """``data`` cut at line ends into pieces of about ``size`` bytes."""
    out, pos = [], 0
    while pos < len(data):
        end = data.rfind(b"\n", pos, pos + size)
        end = len(data) - 1 if end < 0 else end
        out.append(data[pos : end + 1])
        pos = end + 1
    return out


def run_all(d: rd.Detector, data: bytes, size: int = 1 << 20) -> list[rd.Alert]:
    alerts: list[rd.Alert] = []
    for c in chunks(data, size):
        d.push_ndjson(c)
        alerts += d.drain()
    d.flush()
    return alerts + d.drain()


# -- alerts -------------------------------------------------------------------


def test_the_burst_through_the_api_is_the_rust_cli_line(recon_bin: Path) -> None:
    rust = run_rust(recon_bin, "--config", AI_RECON, BURST)
    alerts = list(rd.detect_file(BURST, AI_CONFIG))
    assert len(alerts) == 1
    a = alerts[0]
    assert (a.to_json() + "\n").encode() == rust.out
    assert a.rule == SENTINEL
    assert a.row_data["AccountName"] == "AdanAlvarez"
    assert a.row_data["CommadCount"] == 11
    assert a.title == "Suspicious AWS CLI reconnaissance by AdanAlvarez - 11 commands"
    assert a.window_start.isoformat() == "2026-02-08T16:31:00+00:00"
    assert a.window_end_ms - a.window_start_ms == 60_000
    assert a.entities[0].kind == "Account"
    assert a.to_dict()["entities"][0]["type"] == "Account"


def test_detect_over_lines_strings_and_objects() -> None:
    lines = BURST.read_text().splitlines(keepends=True)
    by_text = list(rd.detect(lines, AI_CONFIG))
    by_bytes = list(rd.detect((line.encode() for line in lines), AI_CONFIG, chunk_bytes=100))
    by_object = list(rd.detect((json.loads(line) for line in lines), AI_CONFIG))
    assert len(by_text) == 1
    assert by_text == by_bytes
    # Re-serialised records are judged the same way (no repeated keys here).
    assert [a.to_json() for a in by_object] == [a.to_json() for a in by_text]


def test_detect_returns_the_final_stats_and_reports_batches() -> None:
    results: list[rd.BatchResult] = []
    gen = rd.detect(BURST.read_bytes().splitlines(), AI_CONFIG, on_batch=results.append)
    alerts = []
    while True:
        try:
            alerts.append(next(gen))
        except StopIteration as stop:
            stats = stop.value
            break
    assert len(alerts) == 1
    assert isinstance(stats, rd.Stats)
    assert stats.pushed == sum(r.records for r in results) == 29
    assert stats.rules[0].alerts == 1


def test_detect_file_reads_gzip_documents_from_memory() -> None:
    records = [json.loads(line) for line in BURST.read_text().splitlines()]
    doc = gzip.compress(json.dumps({"Records": records}).encode())
    assert [a.id for a in rd.detect_file(io.BytesIO(doc), AI_CONFIG)] == [
        a.id for a in rd.detect_file(BURST, AI_CONFIG)
    ]
    assert len(list(rd.detect_file(doc, AI_CONFIG))) == 1


def test_an_alert_waits_for_its_window_and_flush_closes_it() -> None:
    d = rd.Detector(AI_CONFIG)
    d.push_ndjson(BURST.read_bytes())
    assert d.drain() == []
    assert d.stats().rules[0].open_groups > 0
    assert d.flush() == 1
    (alert,) = d.drain()
    assert alert.row_data["CommadCount"] == 11
    assert d.drain() == []
    # After the end of the stream, events the rule would count are late.
    lines = BURST.read_text().splitlines()
    fresh = rd.Detector(AI_CONFIG)
    counted = [line for line in lines if fresh.push(line)[SENTINEL] is rd.Outcome.ACCEPTED]
    assert len(counted) >= 11
    assert d.push(counted[0]) == {SENTINEL: rd.Outcome.LATE}
    assert d.stats().rules[0].late == 1


def test_flush_to_a_time_closes_only_the_windows_before_it() -> None:
    d = rd.Detector(AI_CONFIG)
    d.push_ndjson(BURST.read_bytes())
    # The burst's window ends 16:32:00; with the default lateness (15 minutes)
    # it is final at 16:47:00.
    assert d.flush(1770568320000 + 899_000) == 0
    from datetime import datetime, timezone

    assert d.flush(datetime(2026, 2, 8, 16, 47, 1, tzinfo=timezone.utc)) == 1
    assert len(d.drain()) == 1


# -- snapshot / restore -------------------------------------------------------------


def test_snapshot_restore_mid_stream_gives_the_same_alerts(trails: Trails) -> None:
    data = trails.seed11.read_bytes()
    pieces = chunks(data, 256 << 10)
    whole = rd.Detector()
    expected = run_all(whole, data, 256 << 10)
    assert len(expected) == 8

    half = len(pieces) // 2
    first = rd.Detector()
    got: list[rd.Alert] = []
    for c in pieces[:half]:
        first.push_ndjson(c)
        got += first.drain()
    # Leave an alert pending across the snapshot if one is.
    for c in pieces[half : half + 3]:
        first.push_ndjson(c)
    snap = first.snapshot()
    pending = first.stats().pending_alerts
    first.close()

    resumed = rd.Detector.restore(snap)
    assert resumed.rules == (SENTINEL, ELASTIC)
    assert resumed.stats().pending_alerts == pending
    got += resumed.drain()
    for c in pieces[half + 3 :]:
        resumed.push_ndjson(c)
        got += resumed.drain()
    resumed.flush()
    got += resumed.drain()
    assert [a.to_json() for a in got] == [a.to_json() for a in expected]
    assert resumed.stats() == whole.stats()


def test_damaged_snapshots_are_refused() -> None:
    d = rd.Detector()
    d.push_ndjson(BURST.read_bytes())
    snap = bytearray(d.snapshot())
    snap[len(snap) // 2] ^= 0x55
    with pytest.raises(rd.SnapshotError) as e:
        rd.Detector.restore(bytes(snap))
    assert e.value.kind == "malformed"
    with pytest.raises(rd.SnapshotError) as e:
        rd.Detector.restore(b"")
    assert e.value.kind == "malformed"
    assert str(e.value)


# -- rejected records ------------------------------------------------------------


def test_malformed_records_are_counted_not_raised() -> None:
    good = BURST.read_bytes().splitlines()[0]
    buf = b"not json\n" + good + b"\n\n[1,2]\n" + b'{"eventTime":"yesterday","eventName":"x"}\r\n' + b"\xff\xfe\n"
    d = rd.Detector()
    r = d.push_ndjson(buf)
    assert r.records == 5  # the blank line is not a record
    assert r.rejected == 4
    assert [(e.index, e.reason) for e in r.errors] == [
        (0, rd.RejectReason.INVALID_JSON),
        (3, rd.RejectReason.NOT_AN_OBJECT),
        (4, rd.RejectReason.INVALID_TIME),
        (5, rd.RejectReason.INVALID_JSON),
    ]
    assert all(e.rule is None and e.message for e in r.errors)
    assert "yesterday" in r.errors[2].message
    stats = d.stats()
    assert stats.pushed == 5
    assert stats.rejected == 4
    assert stats.rejected_by_reason == {
        rd.RejectReason.INVALID_JSON: 2,
        rd.RejectReason.NOT_AN_OBJECT: 1,
        rd.RejectReason.INVALID_TIME: 1,
    }
    for rule in stats.rules:
        assert rule.pushed == rule.accepted + rule.filtered + rule.rejected + rule.late


def test_push_raises_event_errors_and_counts_them() -> None:
    d = rd.Detector()
    with pytest.raises(rd.EventError) as e:
        d.push('{"eventName":"ListUsers"}')
    assert e.value.reason == rd.RejectReason.MISSING_TIME
    with pytest.raises(rd.EventError) as e:
        d.push(b"\xff{}")
    assert e.value.reason == rd.RejectReason.INVALID_JSON
    outcomes = d.push(json.loads(BURST.read_text().splitlines()[0]))
    assert set(outcomes) == {SENTINEL, ELASTIC}
    assert d.stats().pushed == 3
    assert d.stats().rejected == 2


def test_push_batch_reports_by_index() -> None:
    lines = BURST.read_text().splitlines()
    d = rd.Detector(AI_CONFIG)
    r = d.push_batch([lines[0], "{}", json.loads(lines[1])])
    assert r.records == 3
    assert [e.index for e in r.errors] == [1]
    assert r.rules[0].rule == SENTINEL


def test_state_limit_is_a_rejection_by_one_rule() -> None:
    config = rd.Config(rules=[rd.RuleConfig("sentinel", commands=AI_COMMANDS)], limits=rd.Limits(max_open_groups=1))
    fresh = rd.Detector(AI_CONFIG)
    counted = [x for x in BURST.read_text().splitlines() if fresh.push(x)[SENTINEL] is rd.Outcome.ACCEPTED]
    # Two identities in one window: the second group is one too many.
    one = json.loads(counted[0])
    other = json.loads(counted[0])
    other["userIdentity"]["arn"] = "arn:aws:sts::222222222222:assumed-role/Other/someone-else"
    other["userIdentity"]["accountId"] = "222222222222"
    other["recipientAccountId"] = "222222222222"
    other["sourceIPAddress"] = "192.0.2.99"
    d = rd.Detector(config)
    assert d.push(one) == {SENTINEL: rd.Outcome.ACCEPTED}
    r = d.push_batch([other])
    assert [(e.index, e.rule, e.reason) for e in r.errors] == [(0, SENTINEL, rd.RejectReason.STATE_LIMIT)]
    assert r.rejected == 0 and r.rules[0].rejected == 1
    assert d.stats().rules[0].rejected_by_reason == {rd.RejectReason.STATE_LIMIT: 1}
    assert d.push(other) == {SENTINEL: rd.Outcome.STATE_LIMIT}


# -- configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "kind", "names"),
    [
        (rd.Config(rules=[rd.RuleConfig("sentinel", window_ms=0)]), "out-of-range", "window-ms"),
        (rd.Config(rules=[rd.RuleConfig("elastic", min_distinct=0)]), "out-of-range", "min-distinct"),
        (rd.Config(rules=[rd.RuleConfig("sentinel", commands=[])]), "invalid-list", "commands"),
        (rd.Config(rules=[rd.RuleConfig("sentinel", commands=["iam.list-users", " "])]), "invalid-list", "commands[1]"),
        (rd.Config(rules=[]), "invalid-list", "rules"),
        (rd.Config(rules=["sentinel", "sentinel"]), "invalid-list", "rules[1]"),
        (rd.Config(allowed_lateness_ms=8 * 86_400_000), "out-of-range", "allowed-lateness-ms"),
        (rd.Config(limits=rd.Limits(time_confirmations=0)), "out-of-range", "limits.time-confirmations"),
        (rd.Config(limits=rd.Limits(max_time_jump_ms=10)), "out-of-range", "limits.max-time-jump-ms"),
        (rd.Config(rules=[rd.RuleConfig("sentinel", window_ms=-1)]), "invalid-option", "rules[0].window_ms"),
        (rd.Config(rules=["bogus"]), "invalid-option", "rules[0]"),
        (rd.Config(profile="loose"), "invalid-option", "profile"),
        (rd.Config(limits=rd.Limits(max_event_bytes=1 << 32)), "invalid-option", "limits.max_event_bytes"),
        (rd.Config(rules=[rd.RuleConfig("elastic", providers="iam.amazonaws.com")]), "invalid-option", "providers"),
    ],
)
def test_invalid_configurations_raise_naming_the_field(config: rd.Config, kind: str, names: str) -> None:
    with pytest.raises(rd.ConfigError) as e:
        rd.Detector(config)
    assert e.value.kind == kind
    assert names in str(e.value)


def test_rules_by_name_and_defaults() -> None:
    d = rd.Detector(rd.Config(rules=[ELASTIC, "sentinel-aws-cli-recon"]))
    assert d.rules == (ELASTIC, SENTINEL)
    assert [r.rule for r in d.stats().rules] == [ELASTIC, SENTINEL]
    assert rd.Detector().rules == (SENTINEL, ELASTIC)


# -- sandbox bounds -------------------------------------------------------------------


def test_the_memory_cap_traps_into_an_exception(trails: Trails) -> None:
    data = trails.seed7.read_bytes()[: 8 << 20]
    d = rd.Detector(sandbox=rd.Sandbox(max_memory_bytes=4 << 20))
    other = rd.Detector()
    with pytest.raises(rd.ComponentTrap) as e:
        d.push_ndjson(data)
    assert e.value.kind == "memory"
    assert "4194304" in str(e.value)
    assert d.closed
    with pytest.raises(rd.DetectorClosed):
        d.stats()
    # Other detectors are unaffected.
    assert other.push_ndjson(data).records > 0
    # Too small for the component's own initial memory: refused up front.
    with pytest.raises(rd.ComponentLoadError):
        rd.Detector(sandbox=rd.Sandbox(max_memory_bytes=64 << 10))


def test_fuel_bounds_each_call() -> None:
    data = BURST.read_bytes()
    # The sample (29 records) takes about 1.7 million units.
    d = rd.Detector(AI_CONFIG, sandbox=rd.Sandbox(fuel_per_call=5_000_000))
    # Each call gets its budget afresh: many small calls pass...
    for _ in range(20):
        d.push_ndjson(data)
    assert d.stats().pushed == 20 * 29
    # ... one large one does not.
    with pytest.raises(rd.ComponentTrap) as e:
        d.push_ndjson(data * 400)
    assert e.value.kind == "fuel"
    with pytest.raises(rd.DetectorClosed):
        d.drain()


def test_the_deadline_interrupts_a_long_call(trails: Trails) -> None:
    data = trails.seed7.read_bytes()
    # (No short call first: on a loaded machine even one can miss a 1 ms
    # deadline; that a call within its deadline returns is every other test.)
    d = rd.Detector(sandbox=rd.Sandbox(call_timeout=0.001))
    with pytest.raises(rd.ComponentTrap) as e:
        d.push_ndjson(data * 2)
    assert e.value.kind == "deadline"


def test_invalid_sandbox_bounds() -> None:
    for bad in (rd.Sandbox(max_memory_bytes=0), rd.Sandbox(call_timeout=0), rd.Sandbox(fuel_per_call=-5)):
        with pytest.raises(rd.ConfigError) as e:
            rd.Detector(sandbox=bad)
        assert "sandbox." in str(e.value)


def test_close_and_context_manager() -> None:
    with rd.Detector() as d:
        d.push_ndjson(b"")
    with pytest.raises(rd.DetectorClosed):
        d.flush()


def test_component_info() -> None:
    info = rd.component_info()
    assert info["interface"] == "recon:detector/detection@0.6.0"
    assert len(info["sha256"]) == 64 and info["bytes"] > 100_000


# -- the alert line -------------------------------------------------------------------


def test_ocsf_and_tenant_lines_are_the_rust_cli_ones(recon_bin: Path) -> None:
    rust = run_rust(recon_bin, "--config", AI_RECON, "--format", "ocsf", BURST)
    (a,) = rd.detect_file(BURST, AI_CONFIG)
    assert (a.format("ocsf") + "\n").encode() == rust.out
    with_tenant = json.loads(a.format("ocsf", tenant="111122223333"))
    assert with_tenant["metadata"]["tenant_uid"] == "111122223333" and with_tenant["class_uid"] == 2004
    assert json.loads(a.format(tenant="t"))["tenant"] == "t"
    with pytest.raises(ValueError):
        a.format("csv")  # type: ignore[arg-type]


def test_open_input_reads_pieces_cut_anywhere_with_located_reports() -> None:
    lines = BURST.read_bytes().splitlines()
    doc = b'{"Records":[' + b",".join(lines) + b',{"eventTime":"x","k":"\xc3\xa9"}]}'
    d = rd.Detector(AI_CONFIG)
    inp = d.open_input(chunk_bytes=4096)
    results = [inp.feed(doc[i : i + 777]) for i in range(0, len(doc), 777)]
    results.append(inp.end())
    assert sum(r.records for r in results) == len(lines) + 1
    # The sample's later windows come as times far ahead (reason None).
    (report,) = [p for r in results for p in r.reports if p.reason is not None]
    assert report.record == len(lines) + 1 and report.line == 1
    assert report.reason is rd.RejectReason.INVALID_TIME
    assert report.message.startswith(f"line 1, record {len(lines) + 1}: rejected (invalid-time)")
    assert all(r.unreadable is None for r in results)
    with pytest.raises(rd.DetectorClosed):
        inp.feed(b"more")
    assert d.flush() == 1


def test_open_input_cuts_inside_a_character_and_mixes_text_and_bytes() -> None:
    record = '{"eventTime":"2026-01-01T00:00:00Z","eventName":"é✓\U0001f600"}\n'.encode()
    body = record * 3 + b'{"eventTime":"x","k":"\xff"}\n'
    d = rd.Detector()
    inp = d.open_input()
    got = [inp.feed(body[i : i + 1]) for i in range(len(body))] + [inp.end()]
    reports = [p for r in got for p in r.reports]
    assert sum(r.records for r in got) == 4
    assert [p.line for p in reports] == [4] and reports[0].reason is rd.RejectReason.INVALID_JSON
    assert d.stats().pushed == 4


def test_open_input_reads_cloudwatch_logs_messages_with_their_counts_and_verdict() -> None:
    control = json.dumps(
        {
            "messageType": "CONTROL_MESSAGE",
            "owner": "CloudwatchLogs",
            "logGroup": "",
            "logStream": "",
            "subscriptionFilters": [],
            "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health."}],
        }
    )
    record = '{"eventTime":"2026-01-01T00:00:00Z","eventName":"é✓"}'
    data = json.dumps(
        {
            "messageType": "DATA_MESSAGE",
            "owner": "1",
            "logGroup": "g",
            "logStream": "s",
            "subscriptionFilters": ["f"],
            "logEvents": [{"id": "1", "timestamp": 1, "message": record}, {"id": "2", "timestamp": 1, "message": 7}],
        },
        ensure_ascii=False,
    )
    body = (control + "\n" + data + "\n").encode()
    d = rd.Detector()
    inp = d.open_input()
    # Cut inside a character: the carried bytes and the step after them
    # are merged into one result (counts summed, the verdict kept).
    cut = body.index("✓".encode()) + 1
    got = [inp.feed(body[:cut]), inp.feed(body[cut:]), inp.end()]
    assert sum(r.control_messages for r in got) == 1
    assert sum(r.records for r in got) == 1 and sum(r.skipped for r in got) == 1
    (report,) = [p for r in got for p in r.reports]
    assert (report.line, report.record, report.log_event) == (2, None, 2)
    assert report.reason is rd.RejectReason.UNKNOWN_SHAPE
    assert report.message.startswith("line 2, log event 2: rejected (unknown-shape): ")
    # Half of the records hold none: no verdict (it takes most of them).
    assert all(r.verdict is None for r in got)

    d = rd.Detector()
    inp = d.open_input()
    inp.feed(b"x\n" * 3 + "é".encode()[:1])
    end = inp.end()
    assert end.verdict is not None and end.verdict.none_readable
    assert end.verdict.records == end.verdict.misshapen == 4
    assert end.verdict.looks_like is None
    assert end.verdict.message.startswith("none of its 4 records could be read; ")


def test_alert_json_escapes_as_serde_json() -> None:
    a = rd.Alert(
        rule="r",
        rule_id="id",
        id="x",
        window_start_ms=0,
        window_end_ms=60_000,
        row=' {"a": "é\\u0001", "b": [1, 2.5]} ',
        title='quote " backslash \\ tab \t nl \n ctl \x01 del \x7f é ✓ \U0001f600',
        description="",
        severity="Low",
        tactics=("Discovery",),
        techniques=(),
        entities=(rd.Entity("Account", (("Name", "ü"), ("type", "override"))),),
        custom_details="{}",
        truncated=True,
    )
    assert a.to_json() == (
        '{"rule":"r","rule_id":"id","id":"x","kind":"final","window_start":"1970-01-01T00:00:00Z",'
        '"window_end":"1970-01-01T00:01:00Z","row":{"a": "é\\u0001", "b": [1, 2.5]},'
        '"title":"quote \\" backslash \\\\ tab \\t nl \\n ctl \\u0001 del \x7f é ✓ \U0001f600",'
        '"description":"","severity":"Low","tactics":["Discovery"],"techniques":[],'
        '"entities":[{"type":"override","Name":"ü"}],"custom_details":{},"truncated":true}'
    )
