"""Helpers shared by the tests: paths, running both commands."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "tests" / "data" / "cloudtrail"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
AI_RECON = REPO / "examples" / "ai-recon.toml"
BURST = DATA / "traildiscover" / "aws_cli_burst_windows.jsonl"

#: The Sentinel command list of examples/ai-recon.toml.
AI_COMMANDS = [
    "bedrock-agent.list-agents",
    "bedrock-agent.list-knowledge-bases",
    "bedrock-agent.get-knowledge-base",
    "bedrock.list-custom-models",
    "bedrock.list-inference-profiles",
    "bedrock.list-model-invocation-jobs",
    "sagemaker.list-models",
    "sagemaker.list-endpoints",
    "sagemaker.list-training-jobs",
    "opensearchserverless.list-collections",
    "opensearchserverless.list-access-policies",
]


@dataclass
class Run:
    code: int
    out: bytes
    err: str

    @property
    def lines(self) -> list[bytes]:
        return self.out.splitlines()


def run_rust(binary: Path, *args: str | os.PathLike[str], stdin: bytes | None = None) -> Run:
    p = subprocess.run([str(binary), "detect", *map(str, args)], input=stdin, capture_output=True, timeout=600)
    return Run(p.returncode, p.stdout, p.stderr.decode())


def run_py(*args: str | os.PathLike[str], stdin: bytes | None = None, module: str = "recon_detector") -> Run:
    p = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)], input=stdin, capture_output=True, timeout=600
    )
    return Run(p.returncode, p.stdout, p.stderr.decode())


def gen(binary: Path, out: Path, *args: str) -> Path:
    with open(out, "wb") as f:
        subprocess.run([str(binary), "gen", *args], stdout=f, stderr=subprocess.DEVNULL, check=True, timeout=600)
    return out


@dataclass
class Trails:
    """Generated trails, and the same records in other layouts."""

    seed7: Path
    seed11: Path
    seed7_gz: Path
    seed7_records: Path
    seed7_records_gz: Path
    seed7_array: Path
    seed7_record_lines: Path
