// A linear memory cap for a core WebAssembly module, by rewriting its
// memory declaration: `(memory 17)` becomes `(memory 17 MAX)`, so that
// `memory.grow` past MAX fails inside the module (the component's allocator
// then aborts: a trap) instead of taking the process's memory. This is how
// this host bounds the component's memory under V8, which has no resource
// limiter of its own for one module.

const PAGE = 65536;

function readU32(bytes, pos) {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos >= bytes.length) throw new Error('truncated LEB128');
    const b = bytes[pos++];
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return { value: result, pos };
    shift += 7;
    if (shift > 28) throw new Error('LEB128 too long for a u32');
  }
}

function writeU32(value) {
  const out = [];
  do {
    let b = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}

/**
 * The module with every memory it defines limited to `maxPages` (pages of
 * 64 KiB), or the module unchanged when it defines none. Also returns the
 * largest initial size among them, in pages.
 *
 * @param {Uint8Array} bytes a core module
 * @param {number} maxPages
 * @returns {{ bytes: Uint8Array, initialPages: number }}
 */
export function capMemory(bytes, maxPages) {
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) throw new Error('not a core WebAssembly module');
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos];
    const size = readU32(bytes, pos + 1);
    const start = size.pos;
    const end = start + size.value;
    if (end > bytes.length) throw new Error('truncated section');
    if (id !== 5) {
      pos = end;
      continue;
    }
    // The memory section: a vector of limits.
    let p = start;
    const count = readU32(bytes, p);
    p = count.pos;
    const payload = [...writeU32(count.value)];
    let initialPages = 0;
    for (let i = 0; i < count.value; i++) {
      const flags = bytes[p++];
      if (flags !== 0x00 && flags !== 0x01) {
        throw new Error(`memory ${i} is shared or 64-bit (flags ${flags}); it cannot be capped here`);
      }
      const min = readU32(bytes, p);
      p = min.pos;
      let max = maxPages;
      if (flags === 0x01) {
        const declared = readU32(bytes, p);
        p = declared.pos;
        max = Math.min(max, declared.value);
      }
      initialPages = Math.max(initialPages, min.value);
      if (min.value > max) {
        throw new RangeError(
          `the component starts with ${min.value} pages (${(min.value * PAGE) / 2 ** 20} MiB) of memory, more than the cap`,
        );
      }
      payload.push(0x01, ...writeU32(min.value), ...writeU32(max));
    }
    if (p !== end) throw new Error('malformed memory section');
    const section = new Uint8Array([5, ...writeU32(payload.length), ...payload]);
    const out = new Uint8Array(pos + section.length + (bytes.length - end));
    out.set(bytes.subarray(0, pos), 0);
    out.set(section, pos);
    out.set(bytes.subarray(end), pos + section.length);
    return { bytes: out, initialPages };
  }
  return { bytes, initialPages: 0 };
}
