/**
 * The threaded SIMD wasm build in Node. Its set-up patches three globals; each patch is recorded here and undone by
 * restoreWasmThreadPatches: `os.cpus` (while the backend initialises only), `URL.createObjectURL` (for as long as the
 * pool may start workers) and tfjs's WASM_HAS_MULTITHREAD_SUPPORT flag.
 */
// A plain require (not a namespace copy): the thread set-up patches the module object the backend reads.
import os = require('node:os');
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type * as wasmBackend from '@tensorflow/tfjs-backend-wasm';

/** Thread set-up to finish once the backend has initialised. */
export interface WasmThreadSetup {
  /** Threads asked for (1 = the single-threaded SIMD build). */
  requested: number;
  /** Undoes the temporary patch used during initialisation and unrefs the pool; call after `tf.setBackend('wasm')` settles. */
  done: () => void;
}

const MULTITHREAD_FLAG = 'WASM_HAS_MULTITHREAD_SUPPORT';
type Flags = ReturnType<ReturnType<typeof tf.env>['getFlags']>;

/** The originals of what is patched now (absent: not patched). */
const saved: {
  createObjectURL?: typeof URL.createObjectURL;
  cpus?: typeof os.cpus;
  /** The flag's value before, or undefined when it had none (tfjs evaluates it on first use). */
  multithreadFlag?: { value: Flags[string] | undefined };
} = {};

/**
 * The emscripten pool starts each worker from a blob: URL of its script, which Node refuses: the worker script (the only
 * Blob created as 'application/javascript'; the main script's is 'text/javascript') gets a real file instead. Workers
 * start whenever the pool runs short, so this stays in place while the backend is in use.
 */
function patchCreateObjectURL(): void {
  if (saved.createObjectURL) return;
  const workerFile = path.join(__dirname, 'wasm-thread-worker.js');
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be put back as it was; called on URL
  const original = URL.createObjectURL;
  saved.createObjectURL = original;
  URL.createObjectURL = (obj: Blob | MediaSource) =>
    obj instanceof Blob && obj.type === 'application/javascript' ? workerFile : original.call(URL, obj);
}

/** The backend caps its pool at half the logical cores: report at least 2n cores (the real ones, repeated). */
function patchCpus(n: number): void {
  const cpus = saved.cpus ?? os.cpus;
  saved.cpus = cpus;
  os.cpus = () => {
    const real = cpus();
    return Array.from({ length: Math.max(real.length, 2 * n) }, (_, i) => real[i % real.length]);
  };
}

function restoreCpus(): void {
  if (!saved.cpus) return;
  os.cpus = saved.cpus;
  saved.cpus = undefined;
}

/** tfjs-backend-wasm evaluates the flag to false in Node; true selects the threaded build. */
function setMultithreadFlag(): void {
  saved.multithreadFlag ??= { value: tf.env().getFlags()[MULTITHREAD_FLAG] };
  tf.env().set(MULTITHREAD_FLAG, true);
}

/**
 * Undoes every global patch of configureWasmThreads: `URL.createObjectURL`, `os.cpus` (if a set-up's `done` has not
 * already) and the multithread flag (unset again when it was unset, so that tfjs evaluates it afresh). A wasm backend
 * already running threaded keeps its pool, but the pool cannot start further workers after this. The thread count
 * given to tfjs-backend-wasm stays: the package cannot report the previous one, and it is read only at initialisation.
 */
export function restoreWasmThreadPatches(): void {
  if (saved.createObjectURL) {
    URL.createObjectURL = saved.createObjectURL;
    saved.createObjectURL = undefined;
  }
  restoreCpus();
  if (saved.multithreadFlag) {
    const flags: Flags = { ...tf.env().getFlags() };
    const before = saved.multithreadFlag.value;
    if (before === undefined) delete flags[MULTITHREAD_FLAG];
    else flags[MULTITHREAD_FLAG] = before;
    tf.env().setFlags(flags);
    saved.multithreadFlag = undefined;
  }
}

/**
 * Chooses the threaded SIMD build with `threads` threads (default: `AFFECT_WASM_THREADS`, else every core).
 * tfjs-backend-wasm disables threads in Node because its pthread workers start from blob: URLs, which Node
 * refuses; here the worker gets a real file (./wasm-thread-worker.js). The backend also caps the pool at half
 * the logical cores, so `os.cpus()` reports enough cores while it initialises. 1 keeps the single-threaded build.
 */
export function configureWasmThreads(wasm: typeof wasmBackend, threads?: number): WasmThreadSetup {
  const fromEnv = process.env.AFFECT_WASM_THREADS;
  const n = threads ?? (fromEnv ? Number(fromEnv) : os.cpus().length);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`affect-lab: AFFECT_WASM_THREADS must be a positive integer, got "${fromEnv}"`);
  }
  if (n === 1 || typeof SharedArrayBuffer === 'undefined') return { requested: 1, done: () => undefined };
  setMultithreadFlag();
  wasm.setThreadsCount(n);
  patchCreateObjectURL();
  patchCpus(n);
  return {
    requested: n,
    done: () => {
      restoreCpus();
      // The pool's running workers would keep Node alive after the program's end (idle ones are unref'd already).
      const running = (
        tf.findBackend('wasm') as unknown as { wasm?: { PThread?: { runningWorkers?: { unref(): void }[] } } }
      )?.wasm?.PThread?.runningWorkers;
      for (const w of running ?? []) w.unref();
    },
  };
}
