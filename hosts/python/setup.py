"""Build step of the `recon-detector` package: bundle the detector component.

Everything else is declared in pyproject.toml. `build_py` copies the
component (the WebAssembly file the Rust CLI embeds) into the package as
`recon_detector/recon_detector.wasm`, taken from, first match wins:

1. ``$RECON_COMPONENT``: a component file (``recon component -o FILE``);
2. ``$RECON_BIN``: a ``recon`` binary, asked for the component it embeds;
3. ``<repo>/target/release/recon`` (after ``cargo build --release``),
   ``<repo>`` being two levels above this file.

The build fails, saying what to do, when none is there: a package without
its component cannot detect anything.

It also copies the rule catalogue (``<repo>/rules/*.yml``, the files the
Rust CLI embeds for ``--rules catalogue``) into the package as
``recon_detector/catalogue/``, so that ``--rules catalogue`` works from an
installed package too; without a ``rules/`` directory (a build outside the
repository) the package has none and refuses ``catalogue``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FILE_NAME = "recon_detector.wasm"
CATALOGUE_DIR = "catalogue"
# "\0asm", version 0x0d, layer 1: a component (a core module has 1, 0, 0, 0).
COMPONENT_HEADER = b"\x00asm\x0d\x00\x01\x00"


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"recon-detector build: {message}\n")
    raise SystemExit(1)


def find_component() -> tuple[bytes, str]:
    """The component's bytes and where they came from."""
    explicit = os.environ.get("RECON_COMPONENT")
    if explicit:
        path = Path(explicit).resolve()
        if not path.is_file():
            _fail(f"RECON_COMPONENT={explicit}: no such file")
        return path.read_bytes(), str(path)
    binary = Path(os.environ.get("RECON_BIN") or REPO / "target" / "release" / "recon")
    if not binary.is_file():
        _fail(
            f"no component found: {binary} does not exist.\n"
            f"  Build it first (from {REPO}): cargo build --release\n"
            "  or point RECON_COMPONENT at a component file (recon component -o FILE),\n"
            "  or RECON_BIN at a recon binary."
        )
    try:
        done = subprocess.run(
            [str(binary), "component"], check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except (OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", b"") or b""
        _fail(f"{binary} component failed: {e} {detail.decode(errors='replace').strip()}")
    return done.stdout, f"{binary} component"


class BuildPyWithComponent(build_py):
    """`build_py`, then the component into the built package."""

    def run(self) -> None:
        super().run()
        data, source = find_component()
        if not data.startswith(COMPONENT_HEADER):
            _fail(f"{source} is not a WebAssembly component")
        target = Path(self.build_lib) / "recon_detector" / FILE_NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        print(f"recon-detector build: bundled {source} ({len(data)} bytes, sha256 {digest})")
        self.bundle_catalogue(Path(self.build_lib) / "recon_detector" / CATALOGUE_DIR)

    def bundle_catalogue(self, target: Path) -> None:
        """The repository's rule catalogue, as the Rust CLI embeds it: the
        ``*.yml`` and ``*.yaml`` files directly under ``rules/``."""
        source = REPO / "rules"
        files = sorted(
            (p for p in source.iterdir() if p.is_file() and p.suffix in (".yml", ".yaml")),
            key=lambda p: p.name.encode(),
        ) if source.is_dir() else []
        if target.exists():
            shutil.rmtree(target)
        if not files:
            print(f"recon-detector build: no rule catalogue at {source}; `--rules catalogue` will be refused")
            return
        target.mkdir(parents=True)
        for f in files:
            shutil.copyfile(f, target / f.name)
        print(f"recon-detector build: bundled the rule catalogue ({len(files)} files from {source})")


setup(cmdclass={"build_py": BuildPyWithComponent})
