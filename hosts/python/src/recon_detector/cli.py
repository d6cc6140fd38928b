"""``python -m recon_detector detect FILE...``: the usage, defaults and
output of the Rust CLI's ``recon detect``.

Alerts go to stdout, one line each, byte for byte as ``recon detect``
prints them; rejected records (with where they were, up to
``--show-rejects``) and the summary go to stderr in the Rust CLI's words.
Exit status: 0 when every input was read; 1 when one could not be (the
others are still processed), held no readable record, or the run failed
(a trap); 2 on a usage or configuration error.
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
from ._types import InputVerdict, Profile, ReadReport, ReadResult, RejectReason, RuleStats, Stats
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


def _rules(text: str) -> list[str]:
    """A ``--rules`` value: comma-separated names and paths (what each
    stands for is resolved with the rest of the configuration: an entry
    that is neither is a configuration error, as in ``recon detect``)."""
    return text.split(",")


#: Stands in ``--rules``' help for the component's built-ins.
_BUILTINS_MARK = "{builtins}"


def _builtin_names() -> str:
    try:
        from .rules import builtin_rules

        return ", ".join(b.short_name for b in builtin_rules())
    except ReconError:
        return "the component's built-ins"


class _HelpFormatter(argparse.HelpFormatter):
    """Names the component's built-ins in ``--rules``' help, asked of the
    component only when help is printed."""

    def format_help(self) -> str:
        text = super().format_help()
        return text.replace(_BUILTINS_MARK, _builtin_names()) if _BUILTINS_MARK in text else text


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
        formatter_class=_HelpFormatter,
        help="run the detection rules over CloudTrail and print alerts as NDJSON",
        description="Run the detection rules over CloudTrail and print alerts as NDJSON. Inputs may be "
        '{"Records":[...]} files, JSON arrays, single objects or one record per line, any of them '
        "gzip-compressed, or the real-time feeds' envelopes (CloudWatch Logs subscription messages, "
        "Firehose objects of them, Lambda awslogs events, EventBridge CloudTrail events); "
        "- (or no input) reads stdin. Alerts go to stdout, one JSON object per line; "
        "rejected records and a summary go to stderr.",
    )
    d.add_argument("inputs", nargs="*", metavar="FILE|-", help="input files; - is stdin (the default when none is given)")
    d.add_argument(
        "--rules",
        type=_rules,
        action="extend",
        metavar="NAME|FILE|DIR",
        help="rules to run (repeatable, or comma-separated): a built-in by name (" + _BUILTINS_MARK + "), "
        "`catalogue` (the repository's rules/), or a Sigma rule file or a directory of them (docs/sigma.md). "
        "Exactly the rules named run [default: the built-ins]",
    )
    d.add_argument("--profile", choices=["default", "seed"], help="default (the queries' intent) or seed (their letter)")
    d.add_argument(
        "--allowed-lateness",
        type=_u64,
        metavar="SECONDS",
        help="how late (seconds behind the newest event) an event may arrive and still count [default: 900]",
    )
    early = d.add_mutually_exclusive_group()
    early.add_argument(
        "--early",
        dest="early",
        action="store_const",
        const=True,
        help="also report a group the moment it reaches the threshold, before its window closes "
        '("kind": "early"); the final row follows [default: off]',
    )
    early.add_argument("--no-early", dest="early", action="store_const", const=False, help="no early alerts")
    d.add_argument("--config", metavar="FILE", help="a TOML configuration file (the Rust CLI's); options given here win")
    d.add_argument("--chunk-kib", type=_u64, metavar="KIB", help="KiB of input per call into the component [default: 1024]")
    d.add_argument(
        "--workers",
        type=_u64,
        metavar="N",
        help="accepted for compatibility (checked as the Rust CLI does); this host reads and scans on one thread",
    )
    d.add_argument(
        "--show-rejects",
        type=_u64,
        default=None,
        metavar="N",
        help="most rejected records reported one by one; given, far-ahead notices are listed one by one too "
        "(within the same number), rather than summarised per input [default: 20]",
    )
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
    #: Of ``alerts``, the early ones.
    early: int = 0
    #: Lines over the size limit the reader skipped (in ``records`` too).
    skipped_too_large: int = 0
    #: Envelope values that held no record, skipped by the reader (in
    #: ``records`` too).
    skipped_envelopes: int = 0
    #: CloudWatch Logs control messages skipped (not records).
    control_messages: int = 0
    alerts: int = 0
    unreadable: list[str] = field(default_factory=list)
    #: Each input's end-of-input verdict, when it has one: (name, verdict),
    #: in input order.
    verdicts: list[tuple[str, InputVerdict]] = field(default_factory=list)
    stopped: bool = False
    stats: Stats | None = None
    #: The detector's allowed lateness, for the advice on late records.
    allowed_lateness_ms: int = 0


@dataclass
class _FarAhead:
    """An input's records far ahead of the stream, summarised in one line
    at the end unless ``--show-rejects`` lists them."""

    name: str
    count: int = 0
    #: The first places (``line 17``).
    first: list[str] = field(default_factory=list)


#: Set by SIGINT or SIGTERM: the input ends at its next pause.
_STOP = threading.Event()


def _on_signal(signum: int, frame: Any) -> None:
    _STOP.set()


class _Sink:
    def __init__(
        self, detector: Detector, out: IO[bytes], err: IO[str], show_rejects: int | None, fmt: AlertFormat
    ) -> None:
        self.d = detector
        self.out = out
        self.err = err
        self.show_rejects = 20 if show_rejects is None else show_rejects
        #: ``--show-rejects`` given: far-ahead notices are listed one by one
        #: too; else each input's are summarised in one line at the end.
        self.list_notices = show_rejects is not None
        #: Per input, in input order: its far-ahead records.
        self.ahead: list[_FarAhead] = []
        self.shown = 0
        #: Reports past ``show_rejects``: rejections (too-large records
        #: among them) and far-ahead notices apart, as ``recon detect``.
        self.hidden_rejects = 0
        self.hidden_notices = 0
        self.format = fmt
        self.summary = Summary()

    def _say(self, text: str) -> None:
        self.err.write(text + "\n")

    def start(self, source: str) -> None:
        """An input begins."""
        self.ahead.append(_FarAhead(source))

    def read(self, source: str, result: ReadResult) -> None:
        """What one step of the component's reader read."""
        # Records skipped for their size, and envelope values that hold no
        # record, count as read, as in `recon detect`.
        self.summary.records += result.records + result.skipped
        too_large = sum(1 for r in result.reports if r.reason is RejectReason.TOO_LARGE)
        self.summary.skipped_too_large += too_large
        self.summary.skipped_envelopes += result.skipped - too_large
        self.summary.control_messages += result.control_messages
        if result.verdict is not None:
            self.summary.verdicts.append((source, result.verdict))
        for r in result.reports:
            if r.line is None and r.record is None and r.log_event is None and r.reason is None:
                continue  # the unreadable input: told below, always
            if r.reason is None and not self.list_notices:  # a time far ahead: summarised
                ahead = self.ahead[-1]
                ahead.count += 1
                if len(ahead.first) < _FAR_AHEAD_SHOWN:
                    ahead.first.append(_location(r))
                continue
            if self.shown < self.show_rejects:
                self._say(f"recon: {source}: {r.message}")
                self.shown += 1
            elif r.reason is None:  # a time far ahead: a notice, the record was counted
                self.hidden_notices += 1
            else:
                self.hidden_rejects += 1
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
            self.summary.early += sum(1 for a in alerts if a.kind == "early")
        self.out.flush()


#: Far-ahead notices shown in an input's summary line.
_FAR_AHEAD_SHOWN = 3


def _location(r: ReadReport) -> str:
    """A report's location as ``recon detect`` words it: ``line 3``,
    ``line 1, record 2``, ``line 3, log event 2``."""
    if r.log_event is not None:
        if r.line is not None:
            return f"line {r.line}, log event {r.log_event}"
        if r.record is not None:
            return f"message {r.record}, log event {r.log_event}"
        return f"log event {r.log_event}"
    if r.line is not None and r.record is not None:
        return f"line {r.line}, record {r.record}"
    if r.line is not None:
        return f"line {r.line}"
    if r.record is not None:
        return f"record {r.record}"
    return "record ?"


def _far_ahead_summary(count: int, first: list[str]) -> str:
    """An input's records far ahead of the stream, in one line, as ``recon
    detect`` words it."""
    at = first + ["…"] if count > len(first) else first
    records, times = ("record", "a time") if count == 1 else ("records", "times")
    return (
        f"{count} {records} with {times} far ahead of the stream (more than limits.max_time_jump_seconds) "
        f"at {', '.join(at)}: counted, but the watermark waits for other records to agree "
        "(--show-rejects N lists them)"
    )


def _reason_counts(counts: dict[RejectReason, int]) -> str:
    if not counts:
        return ""
    return " (" + ", ".join(f"{r.value} {n}" for r, n in counts.items()) + ")"


def _seconds(ms: int) -> str:
    """Milliseconds as seconds for people: ``579 s``, ``1.5 s``, ``0.001 s``."""
    if ms % 1000 == 0:
        return f"{ms // 1000} s"
    return f"{ms // 1000}.{ms % 1000:03d}".rstrip("0") + " s"


def _rule_line(st: RuleStats) -> str:
    ahead = f", far ahead {st.ahead}" if st.ahead > 0 else ""
    late = f" (the worst {_seconds(st.late_worst_ms)} behind)" if st.late_worst_ms > 0 else ""
    held = f" ({st.suppressed} more held back by suppression)" if st.suppressed > 0 else ""
    return (
        f"{st.rule}: events {st.pushed}, accepted {st.accepted}, filtered {st.filtered}, "
        f"rejected {st.rejected}{_reason_counts(dict(st.rejected_by_reason))}, late {st.late}{late}{ahead}, "
        f"alerts {st.alerts}{held}"
    )


def _late_advice(s: Summary) -> str | None:
    """The advice on late records, as ``recon detect`` words it: how many,
    how late, and the allowed lateness (whole seconds) that would have kept
    them all; ``None`` when nothing was late for want of lateness."""
    if s.stats is None or not s.stats.rules:
        return None
    late = max(r.late for r in s.stats.rules)
    worst = max(r.late_worst_ms for r in s.stats.rules)
    needed = max(r.lateness_needed_ms for r in s.stats.rules)
    if late == 0 or needed == 0:
        return None
    suggest = -(-needed // 1000)
    return (
        f"recon: {late} records arrived too late to count (after their window was final; the worst "
        f"{_seconds(worst)} behind the newest record); an allowed lateness of {suggest} s would have kept "
        f"them all (now {_seconds(s.allowed_lateness_ms)}): --allowed-lateness {suggest}, or "
        f"allowed_lateness_seconds = {suggest} in the configuration file"
    )


def summary_lines(s: Summary) -> list[str]:
    """The summary as the lines ``recon detect`` prints on stderr."""
    early = f" ({s.early} early, {s.alerts - s.early} final)" if s.early > 0 else ""
    lines = [f"recon: read {s.records} records; {s.alerts} alerts{early}"]
    if s.stopped:
        lines.append(
            "recon: stopped by a signal: what was read was processed and the stream ended "
            "(or saved) as at the end of input"
        )
    # What inputs looked like, when most of their records were not CloudTrail.
    lines.extend(f"recon: {name}: {v.message}" for name, v in s.verdicts)
    if s.control_messages > 0:
        plural = "" if s.control_messages == 1 else "s"
        lines.append(
            f"recon: {s.control_messages} CloudWatch Logs control message{plural} skipped "
            "(a subscription's health checks, not CloudTrail records)"
        )
    if s.skipped_too_large > 0:
        lines.append(
            f"recon: {s.skipped_too_large} lines longer than limits.max_event_bytes skipped by the reader "
            "(not counted by the rules below)"
        )
    if s.skipped_envelopes > 0:
        lines.append(
            f"recon: {s.skipped_envelopes} envelope values held no record, skipped by the reader "
            "(not counted by the rules below)"
        )
    if s.stats is not None:
        lines.extend(f"recon: {_rule_line(r)}" for r in s.stats.rules)
    advice = _late_advice(s)
    if advice is not None:
        lines.append(advice)
    return lines


def _config_error_text(e: ConfigError) -> str:
    """A refused configuration as ``recon detect`` words it (a rule file:
    ``FILE:LINE: rule "R": field "F": MESSAGE``)."""
    return f"invalid detector configuration: {e.message}"


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
    if args.early is not None:
        s.early_alerts = args.early
    if args.chunk_kib is not None:
        s.chunk_kib = args.chunk_kib
    if args.workers is not None:
        s.workers = args.workers
    s.check_supported()
    s.check_workers()
    return s, notes


def run_detect(args: argparse.Namespace, out: IO[bytes], err: IO[str]) -> int:
    # The cache first: reading the configuration asks the component for
    # its built-ins.
    set_cache_dir(None if args.no_cache else (args.cache_dir or default_cache_dir()))
    try:
        settings, notes = _settings(args)
        config = settings.config()
        sandbox = settings.sandbox_bounds()
        chunk_bytes = settings.chunk_bytes()
    except SettingsError as e:
        err.write(f"recon: error: {e}\n")
        return 2
    except ComponentLoadError as e:
        err.write(f"recon: error: starting the detector sandbox: {e}\n")
        return 1
    if args.config:
        for note in notes:
            err.write(f"recon: note: {args.config}: {note} (read, not applied)\n")
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
    sink.summary.allowed_lateness_ms = _allowed_lateness_ms(config.allowed_lateness_ms, config.profile)
    _STOP.clear()
    previous = (
        {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)} if _main_thread() else {}
    )
    try:
        for path in inputs:
            name = source_name(path)
            sink.start(name)
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
        for ahead in sink.ahead:
            if ahead.count > 0:
                err.write(f"recon: {ahead.name}: {_far_ahead_summary(ahead.count, ahead.first)}\n")
        if sink.hidden_rejects > 0:
            err.write(f"recon: {sink.hidden_rejects} more rejected records not shown (--show-rejects)\n")
        if sink.hidden_notices > 0:
            err.write(
                f"recon: {sink.hidden_notices} more far-ahead notices not shown (--show-rejects); "
                "those records were counted, not rejected\n"
            )
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
    none_readable = sum(1 for _, v in sink.summary.verdicts if v.none_readable)
    if none_readable:
        err.write(f"recon: {none_readable} input(s) held no readable record\n")
    return 1 if sink.summary.unreadable or none_readable else 0


def _allowed_lateness_ms(given: int | None, profile: Profile | str) -> int:
    """The allowed lateness the detector runs with: ``given``, else the
    component's default (its ``default-config``, not restated here)."""
    if given is not None:
        return given
    default = _runtime.call_shared("default-config", [], Profile(profile).value)
    return int(getattr(default, "allowed-lateness-ms") or 0)


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
