"""Rules as data: ``--rules`` with Sigma rule files, directories and the
catalogue, against ``recon detect``; the registry and rule files in the
API; a refused rule file."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import recon_detector as rd
from helpers import REPO, run_py, run_rust

IAM = REPO / "rules" / "aws_iam_enumeration.yml"
CONSOLE = REPO / "rules" / "aws_console_brute_force_by_ip.yml"

#: A correlation with a session window (which the component refuses):
#: the error names the file, the line, the rule and the field.
SLIDING = """\
title: IAM list calls
name: iam_list_calls
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventName: ListUsers
  condition: selection
---
title: Many IAM list calls
name: many-iam-list-calls
correlation:
  type: event_count
  rules:
    - iam_list_calls
  group-by:
    - userIdentity.arn
  timespan: 10m
  window: session
  gap: 5m
  condition:
    gt: 5
"""


def assert_same(recon_bin: Path, args: list[str | Path], *, code: int = 0) -> bytes:
    """Both commands on the same arguments: the same stdout (byte for
    byte), stderr and exit status; returns stdout."""
    rust = run_rust(recon_bin, *args)
    py = run_py("detect", *args)
    assert rust.code == code, rust.err
    assert py.err == rust.err
    assert py.out == rust.out
    assert py.code == rust.code
    return rust.out


def test_a_catalogue_rule_file_gives_the_alert_lines_of_recon_detect(recon_bin: Path, catalogue_trail: Path) -> None:
    out = assert_same(recon_bin, ["--rules", IAM, catalogue_trail])
    rules = {line.split(b'"rule":"')[1].split(b'"')[0] for line in out.splitlines()}
    assert rules == {b"aws-iam-user-enumeration", b"aws-iam-recon-access-denied"}
    # Exactly the rules named ran: no built-in.
    assert b"sentinel" not in out


def test_built_ins_and_rule_files_together(recon_bin: Path, catalogue_trail: Path) -> None:
    out = assert_same(recon_bin, ["--rules", f"elastic,{IAM}", "--rules", CONSOLE, "--rules", "sentinel", catalogue_trail])
    assert b'"rule":"aws-iam-user-enumeration"' in out and b'"rule":"sentinel-aws-cli-recon"' in out


def test_a_directory_of_rule_files_and_the_catalogue(recon_bin: Path, catalogue_trail: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / "nested").mkdir(parents=True)
    shutil.copyfile(IAM, mine / "b_iam.yaml")
    shutil.copyfile(CONSOLE, mine / "nested" / "a_console.yml")
    (mine / "notes.txt").write_text("not a rule file")
    from_dir = assert_same(recon_bin, ["--rules", mine, catalogue_trail])
    assert from_dir
    catalogue = assert_same(recon_bin, ["--rules", "catalogue", catalogue_trail])
    assert len(catalogue.splitlines()) > len(from_dir.splitlines())


def test_the_configuration_files_rules_take_paths(recon_bin: Path, catalogue_trail: Path, tmp_path: Path) -> None:
    config = tmp_path / "rules.toml"
    config.write_text(f'rules = ["sentinel", "{IAM}"]\n[sentinel]\nmin_distinct = 6\n')
    out = assert_same(recon_bin, ["--config", config, catalogue_trail])
    assert b'"rule":"aws-iam-user-enumeration"' in out


def test_a_refused_rule_file_exits_2_naming_file_line_and_rule(recon_bin: Path, catalogue_trail: Path, tmp_path: Path) -> None:
    bad = tmp_path / "sliding.yml"
    bad.write_text(SLIDING)
    for rules in (str(bad), f"sentinel,{bad}"):
        assert_same(recon_bin, ["--rules", rules, catalogue_trail], code=2)
        py = run_py("detect", "--rules", rules, catalogue_trail)
        assert py.out == b""
        assert re.match(
            rf'recon: error: invalid detector configuration: {re.escape(str(bad))}:\d+: rule "many-iam-list-calls": '
            r'field "window": ',
            py.err,
        ), py.err
    # Neither a built-in nor a file; a directory without rule files.
    (tmp_path / "empty").mkdir()
    for rules in (str(tmp_path / "no-such.yml"), "sentinel,splunk", str(tmp_path / "empty")):
        assert_same(recon_bin, ["--rules", rules, catalogue_trail], code=2)


# -- the API --------------------------------------------------------------------------


def test_the_built_ins_come_from_the_component() -> None:
    assert [(b.short_name, b.name) for b in rd.builtin_rules()] == [
        ("sentinel", "sentinel-aws-cli-recon"),
        ("elastic", "elastic-aws-discovery-burst"),
    ]
    assert rd.Detector().rules == tuple(b.name for b in rd.builtin_rules())


def test_list_rules_describes_built_ins_and_data_rules() -> None:
    builtin = rd.list_rules()
    assert [(r.name, r.kind) for r in builtin] == [
        ("sentinel-aws-cli-recon", rd.RuleKind.BUILT_IN),
        ("elastic-aws-discovery-burst", rd.RuleKind.BUILT_IN),
    ]
    assert builtin[0].window_ms == 60_000 and "commands" in builtin[0].settings
    assert (builtin[0].window, builtin[0].suppress_ms) == ("tumbling", 0)
    data = rd.list_rules(rd.Config(rules=[], rule_files=[rd.RuleFile("iam.yml", IAM.read_text())]))
    enumeration = next(r for r in data if r.name == "aws-iam-user-enumeration")
    assert enumeration.kind is rd.RuleKind.CORRELATION
    assert enumeration.file == "iam.yml" and enumeration.window_ms == 600_000
    assert enumeration.group_by == ("userIdentity.principalId", "userIdentity.arn", "userIdentity.accountId")
    assert enumeration.detections == ("aws_iam_user_enumeration_calls",)


def test_resolve_rules_and_a_detector_running_them(recon_bin: Path, catalogue_trail: Path) -> None:
    named = rd.resolve_rules(["elastic", str(IAM), "sentinel", "elastic"])
    assert named.rules == ("sentinel", "elastic")
    assert [f.name for f in named.rule_files] == [str(IAM)]
    assert rd.resolve_rules([]) == rd.ResolvedRules(("sentinel", "elastic"), ())
    catalogue = rd.resolve_rules(["catalogue"])
    assert catalogue.rules == () and "rules/aws_iam_enumeration.yml" in [f.name for f in catalogue.rule_files]
    with pytest.raises(rd.ConfigError) as e:
        rd.resolve_rules(["splunk"])
    assert e.value.kind == "invalid-option"
    assert str(e.value) == "rules: splunk is neither a built-in (sentinel, elastic) nor an existing rule file or directory"

    d = rd.Detector(rd.Config(rules=[], rule_files=rd.resolve_rules([str(IAM)]).rule_files))
    assert d.rules == ("aws-iam-user-enumeration", "aws-iam-recon-access-denied")
    lines = []
    with d.open_input() as source:
        data = catalogue_trail.read_bytes()
        for i in range(0, len(data), 1 << 20):
            source.feed(data[i : i + (1 << 20)])
            lines += [a.to_json() for a in d.drain()]
        source.end()
    d.flush()
    lines += [a.to_json() for a in d.drain()]
    rust = run_rust(recon_bin, "--rules", IAM, catalogue_trail)
    assert lines and "".join(line + "\n" for line in lines).encode() == rust.out
    assert all(r.pushed == 50_000 for r in d.stats().rules)


def test_a_refused_rule_file_is_a_config_error_of_kind_rules() -> None:
    for make in (lambda c: rd.Detector(c), rd.list_rules):
        with pytest.raises(rd.ConfigError) as e:
            make(rd.Config(rule_files=[rd.RuleFile("x.yml", SLIDING)]))
        err = e.value
        assert err.kind == "rules" and err.rule_error is not None
        assert (err.rule_error.file, err.rule_error.rule, err.rule_error.field) == ("x.yml", "many-iam-list-calls", "window")
        assert isinstance(err.rule_error.line, int)
        assert re.match(r'x\.yml:\d+: rule "many-iam-list-calls": field "window": ', err.message)
    fixed = SLIDING.replace("  window: session\n  gap: 5m\n", "  window: tumbling\n")
    d = rd.Detector(rd.Config(rules=["sentinel"], rule_files=[rd.RuleFile("x.yml", fixed)]))
    assert d.rules == ("sentinel-aws-cli-recon", "many-iam-list-calls")
    with pytest.raises(rd.ConfigError) as bad:
        rd.Detector(rd.Config(rule_files=["x.yml"]))  # type: ignore[list-item]
    assert bad.value.kind == "invalid-option" and "rule_files[0]" in str(bad.value)


def test_catalogue_is_refused_clearly_without_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import recon_detector.rules as rules

    assert rules.catalogue_dir() is not None  # a checkout, or the copy bundled at build
    monkeypatch.setattr(rules, "catalogue_dir", lambda: None)
    with pytest.raises(rd.ConfigError) as e:
        rd.resolve_rules(["sentinel", "catalogue"])
    assert str(e.value).startswith("rules: catalogue: the rule catalogue (the repository's rules/ directory) was not found")
