/**
 * The one module that chooses, initialises and reports the TensorFlow.js backend.
 * Order: `tensorflow` (tfjs-node-gpu, then tfjs-node, when installed with their libtensorflow) > `wasm` > `cpu`.
 * `AFFECT_BACKEND` or an explicit name overrides the order. No other module names a backend.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { configureWasmThreads, registerWasmTrainingKernels, restoreWasmPatches } from './kernels/wasm';
import { loadNativeConv, type NativeStatus } from './kernels/native';
import { ConfigError } from './errors';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendReport {
  /** The tfjs backend name in use. */
  name: BackendName;
  /** For `tensorflow`: which package provided it. */
  provider?: string;
  /** Threads the backend computes with. */
  threads: number;
  /** Whether SIMD kernels are in use (wasm). */
  simd: boolean;
  /** wasm: the native convolution addon (lib/kernels/native.ts) in use, or why not. */
  native?: NativeStatus;
  /** Backends tried before this one, with the reason each was passed over. */
  skipped: { name: string; reason: string }[];
}

let current: BackendReport | undefined;

function tryRequire(name: string): { ok: true } | { ok: false; reason: string } {
  try {
    require(name);
    return { ok: true };
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    return { ok: false, reason: msg };
  }
}

async function initTensorflow(skipped: BackendReport['skipped']): Promise<BackendReport | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    const r = tryRequire(pkg);
    if (!r.ok) {
      skipped.push({ name: `tensorflow (${pkg})`, reason: r.reason });
      continue;
    }
    if (await tf.setBackend('tensorflow')) {
      return { name: 'tensorflow', provider: pkg, threads: 0, simd: false, skipped };
    }
    skipped.push({ name: `tensorflow (${pkg})`, reason: 'backend failed to initialise' });
  }
  return undefined;
}

async function initWasm(skipped: BackendReport['skipped']): Promise<BackendReport | undefined> {
  try {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    // Load the .wasm binaries from node_modules: never from a CDN.
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(dir + path.sep);
    // Training kernels must be registered before the backend initialises (see lib/kernels/wasm.ts).
    registerWasmTrainingKernels();
    // With the native addon, its threads use every core for the convolutions, and wasm's own pool (spin-waiting
    // between its kernels) only competes with them: on 2 cores one wasm thread made ResNet-18 steps steady at
    // ~0.95 s, against 0.88-1.3 s with two. AFFECT_WASM_THREADS still decides when set.
    const native = loadNativeConv();
    const threads = configureWasmThreads(wasm, native.available && !process.env.AFFECT_WASM_THREADS ? 1 : undefined);
    try {
      if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
      await tf.ready();
    } finally {
      threads.done();
    }
    return {
      name: 'wasm',
      // What the backend really runs with, not what was asked for.
      threads: wasm.getThreadsCount(),
      simd: (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean,
      native,
      skipped,
    };
  } catch (e) {
    // A wasm backend that did not start leaves no kernel registration or global patch behind.
    restoreWasmPatches();
    skipped.push({ name: 'wasm', reason: (e as Error).message.split('\n')[0] });
    return undefined;
  }
}

async function initCpu(skipped: BackendReport['skipped']): Promise<BackendReport> {
  if (!(await tf.setBackend('cpu'))) throw new Error('affect-lab: even the cpu backend failed to initialise');
  quietCpuBanner();
  return { name: 'cpu', threads: 1, simd: false, skipped };
}

/**
 * tfjs's cpu backend prints an "install our node backend" banner on its first write in Node; the report says why the
 * tensorflow backend was passed over instead. The first write is done here with tfjs's warnings off.
 */
function quietCpuBanner(): void {
  const prod = tf.env().getBool('PROD');
  tf.env().set('PROD', true);
  try {
    tf.tensor([0]).dispose();
  } finally {
    tf.env().set('PROD', prod);
  }
}

/**
 * Chooses and initialises the backend. `preferred` (or the `AFFECT_BACKEND` variable) forces one;
 * forcing a backend that cannot start is an error, never a silent fallback.
 * Calling it again with the same choice returns the current report.
 */
export async function initBackend(preferred: string | undefined = process.env.AFFECT_BACKEND): Promise<BackendReport> {
  const want = preferred === '' || preferred === 'auto' ? undefined : preferred;
  if (want !== undefined && !BACKEND_NAMES.includes(want as BackendName)) {
    throw new ConfigError(`affect-lab: unknown backend "${want}"; accepted values: ${BACKEND_NAMES.join(', ')}, auto`);
  }
  if (current && (want === undefined || want === current.name)) return current;
  // A mistyped setting of the addon would otherwise train on the wasm kernels alone, many times slower.
  const native = want === undefined || want === 'wasm' ? loadNativeConv() : undefined;
  if (native && !native.available && native.setting) throw new ConfigError(`affect-lab: ${native.reason}`);
  const skipped: BackendReport['skipped'] = [];
  const order: BackendName[] = want ? [want as BackendName] : [...BACKEND_NAMES];
  for (const name of order) {
    const report =
      name === 'tensorflow'
        ? await initTensorflow(skipped)
        : name === 'wasm'
          ? await initWasm(skipped)
          : await initCpu(skipped);
    if (report) {
      current = report;
      return report;
    }
  }
  throw new Error(
    `affect-lab: backend "${want}" is not available: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`,
  );
}

/** The report of the backend in use, or undefined before `initBackend`. */
export function backendReport(): BackendReport | undefined {
  return current;
}

/** What runs a record's convolutions when it names none: the addon had only im2col + OpenBLAS before oneDNN. */
const IM2COL = 'im2col + OpenBLAS';

/**
 * One line for logs and run records, e.g. `backend wasm (threads 1, SIMD, native convolutions (2 threads): oneDNN
 * 2.6.3)`.
 */
export function describeBackend(r: BackendReport): string {
  const n = r.native;
  const native = !n
    ? ''
    : n.available
      ? `, native convolutions (${n.threads} thread${n.threads === 1 ? '' : 's'}): ${n.convolutions ?? IM2COL}`
      : `, no native convolutions: ${n.reason}`;
  const extra = r.name === 'tensorflow' ? (r.provider ?? '') : `threads ${r.threads}${r.simd ? ', SIMD' : ''}${native}`;
  return `backend ${r.name} (${extra})`;
}
