// The `recon` configuration file (TOML), read as the Rust host reads it
// (host/src/settings.rs): every key optional, unknown keys an error, values
// checked against the types the Rust host declares.
//
//   rules = ["sentinel", "elastic"]   # default: the built-ins; entries are built-ins
//                                     # by name, `catalogue`, or Sigma rule files or
//                                     # directories by path (as --rules)
//   profile = "default"               # or "seed"
//   allowed_lateness_seconds = 900
//   early_alerts = true               # default: off (no live mode here)
//   chunk_kib = 1024                  # bytes of input per call into the component
//   workers = 2                       # accepted; this host scans on one thread
//   [sentinel] window_seconds, min_distinct, commands,   (one section per built-in,
//              suppress_seconds, window
//   [elastic]  window_seconds, min_distinct, providers,    named as the component's
//                                                          built-ins are: builtInRules)
//   [limits]   max_event_bytes, max_open_groups, max_list_entries,
//              max_time_jump_seconds, time_confirmations
//   [sandbox]  max_memory_mib (enforced), max_call_ms, fuel_per_call,
//              checkpoint_mib, max_quarantined (checked; not enforceable
//              under V8, see docs/hosts/node.md)
//   [tenants]  key, rules_dir (refused: this host has no routing by tenant), max_tenants
//   [live]     idle_ms, max_lag_seconds (checked; this host has no live mode)

import { readFile } from 'node:fs/promises';
import { parse } from 'smol-toml';

import { builtInRules } from './component.js';
import { resolveRules } from './rules.js';

/** Default KiB of input per call into the component. */
export const DEFAULT_CHUNK_KIB = 1024;
/** Largest accepted `chunk_kib`. */
export const MAX_CHUNK_KIB = 64 * 1024;

const U32_MAX = 0xffff_ffffn;
const U64_MAX = (1n << 64n) - 1n;

/** A configuration file or setting that cannot be used. */
export class SettingsError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SettingsError';
  }
}

/** The keys of a built-in's section (`[sentinel]`, ...), as the Rust host's `RuleSection`. */
const RULE_SECTION = {
  window_seconds: 'u64',
  min_distinct: 'u32',
  commands: 'strings',
  providers: 'strings',
  suppress_seconds: 'u64',
  window: 'string',
};

/** The keys of the file besides the built-ins' sections, and of its other sections. */
const FIXED = {
  '': {
    rules: 'rules',
    profile: 'profile',
    allowed_lateness_seconds: 'u64',
    early_alerts: 'bool',
    chunk_kib: 'usize',
    workers: 'usize',
  },
  limits: {
    max_event_bytes: 'u32',
    max_open_groups: 'u32',
    max_list_entries: 'u32',
    max_time_jump_seconds: 'u64',
    time_confirmations: 'u32',
  },
  sandbox: {
    max_memory_mib: 'u64',
    max_call_ms: 'u64',
    fuel_per_call: 'u64',
    checkpoint_mib: 'u64',
    max_quarantined: 'u64',
  },
  tenants: { key: 'string', max_tenants: 'usize', rules_dir: 'string' },
  live: { idle_ms: 'u64', max_lag_seconds: 'u64' },
};
const OTHER_SECTIONS = ['limits', 'sandbox', 'tenants', 'live'];

/**
 * The file's keys for these built-ins: the top level (the built-ins'
 * sections after `workers`, in their order, as the Rust host declares
 * them), and each section's.
 */
function sectionsFor(builtIns) {
  const top = { ...FIXED[''] };
  const sections = { '': top };
  for (const b of builtIns) {
    top[b.short] = 'table';
    sections[b.short] = RULE_SECTION;
  }
  for (const name of OTHER_SECTIONS) {
    top[name] = 'table';
    sections[name] = FIXED[name];
  }
  return sections;
}

function describe(v) {
  if (typeof v === 'bigint') return `integer \`${v}\``;
  if (typeof v === 'number') return `floating point \`${v}\``;
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return `boolean \`${v}\``;
  return typeof v === 'object' ? 'table' : typeof v;
}

function check(sections, section, key, value) {
  const kind = sections[section][key];
  const where = section ? `${section}.${key}` : key;
  const bad = (expected) => new SettingsError(`${where}: invalid value: ${describe(value)}, expected ${expected}`);
  switch (kind) {
    case 'u32':
      if (typeof value !== 'bigint' || value < 0n || value > U32_MAX) throw bad('an integer from 0 to 4294967295');
      return Number(value);
    case 'u64':
    case 'usize':
      if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) throw bad('a non-negative integer');
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw bad('a boolean');
      return value;
    case 'string':
      if (typeof value !== 'string') throw bad('a string');
      return value;
    case 'strings':
      if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) throw bad('an array of strings');
      return [...value];
    case 'rules':
      // Names and paths: what each stands for is resolved when the
      // detector options are made (`detectorOptions`), as the Rust host
      // resolves them.
      if (!Array.isArray(value) || !value.every((r) => typeof r === 'string')) {
        throw bad('an array of rule names and rule file paths');
      }
      return [...value];
    case 'profile':
      if (value !== 'default' && value !== 'seed') {
        throw new SettingsError(`${where}: unknown variant ${describe(value)}, expected \`default\` or \`seed\``);
      }
      return value;
    case 'table':
      if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) throw bad('a table');
      return readSection(sections, key, value);
    default:
      throw new SettingsError(`${where}: unexpected setting`);
  }
}

function readSection(sections, section, table) {
  const known = sections[section];
  const out = {};
  for (const [key, value] of Object.entries(table)) {
    if (!Object.hasOwn(known, key)) {
      const where = section ? ` in [${section}]` : '';
      throw new SettingsError(
        `unknown field \`${key}\`${where}, expected one of ${Object.keys(known)
          .map((k) => `\`${k}\``)
          .join(', ')}`,
      );
    }
    out[key] = check(sections, section, key, value);
  }
  return out;
}

/**
 * Parses configuration text into settings (snake_case keys as in the file;
 * integers as BigInts). Throws a SettingsError naming the key at fault.
 * `builtIns` are the component's built-in rules (`builtInRules`): each has
 * a section of its own, by its short name.
 *
 * @param {string} text
 * @param {ReadonlyArray<{ name: string, short: string }>} builtIns
 */
export function parseSettings(text, builtIns) {
  if (!Array.isArray(builtIns)) throw new TypeError('parseSettings(text, builtIns): builtIns is await builtInRules()');
  let table;
  try {
    table = parse(text, { integersAsBigInt: true });
  } catch (e) {
    throw new SettingsError(e.message);
  }
  const sections = sectionsFor(builtIns);
  const s = readSection(sections, '', table);
  for (const name of [...builtIns.map((b) => b.short), ...OTHER_SECTIONS]) s[name] ??= {};
  if (s.tenants.rules_dir !== undefined) {
    throw new SettingsError(
      'tenants.rules_dir: rules of each tenant need routing records by tenant, which the Node.js host ' +
        'does not implement (with the API, give each tenant\'s Detector its own ruleFiles)',
    );
  }
  if (s.tenants.key !== undefined) {
    throw new SettingsError(
      'tenants.key: routing records by tenant is not implemented by the Node.js host ' +
        '(with the API, run one Detector per tenant)',
    );
  }
  return s;
}

/** Reads and parses a configuration file; errors name the file. */
export async function loadSettings(path) {
  const builtIns = await builtInRules();
  let text;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new SettingsError(`reading ${path}: ${e.message}`);
  }
  try {
    return parseSettings(text, builtIns);
  } catch (e) {
    throw new SettingsError(`${path}: ${e.message}`);
  }
}

function ms(field, seconds) {
  if (seconds === undefined) return undefined;
  const v = BigInt(seconds) * 1000n;
  if (v > U64_MAX) throw new SettingsError(`${field} = ${seconds} is too large`);
  return v;
}

/** `sandbox.max_memory_mib` as the API's `sandbox.maxMemoryMib` (past 4 GiB, all a 32-bit memory can hold). */
function memoryMib(mib) {
  if (mib === undefined) return undefined;
  if (mib === 0n) throw new SettingsError('sandbox.max_memory_mib = 0 is out of range');
  return mib > 4096n ? 4096 : Number(mib);
}

/**
 * The detector options (see `Detector.create`) these settings stand for:
 * the built-ins `rules` names (all when it names none) with their
 * sections, and the rule files it names, read (`resolveRules`). Throws a
 * ConfigError (`invalid-option`) for an entry that is neither a built-in
 * nor a readable rule file or directory.
 */
export async function detectorOptions(settings) {
  const { rules, ruleFiles } = await resolveRules(settings.rules);
  return {
    rules: rules.map((name) => {
      const section = settings[name] ?? {};
      const rule = { rule: name };
      if (section.window_seconds !== undefined) rule.windowMs = ms('window_seconds', section.window_seconds);
      if (section.min_distinct !== undefined) rule.minDistinct = section.min_distinct;
      if (section.commands !== undefined) rule.commands = section.commands;
      if (section.providers !== undefined) rule.providers = section.providers;
      if (section.suppress_seconds !== undefined) {
        rule.suppressMs = ms('suppress_seconds', section.suppress_seconds);
      }
      if (section.window !== undefined) {
        if (section.window !== 'tumbling' && section.window !== 'sliding') {
          throw new SettingsError(`${name}.window: unknown variant "${section.window}", expected "tumbling" or "sliding"`);
        }
        rule.window = section.window;
      }
      return rule;
    }),
    ruleFiles,
    profile: settings.profile ?? 'default',
    allowedLatenessMs: ms('allowed_lateness_seconds', settings.allowed_lateness_seconds),
    // Unset is off: this host has no live mode (where recon detect turns them on).
    earlyAlerts: settings.early_alerts,
    sandbox: { maxMemoryMib: memoryMib(settings.sandbox?.max_memory_mib) },
    limits: {
      maxEventBytes: settings.limits?.max_event_bytes,
      maxOpenGroups: settings.limits?.max_open_groups,
      maxListEntries: settings.limits?.max_list_entries,
      maxTimeJumpMs: ms('max_time_jump_seconds', settings.limits?.max_time_jump_seconds),
      timeConfirmations: settings.limits?.time_confirmations,
    },
  };
}

/** Bytes of input per call into the component. */
export function chunkBytes(settings) {
  const kib = settings.chunk_kib ?? BigInt(DEFAULT_CHUNK_KIB);
  if (kib < 1n || kib > BigInt(MAX_CHUNK_KIB)) {
    throw new SettingsError(`chunk_kib = ${kib} is out of range; it must be between 1 and ${MAX_CHUNK_KIB}`);
  }
  return Number(kib) * 1024;
}

/**
 * Notes for settings this host reads but cannot apply: the sandbox
 * bounds other than the memory cap, and live mode.
 */
export function unappliedNotes(settings) {
  const notes = [];
  const unenforced = Object.keys(settings.sandbox ?? {}).filter((k) => k !== 'max_memory_mib');
  if (unenforced.length > 0) {
    notes.push(
      `sandbox.${unenforced.join(', sandbox.')}: not enforced by the Node.js host (V8 offers no ` +
        'deadline or fuel for a call, and this host has no trap recovery; see docs/hosts/node.md)',
    );
  }
  if (Object.keys(settings.live ?? {}).length > 0) {
    notes.push('[live] settings have no effect: the Node.js host has no live mode (windows close on record time only)');
  }
  return notes;
}

/** Checks `workers` as the Rust host does (this host scans on one thread whatever it says). */
export function checkWorkers(settings) {
  const w = settings.workers;
  if (w === undefined) return;
  if (w === 0n) throw new SettingsError('workers must be at least 1');
  if (w > 256n) throw new SettingsError(`workers = ${w} is out of range; it must be between 1 and 256`);
}
