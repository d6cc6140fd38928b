// Detector options (camelCase, JavaScript numbers) to the contract's
// `config` record (wit/detector.wit) as the jco bindings take it.
//
// Only the shape and types are checked here: the bindings would silently
// wrap a negative or fractional number into an unsigned integer, so such
// values are refused before they get there. Ranges (a window of 0 ms, an
// empty command list) are the component's to judge; its message names the
// field.

import { ConfigError } from './errors.js';

const PROFILES = new Set(['default', 'seed']);

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

const OPTION_KEYS = ['rules', 'ruleFiles', 'onlyRules', 'profile', 'allowedLatenessMs', 'earlyAlerts', 'limits', 'sandbox'];
const SANDBOX_KEYS = ['maxMemoryMib'];

/** Default cap on a detector's linear memory, MiB (the Rust host's default). */
export const DEFAULT_MAX_MEMORY_MIB = 256;
/** A 32-bit memory holds 4 GiB at most. */
const MAX_MEMORY_MIB = 4096;
const RULE_KEYS = ['rule', 'windowMs', 'minDistinct', 'commands', 'providers', 'suppressMs', 'window'];
const WINDOWS = new Set(['tumbling', 'sliding']);
const LIMIT_KEYS = ['maxEventBytes', 'maxOpenGroups', 'maxListEntries', 'maxTimeJumpMs', 'timeConfirmations'];

function invalid(message) {
  return new ConfigError('invalid-option', message);
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkKeys(obj, known, where) {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw invalid(`unknown option ${where}${key} (expected one of ${known.map((k) => where + k).join(', ')})`);
    }
  }
}

function show(v) {
  return typeof v === 'bigint' ? `${v}n` : typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** An optional u32 (a non-negative integer number). */
function u32(value, name) {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > U32_MAX) {
    throw invalid(`${name} must be an integer from 0 to ${U32_MAX}, got ${show(value)}`);
  }
  return n;
}

/** An optional u64 (a non-negative integer number or bigint), as a bigint. */
function u64(value, name) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'bigint' && value >= 0n && value <= U64_MAX) return value;
  throw invalid(`${name} must be a non-negative integer (a safe integer number, or a bigint below 2^64), got ${show(value)}`);
}

function bool(value, name) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  throw invalid(`${name} must be a boolean, got ${show(value)}`);
}

function stringList(value, name) {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) {
    throw invalid(`${name} must be an array of strings`);
  }
  return [...value];
}

/**
 * A built-in's full name from its short or full name; `builtIns` are the
 * component's (`builtInRules`).
 *
 * @param {unknown} name
 * @param {ReadonlyArray<{ name: string, short: string }>} builtIns
 */
export function ruleName(name, builtIns, where = 'rule') {
  const b = typeof name === 'string' ? builtIns.find((x) => x.short === name || x.name === name) : undefined;
  if (b) return b.name;
  const shorts = builtIns.map((x) => x.short);
  const names = builtIns.map((x) => x.name).filter((n) => !shorts.includes(n));
  const expected = names.length > 0 ? `${shorts.join(' or ')}, or ${names.join(' or ')}` : shorts.join(' or ');
  throw invalid(
    `${where}: unknown rule ${show(name)} (expected a built-in: ${expected}; ` +
      'a data rule comes in ruleFiles, with no settings here)',
  );
}

/** `ruleFiles`: Sigma rule files as `{ name, text }` (the component parses them). */
function ruleFiles(value) {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid('ruleFiles must be an array of { name, text } objects');
  return value.map((f, i) => {
    const where = `ruleFiles[${i}]`;
    if (!isPlainObject(f)) throw invalid(`${where} must be an object with name and text fields`);
    checkKeys(f, ['name', 'text'], `${where}.`);
    if (typeof f.name !== 'string') throw invalid(`${where}.name must be a string (a path, or any label)`);
    if (typeof f.text !== 'string') throw invalid(`${where}.text must be a string (the rule file's YAML)`);
    return { name: f.name, text: f.text };
  });
}

/**
 * The contract's config for these options. `builtIns` are the
 * component's built-in rules (`builtInRules`): `rules` names them, and
 * defaults to all of them.
 *
 * @param {import('./index.js').DetectorOptions} [options]
 * @param {ReadonlyArray<{ name: string, short: string }>} builtIns
 */
/** A rule's window mode: `tumbling` or `sliding` (undefined: the default). */
function windowMode(v, where) {
  if (v === undefined) return undefined;
  if (!WINDOWS.has(v)) throw invalid(`${where} must be "tumbling" or "sliding", got ${show(v)}`);
  return v;
}

export function toConfig(options = {}, builtIns = []) {
  if (!isPlainObject(options)) throw invalid('the detector options must be an object');
  checkKeys(options, OPTION_KEYS, '');
  const rulesIn = options.rules ?? builtIns.map((b) => b.name);
  if (!Array.isArray(rulesIn)) throw invalid('rules must be an array of rule names or rule objects');
  const rules = rulesIn.map((r, i) => {
    const where = `rules[${i}]`;
    if (typeof r === 'string') return { rule: ruleName(r, builtIns, where) };
    if (!isPlainObject(r)) throw invalid(`${where} must be a rule name or an object with a rule field`);
    checkKeys(r, RULE_KEYS, `${where}.`);
    return {
      rule: ruleName(r.rule, builtIns, `${where}.rule`),
      windowMs: u64(r.windowMs, `${where}.windowMs`),
      minDistinct: u32(r.minDistinct, `${where}.minDistinct`),
      commands: stringList(r.commands, `${where}.commands`),
      providers: stringList(r.providers, `${where}.providers`),
      suppressMs: u64(r.suppressMs, `${where}.suppressMs`),
      window: windowMode(r.window, `${where}.window`),
    };
  });
  const profile = options.profile ?? 'default';
  if (!PROFILES.has(profile)) throw invalid(`profile must be "default" or "seed", got ${show(profile)}`);
  const limitsIn = options.limits ?? {};
  if (!isPlainObject(limitsIn)) throw invalid('limits must be an object');
  checkKeys(limitsIn, LIMIT_KEYS, 'limits.');
  return {
    rules,
    ruleFiles: ruleFiles(options.ruleFiles),
    onlyRules: stringList(options.onlyRules, 'onlyRules'),
    profile,
    allowedLatenessMs: u64(options.allowedLatenessMs, 'allowedLatenessMs'),
    earlyAlerts: bool(options.earlyAlerts, 'earlyAlerts'),
    limits: {
      maxEventBytes: u32(limitsIn.maxEventBytes, 'limits.maxEventBytes'),
      maxOpenGroups: u32(limitsIn.maxOpenGroups, 'limits.maxOpenGroups'),
      maxListEntries: u32(limitsIn.maxListEntries, 'limits.maxListEntries'),
      maxTimeJumpMs: u64(limitsIn.maxTimeJumpMs, 'limits.maxTimeJumpMs'),
      timeConfirmations: u32(limitsIn.timeConfirmations, 'limits.timeConfirmations'),
    },
  };
}

/**
 * The host's bounds on the component instance of a detector: today its
 * linear memory, in MiB (default 256; at most 4096, all a 32-bit memory
 * can address).
 *
 * @param {{ sandbox?: { maxMemoryMib?: number } }} [options]
 */
export function toSandbox(options = {}) {
  if (!isPlainObject(options)) throw invalid('the detector options must be an object');
  const sandbox = options.sandbox ?? {};
  if (!isPlainObject(sandbox)) throw invalid('sandbox must be an object');
  checkKeys(sandbox, SANDBOX_KEYS, 'sandbox.');
  const mib = u32(sandbox.maxMemoryMib, 'sandbox.maxMemoryMib') ?? DEFAULT_MAX_MEMORY_MIB;
  if (mib < 1 || mib > MAX_MEMORY_MIB) {
    throw new ConfigError('out-of-range', `sandbox.maxMemoryMib is ${mib}; it must be between 1 and ${MAX_MEMORY_MIB}`);
  }
  return { maxMemoryMib: mib };
}

const READER_KEYS = ['maxRecordBytes', 'chunkBytes'];

/**
 * The contract's reader-options for these options (`none` where not
 * given: the component's defaults).
 *
 * @param {{ maxRecordBytes?: number, chunkBytes?: number }} [options]
 */
export function toReaderOptions(options = {}) {
  if (!isPlainObject(options)) throw invalid('the input options must be an object');
  checkKeys(options, READER_KEYS, '');
  return {
    maxRecordBytes: u32(options.maxRecordBytes, 'maxRecordBytes'),
    chunkBytes: u32(options.chunkBytes, 'chunkBytes'),
  };
}
