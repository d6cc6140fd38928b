// The bytes of an input, as the component's reader takes them: pieces of
// at most 1 MiB, with the pauses of a slow source (a pipe) noticed so the
// records held are handed on instead of waiting for more input. What the
// bytes hold (layout, gzip, records, limits) is the component's business
// (`reader` in wit/detector.wit); this is only I/O and the pause.

/** Largest piece handed to the component at once (the Rust host's piece). */
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
 * The pieces of `source` and its pauses: yields `{ kind: 'piece', data }`,
 * then `{ kind: 'paused' }` when no piece came within `lingerMs` (once per
 * quiet spell; the read in flight is kept), and ends with the source. A
 * failing source throws its error.
 *
 * @param {any} source a Readable, an async iterable of bytes, a Uint8Array or a string
 * @param {number} lingerMs Infinity: never pause
 */
export async function* pieces(source, lingerMs) {
  const it = byteIterator(source);
  let pending = null;
  let quiet = true; // nothing fed since the last pause
  try {
    for (;;) {
      pending ??= it.next().then(
        (r) => (r.done ? { kind: 'end' } : { kind: 'piece', data: r.value }),
        (error) => ({ kind: 'failed', error }),
      );
      let got;
      if (!quiet && Number.isFinite(lingerMs)) {
        let timer;
        const paused = new Promise((resolve) => {
          timer = setTimeout(resolve, lingerMs, { kind: 'paused' });
        });
        got = await Promise.race([pending, paused]);
        clearTimeout(timer);
      } else {
        got = await pending;
      }
      if (got.kind === 'paused') {
        quiet = true;
        yield got;
        continue;
      }
      pending = null;
      if (got.kind === 'end') return;
      if (got.kind === 'failed') throw got.error;
      quiet = false;
      yield got;
    }
  } finally {
    // Not awaited: a read may be pending on a source that stays open (a
    // pipe); ending the iterator destroys a stream source, which settles it.
    Promise.resolve()
      .then(() => it.return?.())
      .catch(() => {});
  }
}
