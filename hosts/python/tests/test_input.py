"""The reader, on the Rust reader's own cases (host/src/input.rs tests)."""

from __future__ import annotations

import gzip

import pytest

from recon_detector import Chunk, InputError, TooLarge, read_chunks
from recon_detector.input import DocSplitter, read_records


def chunks_of(data: bytes, chunk_bytes: int = 1 << 20, max_line: int = 4 << 20) -> tuple[list[Chunk], list[str]]:
    chunks: list[Chunk] = []
    errors: list[str] = []
    try:
        for item in read_chunks(data, chunk_bytes=chunk_bytes, linger=None, max_line_bytes=max_line):
            if isinstance(item, TooLarge):
                errors.append(f"{item.loc}: {item.bytes} bytes")
            else:
                chunks.append(item)
    except InputError as e:
        errors.append(str(e))
    return chunks, errors


def records(data: bytes) -> list[str]:
    chunks, errors = chunks_of(data)
    if errors:
        raise AssertionError(errors)
    return [r for c in chunks for r in c.records()]


A = '{"eventName":"A"}'
B = '{"eventName":"B"}'


@pytest.mark.parametrize(
    "layout",
    [
        f'{{"Records":[{A},{B}]}}',
        f'{{\n  "Records": [\n    {A},\n    {B}\n  ]\n}}\n',
        f"[{A},{B}]",
        f"[\n{A},\n{B}\n]",
        f"{A}\n{B}\n",
        f"{A}\r\n\r\n{B}",
        f"\ufeff{A}\n{B}",
        f"[{A}]\n[{B}]\n",
        f'{{"Records":[{A}]}}\n{B}\n',
    ],
)
def test_reads_every_layout(layout: str) -> None:
    assert records(layout.encode()) == [A, B]


def test_odd_layouts() -> None:
    pretty = f'{{\n"eventName":"A"}}{B}'
    assert records(pretty.encode()) == ['{ "eventName":"A"}', B]
    assert records(A.encode()) == [A]
    assert records(b"") == []
    assert records(b"\n \n") == []


def test_gzip_is_detected_by_content() -> None:
    data = gzip.compress(b'{"Records":[{"x":1},{"x":2}]}')
    assert len(records(data)) == 2
    # Several members, as concatenated .gz files are.
    two = gzip.compress(b'{"x":1}\n') + gzip.compress(b'{"x":2}\n')
    assert records(two) == ['{"x":1}', '{"x":2}']


def test_chunks_end_at_line_ends_and_know_their_lines() -> None:
    text = ""
    for i in range(1000):
        text += f'{{"n":{i}}}\n'
        if i % 100 == 7:
            text += "\n"
    chunks, errors = chunks_of(text.encode(), chunk_bytes=300)
    assert errors == []
    assert len(chunks) > 10
    line = 1
    for c in chunks:
        assert c.data.endswith(b"\n")
        assert c.loc(0).line == line
        line += c.data.count(b"\n")
    assert sum(len(c.records()) for c in chunks) == 1000


def test_lines_past_the_limit_are_skipped() -> None:
    data = b'{"a":1}\n' + b"x" * (9 << 20) + b'\r\n{"b":2}\n' + b"y" * (2 << 20) + b'\n{"c":3}\n' + b"z" * (5 << 20)
    chunks, errors = chunks_of(data, chunk_bytes=64 << 10)
    recs = [r for c in chunks for r in c.records()]
    # The 2 MiB line is under the 4 MiB limit: it is handed on whole.
    assert len(recs) == 4
    assert recs[0] == '{"a":1}' and recs[3] == '{"c":3}'
    assert errors == [f"line 2: {9 << 20} bytes", f"line 6: {5 << 20} bytes"]
    assert 3 in [c.loc(0).line for c in chunks]


def split(doc: str, n: int, limit: int) -> list[str]:
    s = DocSplitter(limit)
    out: list[str] = []
    data = doc.encode()
    for i in range(0, len(data), max(n, 1)):
        events, error = s.feed(data[i : i + n])
        out += [e.decode() if isinstance(e, bytes) else f"<{e} bytes skipped>" for e in events]
        if error is not None:
            raise ValueError(error)
    error = s.finish()
    if error is not None:
        raise ValueError(error)
    return out


def test_documents_are_split_into_records_as_a_stream() -> None:
    tricky = r'{"a":"}]{[\"","b":[1,{"c":[]}],"Records":"not the key"}'
    doc = (
        f'{{ "Other": {{"Records": 1}}, "Records" :\n [ {tricky} , {{"x":2}},7, "s", null ], "after": [1] }}\n'
        '[{"y":1}, [2]] {"z":{"w":[]}}'
    )
    want = [tricky, '{"x":2}', "7", '"s"', "null ", '{"y":1}', "[2]", '{"z":{"w":[]}}']
    for n in (1, 2, 3, 7, 64, 4096):
        assert split(doc, n, 1 << 20) == want, f"pieces of {n}"
    # A string with escapes cut anywhere.
    esc = r'[{"k":"a\\\"b\\","l":"\u0041\""}]'
    for n in range(1, len(esc) + 1):
        assert split(esc, n, 100) == [esc[1:-1]], f"pieces of {n}"
    # A record past the limit is skipped, counted, and the next read.
    big = '{"Records":[{"p":"' + "x" * 5000 + '"},{"q":1}]}'
    assert split(big, 100, 1000) == ["<5008 bytes skipped>", '{"q":1}']
    # Damage is found where it is.
    for bad, message in [
        ('[{"a":1},{"b":', "ends inside a value"),
        ('{"a":1} x', "unexpected 'x' at byte 9 between documents"),
        ("]", "unexpected ']' at byte 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            split(bad, 5, 1 << 20)


def test_records_lines_and_documents_say_where_they_are() -> None:
    chunks, _ = chunks_of(b'{"a":1}\nnot json\n\n{"Records":[{"b":2},{"c":3}]}\n')
    c = chunks[0]
    assert str(c.loc(1)) == "line 2"
    assert str(c.loc(3)) == "line 4, record 1"
    assert str(c.loc(4)) == "line 4, record 2"
    chunks, _ = chunks_of(b'[{"a":1},\n{"b":2}]')
    assert str(chunks[0].loc(1)) == "record 2"


def test_broken_documents_and_gzip_are_errors_naming_the_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="not a readable CloudTrail document"):
        read_records(b'[{"a":1},\n{"b":')
    path = tmp_path / "in-broken.gz"
    path.write_bytes(bytes([0x1F, 0x8B, 1, 2, 3]))
    with pytest.raises(InputError) as e:
        read_records(path)
    assert "in-broken.gz" in str(e.value)
    with pytest.raises(InputError, match="No such file"):
        read_records(tmp_path / "missing.json")
    # What was read before the damage is handed on first.
    got = []
    with pytest.raises(InputError):
        for item in read_chunks(gzip.compress(b'{"a":1}\n{"b":2}\n')[:-12], linger=None):
            got.append(item)
    assert got and isinstance(got[0], Chunk)


def test_a_one_line_cloudtrail_file_past_the_limit() -> None:
    # As in the Rust host, a one-line file is line-delimited; an object line
    # past the limit is split as a document, each record keeping its line.
    doc = ('{"Records":[' + ",".join(f'{{"n":{i},"pad":"{"x" * 100}"}}' for i in range(50)) + "]}").encode()
    chunks, errors = chunks_of(doc, max_line=1000)
    assert errors == []
    assert sum(len(c.records()) for c in chunks) == 50
    assert str(chunks[0].loc(0)) == "line 1, record 1"
    items = list(read_chunks(doc, linger=None, max_line_bytes=1000, layout="document"))
    assert sum(len(c.records()) for c in items if isinstance(c, Chunk)) == 50
    assert str(items[0].loc(49)) == "record 50"  # type: ignore[union-attr]
    # Lines past the limit that go on past what one read brings (64 KiB
    # first) are not held: a record inside one past the limit is skipped
    # with its place, and the lines before and after are read as lines.
    pad = "y" * 100_000
    big = '{"Records":[{"a":1},{"pad":"' + pad + '"},{"b":2}]}'
    chunks, errors = chunks_of(f'{{"x":0}}\n{big}\r\n{{"z":3}}\n'.encode(), max_line=1000)
    assert errors == [f"line 2, record 2: {len(pad) + 10} bytes"]
    assert records_of(chunks) == ['{"x":0}', '{"a":1}', '{"b":2}', '{"z":3}']
    assert [str(c.loc(i)) for c in chunks for i in range(len(c.records()))] == [
        "line 1", "line 2, record 1", "line 2, record 3", "line 3"
    ]
    # An object line past the limit that is one record, or damaged, is one
    # record too large; a line that is not an object is skipped.
    plain = '{"pad":"' + pad + '"}'
    chunks, errors = chunks_of(f"{plain}\n{{\"q\":1}}\n".encode(), max_line=1000)
    assert errors == [f"line 1: {len(plain)} bytes"] and records_of(chunks) == ['{"q":1}']
    broken = '{"Records":[{"a":1},' + "]" * 100_000
    chunks, errors = chunks_of(f"{{\"q\":0}}\n{broken}\n".encode(), max_line=1000)
    assert errors == [f"line 2: {len(broken)} bytes"] and records_of(chunks) == ['{"q":0}', '{"a":1}']
    chunks, errors = chunks_of(f'{{"q":0}}\n"{pad}"\n'.encode(), max_line=1000)
    assert errors == [f"line 2: {len(pad) + 2} bytes"]


def test_an_object_line_past_the_limit_is_split_whether_read_whole_or_not() -> None:
    for pad in ("y" * 2_000, "y" * 100_000):  # within the first read, or past it
        big = '{"Records":[{"a":1},{"pad":"' + pad + '"},{"b":2}]}'
        chunks, errors = chunks_of(f'{{"x":0}}\n{big}\r\n{{"z":3}}\n'.encode(), max_line=1000)
        assert errors == [f"line 2, record 2: {len(pad) + 10} bytes"]
        assert records_of(chunks) == ['{"x":0}', '{"a":1}', '{"b":2}', '{"z":3}']
        assert [str(c.loc(i)) for c in chunks for i in range(len(c.records()))] == [
            "line 1", "line 2, record 1", "line 2, record 3", "line 3"
        ]
        broken = '{"Records":[{"a":1},' + "]" * len(pad)
        chunks, errors = chunks_of(f"{{\"q\":0}}\n{broken}\n".encode(), max_line=1000)
        assert errors == [f"line 2: {len(broken)} bytes"] and records_of(chunks) == ['{"q":0}', '{"a":1}']


def records_of(chunks: list[Chunk]) -> list[str]:
    return [r for c in chunks for r in c.records()]


def test_a_slow_stream_hands_on_complete_lines_after_the_linger() -> None:
    import os
    import threading
    import time

    r, w = os.pipe()
    reader = os.fdopen(r, "rb")
    got: list[tuple[float, Chunk | TooLarge]] = []

    def consume() -> None:
        for item in read_chunks(reader, linger=0.05):
            got.append((time.monotonic(), item))

    t = threading.Thread(target=consume)
    t.start()
    os.write(w, b'{"a":1}\n{"b":')
    time.sleep(0.5)
    assert len(got) == 1, "the complete line goes on while the input is quiet"
    chunk = got[0][1]
    assert isinstance(chunk, Chunk) and chunk.data == b'{"a":1}\n'
    os.write(w, b"2}\n")
    os.close(w)
    t.join(5)
    assert [c.data for _, c in got if isinstance(c, Chunk)] == [b'{"a":1}\n', b'{"b":2}\n']
