"""The hostile-file corpus (tests/data/hostile-files, shared by the three
hosts): each case's input through ``python -m recon_detector detect``; its
alerts, reports, summary and exit status must be those ``recon detect``
gives (expected.json). See the corpus's README for the recipes."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers import REPO, run_py

CORPUS = REPO / "tests" / "data" / "hostile-files"
CASES = json.loads((CORPUS / "cases.json").read_text("utf-8"))
EXPECTED = json.loads((CORPUS / "expected.json").read_text("utf-8"))


class Maker:
    """Makes a recipe's bytes (``recon gen`` output made once per argument list)."""

    def __init__(self, recon_bin: Path) -> None:
        self.recon_bin = recon_bin
        self.generated: dict[str, bytes] = {}

    def record(self, kind: str, n: int) -> str:
        t = CASES["templates"]
        commands = t["commands"]
        return t[kind].replace("{second}", f"{n % 60:02d}").replace("{command}", commands[n % len(commands)])

    def make(self, parts: list[Any]) -> bytes:
        return b"".join(self.part(p) for p in parts)

    def part(self, p: Any) -> bytes:
        if isinstance(p, str):
            return p.encode("utf-8")
        if "record" in p:
            return self.record(p["record"], p["n"]).encode("utf-8")
        if "records" in p:
            return p["sep"].join(self.record(p["records"], n) for n in range(p["count"])).encode("utf-8")
        if "repeat" in p:
            return (p["repeat"] * p["times"]).encode("utf-8")
        if "gzip" in p:
            return gzip.compress(self.make(p["gzip"]), compresslevel=1)
        if "cut" in p:
            whole = self.make(p["cut"])
            return whole[: len(whole) - p["drop"]]
        if "gen" in p:
            key = json.dumps(p["gen"])
            if key not in self.generated:
                done = subprocess.run(
                    [str(self.recon_bin), "gen", *p["gen"]], capture_output=True, check=True, timeout=600
                )
                self.generated[key] = done.stdout
            lines = [x for x in self.generated[key].split(b"\n") if x]
            return p["sep"].encode("utf-8").join(lines)
        raise ValueError(f"unknown recipe part {p!r}")


@pytest.fixture(scope="module")
def maker(recon_bin: Path) -> Maker:
    return Maker(recon_bin)


def _lines(text: str, path: str) -> list[str]:
    return text.replace(path, "{input}").splitlines()


@pytest.mark.parametrize("index", range(len(CASES["cases"])), ids=[c["name"] for c in CASES["cases"]])
def test_hostile_file(index: int, maker: Maker, tmp_path: Path) -> None:
    case = CASES["cases"][index]
    want = EXPECTED.get(case["name"])
    assert want is not None, f"{case['name']}: not in expected.json"
    if "file" in case:
        path = CORPUS / case["file"]
    else:
        path = tmp_path / f"case-{index}"
        path.write_bytes(maker.make(case["recipe"]))
    got = run_py(*CASES["args"], *case.get("args", []), path)
    stderr = _lines(got.err, str(path))
    assert {
        "exit": got.code,
        "stdout": _lines(got.out.decode("utf-8"), str(path)),
        "stderr": sorted(stderr),
    } == {"exit": want["exit"], "stdout": want["stdout"], "stderr": sorted(want["stderr"])}, "\n".join(stderr)
