/**
 * Training-speed benchmark (issue 6): forward and training images/s of ResNet-18/50 at 96x96 batch 32 per backend,
 * GFLOP/s from the layer shapes, the native convolution addon's status and its speed-up over wasm's own kernels,
 * a kernel profile of one wasm training step (where each kernel computes is flagged), and the frozen-backbone
 * feature cache against the uncached path.
 * Other jobs may share the cores: every figure is the median of a few timed repeats after a warm-up.
 * Run alone (`node dist/bench/training.js wasm-resnet18`) it prints one section as JSON: bench/main.ts uses that
 * to measure the single-threaded build in a child process (wasm's and OpenBLAS's thread counts are fixed once they
 * initialise).
 */
import * as tf from '@tensorflow/tfjs';
import type { BenchRow, BenchSection } from './types';
import { timed, timedAlternating, type Timing } from './timing';
import { initBackend, describeBackend, type BackendName, type BackendReport } from '../lib/backend';
import { WASM_TRAINING_KERNELS } from '../lib/kernels/wasm';
import { loadNativeConv, nativeConv, withNativeConv } from '../lib/kernels/native';
import { resnet } from '../lib/models/resnet';
import { cacheFeatures, splitAtTop } from '../lib/train/feature-cache';

export const IMAGE_SIZE = 96;
export const BATCH = 32;
const CLASSES = 7;
const REPEATS = 3;

export type NetName = 'ResNet-18' | 'ResNet-50';
const DEPTH: Record<NetName, 18 | 50> = { 'ResNet-18': 18, 'ResNet-50': 50 };

/** The study's ResNet (valid stem, Rescaling, Dense + Softmax) with `CLASSES` outputs. */
function buildNet(net: NetName): tf.LayersModel {
  return resnet(DEPTH[net], { inputShape: [IMAGE_SIZE, IMAGE_SIZE, 3], normalize: true, outputUnits: CLASSES });
}

/**
 * FLOPs per image counted from the layer shapes (multiply + add = 2): forward = every Conv2D and Dense;
 * a training step adds the weight gradient of each (as many FLOPs as its forward) and the input gradient of each
 * but the first (the image needs none). Batch norm, pooling and the optimizer are left out (memory-bound, small).
 */
export function modelFlops(model: tf.LayersModel): { forward: number; training: number } {
  let forward = 0;
  let first = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls !== 'Conv2D' && cls !== 'Dense') continue;
    const kernel = layer.weights[0].shape as number[];
    const out = layer.outputShape as (number | null)[];
    const positions = cls === 'Conv2D' ? (out[1] as number) * (out[2] as number) : 1;
    const f = 2 * positions * kernel.reduce((a, b) => a * b, 1);
    if (forward === 0) first = f;
    forward += f;
  }
  return { forward, training: 3 * forward - first };
}

/** `timedAlternating` (medians of `repeats`) after one untimed warm-up of each, which builds XNNPACK operators etc. */
async function timeWarm(fns: (() => Promise<void>)[], repeats = REPEATS): Promise<Timing[]> {
  for (const fn of fns) await fn();
  return timedAlternating(fns, repeats);
}

function randomBatch(n: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return tf.tidy(() => ({
    x: tf.randomUniform([n, IMAGE_SIZE, IMAGE_SIZE, 3], 0, 255, 'float32', 1) as tf.Tensor4D,
    y: tf.oneHot(tf.randomUniform([n], 0, CLASSES, 'int32', 2) as tf.Tensor1D, CLASSES) as tf.Tensor2D,
  }));
}

const spread = (all: number[]) => `runs ${all.map((s) => s.toFixed(2)).join('/')} s`;

type Mode = 'forward' | 'training';

/** One forward pass (inference) or training step (trainOnBatch, Adam) of `model` on the batch `x`, `y`. */
function stepFn(mode: Mode, model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor2D): () => Promise<void> {
  if (mode === 'forward') {
    return async () => {
      const p = model.predict(x, { batchSize: x.shape[0] }) as tf.Tensor;
      await p.data();
      p.dispose();
    };
  }
  // Compiled once: a second compile would leave the first optimizer's moments in memory.
  if (!model.optimizer) model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  return async () => {
    await model.trainOnBatch(x, y);
  };
}

/** The images/s and GFLOP/s rows of one timed mode. */
function rateRows(net: NetName, mode: Mode, label: string, batch: number, t: Timing, flops: number, target?: number): BenchRow[] {
  const ips = batch / t.wallS;
  return [
    { metric: `${net} ${mode}, ${label} batch ${batch}`, value: ips, unit: 'images/s', target, notes: spread(t.all) },
    { metric: `${net} ${mode} GFLOP/s, ${label}`, value: (ips * flops) / 1e9, unit: 'GFLOP/s', notes: `${(flops / 1e9).toFixed(3)} GFLOP/image` },
  ];
}

/** Forward or training images/s and GFLOP/s of one net on the current backend. */
async function modeRows(net: NetName, model: tf.LayersModel, mode: Mode, batch: number, label: string, target?: number): Promise<BenchRow[]> {
  const { x, y } = randomBatch(batch);
  // ResNet-50 steps are long: two timed repeats (the slower is reported) keep the whole bench within minutes.
  const [t] = await timeWarm([stepFn(mode, model, x, y)], mode === 'training' && net === 'ResNet-50' ? 2 : REPEATS);
  tf.dispose([x, y]);
  return rateRows(net, mode, label, batch, t, modelFlops(model)[mode], target);
}

interface KernelTime {
  ms: number;
  calls: number;
}

/**
 * Runs `fn` once with every kernel of the active backend timed, by wrapping the registry's `kernelFunc`s (always
 * restored). Not tf.profile: without a kernel timer (wasm) it reads back every output, which inflates large
 * elementwise kernels 10-30x. wasm and native kernels finish before they return, so a call's wall time is the
 * kernel's. A kernel called from inside another (the wasm gradients call Conv2D's) counts towards the outer one.
 */
async function timeKernels(fn: () => Promise<void>): Promise<{ wallS: number; kernels: Map<string, KernelTime> }> {
  const kernels = new Map<string, KernelTime>();
  const originals = new Map<tf.KernelConfig, tf.KernelFunc>();
  let depth = 0;
  try {
    for (const k of tf.getKernelsForBackend(tf.getBackend())) {
      const f = k.kernelFunc;
      originals.set(k, f);
      k.kernelFunc = (args) => {
        if (depth > 0) return f(args);
        depth++;
        const t0 = performance.now();
        try {
          return f(args);
        } finally {
          depth--;
          const t = kernels.get(k.kernelName) ?? { ms: 0, calls: 0 };
          kernels.set(k.kernelName, { ms: t.ms + performance.now() - t0, calls: t.calls + 1 });
        }
      };
    }
    const { wallS } = await timed(fn, 1);
    return { wallS, kernels };
  } finally {
    for (const [k, f] of originals) k.kernelFunc = f;
  }
}

/** Where each of our wasm kernels computes, for the profile's notes: the native addon (when in use) or slow JS. */
function computedWhere(): Map<string, string> {
  const native = nativeConv() !== undefined;
  const where = new Map<string, string>();
  for (const k of WASM_TRAINING_KERNELS) {
    if (k.compute === 'js') where.set(k.name, 'JS (slow path)');
    else if (k.compute === 'native' && native) where.set(k.name, 'native addon');
  }
  return where;
}

/** Where one wasm training step spends its time: the top kernels, all kernels against the step's wall time, JS kernels. */
async function profileRows(net: NetName, model: tf.LayersModel): Promise<BenchRow[]> {
  const { x, y } = randomBatch(BATCH);
  const { wallS, kernels } = await timeKernels(async () => {
    await model.trainOnBatch(x, y);
  });
  tf.dispose([x, y]);
  const where = computedWhere();
  const step = `${net} training step (one, profiled)`;
  const top = [...kernels.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 8);
  const rows: BenchRow[] = top.map(([name, k]) => ({
    metric: `${step}, kernel ${name}`,
    value: k.ms,
    unit: 'ms/step',
    notes: [`${k.calls} calls`, where.get(name)].filter(Boolean).join(', '),
  }));
  const all = [...kernels.values()];
  const kernelMs = all.reduce((a, k) => a + k.ms, 0);
  const wallMs = wallS * 1000;
  rows.push(
    { metric: `${step}, wall time`, value: wallMs, unit: 'ms/step' },
    {
      metric: `${step}, all kernels`,
      value: kernelMs,
      unit: 'ms/step',
      notes: `${((100 * kernelMs) / wallMs).toFixed(0)}% of the wall time, ${all.reduce((a, k) => a + k.calls, 0)} calls`,
    },
    { metric: `${step}, outside kernels`, value: wallMs - kernelMs, unit: 'ms/step', notes: 'framework: autograd tape, bookkeeping, layers and optimizer JS' },
  );
  const jsUsed = [...kernels.keys()].filter((n) => where.get(n) === 'JS (slow path)');
  rows.push({ metric: `kernels on a JS (slow) path in a ${net} step`, value: jsUsed.length, unit: 'kernels', notes: jsUsed.join(', ') || 'none' });
  return rows;
}

/** The native addon's status: a row (BLAS threads, OpenBLAS config) when in use, else a skipped line with the reason. */
function noteNativeStatus(section: BenchSection): void {
  const s = loadNativeConv();
  if (s.available) section.rows.push({ metric: 'native convolution addon', value: s.threads, unit: 'BLAS threads', notes: s.blas });
  else section.skipped.push(`native convolution addon not in use (${s.reason}): every convolution runs on wasm kernels`);
}

/**
 * Forward and training images/s of `net` with the native addon switched off, and the addon's speed-up: each mode
 * alternates runs with and without the addon, so that load from other jobs does not favour either.
 */
async function nativeOffRows(net: NetName, model: tf.LayersModel, label: string): Promise<BenchRow[]> {
  const { x, y } = randomBatch(BATCH);
  const flops = modelFlops(model);
  const rows: BenchRow[] = [];
  const speedUps: BenchRow[] = [];
  for (const mode of ['forward', 'training'] as const) {
    const step = stepFn(mode, model, x, y);
    const [on, off] = await timeWarm([step, () => withNativeConv(false, step)]);
    rows.push(...rateRows(net, mode, label, BATCH, off, flops[mode]));
    speedUps.push({
      metric: `${net} ${mode} speed-up, native convolutions vs wasm kernels only`,
      value: off.wallS / on.wallS,
      unit: 'x',
      notes: `alternating runs; native ${spread(on.all)}`,
    });
  }
  tf.dispose([x, y]);
  return [...rows, ...speedUps];
}

/** The frozen-backbone feature cache against running the backbone every epoch (ResNet-18 backbone, Dense top). */
async function featureCacheRows(): Promise<BenchRow[]> {
  const n = 2 * BATCH;
  const epochs = 3;
  const model = buildNet('ResNet-18');
  const { backbone, top } = splitAtTop(model);
  backbone.trainable = false;
  top.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const { x, y } = randomBatch(n);
  const t0 = performance.now();
  for (let e = 0; e < epochs; e++) {
    for (let i = 0; i < n; i += BATCH) {
      const xb = x.slice(i, BATCH);
      const yb = y.slice(i, BATCH);
      const f = backbone.predict(xb) as tf.Tensor;
      await top.trainOnBatch(f, yb);
      tf.dispose([xb, yb, f]);
    }
  }
  const uncached = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const cache = await cacheFeatures(backbone, x, { batchSize: BATCH });
  for (let e = 0; e < epochs; e++) {
    for (let i = 0; i < n; i += BATCH) {
      const fb = cache.batch(i, BATCH);
      const yb = y.slice(i, BATCH);
      await top.trainOnBatch(fb, yb);
      tf.dispose([fb, yb]);
    }
  }
  const cached = (performance.now() - t1) / 1000;
  tf.dispose([x, y]);
  cache.dispose();
  model.dispose();
  const notes = `${n} images, ${epochs} epochs, batch ${BATCH}`;
  return [
    { metric: 'frozen ResNet-18 + Dense top, uncached', value: (n * epochs) / uncached, unit: 'images/s', notes },
    { metric: 'frozen ResNet-18 + Dense top, feature cache', value: (n * epochs) / cached, unit: 'images/s', notes: `${notes}, includes computing the cache` },
    { metric: 'feature cache speed-up', value: uncached / cached, unit: 'x', notes },
  ];
}

export interface TrainingBenchOptions {
  /** Backends to measure, in order. Default: tensorflow, wasm, cpu. */
  backends?: BackendName[];
  /** Nets to measure. Default both. */
  nets?: NetName[];
  /** Also profile a wasm step, measure wasm without the native addon and the feature cache. Default true. */
  extras?: boolean;
}

/** The row label of a backend: its description without the leading "backend". */
const describe = (r: BackendReport) => describeBackend(r).replace(/^backend /, '');

/** Targets of issue 6 (ResNet-18 96x96 batch 32 on wasm), on the default configuration (native addon if built). */
const TARGETS = { forward: 60, training: 20 };

/** One section per backend; a backend that cannot start is listed as skipped, never replaced by another. */
export async function benchTraining(opts: TrainingBenchOptions = {}): Promise<BenchSection[]> {
  const sections: BenchSection[] = [];
  for (const name of opts.backends ?? (['tensorflow', 'wasm', 'cpu'] as BackendName[])) {
    const section: BenchSection = { name: `training speed: ${name}`, rows: [], skipped: [] };
    sections.push(section);
    let report: BackendReport;
    try {
      report = await initBackend(name);
    } catch (e) {
      section.skipped.push(`backend ${name} not available: ${(e as Error).message}`);
      continue;
    }
    // The report names the native convolutions when they are in use; the comparison rows run without them.
    const label = describe(report);
    const native = name === 'wasm' && nativeConv() !== undefined;
    if (name === 'wasm') noteNativeStatus(section);
    for (const net of opts.nets ?? (['ResNet-18', 'ResNet-50'] as NetName[])) {
      const model = buildNet(net);
      const isTarget = name === 'wasm' && net === 'ResNet-18';
      if (name === 'cpu') {
        // The cpu backend is ~300x slower: a small forward batch only.
        section.rows.push(...(await modeRows(net, model, 'forward', 2, label)));
        section.skipped.push(`${net} training on cpu (about 300x slower than wasm)`);
      } else {
        for (const mode of ['forward', 'training'] as const) {
          section.rows.push(...(await modeRows(net, model, mode, BATCH, label, isTarget ? TARGETS[mode] : undefined)));
        }
        if (isTarget && opts.extras !== false) {
          section.rows.push(...(await profileRows(net, model)));
          const offLabel = `${describe({ ...report, native: undefined })}, wasm kernels only`;
          if (native) section.rows.push(...(await nativeOffRows(net, model, offLabel)));
        }
      }
      model.dispose();
    }
    if (name === 'wasm' && opts.extras !== false) section.rows.push(...(await featureCacheRows()));
  }
  return sections;
}

if (require.main === module) {
  // Child-process entry: one wasm ResNet-18 section as JSON (threads from AFFECT_WASM_THREADS and AFFECT_NATIVE_THREADS).
  benchTraining({ backends: ['wasm'], nets: ['ResNet-18'], extras: false })
    .then((s) => {
      process.stdout.write(JSON.stringify(s[0]) + '\n');
      process.exit(0);
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
