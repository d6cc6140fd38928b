// The hostile-file corpus (tests/data/hostile-files, shared by the three
// hosts): each case's input through `recon.js detect`; its alerts, reports,
// summary and exit status must be those `recon detect` gives
// (expected.json). See the corpus's README for the recipes.

import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { REPO_DIR, generate, nodeRecon, tempDir } from './helpers.js';

const CORPUS = join(REPO_DIR, 'tests', 'data', 'hostile-files');
const cases = JSON.parse(readFileSync(join(CORPUS, 'cases.json'), 'utf8'));
const expected = JSON.parse(readFileSync(join(CORPUS, 'expected.json'), 'utf8'));

const generated = new Map();

function record(kind, n) {
  const { commands } = cases.templates;
  return cases.templates[kind]
    .replace('{second}', String(n % 60).padStart(2, '0'))
    .replace('{command}', commands[n % commands.length]);
}

/** The bytes of a recipe (a list of parts). */
function make(parts) {
  return Buffer.concat(parts.map(part));
}

function part(p) {
  if (typeof p === 'string') return Buffer.from(p, 'utf8');
  if (p.record !== undefined) return Buffer.from(record(p.record, p.n), 'utf8');
  if (p.records !== undefined) {
    return Buffer.from(Array.from({ length: p.count }, (_, n) => record(p.records, n)).join(p.sep), 'utf8');
  }
  if (p.repeat !== undefined) return Buffer.from(p.repeat.repeat(p.times), 'utf8');
  // Level 1, as the Rust and Python runners: a case cut inside the gzip
  // stream depends on the compressed bytes.
  if (p.gzip !== undefined) return gzipSync(make(p.gzip), { level: 1 });
  if (p.cut !== undefined) {
    const whole = make(p.cut);
    return whole.subarray(0, whole.length - p.drop);
  }
  if (p.gen !== undefined) {
    const key = JSON.stringify(p.gen);
    if (!generated.has(key)) generated.set(key, generate(p.gen));
    const lines = generated
      .get(key)
      .toString('utf8')
      .split('\n')
      .filter((l) => l.length > 0);
    return Buffer.from(lines.join(p.sep), 'utf8');
  }
  throw new Error(`unknown recipe part ${JSON.stringify(p)}`);
}

function textLines(text, path) {
  return text
    .split(path)
    .join('{input}')
    .split('\n')
    .filter((l, i, all) => i < all.length - 1 || l.length > 0);
}

describe('the hostile-file corpus', () => {
  const tmp = tempDir();
  after(() => tmp.remove());

  cases.cases.forEach((c, i) => {
    test(c.name, () => {
      const want = expected[c.name];
      assert.ok(want, `${c.name}: not in expected.json`);
      let path = join(CORPUS, c.file ?? '');
      if (c.recipe) {
        path = join(tmp.dir, `case-${i}`);
        writeFileSync(path, make(c.recipe));
      }
      try {
        const got = nodeRecon([...cases.args, ...(c.args ?? []), path]);
        const stderr = textLines(got.stderr, path);
        assert.deepEqual(
          { exit: got.status, stdout: textLines(got.stdout.toString('utf8'), path), stderr: [...stderr].sort() },
          { exit: want.exit, stdout: want.stdout, stderr: [...want.stderr].sort() },
          `stderr was:\n${stderr.join('\n')}`,
        );
      } finally {
        if (c.recipe) rmSync(path, { force: true });
      }
    });
  });
});
