// `recon.js detect FILE...`: the Rust `recon detect` on the Node host. Same
// inputs, options and defaults, the same alert lines on stdout, the same
// report of rejected records and summary on stderr.

import { createReadStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';

import { formatAlert } from './alert.js';
import { Detector } from './detector.js';
import { builtInRules } from './component.js';
import { ConfigError } from './errors.js';
import { ioMessage } from './rules.js';
import { pieces } from './source.js';
import { SettingsError, checkWorkers, chunkBytes, detectorOptions, loadSettings, parseSettings, unappliedNotes } from './settings.js';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** The usage text, with the component's built-ins (`builtIns`: their short names) named. */
const usage = (builtIns) => `Usage: recon.js detect [OPTIONS] [FILE|-]...

Run the detection rules over CloudTrail and print alerts as NDJSON (the
Node.js host of recon; same options, defaults and output as \`recon detect\`).

Inputs may be {"Records":[...]} files, JSON arrays, single objects or one
record per line, any of them gzip-compressed, or the real-time feeds'
envelopes (CloudWatch Logs subscription messages, Firehose objects of them,
Lambda awslogs events, EventBridge CloudTrail events); \`-\` (or no input)
reads stdin.
Alerts go to stdout, one JSON object per line; rejected records and a
summary go to stderr.

Options:
  --rules <NAME|FILE|DIR>       Rules to run (repeatable, or comma-separated): a built-in by name
                                (${builtIns.map((b) => `\`${b}\``).join(', ')}), \`catalogue\` (the repository's rules/,
                                from a checkout), or a Sigma rule file or a directory of them
                                (docs/sigma.md). Exactly the rules named run [default: the built-ins]
  --profile <PROFILE>           default (the queries' intent) or seed (their letter) [default: default]
  --allowed-lateness <SECONDS>  How late (seconds behind the newest event) an event may arrive
                                and still count [default: 900]
  --early                       Also report a group the moment it reaches the threshold, before
                                its window closes ("kind": "early"); the final row follows
                                [default: off]
  --no-early                    No early alerts
  --config <FILE>               A TOML configuration file (keys: host/src/settings.rs in the
                                repository); options given here win
  --chunk-kib <KIB>             KiB of input per call into the component [default: 1024]
  --show-rejects <N>            Most rejected records reported one by one; given, far-ahead notices
                                are listed one by one too (within the same number), rather than
                                summarised per input [default: 20]
  --linger-ms <MS>              Longest complete lines wait for more input before they are
                                pushed [default: 200]
  --workers <N>                 Accepted for compatibility; this host scans on one thread
  --format <FORMAT>             native (the rule's own row and metadata) or ocsf (an OCSF 1.8
                                Detection Finding, the native line under \`unmapped\`) [default: native]
  -h, --help                    Print help
  -V, --version                 Print version

Exit status: 0 when every input was read, 1 when one could not be (the others
are still processed), held no readable record, or the run failed, 2 on a
usage or configuration error.
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
      tokens: true,
      options: {
        rules: { type: 'string', multiple: true },
        profile: { type: 'string' },
        'allowed-lateness': { type: 'string' },
        early: { type: 'boolean' },
        'no-early': { type: 'boolean' },
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
  const { values, positionals, tokens } = parsed;
  if (values.help) return { help: true };
  if (values.version) return { version: true };
  const [command, ...inputs] = positionals;
  if (command === undefined) throw new UsageError('a command is required: detect');
  if (command !== 'detect') throw new UsageError(`unrecognized subcommand '${command}' (this host has: detect)`);
  const args = { inputs: inputs.length > 0 ? inputs : ['-'] };
  // Names and paths: what each stands for is resolved with the rest of
  // the configuration (an entry that is neither is a configuration error,
  // as in recon detect).
  if (values.rules) args.rules = values.rules.flatMap((v) => v.split(','));
  if (values.profile !== undefined) {
    if (values.profile !== 'default' && values.profile !== 'seed') {
      throw new UsageError(`invalid value '${values.profile}' for '--profile <PROFILE>' [possible values: default, seed]`);
    }
    args.profile = values.profile;
  }
  if (values['allowed-lateness'] !== undefined) {
    args.allowedLateness = unsigned('allowed-lateness', values['allowed-lateness'], (1n << 64n) - 1n);
  }
  // --early and --no-early: the last one given wins, as in recon detect.
  for (const t of tokens) {
    if (t.kind === 'option' && (t.name === 'early' || t.name === 'no-early')) args.early = t.name === 'early';
  }
  if (values['chunk-kib'] !== undefined) args.chunkKib = unsigned('chunk-kib', values['chunk-kib']);
  if (values.workers !== undefined) args.workers = unsigned('workers', values.workers);
  args.showRejects = Number(values['show-rejects'] !== undefined ? unsigned('show-rejects', values['show-rejects']) : 20n);
  // Given, far-ahead notices are listed one by one too; else summarised per input.
  args.listNotices = values['show-rejects'] !== undefined;
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

/** Writes text, waiting when the stream asks to. */
async function write(stream, text) {
  if (text.length > 0 && !stream.write(text)) await once(stream, 'drain');
}

/** Milliseconds as seconds for people: `579 s`, `1.5 s`, `0.001 s`. */
function seconds(ms) {
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  const text = `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, '0')}`;
  return `${text.replace(/0+$/, '')} s`;
}

/**
 * The advice on late records, as `recon detect` words it: how many, how
 * late, and the allowed lateness (whole seconds) that would have kept them
 * all; null when nothing was late for want of lateness.
 */
function lateAdvice(stats, allowedLatenessMs) {
  const late = Math.max(0, ...stats.rules.map((r) => r.late));
  const worst = Math.max(0, ...stats.rules.map((r) => r.lateWorstMs));
  const needed = Math.max(0, ...stats.rules.map((r) => r.latenessNeededMs));
  if (late === 0 || needed === 0) return null;
  const suggest = Math.ceil(needed / 1000);
  return (
    `recon: ${late} records arrived too late to count (after their window was final; the worst ` +
    `${seconds(worst)} behind the newest record); an allowed lateness of ${suggest} s would have kept ` +
    `them all (now ${seconds(allowedLatenessMs ?? 0)}): --allowed-lateness ${suggest}, or ` +
    `allowed_lateness_seconds = ${suggest} in the configuration file`
  );
}

/** Far-ahead notices shown in an input's summary line. */
const FAR_AHEAD_SHOWN = 3;

/** A report's location as `recon detect` words it: `line 3`, `line 1, record 2`, `line 3, log event 2`. */
function location({ line, record, logEvent }) {
  if (logEvent !== null) {
    if (line !== null) return `line ${line}, log event ${logEvent}`;
    if (record !== null) return `message ${record}, log event ${logEvent}`;
    return `log event ${logEvent}`;
  }
  if (line !== null && record !== null) return `line ${line}, record ${record}`;
  if (line !== null) return `line ${line}`;
  if (record !== null) return `record ${record}`;
  return 'record ?';
}

/** An input's records far ahead of the stream, in one line, as `recon detect` words it. */
function farAheadSummary(count, first) {
  const at = count > first.length ? [...first, '…'] : first;
  const [records, times] = count === 1 ? ['record', 'a time'] : ['records', 'times'];
  return (
    `${count} ${records} with ${times} far ahead of the stream (more than limits.max_time_jump_seconds) ` +
    `at ${at.join(', ')}: counted, but the watermark waits for other records to agree ` +
    '(--show-rejects N lists them)'
  );
}

/** The summary as the lines `recon detect` prints on stderr. */
export function summaryLines(summary, stats) {
  const early = summary.early > 0 ? ` (${summary.early} early, ${summary.alerts - summary.early} final)` : '';
  const lines = [`recon: read ${summary.records} records; ${summary.alerts} alerts${early}`];
  // What inputs looked like, when most of their records were not CloudTrail.
  for (const { name, verdict } of summary.verdicts ?? []) lines.push(`recon: ${name}: ${verdict.message}`);
  const control = summary.controlMessages ?? 0;
  if (control > 0) {
    lines.push(
      `recon: ${control} CloudWatch Logs control message${control === 1 ? '' : 's'} skipped ` +
        "(a subscription's health checks, not CloudTrail records)",
    );
  }
  if (summary.skippedTooLarge > 0) {
    lines.push(
      `recon: ${summary.skippedTooLarge} lines longer than limits.max_event_bytes skipped by the reader ` +
        '(not counted by the rules below)',
    );
  }
  const envelopes = summary.skippedEnvelopes ?? 0;
  if (envelopes > 0) {
    lines.push(`recon: ${envelopes} envelope values held no record, skipped by the reader (not counted by the rules below)`);
  }
  for (const r of stats.rules) {
    const reasons = Object.entries(r.rejectedByReason).map(([reason, n]) => `${reason} ${n}`);
    const why = reasons.length > 0 ? ` (${reasons.join(', ')})` : '';
    const ahead = r.ahead > 0 ? `, far ahead ${r.ahead}` : '';
    const late = r.lateWorstMs > 0 ? ` (the worst ${seconds(r.lateWorstMs)} behind)` : '';
    const held = r.suppressed > 0 ? ` (${r.suppressed} more held back by suppression)` : '';
    lines.push(
      `recon: ${r.rule}: events ${r.pushed}, accepted ${r.accepted}, filtered ${r.filtered}, ` +
        `rejected ${r.rejected}${why}, late ${r.late}${late}${ahead}, alerts ${r.alerts}${held}`,
    );
  }
  const advice = lateAdvice(stats, summary.allowedLatenessMs);
  if (advice !== null) lines.push(advice);
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
    await err(`error: ${e.message}\n\n${usage([]).split('\n\n')[0]}\n\nFor more information, try '--help'.`);
    return EXIT_USAGE;
  }
  if (args.help) {
    let names;
    try {
      names = (await builtInRules()).map((b) => b.short);
    } catch {
      names = ['the component\'s built-ins'];
    }
    await write(stdout, usage(names));
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
    settings = args.config ? await loadSettings(args.config) : parseSettings('', await builtInRules());
    if (args.rules) settings.rules = args.rules;
    if (args.profile) settings.profile = args.profile;
    if (args.allowedLateness !== undefined) settings.allowed_lateness_seconds = args.allowedLateness;
    if (args.early !== undefined) settings.early_alerts = args.early;
    if (args.chunkKib !== undefined) settings.chunk_kib = args.chunkKib;
    if (args.workers !== undefined) settings.workers = args.workers;
    // The rule files first, as recon detect reads them.
    options = await detectorOptions(settings);
    checkWorkers(settings);
    chunk = chunkBytes(settings);
    for (const note of unappliedNotes(settings)) await err(`recon: note: ${note}`);
    detector = await Detector.create(options);
  } catch (e) {
    if (e instanceof SettingsError || e instanceof ConfigError) {
      // The component's refusals as recon detect words them (a rule file:
      // `FILE:LINE: rule "R": field "F": MESSAGE`).
      const prefix = e instanceof ConfigError && e.fromComponent ? 'invalid detector configuration: ' : '';
      await err(`recon: error: ${prefix}${e.message}`);
      return EXIT_USAGE;
    }
    throw e;
  }

  const summary = {
    records: 0,
    skippedTooLarge: 0,
    skippedEnvelopes: 0,
    controlMessages: 0,
    alerts: 0,
    early: 0,
    unreadable: [],
    verdicts: [],
  };
  // Reports past --show-rejects are counted: rejections (too-large
  // records among them) and far-ahead notices apart, as recon detect does.
  let shown = 0;
  let hiddenRejects = 0;
  let hiddenNotices = 0;
  const report = async (line, notice) => {
    if (shown < args.showRejects) {
      await err(line);
      shown += 1;
    } else if (notice) {
      hiddenNotices += 1;
    } else {
      hiddenRejects += 1;
    }
  };
  // Without --show-rejects, each input's far-ahead notices are summarised
  // in one line at the end: { name, count, first locations }, in input order.
  const ahead = [];
  const drain = async () => {
    const alerts = detector.drain();
    if (alerts.length === 0) return;
    summary.alerts += alerts.length;
    summary.early += alerts.filter((a) => a.kind === 'early').length;
    await write(stdout, alerts.map((a) => `${formatAlert(a, { format: args.format })}\n`).join(''));
  };

  try {
    for (const path of args.inputs) {
      const name = path === '-' ? '<stdin>' : path;
      const source = path === '-' ? stdin : createReadStream(path, { highWaterMark: 1 << 20 });
      const input = detector.openInput({ chunkBytes: chunk });
      const farAhead = { name, count: 0, first: [] };
      ahead.push(farAhead);
      // What one step of the component's reader read; false once the
      // input is unreadable (its later bytes are not read).
      const take = async (result) => {
        // Records skipped for their size, and envelope values that hold
        // no record, count as read, as in `recon detect`.
        summary.records += result.records + result.skipped;
        const tooLarge = result.reports.filter((r) => r.reason === 'too-large').length;
        summary.skippedTooLarge += tooLarge;
        summary.skippedEnvelopes += result.skipped - tooLarge;
        summary.controlMessages += result.controlMessages;
        if (result.verdict !== null) summary.verdicts.push({ name, verdict: result.verdict });
        for (const r of result.reports) {
          // The unreadable input (no location, no reason) is told below, always.
          if (r.line === null && r.record === null && r.logEvent === null && r.reason === null) continue;
          // A time far ahead has no reason: a notice, the record was counted.
          if (r.reason === null && !args.listNotices) {
            farAhead.count += 1;
            if (farAhead.first.length < FAR_AHEAD_SHOWN) farAhead.first.push(location(r));
            continue;
          }
          await report(`recon: ${name}: ${r.message}`, r.reason === null);
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
        // Ended even when unreadable (its later bytes are ignored): the
        // end gives the input's verdict on what was read, as in recon detect.
        await take(input.end());
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
    for (const { name, count, first } of ahead) {
      if (count > 0) await err(`recon: ${name}: ${farAheadSummary(count, first)}`);
    }
    if (hiddenRejects > 0) {
      await err(`recon: ${hiddenRejects} more rejected records not shown (--show-rejects)`);
    }
    if (hiddenNotices > 0) {
      await err(
        `recon: ${hiddenNotices} more far-ahead notices not shown (--show-rejects); those records were counted, not rejected`,
      );
    }
    const stats = detector.stats();
    summary.allowedLatenessMs = detector.allowedLatenessMs;
    for (const line of summaryLines(summary, stats)) await err(line);
  } catch (e) {
    await err(`recon: error: ${e.message}`);
    return EXIT_FAILED;
  } finally {
    detector.close();
  }
  if (summary.unreadable.length > 0) {
    await err(`recon: ${summary.unreadable.length} input(s) could not be read completely`);
  }
  const noneReadable = summary.verdicts.filter((v) => v.verdict.noneReadable).length;
  if (noneReadable > 0) await err(`recon: ${noneReadable} input(s) held no readable record`);
  return summary.unreadable.length > 0 || noneReadable > 0 ? EXIT_FAILED : EXIT_OK;
}
