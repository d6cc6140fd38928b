// `recon.js detect FILE...`: the Rust `recon detect` on the Node host. Same
// inputs, options and defaults, the same alert lines on stdout, the same
// report of rejected records and summary on stderr.

import { createReadStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';

import { formatAlert } from './alert.js';
import { Detector } from './detector.js';
import { ConfigError } from './errors.js';
import { RULES } from './options.js';
import { pieces } from './source.js';
import { SettingsError, checkWorkers, chunkBytes, detectorOptions, loadSettings, parseSettings, unappliedNotes } from './settings.js';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const USAGE = `Usage: recon.js detect [OPTIONS] [FILE|-]...

Run the detection rules over CloudTrail and print alerts as NDJSON (the
Node.js host of recon; same options, defaults and output as \`recon detect\`).

Inputs may be {"Records":[...]} files, JSON arrays, single objects or one
record per line, any of them gzip-compressed; \`-\` (or no input) reads stdin.
Alerts go to stdout, one JSON object per line; rejected records and a
summary go to stderr.

Options:
  --rules <RULES>               Rules to run, comma-separated: sentinel, elastic [default: all]
  --profile <PROFILE>           default (the queries' intent) or seed (their letter) [default: default]
  --allowed-lateness <SECONDS>  How late (seconds behind the newest event) an event may arrive
                                and still count [default: 60]
  --config <FILE>               A TOML configuration file (keys: host/src/settings.rs in the
                                repository); options given here win
  --chunk-kib <KIB>             KiB of input per call into the component [default: 1024]
  --show-rejects <N>            Most rejected records reported one by one [default: 20]
  --linger-ms <MS>              Longest complete lines wait for more input before they are
                                pushed [default: 200]
  --workers <N>                 Accepted for compatibility; this host scans on one thread
  --format <FORMAT>             native (the rule's own row and metadata) or ocsf (an OCSF 1.8
                                Detection Finding, the native line under \`unmapped\`) [default: native]
  -h, --help                    Print help
  -V, --version                 Print version

Exit status: 0 when every input was read, 1 when one could not be (the others
are still processed) or the run failed, 2 on a usage or configuration error.
`;

class UsageError extends Error {}

function unsigned(name, text, max = Number.MAX_SAFE_INTEGER) {
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`invalid value '${text}' for '--${name}': expected a non-negative integer`);
  const v = BigInt(text);
  if (v > BigInt(max)) throw new UsageError(`invalid value '${text}' for '--${name}': number too large`);
  return v;
}

function parse(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        rules: { type: 'string', multiple: true },
        profile: { type: 'string' },
        'allowed-lateness': { type: 'string' },
        config: { type: 'string' },
        'chunk-kib': { type: 'string' },
        workers: { type: 'string' },
        'show-rejects': { type: 'string' },
        'linger-ms': { type: 'string' },
        format: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (e) {
    throw new UsageError(e.message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (values.version) return { version: true };
  const [command, ...inputs] = positionals;
  if (command === undefined) throw new UsageError('a command is required: detect');
  if (command !== 'detect') throw new UsageError(`unrecognized subcommand '${command}' (this host has: detect)`);
  const args = { inputs: inputs.length > 0 ? inputs : ['-'] };
  if (values.rules) {
    args.rules = values.rules.flatMap((v) => v.split(','));
    for (const r of args.rules) {
      if (!Object.hasOwn(RULES, r)) {
        throw new UsageError(`invalid value '${r}' for '--rules <RULES>' [possible values: sentinel, elastic]`);
      }
    }
  }
  if (values.profile !== undefined) {
    if (values.profile !== 'default' && values.profile !== 'seed') {
      throw new UsageError(`invalid value '${values.profile}' for '--profile <PROFILE>' [possible values: default, seed]`);
    }
    args.profile = values.profile;
  }
  if (values['allowed-lateness'] !== undefined) {
    args.allowedLateness = unsigned('allowed-lateness', values['allowed-lateness'], (1n << 64n) - 1n);
  }
  if (values['chunk-kib'] !== undefined) args.chunkKib = unsigned('chunk-kib', values['chunk-kib']);
  if (values.workers !== undefined) args.workers = unsigned('workers', values.workers);
  args.showRejects = Number(values['show-rejects'] !== undefined ? unsigned('show-rejects', values['show-rejects']) : 20n);
  args.lingerMs = Number(values['linger-ms'] !== undefined ? unsigned('linger-ms', values['linger-ms']) : 200n);
  args.config = values.config;
  args.format = values.format ?? 'native';
  if (args.format !== 'native' && args.format !== 'ocsf') {
    throw new UsageError(`invalid value '${args.format}' for '--format <FORMAT>' [possible values: native, ocsf]`);
  }
  return args;
}

function version() {
  return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
}

/**
 * An I/O error's message; a system error (`ENOENT: no such file or
 * directory, open 'x'`) as the Rust host words it (`No such file or
 * directory (os error 2)`), the file being named already.
 */
function ioMessage(sys) {
  const m = typeof sys?.code === 'string' && typeof sys?.errno === 'number' && /^[A-Z0-9_]+: (.+?)(, \w+ '.*')?$/.exec(sys.message);
  if (!m) return sys.message;
  return `${m[1][0].toUpperCase()}${m[1].slice(1)} (os error ${Math.abs(sys.errno)})`;
}

/** Writes text, waiting when the stream asks to. */
async function write(stream, text) {
  if (text.length > 0 && !stream.write(text)) await once(stream, 'drain');
}

/** The summary as the lines `recon detect` prints on stderr. */
export function summaryLines(summary, stats) {
  const lines = [`recon: read ${summary.records} records; ${summary.alerts} alerts`];
  for (const r of stats.rules) {
    const reasons = Object.entries(r.rejectedByReason).map(([reason, n]) => `${reason} ${n}`);
    const why = reasons.length > 0 ? ` (${reasons.join(', ')})` : '';
    const ahead = r.ahead > 0 ? `, far ahead ${r.ahead}` : '';
    lines.push(
      `recon: ${r.rule}: events ${r.pushed}, accepted ${r.accepted}, filtered ${r.filtered}, ` +
        `rejected ${r.rejected}${why}, late ${r.late}${ahead}, alerts ${r.alerts}`,
    );
  }
  return lines;
}

/**
 * Runs the command line `argv` (without `node` and the script) and
 * resolves to the exit status.
 *
 * @param {string[]} argv
 * @param {{ stdin?: NodeJS.ReadableStream, stdout?: NodeJS.WritableStream, stderr?: NodeJS.WritableStream }} [io]
 */
export async function main(argv, io = {}) {
  const stdin = io.stdin ?? process.stdin;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const err = (line) => write(stderr, `${line}\n`);

  let args;
  try {
    args = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    await err(`error: ${e.message}\n\n${USAGE.split('\n\n')[0]}\n\nFor more information, try '--help'.`);
    return EXIT_USAGE;
  }
  if (args.help) {
    await write(stdout, USAGE);
    return EXIT_OK;
  }
  if (args.version) {
    await write(stdout, `recon-detector ${version()}\n`);
    return EXIT_OK;
  }

  let detector;
  let settings;
  let options;
  let chunk;
  try {
    settings = args.config ? await loadSettings(args.config) : parseSettings('');
    if (args.rules) settings.rules = args.rules;
    if (args.profile) settings.profile = args.profile;
    if (args.allowedLateness !== undefined) settings.allowed_lateness_seconds = args.allowedLateness;
    if (args.chunkKib !== undefined) settings.chunk_kib = args.chunkKib;
    if (args.workers !== undefined) settings.workers = args.workers;
    checkWorkers(settings);
    chunk = chunkBytes(settings);
    options = detectorOptions(settings);
    for (const note of unappliedNotes(settings)) await err(`recon: note: ${note}`);
    detector = await Detector.create(options);
  } catch (e) {
    if (e instanceof SettingsError || e instanceof ConfigError) {
      await err(`recon: error: ${e.message}`);
      return EXIT_USAGE;
    }
    throw e;
  }

  const summary = { records: 0, alerts: 0, unreadable: [] };
  let shown = 0;
  const report = async (line) => {
    if (shown < args.showRejects) await err(line);
    shown += 1;
  };
  const drain = async () => {
    const alerts = detector.drain();
    if (alerts.length === 0) return;
    summary.alerts += alerts.length;
    await write(stdout, alerts.map((a) => `${formatAlert(a, { format: args.format })}\n`).join(''));
  };

  try {
    for (const path of args.inputs) {
      const name = path === '-' ? '<stdin>' : path;
      const source = path === '-' ? stdin : createReadStream(path, { highWaterMark: 1 << 20 });
      const input = detector.openInput({ chunkBytes: chunk });
      // What one step of the component's reader read; false once the
      // input is unreadable (its later bytes are not read).
      const take = async (result) => {
        summary.records += result.records;
        for (const r of result.reports) {
          // The unreadable input (no location, no reason) is told below, always.
          if (r.line === null && r.record === null && r.reason === null) continue;
          await report(`recon: ${name}: ${r.message}`);
        }
        await drain();
        if (result.unreadable === null) return true;
        const message = `${name}: ${result.unreadable}`;
        await err(`recon: ${message}`);
        summary.unreadable.push(message);
        return false;
      };
      try {
        let readable = true;
        for await (const piece of pieces(source, args.lingerMs)) {
          readable = await take(piece.kind === 'paused' ? input.pause() : input.feed(piece.data));
          if (!readable) break;
        }
        if (readable) await take(input.end());
      } catch (e) {
        if (typeof e?.code !== 'string') throw e;
        const message = `${name}: ${ioMessage(e)}`;
        await err(`recon: ${message}`);
        summary.unreadable.push(message);
      } finally {
        input.close();
        if (path !== '-') source.destroy();
      }
    }
    detector.flush();
    await drain();
    if (shown > args.showRejects) {
      await err(`recon: ${shown - args.showRejects} more rejected records not shown (--show-rejects)`);
    }
    const stats = detector.stats();
    for (const line of summaryLines(summary, stats)) await err(line);
  } catch (e) {
    await err(`recon: error: ${e.message}`);
    return EXIT_FAILED;
  } finally {
    detector.close();
  }
  if (summary.unreadable.length > 0) {
    await err(`recon: ${summary.unreadable.length} input(s) could not be read completely`);
    return EXIT_FAILED;
  }
  return EXIT_OK;
}
