"""High-level streaming: records (or files) in, alerts out as they become
final."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Callable, Generator, Iterable

from ._types import BatchResult, Config, ReadResult, Sandbox, Stats
from .alert import Alert
from .detector import Detector
from .errors import InputError
from .source import DEFAULT_LINGER, Source, read_input, source_name

__all__ = ["detect", "detect_file"]

AlertStream = Generator[Alert, None, Stats]

#: Bytes of records per `Detector.push_ndjson` call of `detect`: 1 MiB.
DEFAULT_CHUNK_BYTES = 1 << 20


def _record_bytes(item: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> bytes:
    """One record as one NDJSON line (ending in ``\\n``)."""
    if isinstance(item, str):
        data = item.encode("utf-8")
    elif isinstance(item, (bytes, bytearray, memoryview)):
        data = bytes(item)
    elif isinstance(item, Mapping):
        data = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    else:
        raise TypeError(f"a record is a str, bytes or a mapping, not {type(item).__name__}")
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if b"\n" in data or b"\r" in data:
        # Line ends inside a JSON value can only be whitespace between
        # tokens: as spaces, the record stays one line.
        data = data.replace(b"\r", b" ").replace(b"\n", b" ")
    return data + b"\n"


def detect(
    records: Iterable[bytes | str | Mapping[str, Any]],
    config: Config | None = None,
    *,
    detector: Detector | None = None,
    sandbox: Sandbox | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    finish: bool = True,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> AlertStream:
    """Runs the rules over ``records`` and yields alerts as they become
    final; the generator's return value is the detector's final `Stats`.

    Each item is one record: JSON text (``str`` or ``bytes``, with or
    without its line end, e.g. the lines of a file) or a mapping
    (serialised with `json.dumps`). Records are pushed with
    `Detector.push_ndjson` in batches of about ``chunk_bytes``, and the
    alerts each batch makes final are yielded before the next is read, so
    a slow source (a pipe, a queue) gets its alerts as windows close. At
    the end the stream is ended (``flush()``) and the rest yielded, unless
    ``finish`` is false (keep the windows open, to `Detector.snapshot` and
    resume later: pass your own ``detector``).

    Malformed records never raise: they are counted (`Detector.stats`) and
    reported to ``on_batch`` with every batch result.
    """
    d = detector if detector is not None else Detector(config, sandbox=sandbox)
    buf = bytearray()

    def push() -> list[Alert]:
        result = d.push_ndjson(bytes(buf))
        buf.clear()
        if on_batch is not None:
            on_batch(result)
        return d.drain()

    for item in records:
        buf += _record_bytes(item)
        if len(buf) >= chunk_bytes:
            yield from push()
    if buf:
        yield from push()
    if finish:
        d.flush()
        yield from d.drain()
    return d.stats()


def detect_file(
    source: Source,
    config: Config | None = None,
    *,
    detector: Detector | None = None,
    sandbox: Sandbox | None = None,
    chunk_bytes: int | None = None,
    linger: float | None = DEFAULT_LINGER,
    finish: bool = True,
    on_read: Callable[[ReadResult], None] | None = None,
) -> AlertStream:
    """Runs the rules over a file of any layout, read by the component's
    reader as ``recon detect`` reads one: NDJSON, a ``{"Records":[...]}``
    document, a JSON array or concatenated objects, or the real-time
    feeds' envelopes (CloudWatch Logs messages, Lambda ``awslogs`` events,
    EventBridge CloudTrail events), gzipped or not;
    ``source`` is a path, ``"-"`` (stdin), bytes or a binary file object.
    Yields alerts as they become final; returns the final `Stats`.

    ``on_read(result)`` sees what every step read (`ReadResult`: records,
    per-rule counts, and reports such as rejections and records over
    ``limits.max_event_bytes``, each with where it was, worded as ``recon
    detect`` words them; control messages skipped; at the end, the input's
    verdict when most of its records were not CloudTrail). ``chunk_bytes`` is how many bytes of records are
    pushed at once (default: the component's, 1 MiB). An input that cannot
    be read raises `InputError` after what was read before the damage was
    pushed (and its alerts yielded); the stream is then not ended.
    """
    d = detector if detector is not None else Detector(config, sandbox=sandbox)
    name = source_name(source)
    for result in read_input(d, source, chunk_bytes=chunk_bytes, linger=linger):
        if on_read is not None:
            on_read(result)
        yield from d.drain()
        if result.unreadable is not None:
            raise InputError(name, result.unreadable)
    if finish:
        d.flush()
        yield from d.drain()
    return d.stats()
