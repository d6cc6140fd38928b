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
 * (`out-of-range`, `invalid-list`) or `invalid-option` when the options
 * object itself is malformed (an unknown key, a value of the wrong type),
 * found before the component is called.
 */
export class ConfigError extends ReconError {
  constructor(kind, message, options) {
    super(message, options);
    this.name = 'ConfigError';
    /** @type {'out-of-range' | 'invalid-list' | 'invalid-option'} */
    this.kind = kind;
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

/** The component's config-error value as a ConfigError. */
export function configErrorFrom(value) {
  return new ConfigError(value.tag, value.val);
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
      return new SnapshotError('invalid-config', `the snapshot's configuration is invalid: ${value.val.val}`, {
        configKind: value.val.tag,
      });
    default:
      return new SnapshotError('malformed', `not a detector snapshot: ${value.val}`);
  }
}
