// `detect(source, options)`: records in, alerts out as they become final.

import { Readable } from 'node:stream';

import { Detector } from './detector.js';
import { InputError } from './errors.js';
import { pieces } from './source.js';

/** Bytes of records per `pushNdjson` call for a record source. */
const DEFAULT_CHUNK_BYTES = 1 << 20;
/** Longest complete records wait for more input before they are pushed. */
const DEFAULT_LINGER_MS = 200;

const DETECT_KEYS = ['detector', 'finish', 'chunkBytes', 'lingerMs', 'onBatch', 'onRead', 'signal'];

/** Whether `source` is bytes (a stream, a buffer, a string) rather than records (an object-mode stream is records). */
function isByteSource(source) {
  return (
    typeof source === 'string' ||
    source instanceof Uint8Array ||
    (source instanceof Readable && !source.readableObjectMode) ||
    (typeof globalThis.ReadableStream === 'function' && source instanceof globalThis.ReadableStream)
  );
}

function recordLine(item) {
  if (typeof item === 'string') return item;
  if (item instanceof Uint8Array) return Buffer.from(item.buffer, item.byteOffset, item.byteLength);
  if (item !== null && typeof item === 'object') return JSON.stringify(item);
  throw new TypeError('each record must be a string, a Uint8Array or an object');
}

/**
 * Iterates an (async) iterable of records and yields NDJSON batches of
 * about `chunkBytes`, or sooner when the source pauses for `lingerMs`.
 */
async function* recordBatches(it, chunkBytes, lingerMs) {
  const nl = Buffer.from('\n');
  let parts = [];
  let size = 0;
  let lines = 0;
  let first = 1;
  const take = () => {
    const batch = { data: Buffer.concat(parts), locs: { record: first } };
    first += lines;
    parts = [];
    size = 0;
    lines = 0;
    return batch;
  };
  let pending = null;
  try {
    for (;;) {
      pending ??= Promise.resolve(it.next());
      let result;
      if (parts.length > 0 && Number.isFinite(lingerMs)) {
        let timer;
        const paused = new Promise((resolve) => {
          timer = setTimeout(resolve, lingerMs, null);
        });
        result = await Promise.race([pending, paused]);
        clearTimeout(timer);
        if (result === null) {
          yield take();
          continue;
        }
      } else {
        result = await pending;
      }
      pending = null;
      if (result.done) break;
      const line = recordLine(result.value);
      const bytes = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
      parts.push(bytes);
      size += bytes.length;
      // An item is a record, or several lines of NDJSON.
      for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) lines += 1;
      if (bytes.length === 0 || bytes[bytes.length - 1] !== 0x0a) {
        parts.push(nl);
        size += 1;
        lines += 1;
      }
      if (size >= chunkBytes) yield take();
    }
    if (parts.length > 0) yield take();
  } finally {
    if (pending === null) await it.return?.();
    else Promise.resolve(it.return?.()).catch(() => {});
  }
}

/**
 * Runs the rules over `source` and yields alerts as they become final,
 * then ends the stream (`flush()`) and yields the rest. Returns the
 * detector's final stats (the value of the generator's last `next()`).
 *
 * `source` is either bytes, read as `recon detect` reads a file by the
 * component's reader (a Node Readable such as `fs.createReadStream(path)`
 * or `process.stdin`, a web ReadableStream, a Buffer or a string: NDJSON,
 * `{"Records":[...]}`, a JSON array, gzipped or not; `onRead` sees what
 * each step read, reports included), or an (async) iterable of records
 * (strings such as the lines `readline` yields, Buffers, or objects,
 * serialised with JSON.stringify), which are batched into `pushNdjson`
 * calls (`onBatch` sees each result).
 *
 * @param {any} source
 * @param {import('./index.js').DetectOptions} [options]
 */
export async function* detect(source, options = {}) {
  const detectorOptions = { ...options };
  for (const k of DETECT_KEYS) delete detectorOptions[k];
  const {
    detector: given,
    finish = true,
    chunkBytes,
    lingerMs = DEFAULT_LINGER_MS,
    onBatch,
    onRead,
    signal,
  } = options;
  if (chunkBytes !== undefined && (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1)) {
    throw new RangeError('chunkBytes must be a positive integer');
  }
  if (typeof lingerMs !== 'number' || !(lingerMs >= 0)) throw new RangeError('lingerMs must be a non-negative number');
  if (given && Object.keys(detectorOptions).length > 0) {
    throw new TypeError('pass either a detector or detector options, not both');
  }
  // Start iterating a record source before anything is awaited: some
  // (readline's interface) drop what they emit while nobody listens.
  let records = null;
  if (!isByteSource(source)) {
    if (source && typeof source[Symbol.asyncIterator] === 'function') records = source[Symbol.asyncIterator]();
    else if (source && typeof source[Symbol.iterator] === 'function') records = source[Symbol.iterator]();
    else throw new TypeError('detect takes a stream, a Buffer, a string, or an (async) iterable of records');
  }
  let detector;
  try {
    detector = given ?? (await Detector.create(detectorOptions));
  } catch (e) {
    Promise.resolve(records?.return?.()).catch(() => {});
    throw e;
  }
  try {
    if (records) {
      for await (const batch of recordBatches(records, chunkBytes ?? DEFAULT_CHUNK_BYTES, lingerMs)) {
        signal?.throwIfAborted();
        const result = detector.pushNdjson(batch.data);
        onBatch?.(result, (index) => ({ record: batch.locs.record + index }));
        yield* detector.drain();
      }
    } else {
      const input = detector.openInput(chunkBytes === undefined ? {} : { chunkBytes });
      try {
        // What one step read: its alerts first, then a broken input's error.
        const take = function* (result) {
          onRead?.(result);
          yield* detector.drain();
          if (result.unreadable !== null) throw new InputError(result.unreadable);
        };
        for await (const piece of pieces(source, lingerMs)) {
          signal?.throwIfAborted();
          yield* take(piece.kind === 'paused' ? input.pause() : input.feed(piece.data));
        }
        signal?.throwIfAborted();
        yield* take(input.end());
      } finally {
        input.close();
      }
    }
    signal?.throwIfAborted();
    if (finish) {
      detector.flush();
      yield* detector.drain();
    }
    return detector.stats();
  } finally {
    if (!given) detector.close();
  }
}
