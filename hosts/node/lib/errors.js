// The errors this package throws. The component reports failures as typed
// values (wit/detector.wit: config-error, event-error, snapshot-error);
// they become Error subclasses carrying the component's message unchanged
// and the case as a property.

/** Base class of every error this package throws on purpose. */
export class ReconError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'ReconError';
  }
}

/**
 * A configuration was refused. `kind` is the component's case
 * (`out-of-range`, `invalid-list`, `rules`) or `invalid-option` when the
 * options themselves are malformed (an unknown key, a value of the wrong
 * type, a rule that is neither a built-in nor a readable rule file), found
 * before the component is called.
 *
 * For `rules` (a rule file the component refused) `message` is worded as
 * `recon detect` words it (`FILE:LINE: rule "R": field "F": MESSAGE`,
 * absent parts left out) and `ruleError` holds the parts: `{ file, rule,
 * line, field, message }` (`null` where absent).
 */
export class ConfigError extends ReconError {
  constructor(kind, message, options) {
    super(message, options);
    this.name = 'ConfigError';
    /** @type {'out-of-range' | 'invalid-list' | 'rules' | 'invalid-option'} */
    this.kind = kind;
    /** @type {{ file: string, rule: string | null, line: number | null, field: string | null, message: string } | null} */
    this.ruleError = options?.ruleError ?? null;
    /** True when the component refused the configuration (rather than this host). */
    this.fromComponent = options?.fromComponent ?? false;
  }
}

/** One event could not be read by any rule (`push`). */
export class EventError extends ReconError {
  constructor(reason, message) {
    super(message);
    this.name = 'EventError';
    /** @type {string} */
    this.reason = reason;
  }
}

/**
 * Snapshot bytes could not be restored. `kind` is `malformed`,
 * `unsupported-version` (then `version` is set) or `invalid-config` (then
 * `configKind` is the configuration error's case).
 */
export class SnapshotError extends ReconError {
  constructor(kind, message, extra = {}) {
    super(message);
    this.name = 'SnapshotError';
    /** @type {'malformed' | 'unsupported-version' | 'invalid-config'} */
    this.kind = kind;
    Object.assign(this, extra);
  }
}

/** An input could not be read (I/O, a corrupt gzip stream, a broken JSON document). */
export class InputError extends ReconError {
  constructor(message, options) {
    super(message, options);
    this.name = 'InputError';
  }
}

/**
 * A string as Rust's `{:?}` writes it (quoted, escaped), so a rule error
 * reads as `recon detect` words it.
 */
function debugString(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c === 0) out += '\\0';
    else if (c < 0x20 || c === 0x7f) out += `\\u{${c.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A rule-error record in words: `FILE:LINE: rule "R": field "F": MESSAGE`, absent parts left out. */
export function ruleErrorText(r) {
  let s = r.file;
  if (r.line !== undefined && r.line !== null) s += `:${r.line}`;
  if (r.rule !== undefined && r.rule !== null) s += `: rule ${debugString(r.rule)}`;
  if (r.field !== undefined && r.field !== null) s += `: field ${debugString(r.field)}`;
  return `${s}: ${r.message}`;
}

/** The component's config-error value as a ConfigError. */
export function configErrorFrom(value) {
  if (value.tag === 'rules') {
    const r = value.val;
    const ruleError = {
      file: r.file,
      rule: r.rule ?? null,
      line: r.line ?? null,
      field: r.field ?? null,
      message: r.message,
    };
    return new ConfigError('rules', ruleErrorText(ruleError), { ruleError, fromComponent: true });
  }
  return new ConfigError(value.tag, value.val, { fromComponent: true });
}

/** The component's snapshot-error value as a SnapshotError. */
export function snapshotErrorFrom(value) {
  switch (value.tag) {
    case 'unsupported-version':
      return new SnapshotError(
        'unsupported-version',
        `the snapshot was written by an incompatible format version (${value.val})`,
        { version: value.val },
      );
    case 'invalid-config':
      return new SnapshotError(
        'invalid-config',
        `the snapshot's configuration is invalid: ${configErrorFrom(value.val).message}`,
        { configKind: value.val.tag },
      );
    default:
      return new SnapshotError('malformed', `not a detector snapshot: ${value.val}`);
  }
}
