// Loading the transpiled component (generated/ by scripts/build-component.js):
// its core modules are compiled once per process, and every detector gets
// an instance of its own.

import { readFile } from 'node:fs/promises';

const GENERATED = new URL('../generated/', import.meta.url);

/** @type {Promise<{ instantiate: Function, info: object }> | undefined} */
let loaded;
/** Core modules by file name, each compiled once per process. */
const compiled = new Map();

async function load() {
  let bindings;
  try {
    bindings = await import(new URL('recon_detector.js', GENERATED).href);
  } catch (e) {
    throw new Error(
      'recon-detector: the transpiled component is missing or broken ' +
        `(${e.message}); run \`npm install\` (or \`npm run build\`) in the package ` +
        'after `cargo build --release`, or with RECON_COMPONENT=FILE.wasm',
      { cause: e },
    );
  }
  const info = JSON.parse(await readFile(new URL('component.json', GENERATED), 'utf8'));
  return { instantiate: bindings.instantiate, info };
}

function loadOnce() {
  loaded ??= load().catch((e) => {
    loaded = undefined; // a later call retries (after `npm run build`, say)
    throw e;
  });
  return loaded;
}

function getCoreModule(name) {
  let module = compiled.get(name);
  if (!module) {
    module = readFile(new URL(name, GENERATED)).then((bytes) => WebAssembly.compile(bytes));
    module.catch(() => compiled.delete(name));
    compiled.set(name, module);
  }
  return module;
}

/**
 * A fresh instance of the component: its exported `detection` interface
 * (the jco bindings of wit/detector.wit), sharing nothing with other
 * instances (linear memory, resources, trap state).
 *
 * @returns {Promise<any>}
 */
export async function instantiateComponent() {
  const { instantiate } = await loadOnce();
  const root = await instantiate(getCoreModule, {});
  return root['recon:detector/detection@0.2.0'];
}

/**
 * What was transpiled: the interface, the component's size and SHA-256, and
 * the transpiler version (generated/component.json).
 *
 * @returns {Promise<{ interface: string, component: { source: string, bytes: number, sha256: string }, transpiler: string }>}
 */
export async function componentInfo() {
  return (await loadOnce()).info;
}
