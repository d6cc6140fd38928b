"""``python -m recon_detector detect FILE...``: the usage, defaults and
output of the Rust CLI's ``recon detect``.

Alerts go to stdout, one line each, byte for byte as ``recon detect``
prints them; rejected records (with where they were, up to
``--show-rejects``) and the summary go to stderr in the Rust CLI's words.
Exit status: 0 when every input was read; 1 when one could not be (the
others are still processed) or the run failed (a trap); 2 on a usage or
configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import IO, Any, Sequence

from . import __version__
from . import _runtime
from ._runtime import component_info, default_cache_dir, set_cache_dir
from ._types import Profile, ReadResult, RejectReason, Rule, RuleStats, Stats
from .alert import AlertFormat
from .detector import Detector
from .errors import ComponentLoadError, ConfigError, InputError, ReconError
from .settings import FileSettings, SettingsError, load_settings
from .source import read_input, source_name

__all__ = ["main", "summary_lines"]

PROG = "recon"


def _u64(text: str) -> int:
    try:
        v = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid digit found in string: {text!r}") from None
    if not 0 <= v < 1 << 64:
        raise argparse.ArgumentTypeError(f"{text} is out of range")
    return v


def _rules(text: str) -> list[Rule]:
    out = []
    for name in text.split(","):
        if name not in ("sentinel", "elastic"):
            raise argparse.ArgumentTypeError(f"invalid value {name!r} [possible values: sentinel, elastic]")
        out.append(Rule.parse(name))
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recon_detector",
        description="Streaming detection of AWS CLI reconnaissance in CloudTrail, with the detection "
        "logic in a sandboxed WebAssembly component (the Python host of recon).",
    )
    parser.add_argument("--version", action="version", version=f"recon-detector {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    d = sub.add_parser(
        "detect",
        help="run the detection rules over CloudTrail and print alerts as NDJSON",
        description="Run the detection rules over CloudTrail and print alerts as NDJSON. Inputs may be "
        '{"Records":[...]} files, JSON arrays, single objects or one record per line, any of them '
        "gzip-compressed; - (or no input) reads stdin. Alerts go to stdout, one JSON object per line; "
        "rejected records and a summary go to stderr.",
    )
    d.add_argument("inputs", nargs="*", metavar="FILE|-", help="input files; - is stdin (the default when none is given)")
    d.add_argument(
        "--rules",
        type=_rules,
        action="extend",
        metavar="RULES",
        help="rules to run, comma-separated: sentinel, elastic [default: all]",
    )
    d.add_argument("--profile", choices=["default", "seed"], help="default (the queries' intent) or seed (their letter)")
    d.add_argument(
        "--allowed-lateness",
        type=_u64,
        metavar="SECONDS",
        help="how late (seconds behind the newest event) an event may arrive and still count [default: 60]",
    )
    d.add_argument("--config", metavar="FILE", help="a TOML configuration file (the Rust CLI's); options given here win")
    d.add_argument("--chunk-kib", type=_u64, metavar="KIB", help="KiB of input per call into the component [default: 1024]")
    d.add_argument(
        "--workers",
        type=_u64,
        metavar="N",
        help="accepted for compatibility (checked as the Rust CLI does); this host reads and scans on one thread",
    )
    d.add_argument("--show-rejects", type=_u64, default=20, metavar="N", help="most rejected records reported one by one [default: 20]")
    d.add_argument(
        "--linger-ms",
        type=_u64,
        default=200,
        metavar="MS",
        help="longest complete lines wait for more input before they are pushed (ms), so alerts from a slow "
        "stream are not held back [default: 200]",
    )
    d.add_argument(
        "--format",
        choices=["native", "ocsf"],
        default="native",
        help="native (the rule's own row and metadata) or ocsf (an OCSF 1.8 Detection Finding, the native "
        "line under `unmapped`) [default: native]",
    )
    d.add_argument("-o", "--output", metavar="FILE", help="write alerts to this file instead of stdout")
    cache = d.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where the compiled component is kept between runs [default: $RECON_CACHE_DIR, else "
        "$XDG_CACHE_HOME/recon, else ~/.cache/recon]",
    )
    cache.add_argument("--no-cache", action="store_true", help="compile the component afresh, keep nothing")
    d.add_argument("--no-progress", action="store_true", help="accepted for compatibility (this host shows no progress line)")
    sub.add_parser("info", help="print where the detector component comes from (JSON)")
    return parser


# ---------------------------------------------------------------------------
# The run.


@dataclass
class Summary:
    """What a run did."""

    records: int = 0
    alerts: int = 0
    unreadable: list[str] = field(default_factory=list)
    stopped: bool = False
    stats: Stats | None = None


#: Set by SIGINT or SIGTERM: the input ends at its next pause.
_STOP = threading.Event()


def _on_signal(signum: int, frame: Any) -> None:
    _STOP.set()


class _Sink:
    def __init__(self, detector: Detector, out: IO[bytes], err: IO[str], show_rejects: int, fmt: AlertFormat) -> None:
        self.d = detector
        self.out = out
        self.err = err
        self.show_rejects = show_rejects
        self.shown = 0
        self.format = fmt
        self.summary = Summary()

    def _say(self, text: str) -> None:
        self.err.write(text + "\n")

    def read(self, source: str, result: ReadResult) -> None:
        """What one step of the component's reader read."""
        self.summary.records += result.records
        for r in result.reports:
            if r.line is None and r.record is None and r.reason is None:
                continue  # the unreadable input: told below, always
            if self.shown < self.show_rejects:
                self._say(f"recon: {source}: {r.message}")
            self.shown += 1
        self.drain()
        if result.unreadable is not None:
            self.unreadable(InputError(source, result.unreadable))

    def unreadable(self, e: InputError) -> None:
        self._say(f"recon: {e}")
        self.summary.unreadable.append(str(e))

    def drain(self) -> None:
        alerts = self.d.drain()
        if alerts:
            self.out.write("".join(a.format(self.format) + "\n" for a in alerts).encode("utf-8"))
            self.summary.alerts += len(alerts)
        self.out.flush()


def _reason_counts(counts: dict[RejectReason, int]) -> str:
    if not counts:
        return ""
    return " (" + ", ".join(f"{r.value} {n}" for r, n in counts.items()) + ")"


def _rule_line(st: RuleStats) -> str:
    ahead = f", far ahead {st.ahead}" if st.ahead > 0 else ""
    return (
        f"{st.rule.value}: events {st.pushed}, accepted {st.accepted}, filtered {st.filtered}, "
        f"rejected {st.rejected}{_reason_counts(dict(st.rejected_by_reason))}, late {st.late}{ahead}, "
        f"alerts {st.alerts}"
    )


def summary_lines(s: Summary) -> list[str]:
    """The summary as the lines ``recon detect`` prints on stderr."""
    lines = [f"recon: read {s.records} records; {s.alerts} alerts"]
    if s.stopped:
        lines.append(
            "recon: stopped by a signal: what was read was processed and the stream ended "
            "(or saved) as at the end of input"
        )
    if s.stats is not None:
        lines.extend(f"recon: {_rule_line(r)}" for r in s.stats.rules)
    return lines


def _config_error_text(e: ConfigError) -> str:
    if e.kind == "invalid-option":
        return f"invalid detector configuration: {e.message}"
    variant = "OutOfRange" if e.kind == "out-of-range" else "InvalidList"
    return f"invalid detector configuration: ConfigError::{variant}({json.dumps(e.message, ensure_ascii=False)})"


def _settings(args: argparse.Namespace) -> tuple[FileSettings, list[str]]:
    """The configuration file with the command line over it, and the
    file's notes (keys read but not applied)."""
    s = load_settings(args.config) if args.config else FileSettings()
    notes = s.notes()
    if args.rules:
        s.rules = args.rules
    if args.profile:
        s.profile = Profile(args.profile)
    if args.allowed_lateness is not None:
        s.allowed_lateness_seconds = args.allowed_lateness
    if args.chunk_kib is not None:
        s.chunk_kib = args.chunk_kib
    if args.workers is not None:
        s.workers = args.workers
    s.check_supported()
    s.check_workers()
    return s, notes


def run_detect(args: argparse.Namespace, out: IO[bytes], err: IO[str]) -> int:
    try:
        settings, notes = _settings(args)
        config = settings.config()
        sandbox = settings.sandbox_bounds()
        chunk_bytes = settings.chunk_bytes()
    except SettingsError as e:
        err.write(f"recon: error: {e}\n")
        return 2
    if args.config:
        for note in notes:
            err.write(f"recon: note: {args.config}: {note} (read, not applied)\n")
    set_cache_dir(None if args.no_cache else (args.cache_dir or default_cache_dir()))
    try:
        detector = Detector(config, sandbox=sandbox)
    except ConfigError as e:
        err.write(f"recon: error: {_config_error_text(e)}\n")
        return 2
    except ComponentLoadError as e:
        err.write(f"recon: error: starting the detector sandbox: {e}\n")
        return 1
    for note in _runtime.cache_notes:
        err.write(f"recon: {note}\n")
    _runtime.cache_notes.clear()
    inputs = args.inputs or ["-"]
    fmt: AlertFormat = "ocsf" if args.format == "ocsf" else "native"
    sink = _Sink(detector, out, err, args.show_rejects, fmt)
    _STOP.clear()
    previous = (
        {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)} if _main_thread() else {}
    )
    try:
        for path in inputs:
            name = source_name(path)
            try:
                for result in read_input(
                    detector, path, chunk_bytes=chunk_bytes, linger=args.linger_ms / 1000, stop=_STOP
                ):
                    sink.read(name, result)
            except InputError as e:
                sink.unreadable(e)
        sink.summary.stopped = _STOP.is_set()
        detector.flush()
        sink.drain()
        if sink.shown > sink.show_rejects:
            err.write(f"recon: {sink.shown - sink.show_rejects} more rejected records not shown (--show-rejects)\n")
        sink.summary.stats = detector.stats()
    except ReconError as e:
        err.write(f"recon: error: {e}\n")
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for line in summary_lines(sink.summary):
        err.write(line + "\n")
    if sink.summary.unreadable:
        err.write(f"recon: {len(sink.summary.unreadable)} input(s) could not be read completely\n")
        return 1
    return 0


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "info":
        try:
            info = component_info()
        except ComponentLoadError as e:
            sys.stderr.write(f"recon: error: {e}\n")
            return 1
        print(json.dumps(info, indent=2))
        return 0
    out: IO[bytes]
    if args.output:
        try:
            out = open(args.output, "wb")
        except OSError as e:
            sys.stderr.write(f"recon: error: creating {args.output}: {e.strerror or e}\n")
            return 1
    else:
        out = sys.stdout.buffer
    try:
        return run_detect(args, out, sys.stderr)
    except BrokenPipeError:
        # The reader of our output went away: stop quietly, as `head` expects.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.stderr.write("recon: error: writing output: Broken pipe\n")
        return 1
    finally:
        if args.output:
            out.close()
        sys.stderr.flush()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
