"""`python -m recon_detector detect` against the Rust `recon detect`: the
same inputs and options give the same stdout (byte for byte), the same
stderr and the same exit status."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from helpers import AI_RECON, BURST, DATA, Run, Trails, run_py, run_rust


def assert_same(rust: Run, py: Run, *, alerts: bool = True) -> None:
    assert py.err == rust.err
    assert py.out == rust.out
    assert py.code == rust.code
    if alerts:
        assert rust.lines, "the case must produce alerts to compare"


@pytest.mark.parametrize(
    "layout", ["seed7", "seed7_gz", "seed7_records", "seed7_records_gz", "seed7_array", "seed7_record_lines"]
)
def test_generated_trail_in_every_layout(recon_bin: Path, trails: Trails, layout: str) -> None:
    path = getattr(trails, layout)
    rust = run_rust(recon_bin, path)
    assert_same(rust, run_py("detect", path))
    assert len(rust.lines) == 8


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--profile", "seed"],
        ["--rules", "elastic"],
        ["--rules", "sentinel,elastic", "--allowed-lateness", "5"],
        ["--profile", "seed", "--rules", "sentinel", "--allowed-lateness", "120"],
        ["--allowed-lateness", "0", "--chunk-kib", "7", "--show-rejects", "1"],
    ],
    ids=lambda o: " ".join(o) or "defaults",
)
def test_disordered_trail_with_options(recon_bin: Path, trails: Trails, options: list[str]) -> None:
    assert_same(run_rust(recon_bin, *options, trails.seed11), run_py("detect", *options, trails.seed11))


def test_stdin_and_several_inputs(recon_bin: Path, trails: Trails) -> None:
    data = trails.seed11.read_bytes()
    # A pipe on stdin puts `recon detect` in live mode (`--live auto`), which
    # this host leaves out (docs/hosts/python.md); live mode turns early
    # alerts on and tells how many it held back. `--live off` is what this
    # host does.
    assert_same(run_rust(recon_bin, "--live", "off", stdin=data), run_py("detect", stdin=data))
    assert_same(run_rust(recon_bin, "--live", "off", "-", stdin=data), run_py("detect", "-", stdin=data))
    # Two inputs are one stream: the second's records are late to the first's windows.
    both = [trails.seed7_array, trails.seed11]
    assert_same(run_rust(recon_bin, *both), run_py("detect", *both))


SAMPLE_SETS = [
    "traildiscover/logExamples",
    "traildiscover/traildiscover_dedup_sorted.jsonl",
    "traildiscover/aws_cli_burst_windows.jsonl",
    "invictus",
    "otrf",
    "stratus-red-team",
    "panther",
]


def sample_files(name: str) -> list[Path]:
    path = DATA / name
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix != ".md" and p.name != "LICENSE")
    assert files, f"no samples under {path}"
    return files


@pytest.mark.parametrize("options", [[], ["--profile", "seed"], ["--config", str(AI_RECON)]], ids=["defaults", "seed", "ai-recon"])
@pytest.mark.parametrize("name", SAMPLE_SETS)
def test_real_samples(recon_bin: Path, name: str, options: list[str]) -> None:
    """Every bundled real sample (many files, every layout: one run per
    set, so each file's rejections are compared by location)."""
    files = sample_files(name)
    rust = run_rust(recon_bin, *options, *files)
    py = run_py("detect", *options, *files)
    assert_same(rust, py, alerts=False)
    assert "recon: read " in rust.err


def test_traildiscover_burst_with_the_ai_recon_config(recon_bin: Path) -> None:
    rust = run_rust(recon_bin, "--config", AI_RECON, BURST)
    py = run_py("detect", "--config", AI_RECON, BURST)
    assert_same(rust, py)
    assert len(py.lines) == 1
    alert = json.loads(py.lines[0])
    assert alert["rule"] == "sentinel-aws-cli-recon"
    assert alert["row"]["AccountName"] == "AdanAlvarez"
    assert alert["row"]["CommadCount"] == 11
    assert alert["window_start"] == "2026-02-08T16:31:00Z"


def test_lines_past_the_limit_and_one_line_exports(recon_bin: Path, tmp_path: Path) -> None:
    """A CloudTrail export on one line (as S3 holds them) past
    limits.max_event_bytes is split into its records, each keeping its
    line; other long lines are skipped and reported with their place; a
    record that is not UTF-8 is rejected, not repaired. One scanning worker
    for the Rust CLI: with several, when a skipped line is reported
    relative to the rejections of the chunk before it depends on timing."""
    records = [json.loads(line) for line in BURST.read_text().splitlines()] * 12
    export = json.dumps({"Records": records})
    pad = "y" * 100_000
    cases = {
        "export.json": export,
        "export-after-blank-lines.json": "\n\n" * 200_000 + export + "\n",
        "array.json": "[" + json.dumps(records)[1:],
        "records-line.ndjson": f'{{"x":0}}\n{{"Records":[{{"a":1}},{{"pad":"{pad}"}},{{"b":2}}]}}\r\n{{"z":3}}\n',
        # Past max_event_bytes (4096 below) but read whole in one piece.
        "records-line-read-whole.ndjson": f'{{"x":0}}\n{{"Records":[{{"a":1}},{{"pad":"{pad[:10_000]}"}}]}}\n{{"z":3}}\n',
        "one-long-record.ndjson": f'{{"pad":"{pad}"}}\n{{"q":1}}\n',
        "damaged-line.ndjson": '{"q":0}\n{"Records":[{"a":1},' + "]" * 100_000 + "\n",
        "long-string.ndjson": f'{{"q":0}}\n"{pad}"\n',
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "export.json.gz").write_bytes(gzip.compress(export.encode()))
    (tmp_path / "not-utf8.json").write_bytes(
        b'{"Records":[{"eventTime":"2026-01-01T00:00:00Z","x":"\xff"},{"a":1}]}\n'
    )
    small = tmp_path / "small.toml"
    small.write_text("[limits]\nmax_event_bytes = 4096\n")
    files = sorted(p for p in tmp_path.iterdir() if p.suffix != ".toml")
    exports = [p for p in files if p.name.startswith(("export", "array"))]
    runs = [(["--config", str(AI_RECON)], p) for p in exports] + [(["--config", str(small)], p) for p in files]
    for options, path in runs:
        args = ["--workers", "1", *options, str(path)]
        rust = run_rust(recon_bin, *args)
        assert_same(rust, run_py("detect", *args), alerts=options[1] == str(AI_RECON))
        if path.name == "export.json":
            assert "read 348 records" in rust.err and "line 1, record 17" in rust.err
        if path.name == "long-string.ndjson":
            assert "line 2: rejected (too-large)" in rust.err
            # Counted as read, not by the rules (the summaries are compared above).
            assert "read 2 records" in rust.err
            assert "1 lines longer than limits.max_event_bytes skipped by the reader" in rust.err


def test_damaged_gzip_is_reported_in_the_same_words(recon_bin: Path, tmp_path: Path) -> None:
    """Truncated in a header, the deflate data or a trailer, a bad header,
    corrupt data, a wrong checksum, junk after a member: the records before
    the damage are processed, the input is named with the same reason, and
    the exit status is 1."""
    data = BURST.read_bytes()
    g = gzip.compress(data)
    corrupt = bytearray(g)
    corrupt[20:23] = bytes(b ^ 0xFF for b in corrupt[20:23])
    crc = bytearray(g)
    crc[-6] ^= 0xFF
    flags = bytearray(g)
    flags[3] = 0xFF
    cases = {
        "header.gz": g[:5],
        "data.gz": g[:2000],
        "trailer.gz": g[:-4],
        "deflate.gz": bytes(corrupt),
        "checksum.gz": bytes(crc),
        "flags.gz": bytes(flags),
        "second-header.gz": g + b"\x1f\x8b\x08",
        "junk.gz": g + b"garbage after the member",
        "two-members.gz": g + gzip.compress(data),
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        args = ["--workers", "1", "--config", str(AI_RECON), str(path)]
        rust = run_rust(recon_bin, *args)
        assert_same(rust, run_py("detect", *args), alerts=False)
        assert rust.code == (0 if name == "two-members.gz" else 1), name


RECORDS_LINES = [
    b'{"Rec\\u006frds":[{"a":1}],"note":"Records"}',  # the key escaped: not a Records line
    b'{"Records":[{"a":1}],"Records":[{"b":2}]}',
    b'{"Records":null}',
    b'{"x":{"Records":[1]}}',
    b'[{"Records":[1]}]',
    b'{"Records":[1 , "s"  ,{"a":1} ]}',
    b'{"Records":[{"a":"\xff"}]}',  # not UTF-8
    b'{"Records":[{"a":1}]} trailing',
    b'  {"Records":[{"a":1}]}  \r',
    b'{"Records":[{"a":1}],"x":NaN}',
    b'{"Records":[{"a":1e999999}]}',
    b'{"Records":"x"}',
    b'{"Records":[]}',
]


def test_odd_records_lines(recon_bin: Path, tmp_path: Path) -> None:
    """NDJSON lines that hold (or almost hold) ``{"Records":[...]}``: expanded
    into the same records, or left whole, as by the Rust reader."""
    path = tmp_path / "records-lines.ndjson"
    first = BURST.read_bytes().splitlines()[0]
    path.write_bytes(first + b"\n" + b"\n".join(RECORDS_LINES) + b"\n" + first + b"\n")
    args = ["--workers", "1", "--show-rejects", "100", str(path)]
    rust = run_rust(recon_bin, *args)
    assert_same(rust, run_py("detect", *args), alerts=False)
    assert "line 3, record 1: rejected" in rust.err


def test_early_alerts_from_the_flag_and_the_file(recon_bin: Path, tmp_path: Path) -> None:
    """Early alerts (`--early`, `early_alerts = true`): the early and the
    final line of the burst, and the summary's count of each, as `recon
    detect` writes them; `--no-early` wins over the file."""
    early = tmp_path / "early.toml"
    early.write_text("early_alerts = true\n" + AI_RECON.read_text())
    for args in (["--early", "--config", str(AI_RECON)], ["--config", str(early)]):
        rust = run_rust(recon_bin, *args, BURST)
        assert_same(rust, run_py("detect", *args, BURST))
        assert [json.loads(a)["kind"] for a in rust.lines] == ["early", "final"]
        assert "2 alerts (1 early, 1 final)" in rust.err
    args = ["--config", str(early), "--no-early"]
    rust = run_rust(recon_bin, *args, BURST)
    assert_same(rust, run_py("detect", *args, BURST))
    assert len(rust.lines) == 1


def _record(s: int, user: str, name: str) -> str:
    """A CloudTrail record `s` seconds after 2026-03-01T00:00:00Z."""
    return json.dumps(
        {
            "eventTime": f"2026-03-01T{s // 3600:02}:{s // 60 % 60:02}:{s % 60:02}Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": name,
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::111122223333:user/{user}", "userName": user},
            "userAgent": "aws-cli/2.15.0 Python/3.11 Linux/5.10 exe/x86_64 prompt/off command/iam.list-users",
            "sourceIPAddress": "198.51.100.7",
            "recipientAccountId": "111122223333",
        }
    )


_ENUMERATION = """\
title: IAM listing
name: iam_listing
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
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
  condition:
    gt: 50
"""


def test_sliding_windows_and_suppression_from_a_rule_file(recon_bin: Path, tmp_path: Path) -> None:
    """A sliding correlation (the Sigma default) with `rsigma.suppress`:
    bursts across a 10-minute edge alert once an hour, each line saying
    how many were held back, as `recon detect` writes them."""
    trail = tmp_path / "trail.ndjson"
    trail.write_text(
        "".join(
            _record(burst * 1200 + 450 + i * 300 // 70, "alice", "ListUsers") + "\n"
            for burst in range(9)
            for i in range(70)
        )
    )
    rule = tmp_path / "enumeration.yml"
    rule.write_text(_ENUMERATION)
    rust = run_rust(recon_bin, "--rules", rule, trail)
    assert_same(rust, run_py("detect", "--rules", rule, trail))
    got = [(json.loads(a)["window_end"], json.loads(a).get("suppressed", 0)) for a in rust.lines]
    assert got == [
        ("2026-03-01T00:11:04.001Z", 0),
        ("2026-03-01T01:11:04.001Z", 2),
        ("2026-03-01T02:11:04.001Z", 2),
    ]
    assert "alerts 3 (6 more held back by suppression)" in rust.err


def test_a_built_in_slides_and_suppresses_from_the_file(recon_bin: Path, tmp_path: Path) -> None:
    names = ["ListUsers", "ListRoles", "ListGroups", "GetUser", "ListPolicies", "GetAccountSummary"]
    trail = tmp_path / "minutes.ndjson"
    trail.write_text(
        "".join(_record(minute * 60 + 7 + i, "carol", n) + "\n" for minute in range(60) for i, n in enumerate(names))
    )
    config = tmp_path / "tuning.toml"
    config.write_text('rules = ["elastic"]\n[elastic]\nwindow = "sliding"\nsuppress_seconds = 1800\n')
    rust = run_rust(recon_bin, "--config", config, trail)
    assert_same(rust, run_py("detect", "--config", config, trail))
    assert [json.loads(a).get("suppressed", 0) for a in rust.lines] == [0, 29]
    config.write_text('[elastic]\nwindow = "hopping"\n')
    py = run_py("detect", "--config", config, trail)
    assert py.code == 2 and "hopping" in py.err
