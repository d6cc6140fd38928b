"""The bytes of an input, as the component's reader takes them.

What the bytes hold (layout, gzip, records, limits, the wording of every
report) is the component's business (``reader`` in wit/detector.wit);
this module is the host's part: opening the source, reading it on a thread
of its own in pieces, and noticing its pauses (a pipe with nothing more
for now), so the records held are pushed instead of waiting for more.
"""

from __future__ import annotations

import io
import os
import queue
import stat
import sys
import threading
from typing import IO, Any, Iterator, Union

from ._types import ReadResult
from .detector import _merge
from .errors import InputError

__all__ = ["Source", "source_name", "read_input", "DEFAULT_LINGER"]

#: Default `linger`: complete records wait at most 200 ms for more input.
DEFAULT_LINGER = 0.2
#: Bytes asked for per read (the Rust host's piece).
PIECE_BYTES = 1 << 20
#: After a stop request, how much longer than the linger the input may
#: pause before it is taken as ended.
STOP_TICK = 0.1
#: Pieces the reading thread may read ahead.
PIECES_AHEAD = 4

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]

_PIECE, _PAUSED, _END, _FAILED = "piece", "paused", "end", "failed"


def source_name(source: object) -> str:
    """The name messages use for an input: the path, ``<stdin>`` for ``-``."""
    if isinstance(source, (str, os.PathLike)):
        s = os.fspath(source)
        return "<stdin>" if s == "-" else str(s)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    name = getattr(source, "name", None)
    if isinstance(name, str):
        return name
    return "<input>"


def _io_message(e: BaseException) -> str:
    """An I/O error as the Rust host words it."""
    if isinstance(e, OSError) and e.strerror and e.errno is not None:
        return f"{e.strerror} (os error {e.errno})"
    return str(e) or type(e).__name__


def _open(source: Source) -> tuple[IO[bytes], str, bool]:
    """The byte stream of a source, its name, and whether to close it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
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


def _read_piece(stream: IO[bytes]) -> bytes:
    """Up to `PIECE_BYTES`, filled until a read comes back short."""
    read1 = getattr(stream, "read1", None)
    piece = bytearray()
    while len(piece) < PIECE_BYTES:
        wanted = PIECE_BYTES - len(piece)
        data = read1(wanted) if read1 is not None else stream.read(wanted)
        if not data:
            break
        piece += data
        if len(data) < wanted:
            break
    return bytes(piece)


class _Pieces:
    """Reads a stream on its own thread, in pieces; `next` tells a pause in
    the input (no piece within `linger` seconds) from its end."""

    def __init__(self, stream: IO[bytes], linger: float | None, stop: threading.Event | None) -> None:
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
            while True:
                piece = _read_piece(stream)
                if not piece:
                    break
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


class _FilePieces:
    """Pieces of a regular file, read on the caller's thread: a file never
    pauses, and a reading thread would only contend for the GIL."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._done = False

    def next(self) -> tuple[str, Any]:
        if self._done:
            return (_END, None)
        try:
            piece = self._stream.read(PIECE_BYTES)
        except Exception as e:
            self._done = True
            return (_FAILED, e)
        if not piece:
            self._done = True
            return (_END, None)
        return (_PIECE, bytes(piece))

    def close(self) -> None:
        self._done = True


def _is_regular_file(stream: IO[bytes]) -> bool:
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return isinstance(stream, io.BytesIO)


def read_input(
    detector: Any,
    source: Source,
    *,
    chunk_bytes: int | None = None,
    linger: float | None = DEFAULT_LINGER,
    stop: threading.Event | None = None,
) -> Iterator[ReadResult]:
    """Reads one input into ``detector`` with the component's reader,
    yielding what each step read and pushed (`ReadResult`; its reports are
    worded as ``recon detect`` words them). When the input pauses for
    ``linger`` seconds, the complete records held are pushed at once
    (``None``: never pause). An I/O error raises `InputError`; an input the
    reader finds unreadable ends with a result whose ``unreadable`` is set
    (and, the input being ended there, its ``verdict``).
    Once ``stop`` is set, the input ends at its next pause of ``linger``
    (plus 0.1 s), as at the end of input."""
    stream, name, owned = _open(source)
    pieces: _Pieces | _FilePieces = _FilePieces(stream) if _is_regular_file(stream) else _Pieces(stream, linger, stop)
    input_ = detector.open_input(chunk_bytes=chunk_bytes)
    paused = True  # nothing fed since the last pause
    try:
        while True:
            kind, value = pieces.next()
            if kind == _PAUSED:
                if paused:
                    continue
                paused = True
                result = input_.pause()
            elif kind == _PIECE:
                paused = False
                result = input_.feed(value)
            elif kind == _FAILED:
                raise InputError(name, _io_message(value))
            else:
                yield input_.end()
                return
            if result.unreadable is not None:
                # Ended all the same (later bytes are ignored): the end
                # gives the input's verdict on what was read.
                yield _merge(result, input_.end())
                return
            yield result
    finally:
        input_.close()
        pieces.close()
        if owned:
            stream.close()
