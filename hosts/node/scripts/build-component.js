#!/usr/bin/env node
// Finds the detector component and transpiles it to JavaScript with jco
// into `generated/` (run by `npm install` through the `prepare` script, and
// by `npm run build`).
//
// Where the component comes from, first match wins:
//   1. $RECON_COMPONENT: a component file (.wasm);
//   2. $RECON_BIN: a `recon` binary, asked for the component it embeds
//      (`recon component -o FILE`);
//   3. <repo>/target/release/recon (after `cargo build --release`), asked
//      the same way. <repo> is two levels above this package.
//
// The output is replaced as a whole (written beside it, then renamed), so a
// failed build never leaves half a directory behind.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO_DIR = resolve(PACKAGE_DIR, '..', '..');
const OUT_DIR = join(PACKAGE_DIR, 'generated');
/** The interface this host is written against (wit/detector.wit). */
const INTERFACE = 'recon:detector/detection@0.6.0';
/** File name stem of the generated module. */
const NAME = 'recon_detector';

function fail(message) {
  process.stderr.write(`recon-detector build: ${message}\n`);
  process.exit(1);
}

/** The component's bytes and a description of where they came from. */
function findComponent() {
  const explicit = process.env.RECON_COMPONENT;
  if (explicit) {
    const path = resolve(explicit);
    if (!existsSync(path)) fail(`RECON_COMPONENT=${explicit}: no such file`);
    return { bytes: readFileSync(path), source: path };
  }
  const bin = process.env.RECON_BIN
    ? resolve(process.env.RECON_BIN)
    : join(REPO_DIR, 'target', 'release', 'recon');
  if (!existsSync(bin)) {
    fail(
      `no component found: ${bin} does not exist.\n` +
        `  Build it first (from ${REPO_DIR}): cargo build --release\n` +
        '  or point RECON_COMPONENT at a component file (recon component -o FILE),\n' +
        '  or RECON_BIN at a recon binary.',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'recon-component-'));
  const file = join(dir, `${NAME}.wasm`);
  let bytes;
  let error;
  try {
    execFileSync(bin, ['component', '-o', file], { stdio: ['ignore', 'inherit', 'inherit'] });
    bytes = readFileSync(file);
  } catch (e) {
    error = e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (error) fail(`${bin} component -o FILE failed: ${error.message}`);
  return { bytes, source: `${bin} component` };
}

function checkHeader(bytes, source) {
  // "\0asm", then the version and layer: 0x0d 0x00 0x01 0x00 for a
  // component, 0x01 0x00 0x00 0x00 for a core module.
  const magic = bytes.subarray(0, 4).toString('latin1') === '\0asm';
  const layer = bytes.length >= 8 ? bytes.readUInt16LE(6) : -1;
  if (!magic) fail(`${source} is not WebAssembly`);
  if (layer !== 1) fail(`${source} is a core WebAssembly module, not a component`);
}

async function main() {
  const { bytes, source } = findComponent();
  checkHeader(bytes, source);
  let transpileBytes;
  let transpilerVersion;
  try {
    ({ transpileBytes } = await import('@bytecodealliance/jco-transpile'));
    const pkg = JSON.parse(
      readFileSync(join(PACKAGE_DIR, 'node_modules', '@bytecodealliance', 'jco-transpile', 'package.json'), 'utf8'),
    );
    transpilerVersion = pkg.version;
  } catch (e) {
    fail(
      `cannot load @bytecodealliance/jco-transpile (${e.message}).\n` +
        '  It is a devDependency: install without --omit=dev (npm install --prefix hosts/node).',
    );
  }
  const { files, imports, exports } = await transpileBytes(new Uint8Array(bytes), {
    name: NAME,
    // `instantiate(getCoreModule, imports)`: the host compiles the core
    // modules once and instantiates the component once per detector.
    instantiation: 'async',
    emitTypescriptDeclarations: true,
    optimize: false,
    minify: false,
  });
  if (imports.length > 0) {
    fail(`${source} imports ${imports.join(', ')}; this host provides no imports`);
  }
  if (!exports.some(([name]) => name === INTERFACE)) {
    fail(
      `${source} does not export ${INTERFACE} (it exports ${exports.map(([n]) => n).join(', ')}); ` +
        'this package is written against that interface version',
    );
  }
  const staging = `${OUT_DIR}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  for (const [name, data] of Object.entries(files)) {
    const path = join(staging, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data);
  }
  const info = {
    interface: INTERFACE,
    component: {
      source,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    },
    transpiler: `@bytecodealliance/jco-transpile@${transpilerVersion}`,
  };
  writeFileSync(join(staging, 'component.json'), `${JSON.stringify(info, null, 2)}\n`);
  rmSync(OUT_DIR, { recursive: true, force: true });
  renameSync(staging, OUT_DIR);
  process.stderr.write(
    `recon-detector build: transpiled ${source} (${bytes.length} bytes, sha256 ${info.component.sha256.slice(0, 12)}…) ` +
      `into ${OUT_DIR}\n`,
  );
}

await main();
