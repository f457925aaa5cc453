/**
 * Training-speed benchmark (issue 6): forward and training images/s of ResNet-18/50 at 96x96 batch 32 per backend,
 * GFLOP/s from the layer shapes, a kernel profile of one wasm training step (kernels computed in JS are flagged),
 * and the frozen-backbone feature cache against the uncached path.
 * Other jobs may share the cores: every figure is the median of a few timed repeats after a warm-up.
 * Run alone (`node dist/bench/training.js wasm-resnet18`) it prints one section as JSON: bench/main.ts uses that
 * to measure the single-threaded build in a child process (the thread count is fixed once wasm initialises).
 */
import * as tf from '@tensorflow/tfjs';
import type { BenchRow, BenchSection } from './types';
import { timed, type Timing } from './timing';
import { initBackend, describeBackend, type BackendName } from '../lib/backend';
import { WASM_TRAINING_KERNELS } from '../lib/kernels/wasm';
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

/** `timed` (median of `repeats`) after one untimed warm-up, which builds XNNPACK operators etc. */
async function timeWarm(fn: () => Promise<void>, repeats = REPEATS): Promise<Timing> {
  await fn();
  return timed(fn, repeats);
}

function randomBatch(n: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return tf.tidy(() => ({
    x: tf.randomUniform([n, IMAGE_SIZE, IMAGE_SIZE, 3], 0, 255, 'float32', 1) as tf.Tensor4D,
    y: tf.oneHot(tf.randomUniform([n], 0, CLASSES, 'int32', 2) as tf.Tensor1D, CLASSES) as tf.Tensor2D,
  }));
}

const spread = (all: number[]) => `runs ${all.map((s) => s.toFixed(2)).join('/')} s`;

/** Forward (inference) images/s and GFLOP/s of one net on the current backend. */
async function forwardRows(net: NetName, model: tf.LayersModel, batch: number, label: string, target?: number): Promise<BenchRow[]> {
  const { x, y } = randomBatch(batch);
  const flops = modelFlops(model);
  const t = await timeWarm(async () => {
    const p = model.predict(x, { batchSize: batch }) as tf.Tensor;
    await p.data();
    p.dispose();
  });
  tf.dispose([x, y]);
  const ips = batch / t.wallS;
  return [
    { metric: `${net} forward, ${label} batch ${batch}`, value: ips, unit: 'images/s', target, notes: spread(t.all) },
    { metric: `${net} forward GFLOP/s, ${label}`, value: (ips * flops.forward) / 1e9, unit: 'GFLOP/s', notes: `${(flops.forward / 1e9).toFixed(3)} GFLOP/image` },
  ];
}

/** Training-step (trainOnBatch, Adam) images/s and GFLOP/s of one net on the current backend. */
async function trainingRows(net: NetName, model: tf.LayersModel, label: string, target?: number): Promise<BenchRow[]> {
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const { x, y } = randomBatch(BATCH);
  const flops = modelFlops(model);
  // ResNet-50 steps are long: two timed repeats (the slower is reported) keep the whole bench within minutes.
  const t = await timeWarm(async () => {
    await model.trainOnBatch(x, y);
  }, net === 'ResNet-50' ? 2 : REPEATS);
  tf.dispose([x, y]);
  const ips = BATCH / t.wallS;
  return [
    { metric: `${net} training, ${label} batch ${BATCH}`, value: ips, unit: 'images/s', target, notes: spread(t.all) },
    { metric: `${net} training GFLOP/s, ${label}`, value: (ips * flops.training) / 1e9, unit: 'GFLOP/s', notes: `${(flops.training / 1e9).toFixed(3)} GFLOP/image` },
  ];
}

/** Where one wasm training step spends its time, by kernel; kernels computed in JS (slow code) are named. */
async function profileRows(model: tf.LayersModel): Promise<BenchRow[]> {
  const { x, y } = randomBatch(BATCH);
  const info = await tf.profile(async () => {
    await model.trainOnBatch(x, y);
  });
  tf.dispose([x, y]);
  const byName = new Map<string, number>();
  // Entries named `<op>__op` wrap kernels that are listed too: counting both would double the time.
  for (const k of info.kernels) {
    if (!k.name.endsWith('__op')) byName.set(k.name, (byName.get(k.name) ?? 0) + (Number(k.kernelTimeMs) || 0));
  }
  const js = new Set(WASM_TRAINING_KERNELS.filter((k) => k.compute === 'js').map((k) => k.name));
  const top = [...byName.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
  const rows: BenchRow[] = top.map(([name, ms]) => ({
    metric: `ResNet-18 training step, kernel ${name}`,
    value: ms / 1000,
    unit: 's/step',
    notes: js.has(name) ? 'computed in JS (slow path)' : undefined,
  }));
  const jsUsed = [...byName.keys()].filter((n) => js.has(n));
  rows.push({
    metric: 'kernels on a JS (slow) path in a ResNet-18 step',
    value: jsUsed.length,
    unit: 'kernels',
    notes: jsUsed.join(', ') || 'none',
  });
  return rows;
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
  /** Also profile a wasm step and measure the feature cache. Default true. */
  extras?: boolean;
}

/** Targets of issue 6 (ResNet-18 96x96 batch 32 on wasm). */
const TARGETS = { forward: 60, training: 20 };

/** One section per backend; a backend that cannot start is listed as skipped, never replaced by another. */
export async function benchTraining(opts: TrainingBenchOptions = {}): Promise<BenchSection[]> {
  const sections: BenchSection[] = [];
  for (const name of opts.backends ?? (['tensorflow', 'wasm', 'cpu'] as BackendName[])) {
    const section: BenchSection = { name: `training speed: ${name}`, rows: [], skipped: [] };
    sections.push(section);
    let label: string;
    try {
      const report = await initBackend(name);
      label = describeBackend(report).replace(/^backend /, '');
    } catch (e) {
      section.skipped.push(`backend ${name} not available: ${(e as Error).message}`);
      continue;
    }
    for (const net of opts.nets ?? (['ResNet-18', 'ResNet-50'] as NetName[])) {
      const model = buildNet(net);
      const isTarget = name === 'wasm' && net === 'ResNet-18';
      if (name === 'cpu') {
        // The cpu backend is ~300x slower: a small forward batch only.
        section.rows.push(...(await forwardRows(net, model, 2, label)));
        section.skipped.push(`${net} training on cpu (about 300x slower than wasm)`);
      } else {
        section.rows.push(...(await forwardRows(net, model, BATCH, label, isTarget ? TARGETS.forward : undefined)));
        section.rows.push(...(await trainingRows(net, model, label, isTarget ? TARGETS.training : undefined)));
        if (isTarget && opts.extras !== false) section.rows.push(...(await profileRows(model)));
      }
      model.dispose();
    }
    if (name === 'wasm' && opts.extras !== false) section.rows.push(...(await featureCacheRows()));
  }
  return sections;
}

if (require.main === module) {
  // Child-process entry: one wasm ResNet-18 section as JSON (thread count from AFFECT_WASM_THREADS).
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
