// The input reader (lib/input.js), on the cases the Rust host's reader is
// tested with (host/src/input.rs).

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { DocSplitter, chunkLoc, formatLoc, readChunks } from '../lib/input.js';

/** Everything the reader yields for `input`: records as text, skipped lines as `<loc: n bytes>`. */
async function read(input, options) {
  const out = [];
  for await (const item of readChunks(input, options)) {
    if (item.type === 'too-large') {
      out.push(`<${formatLoc(item.loc)}: ${item.bytes} bytes>`);
      continue;
    }
    assert.equal(item.data[item.data.length - 1], 0x0a, 'a chunk ends at a line end');
    for (const line of item.data.toString('utf8').split('\n')) {
      const text = line.replace(/\r$/, '');
      if (text.replace(/[ \t\r]/g, '') !== '') out.push(text);
    }
  }
  return out;
}

/** The chunks themselves. */
async function chunks(input, options) {
  const out = [];
  for await (const item of readChunks(input, options)) out.push(item);
  return out;
}

/** Splits `doc` fed in pieces of `n` bytes. */
function split(doc, n, limit = 1 << 20) {
  const s = new DocSplitter(limit);
  const out = [];
  const bytes = Buffer.from(doc);
  for (let i = 0; i < bytes.length; i += n) s.feed(bytes.subarray(i, i + n), out);
  s.finish();
  return out.map((e) => (e.record ? e.record.toString('utf8') : `<${e.tooLarge} bytes skipped>`));
}

describe('layouts', () => {
  const a = '{"eventName":"A"}';
  const b = '{"eventName":"B"}';

  test('every layout gives the same records', async () => {
    for (const layout of [
      `{"Records":[${a},${b}]}`,
      `{\n  "Records": [\n    ${a},\n    ${b}\n  ]\n}\n`,
      `[${a},${b}]`,
      `[\n${a},\n${b}\n]`,
      `${a}\n${b}\n`,
      `${a}\r\n\r\n${b}`,
      `\ufeff${a}\n${b}`,
      `[${a}]\n[${b}]\n`,
      // NDJSON lines that are themselves CloudTrail files are expanded.
      `{"Records":[${a}]}\n${b}\n`,
    ]) {
      assert.deepEqual(await read(layout), [a, b], layout);
    }
    assert.deepEqual(await read(`{\n"eventName":"A"}${b}`), ['{ "eventName":"A"}', b]);
    assert.deepEqual(await read(a), [a]);
    assert.deepEqual(await read(''), []);
    assert.deepEqual(await read('\n \n'), []);
  });

  test('gzip is detected by content, also from a stream in small pieces', async () => {
    const gz = gzipSync('{"Records":[{"x":1},{"x":2}]}');
    assert.deepEqual(await read(gz), ['{"x":1}', '{"x":2}']);
    const bytes = [...gz].map((byte) => Buffer.from([byte]));
    assert.deepEqual(await read(Readable.from(bytes)), ['{"x":1}', '{"x":2}']);
    // Concatenated gzip members are one stream.
    assert.deepEqual(await read(Buffer.concat([gzipSync('{"a":1}\n'), gzipSync('{"b":2}\n')])), ['{"a":1}', '{"b":2}']);
  });

  test('records keep their bytes: duplicate keys and escapes are not normalised', async () => {
    const rec = '{"eventName":"A","eventName":"B","s":"\\u0041\\n","n":1.50}';
    assert.deepEqual(await read(`[${rec}]`), [rec]);
    assert.deepEqual(await read(`{"Records":[${rec}]}\n`), [rec]);
    // Line ends inside a pretty-printed record become spaces.
    assert.deepEqual(await read('[{\n"a":\r\n1}]'), ['{ "a":  1}']);
  });

  test('invalid UTF-8 in a document record is replaced, as the Rust host does', async () => {
    const doc = Buffer.concat([Buffer.from('[{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]')]);
    assert.deepEqual(await read(doc), ['{"a":"\ufffd\ufffd"}']);
    // In NDJSON the line goes on as it is, to be rejected as invalid-json.
    const ndjson = Buffer.concat([Buffer.from('{"a":1}\n'), Buffer.from([0x7b, 0xff, 0x7d, 0x0a])]);
    const [chunk] = await chunks(ndjson);
    assert.ok(chunk.data.equals(ndjson));
  });
});

describe('chunks', () => {
  test('end at line ends and know their lines', async () => {
    let input = '';
    for (let i = 0; i < 1000; i++) {
      input += `{"n":${i}}\n`;
      if (i % 100 === 7) input += '\n';
    }
    const got = await chunks(input, { chunkBytes: 300 });
    assert.ok(got.length > 10);
    let line = 1;
    for (const c of got) {
      assert.equal(c.type, 'chunk');
      assert.equal(c.data[c.data.length - 1], 0x0a);
      assert.equal(chunkLoc(c, 0).line, line);
      line += c.data.toString().split('\n').length - 1;
    }
    assert.equal((await read(input, { chunkBytes: 300 })).length, 1000);
  });

  test('records, lines and documents say where they are', async () => {
    const [c] = await chunks('{"a":1}\nnot json\n\n{"Records":[{"b":2},{"c":3}]}\n');
    assert.equal(formatLoc(chunkLoc(c, 1)), 'line 2');
    assert.equal(formatLoc(chunkLoc(c, 3)), 'line 4, record 1');
    assert.equal(formatLoc(chunkLoc(c, 4)), 'line 4, record 2');
    const [d] = await chunks('[{"a":1},\n{"b":2}]');
    assert.equal(formatLoc(chunkLoc(d, 1)), 'record 2');
  });

  test('lines past the limit are skipped in bounded memory', async () => {
    const input = Buffer.concat([
      Buffer.from('{"a":1}\n'),
      Buffer.alloc(9 << 20, 'x'),
      Buffer.from('\r\n{"b":2}\n'),
      Buffer.alloc(2 << 20, 'y'),
      Buffer.from('\n{"c":3}\n'),
      Buffer.alloc(5 << 20, 'z'),
    ]);
    const got = await read(input, { chunkBytes: 64 << 10, maxLineBytes: 4 << 20 });
    // The 2 MiB line is under the 4 MiB limit: it is handed on whole.
    assert.deepEqual(
      got.map((r) => (r.length > 100 ? `${r[0]} x ${r.length}` : r)),
      ['{"a":1}', `<line 2: ${9 << 20} bytes>`, '{"b":2}', `y x ${2 << 20}`, '{"c":3}', `<line 6: ${5 << 20} bytes>`],
    );
  });

  test('a record past the limit in a document is skipped and the next one read', async () => {
    const big = `[{"p":"${'x'.repeat(5000)}"},\n{"q":1}]`;
    assert.deepEqual(await read(big, { maxLineBytes: 1000 }), ['<record 1: 5008 bytes>', '{"q":1}']);
  });

  test('a paused stream hands on its complete lines without waiting for more', { timeout: 60_000 }, async () => {
    let release;
    const held = new Promise((resolve) => {
      release = resolve;
    });
    async function* slow() {
      yield Buffer.from('{"a":1}\n{"b":');
      await held;
      yield Buffer.from('2}\n');
    }
    const it = readChunks(slow(), { lingerMs: 10 });
    const first = await it.next();
    assert.equal(first.value.data.toString(), '{"a":1}\n');
    release();
    const second = await it.next();
    assert.equal(second.value.data.toString(), '{"b":2}\n');
    assert.equal((await it.next()).done, true);
  });
});

describe('documents', () => {
  test('are split into records as a stream, whatever the pieces', () => {
    const tricky = '{"a":"}]{[\\"","b":[1,{"c":[]}],"Records":"not the key"}';
    const doc =
      `{ "Other": {"Records": 1}, "Records" :\n [ ${tricky} , {"x":2},7, "s", null ], "after": [1] }\n` +
      '[{"y":1}, [2]] {"z":{"w":[]}}';
    const want = [tricky, '{"x":2}', '7', '"s"', 'null', '{"y":1}', '[2]', '{"z":{"w":[]}}'];
    for (const n of [1, 2, 3, 7, 64, 4096]) {
      assert.deepEqual(
        split(doc, n).map((t) => t.trim()),
        want,
        `pieces of ${n}`,
      );
    }
    const big = `{"Records":[{"p":"${'x'.repeat(5000)}"},{"q":1}]}`;
    for (const n of [100, 4096, 10_000]) {
      assert.deepEqual(split(big, n, 1000), ['<5008 bytes skipped>', '{"q":1}'], `pieces of ${n}`);
    }
  });

  test('damage is found where it is', () => {
    assert.throws(() => split('[{"a":1},{"b":', 5), /ends inside a value/);
    assert.throws(() => split('{"a":1} x', 5), /unexpected 'x' at byte 9 between documents/);
    assert.throws(() => split(']', 5), /unexpected '\]' at byte 1/);
  });

  test('a broken document is an InputError after the records before the damage', async () => {
    const seen = [];
    await assert.rejects(
      (async () => {
        for await (const item of readChunks('[{"eventName":"A"},\n{"ev')) seen.push(item.data.toString());
      })(),
      { name: 'InputError', message: 'not a readable CloudTrail document: the document ends inside a value (byte 24)' },
    );
    assert.deepEqual(seen, ['{"eventName":"A"}\n']);
    await assert.rejects(read(Buffer.from([0x1f, 0x8b, 1, 2, 3])), { name: 'InputError' });
  });
});
