"""Reading CloudTrail exports as the Rust host does (``host/src/input.rs``):
every layout real ones use, gzip or not, decided by the content and never
by the file name, cut into chunks of newline-delimited JSON for
`Detector.push_ndjson`.

- ``{"Records":[...]}``: what CloudTrail writes to S3;
- a top-level JSON array of records;
- a single record object, or several concatenated;
- one record per line (NDJSON); lines that hold ``{"Records":[...]}`` are
  expanded into their records;
- any of these gzip-compressed (detected by the magic bytes ``1f 8b``).

Records are handed on as the JSON text they were, never parsed and
re-serialised: a malformed record reaches the detector, which rejects and
counts it, and a record keeps every byte the detector judges (a repeated
key included). Documents are split into records as a stream, so memory
holds one record and one chunk, never the document. A line or record
longer than the limit is skipped to its end and reported (`TooLarge`), not
held.

As in the Rust host, the layout is decided by the first line: a first line
that is a complete JSON object makes the input line-delimited. A line
longer than the limit (``limits.max_event_bytes``, 256 KiB by default) is
never held whole: one that is an object is read to its end as a stream,
as a document, so a CloudTrail file written on one line (as S3 exports
are) gives its records (``line 1, record 7``); any other is skipped and
reported. ``layout="document"`` reads an input as a document whatever its
first line (locations are then ``record 7``).
"""

from __future__ import annotations

import json
import os
import queue
import re
import sys
import threading
import zlib
from dataclasses import dataclass
from typing import IO, Any, Generator, Iterator, Literal, TypeVar, Union

from ._types import DEFAULT_MAX_EVENT_BYTES
from .errors import InputError

__all__ = [
    "Loc",
    "Chunk",
    "TooLarge",
    "DocSplitter",
    "read_chunks",
    "read_records",
    "source_name",
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_LINGER",
]

#: Default bytes per chunk (per `Detector.push_ndjson` call): 1 MiB.
DEFAULT_CHUNK_BYTES = 1 << 20
#: Default `linger`: complete lines wait at most 200 ms for more input.
DEFAULT_LINGER = 0.2
#: Bytes a reader asks for per read.
PIECE_BYTES = 1 << 20
#: Bytes of the first read, which decides gzip.
HEAD_BYTES = 64 << 10
#: After a stop request, how much longer than the linger the input may
#: pause before it is taken as ended.
STOP_TICK = 0.1
#: Pieces a reader may read ahead of the chunker.
PIECES_AHEAD = 4

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]
Layout = Literal["auto", "lines", "document"]


@dataclass(frozen=True)
class Loc:
    """Where a record came from: ``line`` (1-based) for line-delimited
    input; ``record`` (1-based) within a document or a line's ``Records``
    array."""

    line: int | None = None
    record: int | None = None

    def __str__(self) -> str:
        if self.line is not None and self.record is not None:
            return f"line {self.line}, record {self.record}"
        if self.line is not None:
            return f"line {self.line}"
        if self.record is not None:
            return f"record {self.record}"
        return "record ?"


@dataclass(frozen=True)
class Chunk:
    """Complete lines of NDJSON (each ending in ``\\n``), ready for
    `Detector.push_ndjson`, and where each line came from."""

    data: bytes
    #: Line ``i`` of the chunk is input line ``first_line + i`` ...
    first_line: int | None = None
    #: ... or the record at ``locs[i]``.
    locs: tuple[Loc, ...] | None = None

    def loc(self, index: int) -> Loc:
        """Where line ``index`` of the chunk came from."""
        if self.locs is not None:
            return self.locs[index] if 0 <= index < len(self.locs) else Loc()
        return Loc(line=(self.first_line or 1) + index)

    def records(self) -> list[str]:
        """The non-blank lines as text (invalid UTF-8 replaced)."""
        out = []
        for line in self.data.split(b"\n"):
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.strip(b" \t\r"):
                out.append(line.decode("utf-8", "replace"))
        return out


@dataclass(frozen=True)
class TooLarge:
    """A line or record longer than the limit, skipped without being held:
    where it was and how long. The Rust host counts it as a record read
    (rejected as ``too-large``) that the detector never saw."""

    loc: Loc
    bytes: int


def source_name(source: object) -> str:
    """The name messages use for an input: the path, ``<stdin>`` for ``-``."""
    if isinstance(source, (str, os.PathLike)):
        s = os.fspath(source)
        return "<stdin>" if s == "-" else str(s)
    name = getattr(source, "name", None)
    if isinstance(name, str):
        return "<stdin>" if name == "<stdin>" else name
    return "<input>"


# ---------------------------------------------------------------------------
# Text helpers that behave as the Rust host's.

_ASCII_SPACE = b" \t\n\r\x0c"  # u8::is_ascii_whitespace
#: Unicode White_Space, which Rust's str::trim removes.
_RUST_WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _raise_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _ignore_number(text: str) -> int:
    return 0


def _json_value(text: str, hook: Any = None) -> Any:
    """Parses JSON as serde_json accepts it (no NaN/Infinity; numbers of any
    size are syntax only). Raises ValueError when it is not JSON."""
    try:
        try:
            return json.loads(text, parse_constant=_raise_constant, object_pairs_hook=hook)
        except ValueError as e:
            if "integer" not in str(e):
                raise
        # An integer too long for int(): valid JSON all the same.
        return json.loads(
            text,
            parse_constant=_raise_constant,
            parse_int=_ignore_number,
            parse_float=_ignore_number,
            object_pairs_hook=hook,
        )
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _is_json(text: str) -> bool:
    try:
        _json_value(text)
        return True
    except ValueError:
        return False


def _one_line(record: bytes) -> bytes:
    """One record on one line: line ends (only whitespace between tokens,
    in valid JSON) turned into spaces. Bytes are handed on as they are,
    UTF-8 or not: the detector rejects a record that is not UTF-8 as
    ``invalid-json``, whatever the layout."""
    return record.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n"


def _escape_ascii(b: int) -> str:
    """A byte as Rust's ``u8::escape_ascii`` writes it."""
    special = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x27: "\\'", 0x22: '\\"', 0x5C: "\\\\"}
    if b in special:
        return special[b]
    if 0x20 <= b < 0x7F:
        return chr(b)
    return f"\\x{b:02x}"


# ---------------------------------------------------------------------------
# Documents: a stream of JSON text split into records.

_TOP_ARRAY, _TOP_OBJECT, _RECORDS, _INNER = 1, 2, 3, 4
_NONSPACE = re.compile(rb"[^ \t\n\r\x0c]")
# Inside a record's own brackets only brackets and strings change the
# state: this skips everything else, complete strings included, and stops
# at a bracket, at a string that does not end in the piece, or at the end.
_DEEP_RUN = re.compile(rb'(?:[^"{}\[\]]++|"(?:[^"\\]++|\\.)*+")*+', re.DOTALL)
# A string's body: stops at its closing quote, or at a backslash that ends
# the piece (its escaped byte is in the next one), or at the end.
_STRING_BODY = re.compile(rb'(?:[^"\\]++|\\.)*+', re.DOTALL)
_UNESCAPE = re.compile(rb"\\(.)", re.DOTALL)

DocEvent = Union[bytes, int]
_T = TypeVar("_T")
_Gen = Generator[Union["Chunk", "TooLarge"], None, _T]


class DocSplitter:
    """Splits a stream of JSON text into records without holding the
    document (a port of the Rust host's ``DocSplitter``): the members of a
    top-level array, the members of a top-level object's ``Records``
    array, or a top-level object itself. It follows strings, escapes and
    nesting (jumping over string bodies and a record's inner text with
    regular expressions) and keeps only the record being read; structural
    damage is an error where it is found.

    `feed` returns the complete records (``bytes``) and skipped ones (an
    ``int``: the length of a record past ``limit``), and an error message
    or ``None``.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.stack: list[int] = []
        self.in_string = False
        self.escaped = False
        self.capturing = False
        self.parts: list[bytes] = []
        self.parts_len = 0
        self.skipping: int | None = None
        self.rec_start = 0
        self.record_depth = 0
        self.key = bytearray()
        self.reading_key = False
        self.after_records_key = False
        #: ``Records`` arrays opened at the top level of an object.
        self.records_arrays = 0
        self.pos = 0

    def _start(self, i: int) -> None:
        self.capturing = True
        self.parts = []
        self.parts_len = 0
        self.skipping = None
        self.rec_start = i
        self.record_depth = len(self.stack)

    def _end(self, b: bytes, end: int, out: list[DocEvent]) -> None:
        if not self.capturing:
            return
        here = end - self.rec_start
        if self.skipping is not None:
            out.append(self.skipping + here)
        elif self.parts_len + here > self.limit:
            out.append(self.parts_len + here)
        else:
            tail = b[self.rec_start : end]
            out.append(b"".join(self.parts) + tail if self.parts else tail)
        self.capturing = False
        self.parts = []
        self.parts_len = 0
        self.skipping = None

    def _members_are_records(self) -> bool:
        return bool(self.stack) and self.stack[-1] in (_TOP_ARRAY, _RECORDS)

    def _scalar_open(self) -> bool:
        return self.capturing and self.record_depth == len(self.stack) and self._members_are_records()

    def feed(self, b: bytes) -> tuple[list[DocEvent], str | None]:
        out: list[DocEvent] = []
        error: str | None = None
        n = len(b)
        base = self.pos
        i = 0
        stack = self.stack
        while i < n:
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                    if self.reading_key:
                        self.key.append(b[i])
                    i += 1
                    if i == n:
                        break
                m = _STRING_BODY.match(b, i)
                assert m is not None  # the pattern matches the empty string
                j = m.end()
                if self.reading_key:
                    self.key += _UNESCAPE.sub(rb"\1", b[i:j])
                if j == n:
                    i = n
                    break
                if b[j] == 0x5C:  # a backslash ends the piece
                    self.escaped = True
                    i = n
                    break
                self.in_string = False
                self.reading_key = False
                i = j + 1
                if self._scalar_open():
                    self._end(b, i, out)
                continue
            if (
                self.capturing
                and len(stack) > self.record_depth
                and not (len(stack) == 1 and stack[0] == _TOP_OBJECT)
            ):
                run = _DEEP_RUN.match(b, i)
                assert run is not None  # the pattern matches the empty string
                j = run.end()
                if j == n:
                    break
                if b[j] == 0x22:  # a string that goes on in the next piece
                    self.in_string = True
                    i = j + 1
                    continue
            else:
                m = _NONSPACE.search(b, i)
                if m is None:
                    break
                j = m.start()
            c = b[j]
            i = j + 1
            at_member = not self.capturing and self._members_are_records()
            if c in (0x7B, 0x5B) and not stack:  # { [ at the top
                self.after_records_key = False
                if c == 0x7B:
                    # The object may be a record: read it as one until it
                    # shows a `Records` array.
                    self._start(j)
                    stack.append(_TOP_OBJECT)
                else:
                    stack.append(_TOP_ARRAY)
            elif c == 0x5B and self.after_records_key:
                # `{"Records": [`: what was read of the object is not a
                # record; the array's members are.
                self.capturing = False
                self.parts = []
                self.parts_len = 0
                self.skipping = None
                self.after_records_key = False
                self.records_arrays += 1
                stack.append(_RECORDS)
            elif c in (0x7B, 0x5B):
                self.after_records_key = False
                if at_member:
                    self._start(j)
                stack.append(_INNER)
            elif c in (0x7D, 0x5D):  # } ]
                self.after_records_key = False
                if self._scalar_open():
                    self._end(b, j, out)
                if not stack:
                    error = f"unexpected '{chr(c)}' at byte {base + j + 1}"
                    break
                frame = stack.pop()
                if frame == _TOP_OBJECT:
                    # A plain object is a record; one that held a `Records`
                    # array has none left open.
                    self._end(b, j + 1, out)
                elif frame == _INNER and self.capturing and len(stack) == self.record_depth:
                    self._end(b, j + 1, out)
            elif c == 0x2C:  # ,
                self.after_records_key = False
                if self._scalar_open():
                    self._end(b, j, out)
            elif c == 0x22:  # "
                self.after_records_key = False
                self.in_string = True
                if at_member:
                    self._start(j)
                # A key of a top-level object, read to spot `Records`.
                if len(stack) == 1 and stack[0] == _TOP_OBJECT:
                    self.key.clear()
                    self.reading_key = True
            elif c == 0x3A:  # :
                self.after_records_key = len(stack) == 1 and stack[0] == _TOP_OBJECT and self.key == b"Records"
            else:
                self.after_records_key = False
                if not stack:
                    error = f"unexpected '{_escape_ascii(c)}' at byte {base + j + 1} between documents"
                    break
                if at_member:
                    self._start(j)
        if error is not None:
            self.pos = base + i
            return out, error
        self.pos = base + n
        # The record goes on in the next piece: keep its bytes, or only
        # count them once it is past the limit.
        if self.capturing:
            here = n - self.rec_start
            if self.skipping is not None:
                self.skipping += here
            elif self.parts_len + here > self.limit:
                self.skipping = self.parts_len + here
                self.parts = []
                self.parts_len = 0
            elif here > 0:
                self.parts.append(b[self.rec_start :])
                self.parts_len += here
            self.rec_start = 0
        return out, None

    def finish(self) -> str | None:
        """The input ended: fine only between documents (``None``);
        otherwise the error message."""
        if self.stack or self.in_string:
            return f"the document ends inside a value (byte {self.pos})"
        return None


def _expand(line: bytes) -> list[bytes] | None:
    """The records of one line that is a top-level JSON object with a
    ``Records`` array: its members, found as the document splitter finds
    them (so a line gives the same records as the same document
    pretty-printed or past the line limit: the key spelled literally, every
    ``Records`` array of the object). ``None`` for any other line, which is
    then one record (a line that is not valid JSON is ``invalid-json``,
    whole). As serde_json skipping a value, the bytes inside strings need
    not be UTF-8 (the detector judges each record)."""
    if b'"Records"' not in line:
        return None
    m = _NONSPACE.search(line)
    if m is None or line[m.start()] != 0x7B or not _is_json(line.decode("utf-8", "surrogateescape")):
        return None
    split = DocSplitter(sys.maxsize)
    events, error = split.feed(line)
    if error is not None or split.finish() is not None or not split.records_arrays:
        return None
    return [e for e in events if isinstance(e, bytes)]


def _expand_lines(data: bytes, first_line: int, limit: int) -> tuple[Chunk, list[TooLarge]]:
    """Lines of which some hold ``{"Records":[...]}``: each such line
    becomes its records, one per line; every other line stays as it is. An
    object line past ``limit`` is split as a document (`_Chunker._split_line`
    does the same for one too long to be read whole): its records, and the
    records (or, damaged, the line) too large to pass on, reported apart."""
    out: list[bytes] = []
    locs: list[Loc] = []
    too_large: list[TooLarge] = []
    body = data[:-1] if data.endswith(b"\n") else data
    for i, line in enumerate(body.split(b"\n")):
        n = first_line + i
        trimmed = line[:-1] if line.endswith(b"\r") else line
        if len(trimmed) > limit:
            m = _NONSPACE.search(trimmed)
            if m is not None and trimmed[m.start()] == 0x7B:
                split = DocSplitter(limit)
                events, error = split.feed(trimmed)
                failed = error is not None or split.finish() is not None
                for k, e in enumerate(events):
                    loc = Loc(line=n, record=k + 1 if split.records_arrays else None)
                    if isinstance(e, bytes):
                        out.append(_one_line(e))
                        locs.append(loc)
                    else:
                        too_large.append(TooLarge(loc, e))
                if failed:
                    too_large.append(TooLarge(Loc(line=n), len(trimmed)))
                continue
        records = _expand(trimmed)
        if records is not None:
            for k, r in enumerate(records):
                out.append(_one_line(r))
                locs.append(Loc(line=n, record=k + 1))
        else:
            out.append(line + b"\n")
            locs.append(Loc(line=n))
    return Chunk(data=b"".join(out), locs=tuple(locs)), too_large


# ---------------------------------------------------------------------------
# Pieces: the raw (decompressed) bytes of a source, read on a thread.

_PIECE, _PAUSED, _END, _FAILED = "piece", "paused", "end", "failed"


def _read_some(stream: IO[bytes], n: int) -> bytes:
    read1 = getattr(stream, "read1", None)
    data = read1(n) if read1 is not None else stream.read(n)
    return bytes(data) if data else b""


class _BufReader:
    """Rust's ``std::io::BufReader`` (64 KiB) over a stream, read for read:
    a read larger than the buffer, with nothing buffered, goes straight to
    the stream; any other read (an empty one included) first fills the
    buffer with one read of the stream."""

    def __init__(self, stream: IO[bytes], capacity: int = HEAD_BYTES) -> None:
        self.stream = stream
        self.capacity = capacity
        self.buf = b""

    def fill_buf(self) -> bytes:
        if not self.buf:
            self.buf = _read_some(self.stream, self.capacity)
        return self.buf

    def read(self, n: int) -> bytes:
        if not self.buf and n >= self.capacity:
            return _read_some(self.stream, n)
        rest = self.fill_buf()
        out, self.buf = rest[:n], rest[n:]
        return out


def _raw_pieces(reader: _BufReader) -> Iterator[bytes]:
    """Pieces of up to ``PIECE_BYTES``, each filled until a read comes back
    short, read as the Rust host's reader reads them: a regular file comes
    in the same pieces (64 KiB, 1 MiB, 64 KiB, ...), which decides, as
    there, whether a line longer than the limit is seen whole in what was
    read (and handed to the detector) or skipped by the reader."""
    while True:
        piece = bytearray()
        while True:
            wanted = PIECE_BYTES - len(piece)
            data = reader.read(wanted)
            if not data:
                break
            piece += data
            if len(data) < wanted:
                break
        if not piece:
            return
        yield bytes(piece)


class _GzipError(ValueError):
    """A gzip stream that cannot be read, worded as the Rust host's decoder
    (flate2) words it."""


_GZ_EOF = "unexpected end of file"
_GZ_HEADER = "invalid gzip header"


def _gunzip(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Decompresses gzip members one after another (as the Rust host's
    multi-member decoder does), in bounded pieces. The header and trailer
    are read here (the deflate data by zlib) so that damage is named as
    there: a stream that ends in a header or trailer, a bad header, corrupt
    or unfinished deflate data, a checksum or length that does not match."""
    buf = bytearray()
    source = iter(pieces)
    ended = False

    def more() -> bool:
        nonlocal ended
        if not ended:
            for piece in source:
                buf.extend(piece)
                return True
            ended = True
        return False

    def need(n: int) -> None:
        while len(buf) < n:
            if not more():
                raise _GzipError(_GZ_EOF)

    def zero_terminated(pos: int) -> int:
        while True:
            i = buf.find(0, pos)
            if i >= 0:
                return i + 1
            need(len(buf) + 1)

    while True:
        # A member's header: magic, method 8 (deflate), flags, optional fields.
        need(10)
        if buf[0] != 0x1F or buf[1] != 0x8B or buf[2] != 8 or buf[3] & 0xE0:
            raise _GzipError(_GZ_HEADER)
        flags = buf[3]
        pos = 10
        if flags & 0x04:  # FEXTRA
            need(pos + 2)
            pos += 2 + (buf[pos] | buf[pos + 1] << 8)
            need(pos)
        if flags & 0x08:  # FNAME
            pos = zero_terminated(pos)
        if flags & 0x10:  # FCOMMENT
            pos = zero_terminated(pos)
        if flags & 0x02:  # FHCRC
            pos += 2
            need(pos)
        del buf[:pos]
        d = zlib.decompressobj(-15)
        crc = 0
        size = 0
        while not d.eof:
            if not buf and not more():
                raise _GzipError("incomplete deflate stream")
            data = bytes(buf)
            buf.clear()
            while True:
                try:
                    out = d.decompress(data, PIECE_BYTES)
                except zlib.error:
                    raise _GzipError("corrupt deflate stream") from None
                if out:
                    crc = zlib.crc32(out, crc)
                    size += len(out)
                    yield out
                data = d.unconsumed_tail
                if d.eof or (not data and len(out) < PIECE_BYTES):
                    break
        buf[:0] = d.unused_data
        need(8)
        if int.from_bytes(buf[0:4], "little") != crc or int.from_bytes(buf[4:8], "little") != size & 0xFFFFFFFF:
            raise _GzipError("corrupt gzip stream does not have a matching checksum")
        del buf[:8]
        if not buf and not more():
            return


class _Pieces:
    """Reads a source on its own thread, in pieces, gunzipping when it
    starts with gzip's magic bytes; `next` tells a pause in the input (no
    piece within `linger` seconds) from its end."""

    def __init__(self, stream: IO[bytes], linger: float | None, stop: threading.Event | None = None) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(PIECES_AHEAD)
        self._stop = threading.Event()
        self._requested = stop
        self._linger = linger
        self._done = False
        self._thread = threading.Thread(target=self._read, args=(stream,), name="recon-read", daemon=True)
        self._thread.start()

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read(self, stream: IO[bytes]) -> None:
        try:
            # What one read brings (up to 64 KiB) decides gzip, as in the
            # Rust host.
            reader = _BufReader(stream)
            pieces = _raw_pieces(reader)
            if reader.fill_buf().startswith(b"\x1f\x8b"):
                pieces = _gunzip(pieces)
            for piece in pieces:
                if not self._put((_PIECE, piece)):
                    return
            self._put((_END, None))
        except Exception as e:  # reported as the input failing, never lost
            self._put((_FAILED, e))

    def next(self) -> tuple[str, Any]:
        if self._done:
            return (_END, None)
        if self._requested is not None and self._requested.is_set():
            # Stop requested: what keeps arriving is still read, until the
            # input pauses for the linger (as the Rust CLI); then it ends.
            try:
                item = self._queue.get(timeout=(self._linger or 0.0) + STOP_TICK)
            except queue.Empty:
                self._done = True
                return (_END, None)
        else:
            try:
                item = self._queue.get(timeout=self._linger)
            except queue.Empty:
                return (_PAUSED, None)
        if item[0] != _PIECE:
            self._done = True
        return item

    def close(self) -> None:
        self._done = True
        self._stop.set()


# ---------------------------------------------------------------------------
# The chunker.


def _io_message(e: BaseException) -> str:
    """An I/O error as the Rust host words one where it can."""
    if isinstance(e, OSError) and e.strerror and e.errno is not None:
        return f"{e.strerror} (os error {e.errno})"
    if isinstance(e, _GzipError):
        return str(e)
    if isinstance(e, zlib.error):
        return f"corrupt gzip stream: {e}"
    return str(e) or type(e).__name__


class _Records:
    """Gathers the records a :class:`DocSplitter` gives into chunks of
    about ``chunk_bytes``, each record on a line of its own; a record too
    large to pass on is reported where it stands."""

    def __init__(self, chunk_bytes: int) -> None:
        self.chunk_bytes = chunk_bytes
        self.data: list[bytes] = []
        self.size = 0
        self.locs: list[Loc] = []

    def add(self, loc: Loc, event: DocEvent) -> Iterator[Chunk | TooLarge]:
        if not isinstance(event, bytes):
            yield TooLarge(loc, event)
            return
        line = _one_line(event)
        self.data.append(line)
        self.size += len(line)
        self.locs.append(loc)
        if self.size >= self.chunk_bytes:
            yield from self.flush()

    def flush(self) -> Iterator[Chunk]:
        if self.data:
            yield Chunk(data=b"".join(self.data), locs=tuple(self.locs))
            self.data, self.size, self.locs = [], 0, []


class _Chunker:
    def __init__(self, name: str, chunk_bytes: int, max_line: int) -> None:
        self.name = name
        self.chunk_bytes = chunk_bytes
        self.max_line = max_line
        #: Input lines handed on so far.
        self.line = 0

    def _failed(self, e: BaseException) -> InputError:
        return InputError(self.name, _io_message(e))

    def run(self, pieces: _Pieces, layout: Layout) -> Iterator[Chunk | TooLarge]:
        # Find the layout from the first line that holds anything.
        buffered = bytearray()
        failure: BaseException | None = None
        limit = self.max_line
        scanned = 0
        while True:
            bom = 3 if buffered.startswith(b"\xef\xbb\xbf") else 0
            m = _NONSPACE.search(buffered, bom)
            if m is not None:
                first = m.start()
                # A first line past the line limit decides too: it is not
                # held whole (a one-line `{"Records":[...]}` file, a gzip
                # bomb without line ends).
                if buffered.find(b"\n", max(first, scanned)) >= 0 or len(buffered) - first > limit:
                    break
                scanned = len(buffered)
            elif len(buffered) > min(limit, PIECE_BYTES):
                # Only blank lines so far: count them, keep nothing.
                self.line += buffered.count(b"\n")
                buffered.clear()
                scanned = 0
            kind, value = pieces.next()
            if kind == _PIECE:
                buffered += value
            elif kind == _END:
                break
            elif kind == _FAILED:
                failure = value
                break
        head = bytes(buffered)
        if failure is not None:
            yield from self._lines(head, pieces)
            raise self._failed(failure)
        content = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        first = len(content) - len(content.lstrip(_ASCII_SPACE))
        if first == len(content):
            return  # empty or blank input
        end = content.find(b"\n", first)
        first_line_end = end if end >= 0 else len(content)
        # A first line past the limit that is an object goes the way of any
        # such line (`_split_line`): the input is still read as lines.
        oversized = first_line_end - first > self.max_line
        complete = not oversized and _is_json(
            content[first:first_line_end].decode("utf-8", "replace").strip(_RUST_WHITE_SPACE)
        )
        opener = content[first]
        if layout == "document" or (
            layout == "auto" and opener in (0x5B, 0x7B) and not (opener == 0x7B and (complete or oversized))
        ):
            yield from self._document(head, pieces)
        else:
            yield from self._lines(head, pieces)

    # -- line-delimited input ------------------------------------------------

    def _lines(self, head: bytes, pieces: _Pieces) -> Iterator[Chunk | TooLarge]:
        buf = bytearray(head[3:] if head.startswith(b"\xef\xbb\xbf") else head)
        while True:
            partial = len(buf) - (buf.rfind(b"\n") + 1)
            if partial > self.max_line:
                # A line past the limit: hand on what precedes it, then skip
                # it to its end without keeping it.
                rest = yield from self._emit_complete(buf)
                m = _NONSPACE.search(rest)
                if m is not None and rest[m.start()] == 0x7B:
                    after = yield from self._split_line(rest, pieces)
                else:
                    after = yield from self._skip_line(rest, pieces)
                if after is None:
                    return
                buf = bytearray(after)
                continue
            if len(buf) >= self.chunk_bytes and partial < len(buf):
                buf = yield from self._emit_complete(buf)
                continue
            kind, value = pieces.next()
            if kind == _PIECE:
                buf += value
            elif kind == _PAUSED:
                buf = yield from self._emit_complete(buf)
            elif kind == _END:
                if buf and not buf.endswith(b"\n"):
                    buf += b"\n"
                yield from self._emit_complete(buf)
                return
            else:
                yield from self._emit_complete(buf)
                raise self._failed(value)

    def _skip_line(self, started: bytearray, pieces: _Pieces) -> _Gen[bytes | None]:
        """Skips the line ``started`` begins, to its end; reports it.
        Returns what follows its end, or None when the input ended inside
        it (a generator's return value)."""
        size = len(started)

        def report(n: int) -> TooLarge:
            self.line += 1
            return TooLarge(Loc(line=self.line), n)

        while True:
            kind, value = pieces.next()
            if kind == _PIECE:
                i = value.find(b"\n")
                if i >= 0:
                    end = i - 1 if i > 0 and value[i - 1] == 0x0D else i
                    yield report(size + end)
                    return bytes(value[i + 1 :])
                size += len(value)
            elif kind == _END:
                yield report(size)
                return None
            elif kind == _FAILED:
                yield report(size)
                raise self._failed(value)

    def _split_line(self, started: bytearray, pieces: _Pieces) -> _Gen[bytes | None]:
        """Reads the line ``started`` begins (an object past the line
        limit) to its end as a stream, as a document: a line that holds
        ``{"Records":[...]}`` gives its records (each past the limit
        reported as too large), any other object is reported as too large.
        Returns what follows the line's end, or None when the input ended
        inside it."""
        self.line += 1
        line = self.line
        split = DocSplitter(self.max_line)
        records = _Records(self.chunk_bytes)
        failed = False
        number = 0
        size = 0

        def feed(part: bytes) -> Iterator[Chunk | TooLarge]:
            nonlocal failed, number, size
            size += len(part)
            if failed:
                return
            events, error = split.feed(part)
            if error is not None:
                failed = True
            for e in events:
                number += 1
                loc = Loc(line=line, record=number if split.records_arrays else None)
                yield from records.add(loc, e)

        yield from feed(bytes(started))
        del started
        after: bytes | None = None
        failure: BaseException | None = None
        while True:
            kind, value = pieces.next()
            if kind == _PIECE:
                i = value.find(b"\n")
                if i >= 0:
                    end = i - 1 if i > 0 and value[i - 1] == 0x0D else i
                    yield from feed(value[:end])
                    after = bytes(value[i + 1 :])
                    break
                yield from feed(value)
            elif kind == _END:
                break
            elif kind == _FAILED:
                failure = value
                break
        if not failed and split.finish() is not None:
            failed = True
        yield from records.flush()
        if failed:
            # Damaged: what could not be split is one record too large.
            yield TooLarge(Loc(line=line), size)
        if failure is not None:
            raise self._failed(failure)
        return after

    def _emit_complete(self, buf: bytearray) -> _Gen[bytearray]:
        """Hands on the complete lines of ``buf`` in chunks of about
        ``chunk_bytes``; returns the rest (a line not yet ended)."""
        last = buf.rfind(b"\n")
        if last < 0:
            return buf
        rest = buf[last + 1 :]
        complete = bytes(buf[: last + 1])
        size = self.chunk_bytes
        start = 0
        while len(complete) - start > size:
            # The last line end within `size`, else the end of the long line.
            cut = complete.rfind(b"\n", start, start + size)
            if cut < 0:
                cut = complete.find(b"\n", start + size)
            cut = len(complete) if cut < 0 else cut + 1
            yield from self._emit(complete[start:cut])
            start = cut
        if start < len(complete):
            yield from self._emit(complete[start:])
        return rest

    def _emit(self, data: bytes) -> Iterator[Chunk | TooLarge]:
        """Hands on complete lines (ending in ``\\n``), expanding
        ``Records`` lines (what is too large to pass on first)."""
        first_line = self.line + 1
        self.line += data.count(b"\n")
        if b'"Records"' not in data:
            yield Chunk(data=data, first_line=first_line)
            return
        chunk, too_large = _expand_lines(data, first_line, self.max_line)
        yield from too_large
        yield chunk

    # -- documents -----------------------------------------------------------

    def _document(self, head: bytes, pieces: _Pieces) -> Iterator[Chunk | TooLarge]:
        split = DocSplitter(self.max_line)
        records = _Records(self.chunk_bytes)
        number = 0
        piece = head[3:] if head.startswith(b"\xef\xbb\xbf") else head

        while True:
            events, damage = split.feed(piece)
            for e in events:
                number += 1
                yield from records.add(Loc(record=number), e)
            if damage is not None:
                yield from records.flush()
                raise InputError(self.name, f"not a readable CloudTrail document: {damage}")
            kind, value = pieces.next()
            if kind == _PIECE:
                piece = value
            elif kind == _PAUSED:
                piece = b""
            elif kind == _END:
                yield from records.flush()
                damage = split.finish()
                if damage is not None:
                    raise InputError(self.name, f"not a readable CloudTrail document: {damage}")
                return
            else:
                yield from records.flush()
                raise self._failed(value)


def _open(source: Source) -> tuple[IO[bytes], str, bool]:
    """The byte stream of a source, its name, and whether to close it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        import io

        return io.BytesIO(bytes(source)), "<bytes>", True
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path == "-":
            # Unbuffered, on the descriptor: a reader thread still waiting
            # on stdin when the program ends holds no lock of sys.stdin's.
            return open(sys.stdin.fileno(), "rb", buffering=0, closefd=False), "<stdin>", True
        name = source_name(source)
        try:
            return open(path, "rb", buffering=0), name, True
        except OSError as e:
            raise InputError(name, _io_message(e)) from None
    if hasattr(source, "read"):
        return source, source_name(source), False
    raise TypeError("a source is a path, '-' (stdin), bytes, or a binary file object")


def read_chunks(
    source: Source,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    linger: float | None = DEFAULT_LINGER,
    max_line_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    layout: Layout = "auto",
    stop: threading.Event | None = None,
) -> Iterator[Chunk | TooLarge]:
    """Reads one input, yielding in order `Chunk`s of complete NDJSON lines
    (for `Detector.push_ndjson`, about ``chunk_bytes`` each) and `TooLarge`
    reports (a line or record longer than ``max_line_bytes``, skipped
    without being held).

    ``source`` is a path, ``"-"`` (stdin), bytes, or a binary file object;
    any layout, gzipped or not. When the input pauses for ``linger``
    seconds (a pipe, ``tail -f``), the complete lines read so far go out at
    once (``None``: wait for full chunks). When it cannot be read (I/O, a
    corrupt gzip stream, a document whose structure is broken) what was
    read is yielded first, then `InputError` is raised. ``layout``
    ``"document"`` reads the input as a JSON document whatever its first
    line (``"lines"``: as NDJSON). Once ``stop`` is set, the input ends
    at its next pause of ``linger`` (plus 0.1 s): what was read is handed on
    as at the end of input.
    """
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be at least 1")
    stream, name, owned = _open(source)
    pieces = _Pieces(stream, linger, stop)
    try:
        yield from _Chunker(name, chunk_bytes, max_line_bytes).run(pieces, layout)
    finally:
        pieces.close()
        if owned:
            stream.close()


def read_records(source: Source, **options: Any) -> list[str]:
    """Every record of one input, as text (for tests and tools); lines past
    the limit are left out. Raises `InputError` when it cannot be read."""
    out: list[str] = []
    options.setdefault("linger", None)
    for item in read_chunks(source, **options):
        if isinstance(item, Chunk):
            out.extend(item.records())
    return out
