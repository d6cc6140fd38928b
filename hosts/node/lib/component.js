// Loading the transpiled component (generated/ by scripts/build-component.js):
// its core modules are compiled once per process, and every detector gets
// an instance of its own.

import { readFile } from 'node:fs/promises';

import { ConfigError } from './errors.js';
import { capMemory } from './memory-cap.js';

const GENERATED = new URL('../generated/', import.meta.url);
/** The interface this host is written against (wit/detector.wit). */
export const INTERFACE = 'recon:detector/detection@0.6.0';
/** The sandbox of the instance shared by the component's free functions. */
const SHARED_SANDBOX = { maxMemoryMib: 256 };

/** @type {Promise<{ instantiate: Function, info: object }> | undefined} */
let loaded;
/** Core modules by file name and memory cap, each compiled once per process. */
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

/** The core module `name`, its memories capped at `maxPages` pages of 64 KiB. */
function getCoreModule(name, maxPages) {
  const key = `${name}:${maxPages}`;
  let module = compiled.get(key);
  if (!module) {
    module = readFile(new URL(name, GENERATED)).then((bytes) => {
      let capped;
      try {
        capped = capMemory(bytes, maxPages);
      } catch (e) {
        if (e instanceof RangeError) {
          throw new ConfigError('out-of-range', `sandbox.maxMemoryMib: ${e.message} (${maxPages / 16} MiB)`);
        }
        throw e;
      }
      return WebAssembly.compile(capped.bytes);
    });
    module.catch(() => compiled.delete(key));
    compiled.set(key, module);
  }
  return module;
}

/**
 * A fresh instance of the component: its exported `detection` interface
 * (the jco bindings of wit/detector.wit), sharing nothing with other
 * instances (linear memory, resources, trap state). Its linear memory
 * cannot grow past `maxMemoryMib`: an allocation beyond it traps.
 *
 * @param {{ maxMemoryMib: number }} sandbox
 * @returns {Promise<{ api: any, memoryBytes: () => number, maxMemoryBytes: number }>}
 */
export async function instantiateComponent({ maxMemoryMib }) {
  const { instantiate } = await loadOnce();
  const maxPages = maxMemoryMib * 16;
  const memories = [];
  const root = await instantiate(
    (name) => getCoreModule(name, maxPages),
    {},
    async (module, imports) => {
      const instance = await WebAssembly.instantiate(module, imports);
      for (const value of Object.values(instance.exports)) {
        if (value instanceof WebAssembly.Memory) memories.push(value);
      }
      return instance;
    },
  );
  return {
    api: root[INTERFACE],
    /** Bytes of linear memory the instance holds now. */
    memoryBytes: () => memories.reduce((n, m) => n + m.buffer.byteLength, 0),
    maxMemoryBytes: maxMemoryMib * 2 ** 20,
  };
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

/** @type {Promise<any> | undefined} */
let shared;

/**
 * The `detection` interface of one instance this process shares for the
 * component's free functions (`default-config`, `list-rules`), made on
 * first use with the default sandbox.
 */
export function sharedApi() {
  shared ??= instantiateComponent(SHARED_SANDBOX).then(
    (i) => i.api,
    (e) => {
      shared = undefined;
      throw e;
    },
  );
  return shared;
}

/** The built-ins, cached once read (they are the component's, fixed for a process). */
let builtIns;

/**
 * The component's built-in rules, in their declared order (the order
 * `recon detect` runs them): `{ name, short }`, `name` the contract's name
 * (alerts' `rule`), `short` the command line's and the configuration
 * file's (its first word: `sentinel` for `sentinel-aws-cli-recon`), or the
 * whole name when two built-ins share a first word. Read from the
 * component's `default-config` (no rule is named here).
 *
 * @param {any} [api] an instance's interface to ask (else the shared one)
 * @returns {Promise<ReadonlyArray<{ name: string, short: string }>>}
 */
export async function builtInRules(api) {
  if (builtIns) return builtIns;
  const names = (api ?? (await sharedApi())).defaultConfig([], 'default').rules.map((r) => r.rule);
  const first = (n) => n.split('-')[0];
  const unique = (word) => word !== '' && names.filter((o) => first(o) === word).length === 1;
  builtIns = Object.freeze(
    names.map((name) => Object.freeze({ name, short: unique(first(name)) ? first(name) : name })),
  );
  return builtIns;
}
