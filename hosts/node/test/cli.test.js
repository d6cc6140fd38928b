// bin/recon.js as a user runs it: reports, exit statuses, streaming.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { spawnSync } from 'node:child_process';

import { detect } from '../lib/index.js';

import {
  AI_RECON_TOML,
  BURST_SAMPLE,
  DATA_DIR,
  PACKAGE_DIR,
  REPO_DIR,
  lines,
  nodeRecon,
  rustRecon,
  spawnNodeRecon,
  tempDir,
} from './helpers.js';

test('the README\'s first command prints one alert; stdin and gzip give the same', () => {
  const fromFile = nodeRecon(['detect', '--config', AI_RECON_TOML, BURST_SAMPLE]);
  assert.equal(fromFile.status, 0, fromFile.stderr);
  const [alert] = lines(fromFile.stdout).map((l) => JSON.parse(l));
  assert.equal(alert.row.AccountName, 'AdanAlvarez');
  assert.equal(alert.row.CommadCount, 11);
  assert.match(fromFile.stderr, /recon: read 29 records; 1 alerts/);
  const raw = readFileSync(BURST_SAMPLE);
  const fromStdin = nodeRecon(['detect', '--config', AI_RECON_TOML, '-'], { input: raw });
  const fromGzStdin = nodeRecon(['detect', '--config', AI_RECON_TOML], { input: gzipSync(raw) });
  assert.ok(fromStdin.stdout.equals(fromFile.stdout));
  assert.ok(fromGzStdin.stdout.equals(fromFile.stdout));
});

test('malformed records are reported with their location and skipped', () => {
  const input = Buffer.concat([
    readFileSync(BURST_SAMPLE),
    Buffer.from('{"eventTime": "not a time", "eventName": "X"}\nthis is not json\n'),
  ]);
  const out = nodeRecon(['detect', '--config', AI_RECON_TOML, '-'], { input });
  assert.equal(out.status, 0);
  assert.equal(lines(out.stdout).length, 1);
  assert.match(out.stderr, /<stdin>: line 30: rejected \(invalid-time\)/);
  assert.match(out.stderr, /<stdin>: line 31: rejected \(invalid-json\)/);
  assert.match(out.stderr, /rejected 2 \(invalid-json 1, invalid-time 1\)/);
});

test('--show-rejects bounds the report and says how many were left out', () => {
  const input = 'x\n'.repeat(30);
  const out = nodeRecon(['detect', '--show-rejects', '3', '-'], { input });
  // No record of the input is readable: told, and the exit status says so.
  assert.equal(out.status, 1);
  assert.equal((out.stderr.match(/rejected \(invalid-json\)/g) ?? []).length, 3);
  assert.match(out.stderr, /recon: 27 more rejected records not shown \(--show-rejects\)/);
  assert.match(out.stderr, /recon: <stdin>: none of its 30 records could be read; /);
  assert.match(out.stderr, /\nrecon: 1 input\(s\) held no readable record\n$/);
});

/** One CloudWatch Logs subscription message (as a Firehose object holds them) of `messages`. */
function cloudWatchMessage(messages) {
  return JSON.stringify({
    messageType: 'DATA_MESSAGE',
    owner: '1',
    logGroup: 'g',
    logStream: 's',
    subscriptionFilters: ['f'],
    logEvents: messages.map((message, i) => ({ id: String(i + 1), timestamp: 1, message })),
  });
}

const CONTROL_MESSAGE = JSON.stringify({
  messageType: 'CONTROL_MESSAGE',
  owner: 'CloudwatchLogs',
  logGroup: '',
  logStream: '',
  subscriptionFilters: [],
  logEvents: [{ id: '', timestamp: 1, message: 'CWL CONTROL MESSAGE: Checking health of destination Firehose.' }],
});

/** The Node CLI and `recon detect` on the same arguments and input: the same exit status, stdout and stderr. */
function sameAsRust(args, options) {
  const node = nodeRecon(['detect', ...args], options);
  // --live off: a pipe on stdin turns on recon detect's live mode, which this host has not.
  const rust = rustRecon(['detect', '--live', 'off', ...args], options);
  assert.equal(node.stderr, rust.stderr);
  assert.ok(node.stdout.equals(rust.stdout));
  assert.equal(node.status, rust.status);
  return node;
}

test('CloudWatch Logs messages give the alerts of their records; control messages are counted', async () => {
  const records = lines(readFileSync(BURST_SAMPLE));
  const cloudWatch = [CONTROL_MESSAGE, ...records.map((r) => cloudWatchMessage([r]))].join('\n') + '\n';
  const plain = nodeRecon(['detect', '--config', AI_RECON_TOML, BURST_SAMPLE]);
  const out = sameAsRust(['--config', AI_RECON_TOML, '-'], { input: cloudWatch });
  assert.equal(out.status, 0, out.stderr);
  assert.equal(lines(out.stdout).length, 1);
  assert.ok(out.stdout.equals(plain.stdout));
  assert.match(out.stderr, /recon: read 29 records; 1 alerts\n/);
  assert.match(
    out.stderr,
    /\nrecon: 1 CloudWatch Logs control message skipped \(a subscription's health checks, not CloudTrail records\)\n/,
  );
  // Places name the line and the log event.
  assert.match(out.stderr, /recon: <stdin>: 13 records with times far ahead .* at line 18, log event 1, line 19, log event 1, /);
  assert.doesNotMatch(out.stderr, /envelope values|lines longer than/);
  const listed = sameAsRust(['--config', AI_RECON_TOML, '--show-rejects', '2', '-'], { input: cloudWatch });
  assert.match(listed.stderr, /recon: <stdin>: line 18, log event 1: time far ahead/);
  assert.match(listed.stderr, /recon: 11 more far-ahead notices not shown/);

  // The API: control messages in the read results, locations with their log event.
  const results = [];
  const alerts = [];
  for await (const alert of detect(cloudWatch, { onRead: (r) => results.push(r) })) alerts.push(alert);
  assert.equal(alerts.length, 0); // the built-ins' defaults: the burst alerts with ai-recon.toml only
  assert.equal(results.reduce((n, r) => n + r.controlMessages, 0), 1);
  assert.ok(results.every((r) => r.verdict === null));
  const located = results.flatMap((r) => r.reports).filter((r) => r.logEvent !== null);
  assert.equal(located.length, 13);
  assert.ok(located.every((r) => r.logEvent === 1 && r.line !== null && r.record === null));
});

test('a log event whose message is not text is reported at its log event and skipped', () => {
  const records = lines(readFileSync(BURST_SAMPLE));
  const input = [cloudWatchMessage(records.slice(0, 2)), cloudWatchMessage([records[2], 42])].join('\n') + '\n';
  const out = sameAsRust(['-'], { input });
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stderr, /recon: <stdin>: line 2, log event 2: rejected \(unknown-shape\): .*number/);
  // Skipped values count as records read, as too-large lines do, and are
  // told apart from them.
  assert.match(out.stderr, /recon: read 4 records; 0 alerts\n/);
  assert.match(
    out.stderr,
    /\nrecon: 1 envelope values held no record, skipped by the reader \(not counted by the rules below\)\n/,
  );
  assert.doesNotMatch(out.stderr, /lines longer than|control message/);
});

test('S3 event notifications: told what the input is, and the exit status is 1', () => {
  const tmp = tempDir();
  try {
    // What an S3 bucket's event notification says about a CloudTrail log
    // file: its name, no records.
    const notification = JSON.stringify({
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          awsRegion: 'us-east-1',
          eventTime: '2026-01-01T00:00:00.000Z',
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: 'b' }, object: { key: 'AWSLogs/1/CloudTrail/x.json.gz' } },
        },
      ],
    });
    const path = join(tmp.dir, 'notifications.ndjson');
    writeFileSync(path, `${notification}\n`.repeat(3));
    const out = sameAsRust([path, BURST_SAMPLE]);
    assert.equal(out.status, 1, out.stderr);
    assert.equal(lines(out.stdout).length, 0);
    const verdict = `recon: ${path}: none of its 3 records could be read; this looks like S3 event notifications: `;
    const summary = lines(out.stderr);
    const at = summary.findIndex((l) => l.startsWith(verdict));
    assert.ok(at > 0, out.stderr);
    // With the summary, after the records read, before the skipped values and the rules' lines.
    assert.match(summary[at - 1], /^recon: read 32 records; /);
    assert.match(summary[at + 1], /^recon: 3 envelope values held no record/);
    assert.match(summary[at + 2], /^recon: sentinel-aws-cli-recon: /);
    assert.equal(summary.at(-1), 'recon: 1 input(s) held no readable record');
  } finally {
    tmp.remove();
  }
});

test('an unreadable input fails naming the file and the reason; the others are still read', () => {
  const missing = join(DATA_DIR, 'no-such-file.json');
  const out = nodeRecon(['detect', missing, BURST_SAMPLE]);
  assert.equal(out.status, 1);
  assert.match(out.stderr, /no-such-file\.json: No such file or directory/);
  assert.match(out.stderr, /read 29 records/);
  assert.match(out.stderr, /1 input\(s\) could not be read completely/);

  const truncated = nodeRecon(['detect', '-'], { input: '[{"eventName":"A"},\n{"ev' });
  assert.equal(truncated.status, 1);
  assert.match(truncated.stderr, /<stdin>: not a readable CloudTrail document/);
  const corrupt = nodeRecon(['detect', '-'], { input: Buffer.from([0x1f, 0x8b, 1, 2, 3]) });
  assert.equal(corrupt.status, 1);
  assert.match(corrupt.stderr, /<stdin>: /);
});

test('usage errors exit with 2', () => {
  for (const args of [
    [],
    ['scan'],
    ['detect', '--no-such-flag'],
    ['detect', '--rules', 'sentinel,splunk'],
    ['detect', '--profile', 'strict'],
    ['detect', '--allowed-lateness', '-5'],
    ['detect', '--allowed-lateness'],
  ]) {
    const out = nodeRecon(args, { input: '' });
    assert.equal(out.status, 2, `${args.join(' ')}: ${out.stderr}`);
    assert.match(out.stderr, /error: /);
    assert.equal(out.stdout.length, 0);
  }
  const help = nodeRecon(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout.toString(), /--allowed-lateness <SECONDS>/);
});

test('configuration errors name the problem and exit with 2', () => {
  const tmp = tempDir();
  try {
    const bad = join(tmp.dir, 'bad.toml');
    const cases = [
      ['[sentinel]\nwindow_secs = 60\n', /window_secs/],
      ['[sentinel]\nmin_distinct = 0\n', /min-distinct/],
      ['profile = "loose"\n', /profile/],
      ['[limits]\nmax_open_groups = -1\n', /limits\.max_open_groups/],
      ['chunk_kib = 0\n', /chunk_kib/],
      ['rules = [\n', /TOML/],
    ];
    for (const [text, message] of cases) {
      writeFileSync(bad, text);
      const out = nodeRecon(['detect', '--config', bad, '-'], { input: '' });
      assert.equal(out.status, 2, `${text}: ${out.stderr}`);
      assert.match(out.stderr, message);
    }
    const missing = nodeRecon(['detect', '--config', join(tmp.dir, 'none.toml'), '-'], { input: '' });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /none\.toml/);
    writeFileSync(bad, '[tenants]\nkey = "recipientAccountId"\n');
    const tenants = nodeRecon(['detect', '--config', bad, '-'], { input: '' });
    assert.equal(tenants.status, 2);
    assert.match(tenants.stderr, /tenants\.key: routing records by tenant is not implemented/);
    // Settings this host reads but cannot apply are named on stderr.
    writeFileSync(bad, '[sandbox]\nmax_memory_mib = 64\nmax_call_ms = 100\n[live]\nidle_ms = 100\n');
    const unapplied = nodeRecon(['detect', '--config', bad, '-'], { input: '' });
    assert.equal(unapplied.status, 0);
    assert.match(unapplied.stderr, /recon: note: sandbox\.max_call_ms: not enforced/);
    assert.doesNotMatch(unapplied.stderr, /max_memory_mib/);
    assert.match(unapplied.stderr, /\[live\] settings have no effect/);
    writeFileSync(bad, '[sandbox]\nmax_memory_mib = 0\n');
    const zero = nodeRecon(['detect', '--config', bad, '-'], { input: '' });
    assert.equal(zero.status, 2);
    assert.match(zero.stderr, /sandbox\.max_memory_mib = 0 is out of range/);
  } finally {
    tmp.remove();
  }
});

test('--rules and --profile select detectors; flags win over the file', () => {
  const seed = nodeRecon(['detect', '--config', AI_RECON_TOML, '--profile', 'seed', BURST_SAMPLE]);
  assert.equal(seed.status, 0);
  assert.equal(lines(seed.stdout).length, 0);
  const sentinel = nodeRecon(['detect', '--rules', 'sentinel', BURST_SAMPLE]);
  assert.match(sentinel.stderr, /sentinel-aws-cli-recon/);
  assert.doesNotMatch(sentinel.stderr, /elastic-aws-discovery-burst/);
  const elastic = nodeRecon(['detect', '--config', AI_RECON_TOML, '--rules=elastic', BURST_SAMPLE]);
  assert.match(elastic.stderr, /elastic-aws-discovery-burst/);
  assert.doesNotMatch(elastic.stderr, /sentinel-aws-cli-recon/);
});

test('a line longer than the limit is skipped and the run goes on', () => {
  const records = lines(readFileSync(BURST_SAMPLE));
  records.splice(5, 0, `{"pad":"${'x'.repeat(1 << 20)}"}`);
  const args = ['--config', AI_RECON_TOML, '--chunk-kib', '64', '-'];
  const out = nodeRecon(['detect', ...args], { input: records.join('\n') });
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stderr, /<stdin>: line 6: rejected \(too-large\)/);
  // Counted as read, not by the rules: the summary recon detect prints
  // (--live off: a pipe on stdin turns on its live mode, which this host
  // leaves out).
  assert.match(out.stderr, new RegExp(`recon: read ${records.length} records;`));
  assert.match(out.stderr, /recon: 1 lines longer than limits.max_event_bytes skipped by the reader \(not counted by the rules below\)/);
  const rust = rustRecon(['detect', '--live', 'off', ...args], { input: records.join('\n') });
  assert.equal(out.stderr, rust.stderr);
  assert.equal(lines(out.stdout).length, 1);
});

test('alerts leave while the input stream stays open', { timeout: 60_000 }, async () => {
  const child = spawnNodeRecon(['detect', '--config', AI_RECON_TOML, '--linger-ms', '50']);
  const input = [readFileSync(BURST_SAMPLE)];
  // Later events move the watermark past the burst's minute + the default
  // lateness, 15 minutes (enough of them to confirm the jump: one record
  // alone cannot).
  for (let s = 0; s < 20; s++) {
    input.push(Buffer.from(`{"eventTime":"2026-02-08T16:50:${String(s).padStart(2, '0')}Z","eventName":"GetCallerIdentity"}\n`));
  }
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.stdin.write(Buffer.concat(input));
  // Far fewer records than a chunk, and stdin still open: the alert must
  // come out anyway.
  let line;
  try {
    line = await new Promise((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error('no alert while the input stayed open')), 30_000);
      child.stdout.on('data', (d) => {
        text += d;
        if (text.includes('\n')) {
          clearTimeout(timer);
          resolve(text.slice(0, text.indexOf('\n')));
        }
      });
      exited.then(() => reject(new Error('the CLI exited before the input ended')));
    });
  } catch (e) {
    child.kill();
    throw e;
  }
  child.stdin.end();
  assert.equal(await exited, 0);
  assert.equal(JSON.parse(line).row.CommadCount, 11);
});

test('the Rust CLI\'s complete default configuration file is read, to the same defaults', (t) => {
  const printed = rustRecon(['config', '--print-default']);
  if (printed.status !== 0) {
    t.skip('this recon binary has no `config --print-default`');
    return;
  }
  const tmp = tempDir();
  try {
    const file = join(tmp.dir, 'default.toml');
    writeFileSync(file, printed.stdout);
    const withFile = nodeRecon(['detect', '--config', file, BURST_SAMPLE]);
    const without = nodeRecon(['detect', BURST_SAMPLE]);
    assert.equal(withFile.status, 0, withFile.stderr);
    assert.ok(withFile.stdout.equals(without.stdout));
    // The same counts; only the notes on unapplied settings differ.
    assert.equal(
      withFile.stderr
        .split('\n')
        .filter((l) => !l.startsWith('recon: note:'))
        .join('\n'),
      without.stderr,
    );
  } finally {
    tmp.remove();
  }
});

test('the first-alert example of docs/hosts/node.md runs and prints the Rust CLI\'s line', () => {
  const example = join(PACKAGE_DIR, 'examples', 'first-alert.js');
  const docs = readFileSync(join(REPO_DIR, 'docs', 'hosts', 'node.md'), 'utf8');
  assert.ok(docs.includes(readFileSync(example, 'utf8')), 'the page shows the example as it is');
  const run = spawnSync(process.execPath, [example], { cwd: REPO_DIR, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const [title, line] = lines(run.stdout);
  assert.equal(title, 'Suspicious AWS CLI reconnaissance by AdanAlvarez - 11 commands');
  const rust = rustRecon(['detect', '--config', AI_RECON_TOML, BURST_SAMPLE]);
  assert.equal(`${line}\n`, rust.stdout.toString('utf8'));
});

test('early alerts from the flag and the file, as recon detect writes them', () => {
  const tmp = tempDir();
  try {
    const early = join(tmp.dir, 'early.toml');
    writeFileSync(early, `early_alerts = true\n${readFileSync(AI_RECON_TOML, 'utf8')}`);
    for (const args of [['--early', '--config', AI_RECON_TOML], ['--config', early], ['--config', early, '--no-early']]) {
      const rust = rustRecon(['detect', '--workers', '1', ...args, BURST_SAMPLE]);
      const node = nodeRecon(['detect', ...args, BURST_SAMPLE]);
      assert.equal(node.status, 0, node.stderr);
      assert.equal(node.stdout.toString(), rust.stdout.toString());
      assert.equal(node.stderr, rust.stderr);
      const kinds = lines(node.stdout).map((l) => JSON.parse(l).kind);
      if (args.includes('--no-early')) {
        assert.deepEqual(kinds, ['final']);
      } else {
        assert.deepEqual(kinds, ['early', 'final']);
        assert.match(node.stderr, /2 alerts \(1 early, 1 final\)/);
      }
    }
  } finally {
    tmp.remove();
  }
});
