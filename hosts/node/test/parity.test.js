// The Node CLI against the Rust CLI: the same alert lines, byte for byte,
// on generated trails (every layout, gzip, flags) and on the bundled real
// samples.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import {
  AI_RECON_TOML,
  BURST_SAMPLE,
  DATA_DIR,
  generate,
  lines,
  REPO_DIR,
  nodeRecon,
  rustRecon,
  tempDir,
} from './helpers.js';

/** Runs both CLIs on the same arguments (and stdin) and checks they agree; returns the Rust run. */
function bothAgree(args, { input, stderrToo = true } = {}) {
  const rust = rustRecon(['detect', ...args], { input });
  const node = nodeRecon(['detect', ...args], { input });
  assert.equal(rust.status, 0, `recon detect ${args.join(' ')} failed: ${rust.stderr}`);
  assert.equal(node.status, rust.status, `node exit status (stderr: ${node.stderr})`);
  // Compared as text first for a readable diff, then as bytes.
  assert.deepEqual(lines(node.stdout), lines(rust.stdout));
  assert.ok(node.stdout.equals(rust.stdout), 'stdout differs in bytes');
  if (stderrToo) assert.equal(node.stderr, rust.stderr);
  return rust;
}

describe('generated trails', () => {
  let tmp;
  const files = {};
  before(() => {
    tmp = tempDir();
    const seven = generate(['--seed', '7', '--count', '20000', '--bursts', '20']);
    const disordered = generate(['--seed', '11', '--count', '30000', '--bursts', '30', '--disorder', '30']);
    files.seven = join(tmp.dir, 'seed7.ndjson');
    files.disordered = join(tmp.dir, 'seed11-disorder.ndjson');
    writeFileSync(files.seven, seven);
    writeFileSync(files.disordered, disordered);
    // The same records in the other layouts, each record's bytes unchanged.
    const records = lines(disordered);
    files.gzip = join(tmp.dir, 'seed11.ndjson.gz');
    writeFileSync(files.gzip, gzipSync(disordered));
    files.records = join(tmp.dir, 'seed11.records.json.gz');
    writeFileSync(files.records, gzipSync(`{"Records": [\n  ${records.join(',\n  ')}\n]}\n`));
    files.array = join(tmp.dir, 'seed11.array.json');
    writeFileSync(files.array, `[${records.join(',')}]`);
    // NDJSON of which every third group of 7 lines is a `{"Records":[...]}` line.
    const mixed = [];
    for (let i = 0; i < records.length; i += 7) {
      const group = records.slice(i, i + 7);
      if ((i / 7) % 3 === 0) mixed.push(`{"Records":[${group.join(',')}]}`);
      else mixed.push(...group);
    }
    files.mixed = join(tmp.dir, 'seed11.mixed.ndjson');
    writeFileSync(files.mixed, `${mixed.join('\n')}\n`);
  });
  after(() => tmp.remove());

  test('seed 7, 20000 records, 20 bursts: identical alerts', () => {
    const rust = bothAgree([files.seven]);
    assert.ok(lines(rust.stdout).length >= 5, `expected alerts, got ${lines(rust.stdout).length}`);
  });

  test('seed 11 with --disorder 30: identical alerts', () => {
    const rust = bothAgree([files.disordered]);
    assert.ok(lines(rust.stdout).length >= 5, `expected alerts, got ${lines(rust.stdout).length}`);
  });

  test('gzip, {"Records":[...]} documents, arrays and Records lines give the same alerts as NDJSON', () => {
    const plain = bothAgree([files.disordered]);
    for (const f of [files.gzip, files.records, files.array, files.mixed]) {
      const rust = bothAgree([f]);
      assert.ok(rust.stdout.equals(plain.stdout), `${f}: alerts differ from the NDJSON run`);
    }
  });

  test('stdin and several inputs', () => {
    const rust = bothAgree(['-'], { input: gzipSync(Buffer.from('')) });
    assert.equal(lines(rust.stdout).length, 0);
    const both = bothAgree([files.seven, files.disordered]);
    assert.ok(lines(both.stdout).length > 0);
  });

  for (const flags of [
    ['--profile', 'seed'],
    ['--rules', 'elastic'],
    ['--rules', 'sentinel'],
    ['--rules', 'elastic,sentinel', '--chunk-kib', '7'],
    ['--allowed-lateness', '5'],
    ['--allowed-lateness', '0'],
  ]) {
    test(`flags ${flags.join(' ')}`, () => {
      const rust = bothAgree([...flags, files.disordered]);
      assert.ok(lines(rust.stdout).length > 0, 'expected alerts');
    });
  }
});

describe('bundled real samples', () => {
  const groups = {
    traildiscover: readdirSync(join(DATA_DIR, 'traildiscover'))
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => join(DATA_DIR, 'traildiscover', f)),
    'traildiscover/logExamples': readdirSync(join(DATA_DIR, 'traildiscover', 'logExamples'))
      .filter((f) => f.endsWith('.cloudtrail'))
      .map((f) => join(DATA_DIR, 'traildiscover', 'logExamples', f)),
    invictus: readdirSync(join(DATA_DIR, 'invictus', 'CloudTrail')).map((f) => join(DATA_DIR, 'invictus', 'CloudTrail', f)),
    'stratus-red-team': readdirSync(join(DATA_DIR, 'stratus-red-team')).map((f) => join(DATA_DIR, 'stratus-red-team', f)),
    otrf: readdirSync(join(DATA_DIR, 'otrf')).map((f) => join(DATA_DIR, 'otrf', f)),
    panther: readdirSync(join(DATA_DIR, 'panther')).map((f) => join(DATA_DIR, 'panther', f)),
  };

  for (const [name, files] of Object.entries(groups)) {
    for (const config of [[], ['--config', AI_RECON_TOML], ['--profile', 'seed']]) {
      test(`${name} ${config.length > 0 ? config.join(' ') : '(defaults)'}: same alerts, same rejections and counts`, () => {
        assert.ok(files.length > 0);
        const rust = bothAgree([...config, ...files]);
        // The stderr summary (compared above) counts every record: make
        // sure the run read some.
        assert.match(rust.stderr, /recon: read [1-9][0-9]* records/);
      });
    }
  }

  test('examples/ai-recon.toml on the TrailDiscover burst: the one alert, byte for byte', () => {
    const rust = bothAgree(['--config', AI_RECON_TOML, BURST_SAMPLE]);
    const alerts = lines(rust.stdout).map((l) => JSON.parse(l));
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].rule, 'sentinel-aws-cli-recon');
    assert.equal(alerts[0].row.AccountName, 'AdanAlvarez');
    assert.equal(alerts[0].row.CommadCount, 11);
    assert.equal(alerts[0].window_start, '2026-02-08T16:31:00Z');
  });
});

describe('rules as data (--rules FILE|DIR|catalogue)', () => {
  const IAM = join(REPO_DIR, 'rules', 'aws_iam_enumeration.yml');
  const CONSOLE = join(REPO_DIR, 'rules', 'aws_console_brute_force_by_ip.yml');
  let tmp;
  let trail;
  before(() => {
    tmp = tempDir();
    // The catalogue's bursts (two of each), among 50000 records.
    trail = join(tmp.dir, 'catalogue.ndjson');
    writeFileSync(trail, generate(['--seed', '7', '--count', '50000', '--catalogue', '2']));
  });
  after(() => tmp.remove());

  test('a catalogue rule file: the alert lines of recon detect --rules FILE, byte for byte', () => {
    const rust = bothAgree(['--rules', IAM, trail]);
    const alerts = lines(rust.stdout).map((l) => JSON.parse(l));
    assert.ok(alerts.length > 0, 'expected alerts');
    // Only the file's rules ran: its correlations, named as in the file.
    assert.deepEqual(
      [...new Set(alerts.map((a) => a.rule))].sort(),
      ['aws-iam-recon-access-denied', 'aws-iam-user-enumeration'],
    );
    assert.match(rust.stderr, /recon: aws-iam-user-enumeration: events 50000, /);
    assert.doesNotMatch(rust.stderr, /sentinel-aws-cli-recon/);
  });

  test('built-ins and rule files together, repeated and comma-separated', () => {
    const rust = bothAgree(['--rules', `elastic,${IAM}`, '--rules', CONSOLE, '--rules', 'sentinel', trail]);
    const rules = new Set(lines(rust.stdout).map((l) => JSON.parse(l).rule));
    assert.ok(rules.has('aws-iam-user-enumeration'));
    assert.ok(rules.has('sentinel-aws-cli-recon'));
  });

  test('a directory of rule files (recursive, in path order), and the catalogue', () => {
    const dir = join(tmp.dir, 'mine');
    mkdirSync(join(dir, 'nested'), { recursive: true });
    writeFileSync(join(dir, 'b_iam.yaml'), readFileSync(IAM));
    writeFileSync(join(dir, 'nested', 'a_console.yml'), readFileSync(CONSOLE));
    writeFileSync(join(dir, 'notes.txt'), 'not a rule file');
    const fromDir = bothAgree(['--rules', dir, trail]);
    assert.ok(lines(fromDir.stdout).length > 0);
    const catalogue = bothAgree(['--rules', 'catalogue', trail]);
    assert.ok(lines(catalogue.stdout).length > lines(fromDir.stdout).length);
  });

  test('the configuration file\'s rules = [...] takes paths too', () => {
    const config = join(tmp.dir, 'rules.toml');
    writeFileSync(config, `rules = ["sentinel", ${JSON.stringify(IAM)}]\n[sentinel]\nmin_distinct = 6\n`);
    const rust = bothAgree(['--config', config, trail]);
    assert.ok(lines(rust.stdout).some((l) => JSON.parse(l).rule === 'aws-iam-user-enumeration'));
  });

  test('a refused rule file: exit 2 and recon detect\'s words, naming file, line and rule', () => {
    const bad = join(tmp.dir, 'sliding.yml');
    writeFileSync(
      bad,
      [
        'title: IAM list calls',
        'name: iam_list_calls',
        'logsource:',
        '  product: aws',
        '  service: cloudtrail',
        'detection:',
        '  selection:',
        '    eventName: ListUsers',
        '  condition: selection',
        '---',
        'title: Many IAM list calls',
        'name: many-iam-list-calls',
        'correlation:',
        '  type: event_count',
        '  rules:',
        '    - iam_list_calls',
        '  group-by:',
        '    - userIdentity.arn',
        '  timespan: 10m',
        '  window: session',
        '  gap: 5m',
        '  condition:',
        '    gt: 5',
        '',
      ].join('\n'),
    );
    for (const rules of [bad, `sentinel,${bad}`]) {
      const rust = rustRecon(['detect', '--rules', rules, trail]);
      const node = nodeRecon(['detect', '--rules', rules, trail]);
      assert.equal(rust.status, 2, rust.stderr);
      assert.equal(node.status, 2, node.stderr);
      assert.equal(node.stdout.length, 0);
      assert.equal(node.stderr, rust.stderr);
      const file = bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const words = `^recon: error: invalid detector configuration: ${file}:\\d+: rule "many-iam-list-calls": field "window": `;
      assert.match(node.stderr, new RegExp(words));
    }
    // Neither a built-in nor a file; a directory without rule files.
    const empty = join(tmp.dir, 'empty');
    mkdirSync(empty, { recursive: true });
    for (const rules of [join(tmp.dir, 'no-such.yml'), 'sentinel,splunk', empty]) {
      const rust = rustRecon(['detect', '--rules', rules, trail]);
      const node = nodeRecon(['detect', '--rules', rules, trail]);
      assert.equal(rust.status, 2, rust.stderr);
      assert.equal(node.status, 2, node.stderr);
      assert.equal(node.stderr, rust.stderr);
    }
  });
});

describe('tuning: sliding windows and suppression', () => {
  let tmp;
  before(() => {
    tmp = tempDir();
  });
  after(() => tmp.remove());

  /** A CloudTrail record `s` seconds after 2026-03-01T00:00:00Z. */
  const record = (s, user, name) => {
    const p = (n) => String(n).padStart(2, '0');
    const time = `2026-03-01T${p(Math.floor(s / 3600))}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}Z`;
    return JSON.stringify({
      eventTime: time,
      eventSource: 'iam.amazonaws.com',
      eventName: name,
      userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::111122223333:user/${user}`, userName: user },
      userAgent: 'aws-cli/2.15.0 Python/3.11 Linux/5.10 exe/x86_64 prompt/off command/iam.list-users',
      sourceIPAddress: '198.51.100.7',
      recipientAccountId: '111122223333',
    });
  };

  test('a sliding Sigma correlation with rsigma.suppress: the same lines and summary', () => {
    // A burst of 70 listings in five minutes every 20 minutes, across a 10-minute edge.
    const trail = [];
    for (let burst = 0; burst < 9; burst++) {
      for (let i = 0; i < 70; i++) trail.push(record(burst * 1200 + 450 + Math.floor((i * 300) / 70), 'alice', 'ListUsers'));
    }
    const file = join(tmp.dir, 'trail.ndjson');
    writeFileSync(file, `${trail.join('\n')}\n`);
    const rule = join(tmp.dir, 'enumeration.yml');
    writeFileSync(
      rule,
      [
        'title: IAM listing',
        'name: iam_listing',
        'logsource: {product: aws, service: cloudtrail}',
        'detection:',
        '  sel:',
        '    eventName|startswith: List',
        '  condition: sel',
        '---',
        'title: IAM user enumeration',
        'name: iam_enumeration',
        'rsigma.suppress: 1h',
        'correlation:',
        '  type: event_count',
        '  rules: [iam_listing]',
        '  group-by: [userIdentity.arn]',
        '  timespan: 10m',
        '  condition:',
        '    gt: 50',
        '',
      ].join('\n'),
    );
    const rust = bothAgree(['--rules', rule, file]);
    const alerts = lines(rust.stdout).map((l) => JSON.parse(l));
    assert.deepEqual(
      alerts.map((a) => [a.window_end, a.suppressed ?? 0]),
      [
        ['2026-03-01T00:11:04.001Z', 0],
        ['2026-03-01T01:11:04.001Z', 2],
        ['2026-03-01T02:11:04.001Z', 2],
      ],
    );
    assert.match(rust.stderr, /alerts 3 \(6 more held back by suppression\)/);
  });

  test('a built-in sliding and suppressing from the configuration file', () => {
    const names = ['ListUsers', 'ListRoles', 'ListGroups', 'GetUser', 'ListPolicies', 'GetAccountSummary'];
    const trail = [];
    for (let minute = 0; minute < 60; minute++) {
      names.forEach((n, i) => trail.push(record(minute * 60 + 7 + i, 'carol', n)));
    }
    const file = join(tmp.dir, 'minutes.ndjson');
    writeFileSync(file, `${trail.join('\n')}\n`);
    const config = join(tmp.dir, 'tuning.toml');
    writeFileSync(config, 'rules = ["elastic"]\n[elastic]\nwindow = "sliding"\nsuppress_seconds = 1800\n');
    const rust = bothAgree(['--config', config, file]);
    const alerts = lines(rust.stdout).map((l) => JSON.parse(l));
    assert.deepEqual(
      alerts.map((a) => a.suppressed ?? 0),
      [0, 29],
    );
    // A window mode the rule does not know is refused, in the same words.
    writeFileSync(config, '[elastic]\nwindow = "hopping"\n');
    const bad = rustRecon(['detect', '--config', config, file]);
    const node = nodeRecon(['detect', '--config', config, file]);
    assert.equal(bad.status, 2);
    assert.equal(node.status, 2, node.stderr);
    assert.match(node.stderr, /hopping/);
  });
});
