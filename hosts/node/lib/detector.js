// The `detector` resource of wit/detector.wit, in the shape JavaScript
// expects: camelCase options, Numbers, plain objects, thrown Errors.

import { toAlert } from './alert.js';
import { builtInRules, instantiateComponent, sharedApi } from './component.js';
import { ConfigError, EventError, ReconError, configErrorFrom, snapshotErrorFrom } from './errors.js';
import { toConfig, toReaderOptions, toSandbox } from './options.js';

const CONSTRUCT = Symbol('construct');
const DISPOSE = Symbol.dispose ?? Symbol.for('nodejs.dispose');
const encoder = new TextEncoder();

/** True for a typed error value the bindings throw (a WIT `result` error case). */
function isErrorValue(e) {
  return e !== null && typeof e === 'object' && !(e instanceof Error);
}

function num(v) {
  return typeof v === 'bigint' ? Number(v) : v;
}

function reasons(list) {
  const out = {};
  for (const { reason, count } of list) out[reason] = num(count);
  return out;
}

/** A WIT batch-result as a plain object. */
function batchResult(r) {
  return {
    records: r.records,
    rejected: r.rejected,
    rules: ruleCounts(r.rules),
    errors: r.errors.map((e) => ({
      index: e.index,
      rule: e.rule ?? null,
      reason: e.error.reason,
      message: e.error.message,
    })),
    ahead: Array.from(r.ahead),
  };
}

function ruleCounts(rules) {
  return rules.map((c) => ({ rule: c.rule, accepted: c.accepted, filtered: c.filtered, late: c.late, rejected: c.rejected }));
}

/** A WIT read-result as a plain object. */
function readResult(r) {
  return {
    records: r.records,
    skipped: r.skipped,
    rules: ruleCounts(r.rules),
    reports: r.reports.map((p) => ({
      line: p.at?.line === undefined ? null : num(p.at.line),
      record: p.at?.record === undefined ? null : num(p.at.record),
      logEvent: p.at?.logEvent === undefined ? null : num(p.at.logEvent),
      reason: p.reason ?? null,
      rule: p.rule ?? null,
      message: p.message,
    })),
    unreadable: r.unreadable ?? null,
    controlMessages: r.controlMessages ?? 0,
    verdict: r.verdict === undefined ? null : inputVerdict(r.verdict),
  };
}

/** A WIT input-verdict as a plain object. */
function inputVerdict(v) {
  return {
    records: num(v.records),
    misshapen: num(v.misshapen),
    noneReadable: v.noneReadable,
    looksLike: v.looksLike ?? null,
    message: v.message,
  };
}

function eventText(event) {
  if (typeof event === 'string') return event;
  if (event !== null && typeof event === 'object' && !ArrayBuffer.isView(event)) return JSON.stringify(event);
  throw new TypeError('an event must be a JSON string or an object');
}

function toBytes(data) {
  if (typeof data === 'string') return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError('pushNdjson takes a string, a Uint8Array (Buffer) or an ArrayBuffer');
}

function timeArg(to) {
  if (to === undefined || to === null) return undefined;
  if (to instanceof Date) to = to.getTime();
  if (typeof to === 'number' && Number.isSafeInteger(to)) return BigInt(to);
  if (typeof to === 'bigint' && BigInt.asIntN(64, to) === to) return to;
  throw new TypeError(`flush takes a time in ms since the epoch (an integer or a Date), got ${String(to)}`);
}

/** A WIT rule-info as a plain object. */
function ruleInfo(r) {
  return {
    name: r.name,
    id: r.id,
    title: r.title,
    kind: r.kind,
    file: r.file ?? null,
    windowMs: num(r.windowMs),
    window: r.window,
    suppressMs: num(r.suppressMs),
    threshold: r.threshold,
    measure: r.measure,
    groupBy: [...r.groupBy],
    detections: [...r.detections],
    filters: [...(r.filters ?? [])],
    severity: r.severity,
    tactics: [...r.tactics],
    techniques: [...r.techniques],
    settings: [...r.settings],
  };
}

/**
 * The registry: every rule a detector with these options would run (its
 * built-ins, then its data rules, from `ruleFiles`), described by the
 * component (`list-rules`): name, id, title, kind (`built-in`,
 * `correlation`, `detection`), file, window, threshold, measure, group-by,
 * the detection rules and filters it counts, severity, tactics,
 * techniques, and the settings that apply to it. Throws a ConfigError as
 * `Detector.create` would (a refused rule file: kind `rules`).
 *
 * @param {import('./index.js').DetectorOptions} [options]
 * @returns {Promise<import('./index.js').RuleInfo[]>}
 */
export async function listRules(options = {}) {
  toSandbox(options);
  const api = await sharedApi();
  const config = toConfig(options, await builtInRules(api));
  let rules;
  try {
    rules = api.listRules(config);
  } catch (e) {
    throw isErrorValue(e) ? configErrorFrom(e) : e;
  }
  return rules.map(ruleInfo);
}

/**
 * One running detection (its rules, open windows, watermark, pending alerts
 * and counters) in a component instance of its own.
 */
export class Detector {
  #handle;
  #instance;
  #rules;
  #failure = null;
  #closed = false;
  #maxEventBytes;
  #allowedLatenessMs;

  /** @private Use `Detector.create` or `Detector.restore`. */
  constructor(token, instance, handle, maxEventBytes, allowedLatenessMs = null) {
    if (token !== CONSTRUCT) throw new TypeError('use Detector.create(options) or Detector.restore(bytes)');
    this.#instance = instance;
    this.#handle = handle;
    this.#maxEventBytes = maxEventBytes;
    this.#allowedLatenessMs = allowedLatenessMs;
    this.#rules = Object.freeze(handle.stats().rules.map((r) => r.rule));
  }

  /**
   * Builds a detector. Throws a ConfigError when the options are invalid.
   *
   * @param {import('./index.js').DetectorOptions} [options]
   * @returns {Promise<Detector>}
   */
  static async create(options = {}) {
    const sandbox = toSandbox(options);
    const instance = await instantiateComponent(sandbox);
    const config = toConfig(options, await builtInRules(instance.api));
    let handle;
    try {
      handle = instance.api.Detector.create(config);
    } catch (e) {
      throw isErrorValue(e) ? configErrorFrom(e) : e;
    }
    // The lateness it runs with: the option, else the component's default
    // (its default-config, not restated here).
    const lateness = config.allowedLatenessMs ?? instance.api.defaultConfig([], config.profile).allowedLatenessMs;
    return new Detector(CONSTRUCT, instance, handle, config.limits.maxEventBytes, lateness === undefined ? null : num(lateness));
  }

  /**
   * Rebuilds a detector from bytes written by `snapshot()`, with the
   * configuration, state and counters it had then. Throws a SnapshotError
   * for damaged or foreign bytes.
   *
   * @param {Uint8Array | ArrayBuffer} bytes
   * @param {{ sandbox?: { maxMemoryMib?: number } }} [options] the host's bounds, as for `create`
   * @returns {Promise<Detector>}
   */
  static async restore(bytes, options = {}) {
    const data = toBytes(bytes);
    const extra = Object.keys(options ?? {}).filter((k) => k !== 'sandbox');
    if (extra.length > 0) {
      throw new ConfigError('invalid-option', `restore takes only sandbox options (the snapshot holds the configuration), not ${extra.join(', ')}`);
    }
    const instance = await instantiateComponent(toSandbox(options));
    let handle;
    try {
      handle = instance.api.Detector.restore(data);
    } catch (e) {
      throw isErrorValue(e) ? snapshotErrorFrom(e) : e;
    }
    return new Detector(CONSTRUCT, instance, handle);
  }

  /** The rules' names (built-ins' full names, then data rules'), in configuration order: the order of per-rule results and stats. */
  get rules() {
    return this.#rules;
  }

  /**
   * The allowed lateness it runs with, in ms (the option, else the
   * component's default); `null` for a restored detector (the snapshot
   * holds it).
   */
  get allowedLatenessMs() {
    return this.#allowedLatenessMs;
  }

  /** Bytes of linear memory the detector's component instance holds (it never shrinks). */
  get memoryBytes() {
    return this.#instance.memoryBytes();
  }

  /**
   * Calls into the component; a trap (a bug, the memory cap reached) ends
   * this detector: its instance's state can no longer be trusted.
   */
  #call(fn) {
    if (this.#closed) throw new ReconError('the detector is closed');
    if (this.#failure) {
      throw new ReconError(`the detector failed earlier and cannot be used: ${this.#failure.message}`, {
        cause: this.#failure,
      });
    }
    try {
      return fn(this.#handle);
    } catch (e) {
      if (isErrorValue(e) || e instanceof TypeError) throw e;
      this.#failure = e;
      const mib = (n) => `${Math.round((n / 2 ** 20) * 10) / 10} MiB`;
      throw new ReconError(
        `the detector component failed (${e?.message ?? e}) with ${mib(this.#instance.memoryBytes())} ` +
          `of its ${mib(this.#instance.maxMemoryBytes)} memory cap in use; the detector cannot be used any more`,
        { cause: e },
      );
    }
  }

  /**
   * Pushes one event (a JSON object, as text or as an object, which is
   * serialised with JSON.stringify) through every rule. Returns what each
   * rule made of it, in configuration order; throws an EventError (with
   * its `reason`) when no rule can read it.
   *
   * @param {string | object} event
   * @returns {{ rule: string, outcome: 'accepted' | 'filtered' | 'late' | 'state-limit' }[]}
   */
  push(event) {
    const text = eventText(event);
    let outcomes;
    try {
      outcomes = this.#call((h) => h.push(text));
    } catch (e) {
      if (isErrorValue(e)) throw new EventError(e.reason, e.message);
      throw e;
    }
    return outcomes.map((outcome, i) => ({ rule: this.#rules[i], outcome }));
  }

  /**
   * Pushes many events, in order, as `push` on each would; never throws for
   * a bad event: rejections are in the result, by index.
   *
   * @param {Iterable<string | object>} events
   */
  pushBatch(events) {
    const texts = Array.from(events, eventText);
    return batchResult(this.#call((h) => h.pushBatch(texts)));
  }

  /**
   * Pushes the records of newline-delimited JSON, one per line, in order
   * (a `\r` before `\n` is dropped; blank lines are skipped but count in
   * indexes; the last line needs no line end). Never throws for a bad
   * record: rejections are in the result, by line index.
   *
   * @param {string | Uint8Array | ArrayBuffer} data
   */
  pushNdjson(data) {
    const bytes = toBytes(data);
    return batchResult(this.#call((h) => h.pushNdjson(bytes)));
  }

  /**
   * Opens an input for this detector: bytes of any layout CloudTrail is
   * delivered in (NDJSON, `{"Records":[...]}` documents, arrays, gzip), read
   * by the component's reader, their records pushed in the same crossing.
   * One input per file or stream; a detector may read several in turn.
   *
   * Options (each defaults to the component's default): `maxRecordBytes`
   * (longest record handed on; default this detector's
   * `limits.maxEventBytes`, else 256 KiB) and `chunkBytes` (bytes of records
   * pushed at once).
   *
   * @param {{ maxRecordBytes?: number, chunkBytes?: number }} [options]
   * @returns {Input}
   */
  openInput(options = {}) {
    const given = toReaderOptions(options);
    given.maxRecordBytes ??= this.#maxEventBytes;
    const api = this.#instance.api;
    let reader;
    try {
      reader = this.#call(() => api.Reader.create(given));
    } catch (e) {
      throw isErrorValue(e) ? configErrorFrom(e) : e;
    }
    return new Input(CONSTRUCT, reader, (step) => readResult(this.#call((h) => h.read(reader, step))));
  }

  /**
   * Advances the watermark to `to` (ms since the epoch, or a Date) if that is
   * later than it, closing every window that became final; with no
   * argument, ends the stream: closes every window (later events are
   * late). Returns how many alerts the closed windows produced (collect
   * them with `drain`).
   *
   * @param {number | bigint | Date} [to]
   * @returns {number}
   */
  flush(to) {
    const arg = timeArg(to);
    return this.#call((h) => h.flush(arg));
  }

  /**
   * The alerts produced so far, which the detector then forgets: ordered by
   * window end, then rule (configuration order), then group.
   *
   * @returns {import('./index.js').Alert[]}
   */
  drain() {
    const api = this.#instance.api;
    return this.#call((h) => h.drain()).map((a) => toAlert(a, api));
  }

  /** The detector's counters, 64-bit counts as Numbers. */
  stats() {
    const s = this.#call((h) => h.stats());
    return {
      pushed: num(s.pushed),
      rejected: num(s.rejected),
      rejectedByReason: reasons(s.rejectedByReason),
      rules: s.rules.map((r) => ({
        rule: r.rule,
        pushed: num(r.pushed),
        accepted: num(r.accepted),
        filtered: num(r.filtered),
        rejected: num(r.rejected),
        rejectedByReason: reasons(r.rejectedByReason),
        late: num(r.late),
        lateWorstMs: num(r.lateWorstMs),
        latenessNeededMs: num(r.latenessNeededMs),
        openWindows: r.openWindows,
        openGroups: r.openGroups,
        alerts: num(r.alerts),
        ahead: num(r.ahead),
        suppressed: num(r.suppressed),
        watermark: r.watermark === undefined ? null : num(r.watermark),
      })),
      pendingAlerts: s.pendingAlerts,
    };
  }

  /**
   * Configuration, open windows, watermarks, pending alerts and counters
   * as bytes for `Detector.restore` (checksummed and versioned by the
   * component).
   *
   * @returns {Uint8Array}
   */
  snapshot() {
    return this.#call((h) => h.snapshot());
  }

  /** Frees the detector's state in the component; later calls throw. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle[DISPOSE]?.();
    this.#handle = null;
  }

  [DISPOSE]() {
    this.close();
  }
}

/**
 * One input being read into a detector (`Detector#openInput`). Each call
 * returns what the bytes completed: `{ records, skipped, rules, reports,
 * unreadable, controlMessages, verdict }`, `reports` worded as `recon
 * detect` words them (without the input's name), each with where it was
 * (`line`, `record`, `logEvent`), its `reason` and `rule`; `unreadable` is
 * set (and later bytes are ignored) when the input cannot be read from
 * there on; `controlMessages` counts the CloudWatch Logs control messages
 * skipped; `verdict` is set by `end()` when most of the input's records
 * were not CloudTrail, or none could be read.
 */
export class Input {
  #reader;
  #read;
  #ended = false;

  /** @private Use `Detector#openInput`. */
  constructor(token, reader, read) {
    if (token !== CONSTRUCT) throw new TypeError('use detector.openInput(options)');
    this.#reader = reader;
    this.#read = read;
  }

  #step(step) {
    if (this.#ended) throw new ReconError('the input has ended');
    return this.#read(step);
  }

  /**
   * The next bytes of the input (a Buffer or Uint8Array; a string is its
   * UTF-8), cut anywhere.
   *
   * @param {Uint8Array | string} data
   */
  feed(data) {
    if (typeof data === 'string') return this.#step({ tag: 'text', val: data });
    if (!(data instanceof Uint8Array)) throw new TypeError('feed takes a Uint8Array (Buffer) or a string');
    return this.#step({ tag: 'bytes', val: data });
  }

  /** The input paused (nothing more for now): pushes the complete records held. */
  pause() {
    return this.#step({ tag: 'pause' });
  }

  /** The input ended: pushes everything held; a document cut short is reported. */
  end() {
    const r = this.#step({ tag: 'end' });
    this.#ended = true;
    this.close();
    return r;
  }

  /** Frees the reader in the component (done by `end`). */
  close() {
    this.#ended = true;
    this.#reader?.[DISPOSE]?.();
    this.#reader = null;
  }
}
