// Reading CloudTrail exports as the Rust host does (host/src/input.rs):
// every layout real ones use, gzip or not, decided by the content and never
// by the file name, cut into chunks of newline-delimited JSON for the
// component's `push-ndjson`.
//
// - `{"Records":[...]}`: what CloudTrail writes to S3;
// - a top-level JSON array of records;
// - a single record object, or several concatenated;
// - one record per line (NDJSON); lines that hold `{"Records":[...]}` are
//   expanded into their records;
// - any of these gzip-compressed (detected by the magic bytes 1f 8b).
//
// Records are handed on as JSON text, never parsed and re-serialised: a
// malformed record reaches the detector, which rejects and counts it, and
// a record keeps every byte (duplicate keys included) the detector judges.
// Documents are split into records as a stream, so memory holds one record
// and one chunk, never the document. A line or record longer than the
// limit is skipped to its end and reported, not held.

import { Readable, pipeline } from 'node:stream';
import { isUtf8 } from 'node:buffer';
import { createGunzip } from 'node:zlib';

import { InputError } from './errors.js';

const NL = 0x0a;
const CR = 0x0d;
const RECORDS_KEY = Buffer.from('"Records"');

/** ASCII whitespace as Rust's `u8::is_ascii_whitespace` knows it. */
function isAsciiSpace(b) {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d;
}

/** Rust's `str::trim` (Unicode White_Space), which differs from JavaScript's on U+FEFF and U+0085. */
const RUST_TRIM = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;
function rustTrim(s) {
  return s.replace(RUST_TRIM, '');
}

function bomLength(buf) {
  return buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
}

/**
 * Where a record came from: `line` (1-based) for line-delimited input,
 * `record` (1-based) within a document or within a line's `Records` array.
 *
 * @typedef {{ line?: number, record?: number }} Loc
 */

/** A location as the Rust host writes it: `line 3`, `line 3, record 2`, `record 7`. */
export function formatLoc(loc) {
  if (loc?.line !== undefined && loc?.record !== undefined) return `line ${loc.line}, record ${loc.record}`;
  if (loc?.line !== undefined) return `line ${loc.line}`;
  if (loc?.record !== undefined) return `record ${loc.record}`;
  return 'record ?';
}

/** Where line `index` of a chunk came from. */
export function chunkLoc(chunk, index) {
  if (Array.isArray(chunk.locs)) return chunk.locs[index] ?? {};
  return { line: chunk.locs.firstLine + index };
}

// ---------------------------------------------------------------------------
// Pieces: the raw (decompressed) bytes of a source, with pauses noticed.

/** Largest piece handed on at once, as the Rust host's reader (1 MiB). */
const PIECE_BYTES = 1 << 20;

function toBuffer(v) {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError('a byte source must yield Buffers, Uint8Arrays or strings');
}

/** The source's bytes as an async iterator of Buffers of at most PIECE_BYTES. */
function byteIterator(source) {
  let it;
  if (typeof source === 'string' || source instanceof Uint8Array) {
    it = [source][Symbol.iterator]();
  } else if (source && typeof source[Symbol.asyncIterator] === 'function') {
    it = source[Symbol.asyncIterator]();
  } else {
    throw new TypeError('expected a readable stream, an async iterable of bytes, a Uint8Array or a string');
  }
  let rest = null;
  return {
    async next() {
      while (rest === null || rest.length === 0) {
        const r = await it.next();
        if (r.done) return r;
        rest = toBuffer(r.value);
      }
      const piece = rest.subarray(0, PIECE_BYTES);
      rest = rest.subarray(piece.length);
      return { done: false, value: piece };
    },
    async return() {
      await it.return?.();
      return { done: true, value: undefined };
    },
  };
}

/**
 * Reads pieces from an async iterator, telling a pause in the input (no
 * piece within `lingerMs`) apart from its end, without losing the read in
 * flight.
 */
class Pieces {
  constructor(iterator, lingerMs) {
    this.iterator = iterator;
    this.lingerMs = lingerMs;
    this.pending = null;
    this.done = false;
  }

  /** @returns {Promise<{ kind: 'piece', data: Buffer } | { kind: 'paused' } | { kind: 'end' } | { kind: 'failed', error: Error }>} */
  async next() {
    if (this.done) return { kind: 'end' };
    this.pending ??= this.iterator.next().then(
      (r) => (r.done ? { kind: 'end' } : { kind: 'piece', data: r.value }),
      (error) => ({ kind: 'failed', error }),
    );
    let timer;
    const paused = Number.isFinite(this.lingerMs)
      ? new Promise((resolve) => {
          timer = setTimeout(resolve, this.lingerMs, { kind: 'paused' });
        })
      : null;
    const got = paused ? await Promise.race([this.pending, paused]) : await this.pending;
    clearTimeout(timer);
    if (got.kind !== 'paused') {
      this.pending = null;
      if (got.kind !== 'piece') this.done = true;
    }
    return got;
  }

  /**
   * Stops reading. Not awaited: a read may be pending on a source that
   * stays open (a pipe); ending the iterator destroys a stream source,
   * which settles it.
   */
  close() {
    this.done = true;
    Promise.resolve()
      .then(() => this.iterator.return?.())
      .catch(() => {}); // closing after a failure: the failure was reported already
  }
}

/** The bytes of `source`, gunzipped when they start with gzip's magic bytes. */
async function openPieces(source, lingerMs) {
  const raw = byteIterator(source);
  // Enough of the head to see the magic bytes.
  const head = [];
  let headLen = 0;
  let failure = null;
  while (headLen < 2) {
    let r;
    try {
      r = await raw.next();
    } catch (e) {
      failure = e;
      break;
    }
    if (r.done) break;
    head.push(r.value);
    headLen += r.value.length;
  }
  const first = Buffer.concat(head);
  async function* replay() {
    if (first.length > 0) yield first;
    if (failure) throw failure;
    for (;;) {
      const r = await raw.next();
      if (r.done) return;
      yield r.value;
    }
  }
  if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) {
    const compressed = Readable.from(replay(), { objectMode: false });
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    pipeline(compressed, gunzip, () => {});
    const it = gunzip[Symbol.asyncIterator]();
    return new Pieces(
      {
        next: () => it.next(),
        return: () => Promise.allSettled([raw.return?.(), it.return?.()]),
      },
      lingerMs,
    );
  }
  const it = replay();
  return new Pieces(
    {
      next: () => it.next(),
      // The source first: a generator's return waits for its pending read.
      return: () => Promise.allSettled([raw.return?.(), it.return()]),
    },
    lingerMs,
  );
}

// ---------------------------------------------------------------------------
// Documents: a stream of JSON text split into records.

const TOP_ARRAY = 1;
const TOP_OBJECT = 2;
const RECORDS = 3;
const INNER = 4;

/**
 * Splits a stream of JSON text into records without holding the document
 * (a port of the Rust host's `DocSplitter`): the members of a top-level
 * array, the members of a top-level object's `Records` array, or a
 * top-level object itself. It follows strings, escapes and nesting byte by
 * byte and keeps only the record being read (as slices of the pieces fed);
 * structural damage is an error where it is found.
 */
export class DocSplitter {
  constructor(limit) {
    this.limit = limit;
    this.stack = [];
    this.inString = false;
    this.escaped = false;
    /** A record is being read (or skipped). */
    this.capturing = false;
    /** Bytes of the record from earlier pieces, when not skipping. */
    this.parts = [];
    this.partsLen = 0;
    /** Bytes of a record being skipped for its size (earlier pieces), or null. */
    this.skipping = null;
    /** Where the record starts in the piece being fed (0 when it began before). */
    this.recStart = 0;
    this.recordDepth = 0;
    this.key = [];
    this.readingKey = false;
    this.afterRecordsKey = false;
    /** `Records` arrays opened at the top level of an object. */
    this.recordsArrays = 0;
    this.pos = 0;
  }

  startRecord(i) {
    this.capturing = true;
    this.parts = [];
    this.partsLen = 0;
    this.skipping = null;
    this.recStart = i;
    this.recordDepth = this.stack.length;
  }

  /** Ends the record being read at `end` (exclusive) of `bytes`. */
  endRecord(bytes, end, out) {
    if (!this.capturing) return;
    const here = end - this.recStart;
    if (this.skipping !== null) {
      out.push({ tooLarge: this.skipping + here });
    } else if (this.partsLen + here > this.limit) {
      out.push({ tooLarge: this.partsLen + here });
    } else {
      const tail = bytes.subarray(this.recStart, end);
      out.push({ record: this.parts.length === 0 ? Buffer.from(tail) : Buffer.concat([...this.parts, tail]) });
    }
    this.capturing = false;
    this.parts = [];
    this.partsLen = 0;
    this.skipping = null;
  }

  membersAreRecords() {
    const top = this.stack[this.stack.length - 1];
    return top === TOP_ARRAY || top === RECORDS;
  }

  /** Whether the open record is a scalar member (a string, number or literal directly in a top-level array or `Records`). */
  scalarOpen() {
    return this.capturing && this.recordDepth === this.stack.length && this.membersAreRecords();
  }

  atTopObject() {
    return this.stack.length === 1 && this.stack[0] === TOP_OBJECT;
  }

  /**
   * Feeds bytes (kept by reference while a record spans them: do not
   * modify them); complete records (`{ record: Buffer }`) and skipped ones
   * (`{ tooLarge: bytes }`) are appended to `out`. Throws a message string
   * on structural damage.
   */
  feed(bytes, out) {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      this.pos += 1;
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          if (this.readingKey) this.key.push(b);
        } else if (b === 0x5c) {
          this.escaped = true;
        } else if (b === 0x22) {
          this.inString = false;
          this.readingKey = false;
          if (this.scalarOpen()) this.endRecord(bytes, i + 1, out);
        } else if (this.readingKey) {
          this.key.push(b);
        }
        continue;
      }
      if (isAsciiSpace(b)) continue;
      const atMember = !this.capturing && this.membersAreRecords();
      if ((b === 0x7b || b === 0x5b) && this.stack.length === 0) {
        this.afterRecordsKey = false;
        if (b === 0x7b) {
          // The object may be a record: read it as one until it shows a
          // `Records` array.
          this.startRecord(i);
          this.stack.push(TOP_OBJECT);
        } else {
          this.stack.push(TOP_ARRAY);
        }
      } else if (b === 0x5b && this.afterRecordsKey) {
        // `{"Records": [`: what was read of the object is not a record;
        // the array's members are.
        this.capturing = false;
        this.parts = [];
        this.partsLen = 0;
        this.skipping = null;
        this.afterRecordsKey = false;
        this.recordsArrays += 1;
        this.stack.push(RECORDS);
      } else if (b === 0x7b || b === 0x5b) {
        this.afterRecordsKey = false;
        if (atMember) this.startRecord(i);
        this.stack.push(INNER);
      } else if (b === 0x7d || b === 0x5d) {
        this.afterRecordsKey = false;
        if (this.scalarOpen()) this.endRecord(bytes, i, out);
        const frame = this.stack.pop();
        if (frame === undefined) throw `unexpected '${String.fromCharCode(b)}' at byte ${this.pos}`;
        if (frame === TOP_OBJECT) {
          // A plain object is a record; one that held a `Records` array
          // has none left open.
          this.endRecord(bytes, i + 1, out);
        } else if (frame === INNER && this.stack.length === this.recordDepth) {
          this.endRecord(bytes, i + 1, out);
        }
      } else if (b === 0x2c) {
        this.afterRecordsKey = false;
        if (this.scalarOpen()) this.endRecord(bytes, i, out);
      } else if (b === 0x22) {
        this.afterRecordsKey = false;
        this.inString = true;
        if (atMember) this.startRecord(i);
        // A key of a top-level object, read to spot `Records`.
        if (this.atTopObject()) {
          this.key = [];
          this.readingKey = true;
        }
      } else if (b === 0x3a) {
        this.afterRecordsKey = this.atTopObject() && isRecordsKey(this.key);
      } else {
        this.afterRecordsKey = false;
        if (this.stack.length === 0) {
          throw `unexpected '${escapeAscii(b)}' at byte ${this.pos} between documents`;
        }
        if (atMember) this.startRecord(i);
      }
    }
    // The record goes on in the next piece: keep its bytes, or only count
    // them once it is past the limit.
    if (this.capturing) {
      const here = bytes.length - this.recStart;
      if (this.skipping !== null) {
        this.skipping += here;
      } else if (this.partsLen + here > this.limit) {
        this.skipping = this.partsLen + here;
        this.parts = [];
        this.partsLen = 0;
      } else if (here > 0) {
        this.parts.push(bytes.subarray(this.recStart));
        this.partsLen += here;
      }
      this.recStart = 0;
    }
  }

  /** The input ended: fine only between documents. Throws a message string otherwise. */
  finish() {
    if (this.stack.length > 0 || this.inString) {
      throw `the document ends inside a value (byte ${this.pos})`;
    }
  }
}

const RECORDS_NAME = [0x52, 0x65, 0x63, 0x6f, 0x72, 0x64, 0x73]; // Records
function isRecordsKey(key) {
  return key.length === RECORDS_NAME.length && key.every((b, i) => b === RECORDS_NAME[i]);
}

/** A byte as Rust's `u8::escape_ascii` writes it. */
function escapeAscii(b) {
  if (b === 0x09) return '\\t';
  if (b === 0x0a) return '\\n';
  if (b === 0x0d) return '\\r';
  if (b === 0x27) return "\\'";
  if (b === 0x22) return '\\"';
  if (b === 0x5c) return '\\\\';
  if (b >= 0x20 && b < 0x7f) return String.fromCharCode(b);
  return `\\x${b.toString(16).padStart(2, '0')}`;
}

/**
 * One record on one line: the text as UTF-8 (invalid sequences replaced,
 * as the Rust host's `from_utf8_lossy` does), line ends inside it (only
 * whitespace between tokens, in valid JSON) turned into spaces.
 */
function oneLine(bytes) {
  const text = isUtf8(bytes) ? Buffer.from(bytes) : Buffer.from(bytes.toString('utf8'), 'utf8');
  for (let i = 0; i < text.length; i++) {
    if (text[i] === NL || text[i] === CR) text[i] = 0x20;
  }
  return text;
}

/**
 * The records of one line when it is a `{"Records":[...]}` file: the raw
 * text of each member of its `Records` array. `null` when the line is not
 * such a file (not valid JSON, not an object, no `Records` array, or the
 * key twice), and then it stays as it is.
 */
function expandLine(text) {
  if (!text.includes('"Records"')) return null;
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !Array.isArray(value.Records)) {
    return null;
  }
  const split = new DocSplitter(Number.MAX_SAFE_INTEGER);
  const out = [];
  try {
    split.feed(Buffer.from(text, 'utf8'), out);
    split.finish();
  } catch {
    return null;
  }
  // A repeated `Records` key makes the Rust host's typed parse fail.
  if (split.recordsArrays !== 1) return null;
  return out.map((e) => {
    // The Rust host takes each member as serde_json reads it: without the
    // whitespace after a scalar member.
    let end = e.record.length;
    while (end > 0 && isAsciiJsonSpace(e.record[end - 1])) end--;
    return e.record.subarray(0, end);
  });
}

function isAsciiJsonSpace(b) {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/** Chunk lines of which some hold `{"Records":[...]}`: each such line becomes its records, one per line. */
function expandLines(data, firstLine) {
  const parts = [];
  const locs = [];
  const body = data[data.length - 1] === NL ? data.subarray(0, data.length - 1) : data;
  let start = 0;
  let n = firstLine;
  for (;;) {
    let end = body.indexOf(NL, start);
    const last = end === -1;
    if (last) end = body.length;
    const line = body.subarray(start, end);
    const records = isUtf8(line) ? expandLine(rustTrim(line.toString('utf8'))) : null;
    if (records) {
      records.forEach((r, k) => {
        parts.push(oneLine(r), Buffer.from([NL]));
        locs.push({ line: n, record: k + 1 });
      });
    } else {
      parts.push(line, Buffer.from([NL]));
      locs.push({ line: n });
    }
    if (last) break;
    start = end + 1;
    n += 1;
  }
  return { data: Buffer.concat(parts), locs };
}

// ---------------------------------------------------------------------------
// The chunker.

function countLines(buf) {
  let n = 0;
  let i = buf.indexOf(NL);
  while (i !== -1) {
    n++;
    i = buf.indexOf(NL, i + 1);
  }
  return n;
}

/**
 * Reads one input and yields, in order:
 *
 * - `{ type: 'chunk', data, locs }`: complete lines of NDJSON (each ending
 *   in `\n`) for `pushNdjson`, about `chunkBytes` at a time; `locs` maps
 *   line `i` of the chunk back to the input (use `chunkLoc`);
 * - `{ type: 'too-large', loc, bytes }`: a line or record longer than
 *   `maxLineBytes`, skipped without being held.
 *
 * When the input stops for `lingerMs`, the complete lines read so far go
 * out at once (so alerts from a slow stream are not held back). When it
 * cannot be read (I/O, corrupt gzip, a JSON document that does not parse),
 * what was read is yielded first, then an InputError is thrown.
 *
 * @param {import('node:stream').Readable | ReadableStream | AsyncIterable<Uint8Array | string> | Uint8Array | string} source
 * @param {{ chunkBytes?: number, lingerMs?: number, maxLineBytes?: number }} [options]
 */
export async function* readChunks(source, { chunkBytes = 1 << 20, lingerMs = 200, maxLineBytes = 256 * 1024 } = {}) {
  let pieces;
  try {
    pieces = await openPieces(source, lingerMs);
    yield* chunkInput(pieces, { chunkBytes, maxLineBytes });
  } catch (e) {
    throw e instanceof InputError ? e : new InputError(e?.message ?? String(e), { cause: e });
  } finally {
    pieces?.close();
  }
}

async function* chunkInput(pieces, options) {
  // Find the layout from the first line that holds anything.
  let head = Buffer.alloc(0);
  for (;;) {
    const start = bomLength(head);
    let first = -1;
    for (let i = start; i < head.length; i++) {
      if (!isAsciiSpace(head[i])) {
        first = i;
        break;
      }
    }
    if (first !== -1 && head.indexOf(NL, first) !== -1) break;
    const p = await pieces.next();
    if (p.kind === 'piece') head = head.length === 0 ? p.data : Buffer.concat([head, p.data]);
    else if (p.kind === 'end') break;
    else if (p.kind === 'failed') {
      yield* lines(head, pieces, options, p.error);
      return;
    }
  }
  const start = bomLength(head);
  let first = -1;
  for (let i = start; i < head.length; i++) {
    if (!isAsciiSpace(head[i])) {
      first = i;
      break;
    }
  }
  if (first === -1) return; // empty or blank input
  let firstLineEnd = head.indexOf(NL, first);
  if (firstLineEnd === -1) firstLineEnd = head.length;
  const opener = head[first];
  if (opener === 0x5b || opener === 0x7b) {
    let complete = false;
    if (opener === 0x7b) {
      try {
        JSON.parse(rustTrim(head.subarray(first, firstLineEnd).toString('utf8')));
        complete = true;
      } catch {
        complete = false;
      }
    }
    if (!complete) {
      yield* documentChunks(head, start, pieces, options);
      return;
    }
  }
  yield* lines(head, pieces, options, null);
}

/** Line-delimited input, cut at line ends into chunks. */
async function* lines(head, pieces, { chunkBytes, maxLineBytes }, failedAtHead) {
  const state = { line: 0 };
  let buf = head.subarray(bomLength(head));
  const emitComplete = function* () {
    const last = buf.lastIndexOf(NL);
    if (last === -1) return;
    let complete = buf.subarray(0, last + 1);
    buf = buf.subarray(last + 1);
    while (complete.length > chunkBytes) {
      // The last line end within `chunkBytes`, else the end of the long line.
      let cut = complete.lastIndexOf(NL, chunkBytes - 1);
      if (cut === -1) cut = complete.indexOf(NL, chunkBytes);
      cut = cut === -1 ? complete.length : cut + 1;
      yield emit(complete.subarray(0, cut), state);
      complete = complete.subarray(cut);
    }
    if (complete.length > 0) yield emit(complete, state);
  };
  if (failedAtHead) {
    // Hand on what was read, the last line too, then fail.
    if (buf.length > 0 && buf[buf.length - 1] !== NL) buf = Buffer.concat([buf, Buffer.from([NL])]);
    yield* emitComplete();
    throw failedAtHead;
  }
  // Bytes received but not yet joined into `buf` (joined lazily: pieces
  // are small, chunks are large).
  let queued = [];
  let queuedLen = 0;
  // Length of the line not yet ended at the end of `buf` + queued.
  let partial = (() => {
    const i = buf.lastIndexOf(NL);
    return i === -1 ? buf.length : buf.length - i - 1;
  })();
  const join = () => {
    if (queued.length > 0) {
      buf = Buffer.concat([buf, ...queued]);
      queued = [];
      queuedLen = 0;
    }
  };
  for (;;) {
    const total = buf.length + queuedLen;
    if (partial > maxLineBytes) {
      // A line past the limit: hand on what precedes it, then skip it to
      // its end without keeping it.
      join();
      yield* emitComplete();
      const started = buf.length;
      buf = Buffer.alloc(0);
      const skipped = yield* skipLine(started, pieces, state);
      if (skipped === null) return;
      buf = skipped;
      const i = buf.lastIndexOf(NL);
      partial = i === -1 ? buf.length : buf.length - i - 1;
      continue;
    }
    if (total >= chunkBytes && partial < total) {
      join();
      yield* emitComplete();
      continue;
    }
    const p = await pieces.next();
    if (p.kind === 'piece') {
      queued.push(p.data);
      queuedLen += p.data.length;
      const i = p.data.lastIndexOf(NL);
      partial = i === -1 ? partial + p.data.length : p.data.length - i - 1;
    } else if (p.kind === 'paused') {
      join();
      yield* emitComplete();
    } else if (p.kind === 'end') {
      join();
      if (buf.length > 0 && buf[buf.length - 1] !== NL) buf = Buffer.concat([buf, Buffer.from([NL])]);
      yield* emitComplete();
      return;
    } else {
      join();
      yield* emitComplete();
      throw p.error;
    }
  }
}

/** Skips the line `started` bytes of which were read, to its end; reports it. Returns what follows, or null at the end of input. */
async function* skipLine(started, pieces, state) {
  let bytes = started;
  const report = (n) => {
    state.line += 1;
    return { type: 'too-large', loc: { line: state.line }, bytes: n };
  };
  for (;;) {
    const p = await pieces.next();
    if (p.kind === 'piece') {
      const i = p.data.indexOf(NL);
      if (i !== -1) {
        const end = i > 0 && p.data[i - 1] === CR ? i - 1 : i;
        yield report(bytes + end);
        return p.data.subarray(i + 1);
      }
      bytes += p.data.length;
    } else if (p.kind === 'end') {
      yield report(bytes);
      return null;
    } else if (p.kind === 'failed') {
      yield report(bytes);
      throw p.error;
    }
  }
}

/** Complete lines (ending in `\n`) as a chunk, `Records` lines expanded. */
function emit(data, state) {
  const firstLine = state.line + 1;
  state.line += countLines(data);
  if (data.indexOf(RECORDS_KEY) === -1) {
    return { type: 'chunk', data: Buffer.from(data), locs: { firstLine } };
  }
  return { type: 'chunk', ...expandLines(data, firstLine) };
}

/** One JSON document (or several concatenated), read as a stream. */
async function* documentChunks(head, offset, pieces, { chunkBytes, maxLineBytes }) {
  const split = new DocSplitter(maxLineBytes);
  let parts = [];
  let size = 0;
  let locs = [];
  let number = 0;
  const flush = function* () {
    if (parts.length === 0) return;
    yield { type: 'chunk', data: Buffer.concat(parts), locs };
    parts = [];
    size = 0;
    locs = [];
  };
  let piece = head.subarray(offset);
  for (;;) {
    const events = [];
    let damage = null;
    try {
      split.feed(piece, events);
    } catch (message) {
      damage = message;
    }
    for (const e of events) {
      number += 1;
      const loc = { record: number };
      if (e.record) {
        const line = oneLine(e.record);
        parts.push(line, Buffer.from([NL]));
        size += line.length + 1;
        locs.push(loc);
        if (size >= chunkBytes) yield* flush();
      } else {
        yield { type: 'too-large', loc, bytes: e.tooLarge };
      }
    }
    if (damage !== null) {
      yield* flush();
      throw documentError(damage);
    }
    const p = await pieces.next();
    if (p.kind === 'piece') {
      piece = p.data;
    } else if (p.kind === 'paused') {
      // Hand on what is complete, so a slow stream's alerts are not held.
      yield* flush();
      piece = Buffer.alloc(0);
    } else if (p.kind === 'end') {
      yield* flush();
      try {
        split.finish();
      } catch (message) {
        throw documentError(message);
      }
      return;
    } else {
      yield* flush();
      throw p.error;
    }
  }
}

function documentError(message) {
  return new InputError(`not a readable CloudTrail document: ${message}`);
}
