// Shared by the tests: where the repository, the Rust `recon` binary and
// the Node CLI are, and how to run them.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = resolve(PACKAGE_DIR, '..', '..');
export const DATA_DIR = join(REPO_DIR, 'tests', 'data', 'cloudtrail');
export const BURST_SAMPLE = join(DATA_DIR, 'traildiscover', 'aws_cli_burst_windows.jsonl');
export const AI_RECON_TOML = join(REPO_DIR, 'examples', 'ai-recon.toml');
export const NODE_CLI = join(PACKAGE_DIR, 'bin', 'recon.js');

/** The Rust binary: $RECON_BIN, else <repo>/target/release/recon (after `cargo build --release`). */
export const RECON_BIN = process.env.RECON_BIN ? resolve(process.env.RECON_BIN) : join(REPO_DIR, 'target', 'release', 'recon');
if (!existsSync(RECON_BIN)) {
  throw new Error(`the Rust recon binary is needed: ${RECON_BIN} does not exist (cargo build --release, or set RECON_BIN)`);
}

// The Rust CLI keeps its compiled component between runs; one cache for
// every test run, outside the user's home.
const CACHE_DIR = join(tmpdir(), 'recon-node-tests-cache');
mkdirSync(CACHE_DIR, { recursive: true });

const MAX_BUFFER = 1 << 30;

/** Runs a program to completion: { status, stdout (Buffer), stderr (string) }. */
function run(file, args, { input, env } = {}) {
  const r = spawnSync(file, args, {
    input,
    maxBuffer: MAX_BUFFER,
    env: { ...process.env, RECON_CACHE_DIR: CACHE_DIR, ...env },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

/** The Rust CLI: `recon ARGS...`. */
export function rustRecon(args, options) {
  return run(RECON_BIN, args, options);
}

/** The Node CLI: `node bin/recon.js ARGS...`. */
export function nodeRecon(args, options) {
  return run(process.execPath, [NODE_CLI, ...args], options);
}

/** The Node CLI as a child process with pipes, for streaming tests. */
export function spawnNodeRecon(args) {
  return spawn(process.execPath, [NODE_CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
}

/** A synthetic trail from `recon gen` (NDJSON bytes). */
export function generate(args) {
  const r = rustRecon(['gen', ...args]);
  if (r.status !== 0) throw new Error(`recon gen ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Non-empty lines of a Buffer or string. */
export function lines(output) {
  return output
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'recon-node-test-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The Sentinel command list of examples/ai-recon.toml, as API options. */
export const AI_RECON_COMMANDS = [
  'bedrock-agent.list-agents',
  'bedrock-agent.list-knowledge-bases',
  'bedrock-agent.get-knowledge-base',
  'bedrock.list-custom-models',
  'bedrock.list-inference-profiles',
  'bedrock.list-model-invocation-jobs',
  'sagemaker.list-models',
  'sagemaker.list-endpoints',
  'sagemaker.list-training-jobs',
  'opensearchserverless.list-collections',
  'opensearchserverless.list-access-policies',
];
