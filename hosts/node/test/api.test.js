// The JavaScript API: Detector, detect(), formatAlert, errors.

import assert from 'node:assert/strict';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';

import {
  ConfigError,
  Detector,
  EventError,
  ReconError,
  SnapshotError,
  builtInRules,
  componentInfo,
  detect,
  formatAlert,
  listRules,
  resolveRules,
} from '../lib/index.js';
import { capMemory } from '../lib/memory-cap.js';
import { detectorOptions, loadSettings } from '../lib/settings.js';
import { AI_RECON_COMMANDS, AI_RECON_TOML, BURST_SAMPLE, REPO_DIR, generate, lines, rustRecon, tempDir } from './helpers.js';

/** The options examples/ai-recon.toml stands for, written out. */
const AI_RECON = { rules: [{ rule: 'sentinel', commands: AI_RECON_COMMANDS }], profile: 'default' };

/** NDJSON cut at line ends into pieces of about `size` bytes. */
function pieces(buf, size) {
  const out = [];
  let start = 0;
  while (start < buf.length) {
    let end = buf.indexOf(0x0a, Math.min(start + size, buf.length - 1));
    end = end === -1 ? buf.length : end + 1;
    out.push(buf.subarray(start, end));
    start = end;
  }
  return out;
}

/** Every alert line a detector gives for `chunks`, then the end of the stream. */
function run(detector, chunks) {
  const out = [];
  for (const c of chunks) {
    detector.pushNdjson(c);
    out.push(...detector.drain().map(formatAlert));
  }
  detector.flush();
  out.push(...detector.drain().map(formatAlert));
  return out;
}

function aRecord(user, second) {
  return {
    eventTime: `2026-01-01T00:00:${String(second).padStart(2, '0')}Z`,
    eventSource: 'iam.amazonaws.com',
    eventName: 'ListUsers',
    userAgent: 'aws-cli/2.15.0 Python/3.11 Linux/6 exe/x86_64 prompt/off command/iam.list-users',
    userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::111111111111:user/${user}`, userName: user },
    sourceIPAddress: '192.0.2.1',
    recipientAccountId: '111111111111',
  };
}

describe('the TrailDiscover burst with the ai-recon command list', () => {
  test('gives the one alert: AdanAlvarez, CommadCount 11', async () => {
    const d = await Detector.create(AI_RECON);
    const result = d.pushNdjson(readFileSync(BURST_SAMPLE));
    assert.equal(result.records, 29);
    assert.equal(result.rejected, 0);
    assert.equal(d.flush(), 1);
    const alerts = d.drain();
    assert.equal(alerts.length, 1);
    const [a] = alerts;
    assert.equal(a.rule, 'sentinel-aws-cli-recon');
    assert.equal(a.row.AccountName, 'AdanAlvarez');
    assert.equal(a.row.CommadCount, 11);
    assert.equal(a.window_start, '2026-02-08T16:31:00Z');
    assert.equal(a.window_end, '2026-02-08T16:32:00Z');
    assert.deepEqual(a.entities[0], {
      type: 'Account',
      Name: 'AdanAlvarez',
      UPNSuffix: '',
      CloudAppAccountId: '111111111111',
    });
    // The line is the Rust CLI's, byte for byte; JSON.stringify agrees.
    const rust = rustRecon(['detect', '--config', AI_RECON_TOML, BURST_SAMPLE]);
    assert.equal(`${formatAlert(a)}\n`, rust.stdout.toString('utf8'));
    assert.equal(JSON.stringify(a), formatAlert(a));
    d.close();
  });

  test('examples/ai-recon.toml maps onto the same options', async () => {
    const options = await detectorOptions(await loadSettings(AI_RECON_TOML));
    assert.deepEqual(options.rules, [{ rule: 'sentinel', commands: AI_RECON_COMMANDS }]);
    assert.equal(options.profile, 'default');
  });

  test('without the list (the seed\'s commands) the burst goes unseen', async () => {
    const d = await Detector.create({ rules: ['sentinel'] });
    d.pushNdjson(readFileSync(BURST_SAMPLE));
    d.flush();
    assert.equal(d.drain().length, 0);
    assert.equal(d.stats().rules[0].pushed, 29);
  });

  test('flush(time) closes the windows before it; later records then count as late', async () => {
    const d = await Detector.create(AI_RECON);
    d.pushNdjson(readFileSync(BURST_SAMPLE));
    assert.equal(d.drain().length, 0, 'the watermark waits for confirmations');
    assert.equal(d.flush(Date.parse('2026-02-08T16:50:00Z')), 1);
    assert.equal(d.drain()[0].row.CommadCount, 11);
    assert.equal(d.stats().rules[0].watermark, Date.parse('2026-02-08T16:50:00Z'));
    const burstLine = lines(readFileSync(BURST_SAMPLE)).find((l) => l.includes('md/command#bedrock-agent.list-agents'));
    const late = d.push({ ...JSON.parse(burstLine), eventTime: '2026-02-08T16:31:30Z' });
    assert.deepEqual(late, [{ rule: 'sentinel-aws-cli-recon', outcome: 'late' }]);
  });
});

describe('a generated trail', () => {
  let trail;
  let rustLines;
  let tmp;
  before(() => {
    // A slow rate spreads the bursts over an hour of event time, so alerts
    // become final all along the stream, not only at its end.
    trail = generate(['--seed', '7', '--count', '20000', '--bursts', '20', '--rate', '5']);
    tmp = tempDir();
    const file = join(tmp.dir, 'trail.ndjson');
    writeFileSync(file, trail);
    rustLines = lines(rustRecon(['detect', file]).stdout);
    assert.ok(rustLines.length >= 5);
  });
  after(() => tmp?.remove());

  test('pushNdjson in pieces gives the Rust CLI\'s lines', async () => {
    const d = await Detector.create();
    assert.deepEqual(run(d, pieces(trail, 300 * 1024)), rustLines);
    const s = d.stats();
    assert.equal(s.pushed, 20000);
    assert.equal(s.rules.reduce((n, r) => n + r.alerts, 0), rustLines.length);
  });

  test('snapshot and restore mid-stream give the same alerts and counters', async () => {
    const chunks = pieces(trail, 256 * 1024);
    const half = Math.floor(chunks.length / 2);
    const whole = await Detector.create();
    const expected = run(whole, chunks);

    const first = await Detector.create();
    const before = [];
    for (const c of chunks.slice(0, half)) {
      first.pushNdjson(c);
      before.push(...first.drain().map(formatAlert));
    }
    // One more piece without draining: its alerts travel in the snapshot.
    first.pushNdjson(chunks[half]);
    const pending = first.stats().pendingAlerts;
    const bytes = first.snapshot();
    assert.ok(bytes instanceof Uint8Array && bytes.length > 0);
    first.close();

    const resumed = await Detector.restore(bytes);
    assert.equal(resumed.stats().pendingAlerts, pending);
    const after = run(resumed, chunks.slice(half + 1));
    assert.ok(before.length > 0 && after.length > 0, 'alerts on both sides of the snapshot');
    assert.deepEqual([...before, ...after], expected);
    assert.deepEqual(resumed.stats(), whole.stats());
  });

  test('detect() over a stream, a Buffer and readline lines yields the same alerts', async () => {
    const fromBuffer = [];
    const gen = detect(trail);
    let r;
    while (!(r = await gen.next()).done) fromBuffer.push(formatAlert(r.value));
    assert.deepEqual(fromBuffer, rustLines);
    assert.equal(r.value.pushed, 20000, 'the return value is the final stats');

    const fromLines = [];
    const batches = [];
    for await (const a of detect(createInterface({ input: Readable.from([trail]) }), {
      chunkBytes: 64 * 1024,
      onBatch: (result) => batches.push(result.records),
    })) {
      fromLines.push(formatAlert(a));
    }
    assert.deepEqual(fromLines, rustLines);
    assert.equal(batches.reduce((a, b) => a + b, 0), 20000);
    assert.ok(batches.length > 10);
  });
});

describe('rejections', () => {
  test('a malformed record is counted as rejected and pushNdjson does not throw', async () => {
    const d = await Detector.create();
    const good = JSON.stringify(aRecord('alice', 1));
    const result = d.pushNdjson(`${good}\n{"eventTime": \n\n${good}\n[]\n`);
    assert.equal(result.records, 4);
    assert.equal(result.rejected, 2);
    assert.deepEqual(
      result.errors.map((e) => [e.index, e.rule, e.reason]),
      [
        [1, null, 'invalid-json'],
        [4, null, 'not-an-object'],
      ],
    );
    assert.match(result.errors[0].message, /JSON/);
    const bad = d.pushNdjson(Buffer.from([0x7b, 0xff, 0x7d, 0x0a]));
    assert.equal(bad.errors[0].reason, 'invalid-json');
    const s = d.stats();
    assert.equal(s.pushed, 5);
    assert.equal(s.rejected, 3);
    assert.deepEqual(s.rejectedByReason, { 'invalid-json': 2, 'not-an-object': 1 });
    assert.equal(s.rules[0].pushed, s.rules[0].accepted + s.rules[0].filtered + s.rules[0].rejected + s.rules[0].late);
  });

  test('push throws an EventError with the reason for an unreadable event', async () => {
    const d = await Detector.create();
    assert.throws(() => d.push('{"eventTime": "yesterday", "eventName": "X"}'), (e) => {
      assert.ok(e instanceof EventError);
      assert.equal(e.reason, 'invalid-time');
      assert.match(e.message, /eventTime/);
      return true;
    });
    assert.throws(() => d.push('not json'), { name: 'EventError', reason: 'invalid-json' });
    assert.equal(d.stats().rejected, 2);
    assert.deepEqual(d.push(aRecord('alice', 1)), [
      { rule: 'sentinel-aws-cli-recon', outcome: 'accepted' },
      { rule: 'elastic-aws-discovery-burst', outcome: 'accepted' },
    ]);
  });

  test('a rule at its group limit rejects with state-limit, naming itself', async () => {
    const d = await Detector.create({ rules: ['sentinel'], limits: { maxOpenGroups: 1 } });
    const result = d.pushBatch([aRecord('alice', 1), aRecord('bob', 2), aRecord('alice', 3)]);
    assert.deepEqual(result.rules, [{ rule: 'sentinel-aws-cli-recon', accepted: 2, filtered: 0, late: 0, rejected: 1 }]);
    assert.deepEqual(
      result.errors.map((e) => [e.index, e.rule, e.reason]),
      [[1, 'sentinel-aws-cli-recon', 'state-limit']],
    );
  });
});

describe('configuration errors', () => {
  test('the component\'s errors name the field', async () => {
    await assert.rejects(Detector.create({ rules: [{ rule: 'sentinel', windowMs: 0 }] }), (e) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.kind, 'out-of-range');
      assert.match(e.message, /window-ms/);
      return true;
    });
    await assert.rejects(Detector.create({ rules: [{ rule: 'elastic', minDistinct: 0 }] }), {
      name: 'ConfigError',
      kind: 'out-of-range',
      message: /min-distinct/,
    });
    await assert.rejects(Detector.create({ rules: [] }), { kind: 'invalid-list', message: /rules/ });
    await assert.rejects(Detector.create({ rules: ['elastic', 'elastic'] }), { kind: 'invalid-list' });
    await assert.rejects(Detector.create({ rules: [{ rule: 'sentinel', commands: [] }] }), {
      kind: 'invalid-list',
      message: /commands/,
    });
    await assert.rejects(Detector.create({ limits: { timeConfirmations: 0 } }), {
      kind: 'out-of-range',
      message: /time-confirmations/,
    });
  });

  test('malformed options are refused before the component, naming the option', async () => {
    await assert.rejects(Detector.create({ allowedLateness: 5 }), {
      kind: 'invalid-option',
      message: /allowedLateness/,
    });
    await assert.rejects(Detector.create({ rules: [{ rule: 'sentinel', minDistinct: -1 }] }), {
      kind: 'invalid-option',
      message: /rules\[0\]\.minDistinct/,
    });
    await assert.rejects(Detector.create({ allowedLatenessMs: 1.5 }), { message: /allowedLatenessMs/ });
    await assert.rejects(Detector.create({ rules: ['splunk'] }), { message: /unknown rule "splunk"/ });
    await assert.rejects(Detector.create({ profile: 'strict' }), { message: /profile/ });
    await assert.rejects(Detector.create({ limits: { maxEventBytes: 2 ** 32 } }), {
      message: /limits\.maxEventBytes/,
    });
  });

  test('defaults: both rules, in order; bigints and Numbers both accepted', async () => {
    const d = await Detector.create({ allowedLatenessMs: 5000n, limits: { maxTimeJumpMs: 7_200_000 } });
    assert.deepEqual(d.rules, ['sentinel-aws-cli-recon', 'elastic-aws-discovery-burst']);
    const e = await Detector.create({ rules: ['elastic-aws-discovery-burst', 'sentinel'] });
    assert.deepEqual(e.rules, ['elastic-aws-discovery-burst', 'sentinel-aws-cli-recon']);
  });
});

describe('snapshots', () => {
  test('damaged or foreign bytes are refused with a SnapshotError', async () => {
    const d = await Detector.create();
    d.push(aRecord('alice', 1));
    const bytes = d.snapshot();
    const damaged = bytes.slice();
    damaged[damaged.length - 1] ^= 1;
    await assert.rejects(Detector.restore(damaged), (e) => {
      assert.ok(e instanceof SnapshotError);
      assert.equal(e.kind, 'malformed');
      assert.match(e.message, /checksum/);
      return true;
    });
    await assert.rejects(Detector.restore(bytes.subarray(0, bytes.length >> 1)), { kind: 'malformed' });
    await assert.rejects(Detector.restore(new Uint8Array([1, 2, 3])), { kind: 'malformed' });
    const restored = await Detector.restore(bytes);
    assert.deepEqual(restored.stats(), d.stats());
    assert.deepEqual(restored.rules, d.rules);
  });
});

describe('detect()', () => {
  test('alerts leave while the source stays open (linger), and it ends with a flush', { timeout: 60_000 }, async () => {
    const records = lines(readFileSync(BURST_SAMPLE));
    // Later events move the watermark past the burst's minute + the default
    // lateness, 15 minutes (enough of them to confirm the jump: one record
    // alone cannot).
    for (let s = 0; s < 20; s++) {
      records.push(`{"eventTime":"2026-02-08T16:50:${String(s).padStart(2, '0')}Z","eventName":"GetCallerIdentity"}`);
    }
    let release;
    const held = new Promise((resolve) => {
      release = resolve;
    });
    async function* source() {
      yield* records;
      await held; // the source stays open until the alert has come out
      yield JSON.stringify(aRecord('late', 5));
    }
    const seen = [];
    const gen = detect(source(), { ...AI_RECON, lingerMs: 20 });
    const first = await gen.next();
    seen.push(first.value);
    assert.equal(first.value.row.CommadCount, 11);
    release();
    for await (const a of gen) seen.push(a);
    assert.equal(seen.length, 1);
  });

  test('finish: false leaves windows open on a given detector', async () => {
    const d = await Detector.create(AI_RECON);
    const got = [];
    for await (const a of detect(createReadStream(BURST_SAMPLE), { detector: d, finish: false })) got.push(a);
    assert.equal(got.length, 0);
    assert.ok(d.stats().rules[0].openGroups > 0);
    assert.equal(d.flush(), 1);
    assert.equal(d.drain()[0].row.AccountName, 'AdanAlvarez');
  });

  test('an unreadable byte source throws an InputError after what it read', async () => {
    const seen = [];
    await assert.rejects(
      (async () => {
        for await (const a of detect('[{"eventName":"A"},\n{"ev', { onRead: (r) => seen.push(r.records) })) {
          assert.fail(`unexpected alert ${a.id}`);
        }
      })(),
      { name: 'InputError', message: /not a readable CloudTrail document/ },
    );
    assert.equal(seen.reduce((n, r) => n + r, 0), 1);
  });
});

test('formatAlert writes the OCSF finding recon detect --format ocsf writes, with a tenant when asked', async () => {
  const rust = rustRecon(['detect', '--config', AI_RECON_TOML, '--format', 'ocsf', BURST_SAMPLE]);
  assert.equal(rust.status, 0, rust.stderr);
  const d = await Detector.create(AI_RECON);
  d.pushNdjson(readFileSync(BURST_SAMPLE));
  d.flush();
  const [a] = d.drain();
  assert.equal(`${formatAlert(a, { format: 'ocsf' })}\n`, rust.stdout.toString('utf8'));
  const ocsf = JSON.parse(formatAlert(a, { format: 'ocsf', tenant: '111122223333' }));
  assert.equal(ocsf.metadata.tenant_uid, '111122223333');
  assert.equal(ocsf.class_uid, 2004);
  assert.equal(JSON.parse(formatAlert(a, { tenant: 't' })).tenant, 't');
  assert.throws(() => formatAlert({ ...a }), TypeError);
  assert.throws(() => formatAlert(a, { format: 'csv' }), TypeError);
  d.close();
});

test('openInput reads any layout in pieces cut anywhere, with reports located', async () => {
  const records = lines(readFileSync(BURST_SAMPLE));
  const doc = Buffer.from(`{"Records":[${records.join(',')},{"eventTime":"x"}]}`);
  const d = await Detector.create(AI_RECON);
  const input = d.openInput({ chunkBytes: 4096 });
  let read = 0;
  const reports = [];
  for (let i = 0; i < doc.length; i += 777) {
    const r = input.feed(doc.subarray(i, i + 777));
    read += r.records;
    reports.push(...r.reports);
  }
  const last = input.end();
  read += last.records;
  reports.push(...last.reports);
  assert.equal(last.unreadable, null);
  assert.equal(read, records.length + 1);
  // The sample's later windows come as times far ahead (reason null).
  const rejected = reports.filter((r) => r.reason !== null);
  assert.ok(reports.length > rejected.length);
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0].line, 1);
  assert.equal(rejected[0].record, records.length + 1);
  assert.equal(rejected[0].reason, 'invalid-time');
  assert.match(rejected[0].message, new RegExp(`^line 1, record ${records.length + 1}: rejected \\(invalid-time\\)`));
  assert.throws(() => input.feed('more'), ReconError);
  assert.equal(d.flush(), 1);
  d.close();
});

test('componentInfo names the transpiled component', async () => {
  const info = await componentInfo();
  assert.equal(info.interface, 'recon:detector/detection@0.6.0');
  assert.match(info.component.sha256, /^[0-9a-f]{64}$/);
  assert.match(info.transpiler, /^@bytecodealliance\/jco-transpile@/);
});

test('a closed detector refuses calls', async () => {
  const d = await Detector.create();
  d.close();
  assert.throws(() => d.stats(), /closed/);
});

describe('the memory cap', () => {
  test('an instance cannot grow past sandbox.maxMemoryMib: the call traps and the detector is done', async () => {
    const big = Buffer.from(`${JSON.stringify(aRecord('alice', 1))}\n`.repeat(40_000)); // about 10 MiB
    const capped = await Detector.create({ sandbox: { maxMemoryMib: 4 } });
    assert.throws(() => capped.pushNdjson(big), (e) => {
      assert.ok(e instanceof ReconError);
      assert.match(e.message, /component failed .* of its 4 MiB memory cap in use/);
      return true;
    });
    assert.ok(capped.memoryBytes <= 4 * 2 ** 20);
    assert.throws(() => capped.stats(), /failed earlier/);
    // The default cap (256 MiB) takes it; another detector is unaffected.
    const roomy = await Detector.create();
    assert.equal(roomy.pushNdjson(big).records, 40_000);
    assert.ok(roomy.memoryBytes > 10 * 2 ** 20);
    await assert.rejects(Detector.create({ sandbox: { maxMemoryMib: 1 } }), {
      kind: 'out-of-range',
      message: /sandbox\.maxMemoryMib: the component starts with/,
    });
    await assert.rejects(Detector.create({ sandbox: { maxMemoryMib: 0 } }), { kind: 'out-of-range' });
    await assert.rejects(Detector.create({ sandbox: { memory: 1 } }), { kind: 'invalid-option' });
    // restore takes the same bound.
    const bytes = roomy.snapshot();
    const restored = await Detector.restore(bytes, { sandbox: { maxMemoryMib: 64 } });
    assert.equal(restored.stats().pushed, 40_000);
    await assert.rejects(Detector.restore(bytes, { rules: ['elastic'] }), { kind: 'invalid-option' });
  });

  test('capMemory rewrites only the memory limits', async () => {
    // (module (memory 2) (export "a" (memory 0))), and the same with
    // (memory 1 100): a memory without a maximum, and one with.
    const noMax = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0x00, 2, 7, 5, 1, 1, 0x61, 2, 0]);
    const withMax = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 0x01, 1, 100, 7, 5, 1, 1, 0x61, 2, 0]);
    for (const [bytes, max, want] of [
      [noMax, 300, 300],
      [withMax, 300, 100],
      [withMax, 50, 50],
    ]) {
      const out = capMemory(bytes, max);
      assert.ok(WebAssembly.validate(out.bytes));
      const { exports } = (await WebAssembly.instantiate(out.bytes)).instance;
      const pages = () => exports.a.buffer.byteLength / 65536;
      const before = pages();
      assert.equal(exports.a.grow(want - before), before, 'grows up to the cap');
      assert.equal(pages(), want);
      assert.throws(() => exports.a.grow(1), RangeError, 'not past it');
    }
    assert.throws(() => capMemory(noMax, 1), RangeError);
    const none = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    assert.equal(capMemory(none, 10).bytes, none);
  });
});

describe('rules as data', () => {
  const IAM = join(REPO_DIR, 'rules', 'aws_iam_enumeration.yml');

  test('the built-ins come from the component, in its order', async () => {
    const builtIns = await builtInRules();
    assert.deepEqual(
      builtIns.map((b) => [b.short, b.name]),
      [
        ['sentinel', 'sentinel-aws-cli-recon'],
        ['elastic', 'elastic-aws-discovery-burst'],
      ],
    );
    const d = await Detector.create();
    assert.deepEqual(d.rules, builtIns.map((b) => b.name));
    d.close();
  });

  test('listRules describes the built-ins and a rule file\'s rules', async () => {
    const builtIn = await listRules();
    assert.deepEqual(builtIn.map((r) => [r.name, r.kind]), [
      ['sentinel-aws-cli-recon', 'built-in'],
      ['elastic-aws-discovery-burst', 'built-in'],
    ]);
    assert.equal(builtIn[0].windowMs, 60000);
    assert.equal(builtIn[0].window, 'tumbling');
    assert.equal(builtIn[0].suppressMs, 0);
    assert.ok(builtIn[0].settings.includes('commands'));
    const data = await listRules({ rules: [], ruleFiles: [{ name: 'iam.yml', text: readFileSync(IAM, 'utf8') }] });
    const enumeration = data.find((r) => r.name === 'aws-iam-user-enumeration');
    assert.equal(enumeration.kind, 'correlation');
    assert.equal(enumeration.file, 'iam.yml');
    assert.equal(enumeration.windowMs, 600000);
    assert.deepEqual(enumeration.groupBy, ['userIdentity.principalId', 'userIdentity.arn', 'userIdentity.accountId']);
    assert.deepEqual(enumeration.detections, ['aws_iam_user_enumeration_calls']);
  });

  test('resolveRules reads --rules entries; a detector runs them as recon detect does', async () => {
    const { rules, ruleFiles } = await resolveRules(['elastic', IAM, 'sentinel', 'elastic']);
    assert.deepEqual(rules, ['sentinel', 'elastic']);
    assert.deepEqual(ruleFiles.map((f) => f.name), [IAM]);
    assert.deepEqual(await resolveRules([]), { rules: ['sentinel', 'elastic'], ruleFiles: [] });
    const catalogue = await resolveRules(['catalogue']);
    assert.deepEqual(catalogue.rules, []);
    assert.ok(catalogue.ruleFiles.some((f) => f.name === 'rules/aws_iam_enumeration.yml'));
    await assert.rejects(resolveRules(['splunk']), {
      kind: 'invalid-option',
      message: 'rules: splunk is neither a built-in (sentinel, elastic) nor an existing rule file or directory',
    });

    const trail = generate(['--seed', '7', '--count', '50000', '--catalogue', '2']);
    const d = await Detector.create({ rules: [], ruleFiles: (await resolveRules([IAM])).ruleFiles });
    assert.deepEqual(d.rules, ['aws-iam-user-enumeration', 'aws-iam-recon-access-denied']);
    const got = run(d, pieces(trail, 1 << 20));
    const rust = rustRecon(['detect', '--rules', IAM, '-'], { input: trail });
    assert.ok(got.length > 0);
    assert.equal(got.map((l) => `${l}\n`).join(''), rust.stdout.toString('utf8'));
    assert.ok(d.stats().rules.every((r) => r.pushed === 50000));
    d.close();
  });

  test('a refused rule file is a ConfigError of kind rules, naming file, line, rule and field', async () => {
    const text = [
      'title: calls',
      'name: calls',
      'logsource:',
      '  product: aws',
      'detection:',
      '  selection:',
      '    eventName: ListUsers',
      '  condition: selection',
      '---',
      'title: burst',
      'name: burst',
      'correlation:',
      '  type: event_count',
      '  rules: [calls]',
      '  group-by: [userIdentity.arn]',
      '  timespan: 1m',
      '  window: session',
      '  gap: 5m',
      '  condition:',
      '    gte: 3',
      '',
    ].join('\n');
    const check = (e) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.kind, 'rules');
      assert.equal(e.ruleError.file, 'x.yml');
      assert.equal(e.ruleError.rule, 'burst');
      assert.equal(e.ruleError.field, 'window');
      assert.equal(typeof e.ruleError.line, 'number');
      assert.match(e.message, /^x\.yml:\d+: rule "burst": field "window": /);
      return true;
    };
    await assert.rejects(Detector.create({ ruleFiles: [{ name: 'x.yml', text }] }), check);
    await assert.rejects(listRules({ ruleFiles: [{ name: 'x.yml', text }] }), check);
    // The same file with a tumbling window runs.
    const fixed = text.replace('  window: session\n  gap: 5m', '  window: tumbling');
    const d = await Detector.create({ rules: ['sentinel'], ruleFiles: [{ name: 'x.yml', text: fixed }] });
    assert.deepEqual(d.rules, ['sentinel-aws-cli-recon', 'burst']);
    d.close();
    await assert.rejects(Detector.create({ ruleFiles: [{ name: 'x.yml' }] }), { kind: 'invalid-option', message: /ruleFiles\[0\]\.text/ });
  });
});
