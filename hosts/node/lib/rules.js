// The rules a run asks for, as `recon detect --rules` and the
// configuration file's `rules = [...]` name them: a built-in by its name,
// `catalogue` (the repository's rules/ directory), or a Sigma rule file or
// a directory of them. Files are read here and handed to the component as
// text (`config.rule-files`): the component parses and compiles them; this
// host parses no YAML. Which built-ins there are comes from the component
// (`builtInRules`), never from a list written here.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { builtInRules } from './component.js';
import { ConfigError } from './errors.js';

/** The `--rules` name of the repository's rule catalogue. */
export const CATALOGUE = 'catalogue';

/** Most bytes of rule files one run loads (all files together), as `recon detect`. */
export const MAX_RULE_BYTES = 64 * 2 ** 20;

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO_DIR = resolve(PACKAGE_DIR, '..', '..');

function refused(message) {
  return new ConfigError('invalid-option', message);
}

/**
 * An I/O error's message as the Rust CLI words it (`No such file or
 * directory (os error 2)`).
 */
export function ioMessage(sys) {
  const m =
    typeof sys?.code === 'string' && typeof sys?.errno === 'number' && /^[A-Z0-9_]+: (.+?)(, \w+ '.*')?$/.exec(sys.message);
  if (!m) return sys.message;
  return `${m[1][0].toUpperCase()}${m[1].slice(1)} (os error ${Math.abs(sys.errno)})`;
}

/**
 * The rule catalogue's directory: `rules/` of the repository checkout this
 * package sits in (`<repo>/hosts/node`); null when it is not there (an
 * installed copy of the package).
 */
export function catalogueDir() {
  const dir = join(REPO_DIR, 'rules');
  if (!existsSync(join(REPO_DIR, 'wit', 'detector.wit'))) return null;
  try {
    return statSync(dir).isDirectory() ? dir : null;
  } catch {
    return null;
  }
}

/** Compares names as byte strings (the order `recon detect` sorts paths in). */
function byBytes(a, b) {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** `dir` joined with `name` as Rust's `Path::join` does (no normalising). */
function joinName(dir, name) {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

const isRuleFile = (name) => name.endsWith('.yml') || name.endsWith('.yaml');

/** The rule files of the catalogue: `rules/<file>`, in name order (as `recon detect` embeds them). */
function catalogueFiles() {
  const dir = catalogueDir();
  if (dir === null) {
    throw refused(
      `rules: ${CATALOGUE}: the rule catalogue (the repository's rules/ directory) was not found next to this ` +
        `package (looked for ${join(REPO_DIR, 'rules')}); name its files or directory instead, ` +
        'or use the Rust CLI, which embeds it',
    );
  }
  const names = readdirSync(dir)
    .filter((n) => isRuleFile(n) && !statSync(join(dir, n)).isDirectory())
    .sort(byBytes);
  return names.map((n) => ({ name: `rules/${n}`, path: join(dir, n) }));
}

/** The files under `path` (a file, or a directory searched recursively), as `recon detect` collects them. */
function collect(path, builtIns, out) {
  let meta;
  try {
    meta = statSync(path);
  } catch (e) {
    if (e?.code === 'ENOENT') {
      throw refused(
        `rules: ${path} is neither a built-in (${builtIns.map((b) => b.short).join(', ')}) ` +
          'nor an existing rule file or directory',
      );
    }
    throw refused(`reading ${path}: ${ioMessage(e)}`);
  }
  if (!meta.isDirectory()) {
    out.push({ name: path, path });
    return;
  }
  let entries;
  try {
    entries = readdirSync(path).map((n) => joinName(path, n));
  } catch (e) {
    throw refused(`reading ${path}: ${ioMessage(e)}`);
  }
  entries.sort(byBytes);
  const before = out.length;
  for (const e of entries) {
    let dir = false;
    try {
      dir = statSync(e).isDirectory();
    } catch {
      dir = false;
    }
    if (dir) collect(e, builtIns, out);
    else if (isRuleFile(e)) out.push({ name: e, path: e });
  }
  if (out.length === before) throw refused(`rules: the directory ${path} holds no .yml or .yaml file`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads the files found, each named as given, into `out`; bounded in total as `recon detect` bounds them. */
function readInto(found, out, total) {
  for (const { name, path } of found) {
    let text;
    try {
      text = utf8.decode(readFileSync(path));
    } catch (e) {
      const why = e instanceof TypeError ? 'stream did not contain valid UTF-8' : ioMessage(e);
      throw refused(`reading ${name}: ${why}`);
    }
    total.bytes += Buffer.byteLength(text);
    if (total.bytes > MAX_RULE_BYTES) throw refused(`the rule files come to more than ${MAX_RULE_BYTES} bytes`);
    out.push({ name, text });
  }
}

/**
 * The rules `entries` name, as `recon detect --rules` reads them: each
 * entry a built-in's name (`sentinel`, `elastic`: the component's, see
 * `builtInRules`), then `catalogue` (the repository's rules/ directory,
 * when this package runs from its checkout), else a path to a Sigma rule
 * file or a directory of them (`*.yml`, `*.yaml`, searched recursively, in
 * path order), relative to the working directory. Exactly the rules named
 * run; no entries (or an empty list) stand for every built-in.
 *
 * Resolves to the detector options they stand for: `rules`, the built-ins
 * named (short names, in the component's order, each once), and
 * `ruleFiles`, the files read (`{ name, text }`, `name` the path as given,
 * the catalogue's as `rules/<file>`), in the order named. Throws a
 * ConfigError (`invalid-option`) naming an entry that is neither, or a
 * file that cannot be read.
 *
 * @param {string[] | undefined} entries
 * @returns {Promise<{ rules: string[], ruleFiles: { name: string, text: string }[] }>}
 */
export async function resolveRules(entries) {
  const builtIns = await builtInRules();
  if (entries === undefined || entries === null || entries.length === 0) {
    return { rules: builtIns.map((b) => b.short), ruleFiles: [] };
  }
  if (!Array.isArray(entries) || !entries.every((e) => typeof e === 'string')) {
    throw refused('rules must be an array of names and paths');
  }
  const named = new Set();
  const ruleFiles = [];
  const total = { bytes: 0 };
  for (const entry of entries) {
    const b = builtIns.find((x) => x.short === entry);
    if (b) {
      named.add(b.name);
      continue;
    }
    const found = [];
    if (entry === CATALOGUE) found.push(...catalogueFiles());
    else collect(entry, builtIns, found);
    readInto(found, ruleFiles, total);
  }
  return { rules: builtIns.filter((b) => named.has(b.name)).map((b) => b.short), ruleFiles };
}
