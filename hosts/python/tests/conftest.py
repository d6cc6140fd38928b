"""Shared fixtures: the Rust CLI and generated trails.

The Rust binary is ``<repo>/target/release/recon`` (``$RECON_BIN``
overrides). Tests that compare with it fail, rather than skip, when it is
missing: parity is what they are for.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Iterator

import pytest

from helpers import REPO, Trails, gen


@pytest.fixture(scope="session", autouse=True)
def compiled_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One compiled-component cache for every command the tests run (both
    CLIs keep theirs there), not the user's."""
    d = tmp_path_factory.mktemp("cache")
    before = os.environ.get("RECON_CACHE_DIR")
    os.environ["RECON_CACHE_DIR"] = str(d)
    yield d
    if before is None:
        del os.environ["RECON_CACHE_DIR"]
    else:
        os.environ["RECON_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def recon_bin() -> Path:
    binary = Path(os.environ.get("RECON_BIN") or REPO / "target" / "release" / "recon")
    if not binary.is_file():
        pytest.fail(
            f"the Rust CLI is missing: {binary} (run `cargo build --release`, or set RECON_BIN)", pytrace=False
        )
    return binary


@pytest.fixture(scope="session")
def trails(recon_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Trails:
    d = tmp_path_factory.mktemp("trails")
    seed7 = gen(recon_bin, d / "seed7.ndjson", "--seed", "7", "--count", "20000", "--bursts", "20")
    seed11 = gen(
        recon_bin, d / "seed11.ndjson", "--seed", "11", "--count", "20000", "--bursts", "20", "--disorder", "30"
    )
    lines = seed7.read_bytes().decode().splitlines()
    records = json.dumps({"Records": [json.loads(x) for x in lines]}, indent=2, ensure_ascii=False)
    (d / "seed7.records.json").write_text(records)
    (d / "seed7.array.json").write_text("[\n" + ",\n".join(lines) + "\n]\n")
    with open(d / "seed7.record-lines.ndjson", "w") as f:
        for i in range(0, len(lines), 250):
            f.write('{"Records":[' + ",".join(lines[i : i + 250]) + "]}\n")
    (d / "seed7.ndjson.gz").write_bytes(gzip.compress(seed7.read_bytes()))
    (d / "seed7.records.json.gz").write_bytes(gzip.compress(records.encode()))
    return Trails(
        seed7=seed7,
        seed11=seed11,
        seed7_gz=d / "seed7.ndjson.gz",
        seed7_records=d / "seed7.records.json",
        seed7_records_gz=d / "seed7.records.json.gz",
        seed7_array=d / "seed7.array.json",
        seed7_record_lines=d / "seed7.record-lines.ndjson",
    )


@pytest.fixture(scope="session")
def slow_trail(recon_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 records a second over ten minutes: windows close inside it."""
    d = tmp_path_factory.mktemp("slow")
    return gen(recon_bin, d / "slow.ndjson", "--seed", "5", "--count", "6000", "--rate", "10", "--bursts", "6")


@pytest.fixture(scope="session")
def long_slow_trail(recon_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 records a second over 25 minutes: windows close inside it at the
    default allowed lateness (15 minutes)."""
    d = tmp_path_factory.mktemp("long-slow")
    return gen(recon_bin, d / "slow.ndjson", "--seed", "5", "--count", "15000", "--rate", "10", "--bursts", "6")


@pytest.fixture(scope="session")
def catalogue_trail(recon_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50000 records with two bursts of each catalogue rule's pattern."""
    d = tmp_path_factory.mktemp("catalogue")
    return gen(recon_bin, d / "catalogue.ndjson", "--seed", "7", "--count", "50000", "--catalogue", "2")
