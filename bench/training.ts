/**
 * Training-speed benchmark, on what the experiments train: each experiment's default trial model at
 * its published input size and batch, built by lib/models' registry as the runner builds it (random weights), timed
 * for one forward pass as validation runs it and one training step (lib/train's trainStep with the trial's optimizer)
 * per backend, with GFLOP/s from the layer shapes. On wasm also: the native addon's status and speed-up over wasm's own kernels,
 * per-kernel profiles of one training step of ResNet-18 (experiment 1) and of ResNet-18 + VGG top (experiments 3 and
 * 5), that model with native against wasm matrix products, and the frozen-backbone feature cache against the uncached
 * path. Every backend that trains also gets the projected wall time of each experiment's full-scale default trial.
 * Other jobs may share the cores: every figure is the median of a few timed repeats after a warm-up.
 * Run alone (`node dist/bench/training.js`) it prints experiment 1's wasm section as JSON: bench/main.ts uses that to
 * measure thread counts in child processes (wasm's and the addon's are fixed once they initialise).
 */
import * as tf from '@tensorflow/tfjs';
import type { BenchRow, BenchSection } from './types';
import { MIN_RUN_S, PEER_ROUNDS, REPEATS, SMOKE, WARM_S, timed, timedAlternating, type Timing } from './timing';
import { initBackend, describeBackend, type BackendName, type BackendReport } from '../lib/backend';
import { findManifest, listManifests } from '../lib/data/manifest';
import { validationSplit } from '../lib/data/pipeline';
import { EXPERIMENTS, describeModel, getTrial, resolveTrial, type Experiment, type Trial } from '../lib/experiments';
import { WASM_TRAINING_KERNELS, takeStockFallbacks } from '../lib/kernels/wasm';
import {
  loadNativeConv,
  nativeConv,
  nativeOptimizer,
  setNativeMatMulEnabled,
  withNativeConv,
} from '../lib/kernels/native';
import { disposeFoldCache, type FoldCache } from '../lib/models/fold';
import { buildModel } from '../lib/models/registry';
import { featureCachePlan } from '../lib/runner/features';
import { compileModel, releaseStepFolds, trainStep } from '../lib/train';
import { lossHead } from '../lib/train/loss';
import { cacheFeatures } from '../lib/train/feature-cache';
import { splitAtTop } from '../lib/train/split';

/** One model the bench times: the default trial of one or more experiments (3 and 5 train the same model). */
export interface BenchModel {
  /** The trial's model as experiments describe it, with the experiments' numbers, e.g. 'resnet18 + vgg top (exp 3, 5)'. */
  name: string;
  /** The first experiment's default trial: the others differ at most in their classes (the last layer's width). */
  trial: Trial;
  classes: number;
  /** Input side, batch size and image channels: the trial's (in smoke mode 32x32 images in batches of 2). */
  size: number;
  batch: number;
  channels: number;
  /** Every experiment whose default trial trains this model, for the projected run times. */
  uses: { experiment: Experiment; trial: Trial }[];
}

/** The classes a trial's model predicts: two for a binary relabelling, else its dataset's minus those it drops. */
function trialClasses(t: Trial): number {
  if (t.data.binary) return 2;
  return findManifest(t.data.dataset).classes.filter((c) => !t.data.drop?.includes(c)).length;
}

/** The experiments' default trials, one entry per distinct model, optimizer, input size and batch, in experiment order. */
export function benchModels(): BenchModel[] {
  const byKey = new Map<string, BenchModel>();
  for (const experiment of EXPERIMENTS) {
    const { trial } = getTrial(experiment);
    const channels = trial.data.grayscale ? 1 : 3;
    const key = JSON.stringify([trial.model, trial.optimizer, trial.imageSize, trial.batchSize, channels]);
    const found = byKey.get(key);
    if (found) found.uses.push({ experiment, trial });
    else {
      const classes = trialClasses(trial);
      const [size, batch] = SMOKE ? [32, 2] : [trial.imageSize, trial.batchSize];
      byKey.set(key, { name: '', trial, classes, size, batch, channels, uses: [{ experiment, trial }] });
    }
  }
  const models = [...byKey.values()];
  for (const m of models)
    m.name = `${describeModel(m.trial.model)} (exp ${m.uses.map((u) => u.experiment.number ?? u.experiment.name).join(', ')})`;
  return models;
}

/** The trial's model as the runner builds it (lib/models' buildModel), with random weights. */
async function buildBenchModel(m: BenchModel): Promise<tf.LayersModel> {
  const { name, top, ...options } = m.trial.model;
  return buildModel(name, {
    ...options,
    inputShape: [m.size, m.size, m.channels],
    outputUnits: m.classes,
    top,
    weights: 'random',
  });
}

/**
 * FLOPs per image counted from the layer shapes (multiply + add = 2): forward = every Conv2D and Dense; a training
 * step adds the weight gradient of each trainable one (as many FLOPs as its forward) and the input gradient of each
 * one after the first trainable one (nothing below that needs a gradient: the image, a frozen backbone). Batch norm,
 * pooling and the optimizer are left out (memory-bound, small). bench/torch_bench.py counts the same way.
 */
export function modelFlops(model: tf.LayersModel): { forward: number; training: number } {
  let forward = 0;
  let gradients = 0;
  let belowTrainable = false;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls !== 'Conv2D' && cls !== 'Dense') continue;
    const kernel = layer.weights[0].shape as number[];
    const out = layer.outputShape as (number | null)[];
    const positions = cls === 'Conv2D' ? (out[1] as number) * (out[2] as number) : 1;
    const f = 2 * positions * kernel.reduce((a, b) => a * b, 1);
    forward += f;
    if (belowTrainable) gradients += f;
    if (layer.trainableWeights.length > 0) {
      gradients += f;
      belowTrainable = true;
    }
  }
  return { forward, training: forward + gradients };
}

/**
 * Untimed calls of `fn` for WARM_S seconds (at least two): the first builds oneDNN's primitives etc.; the last says how
 * many calls fill a timed run of MIN_RUN_S, returned. A call shorter than that is repeated within each timed run, and the
 * figures are per call: single calls of a few milliseconds vary by several times from run to run on a shared machine.
 */
async function warmUp(fn: () => Promise<void>): Promise<number> {
  const warm = performance.now();
  do await fn();
  while (performance.now() - warm < WARM_S * 1000);
  // The last untimed call decides how many fill a run: the first pays one-off set-up.
  const t0 = performance.now();
  await fn();
  return SMOKE ? 1 : Math.max(1, Math.ceil(MIN_RUN_S / ((performance.now() - t0) / 1000)));
}

/** A timed run of `fn` as `calls` calls, and the timing of such runs per call. */
const repeated = (fn: () => Promise<void>, calls: number) => async () => {
  for (let k = 0; k < calls; k++) await fn();
};
const perCall = (t: Timing, calls: number): Timing => ({
  wallS: t.wallS / calls,
  cpuS: t.cpuS / calls,
  all: t.all.map((w) => w / calls),
});

/** `timedAlternating` (medians of `repeats`) of each of `fns` after its warm-up (warmUp), per call. */
async function timeWarm(fns: (() => Promise<void>)[], repeats = REPEATS): Promise<Timing[]> {
  const calls: number[] = [];
  for (const fn of fns) calls.push(await warmUp(fn));
  const timings = await timedAlternating(
    fns.map((fn, i) => repeated(fn, calls[i])),
    repeats,
  );
  return timings.map((t, i) => perCall(t, calls[i]));
}

/** `n` of `m`'s images (0-255, as the pipeline feeds them) and class indices, as trainStep takes them. */
function randomBatch(m: BenchModel, n = m.batch): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return tf.tidy(() => ({
    x: tf.randomUniform<tf.Rank.R4>([n, m.size, m.size, m.channels], 0, 255, 'float32', 1),
    y: tf.randomUniform<tf.Rank.R1>([n], 0, m.classes, 'int32', 2),
  }));
}

const spread = (all: number[]) => `runs ${all.map((s) => s.toFixed(3)).join('/')} s`;

type Mode = 'forward' | 'training';

/** A timed call and what frees what it keeps between calls. */
interface Step {
  run: () => Promise<void>;
  dispose: () => void;
}

/**
 * One forward pass or training step of `model` on `x`, `y` as a run does them: the forward pass is validation's and
 * evaluation's (lossHead(model).infer, batch norm folded into the convolutions once per pass, the folds kept across
 * calls as across a pass's batches), the training step lib/train's trainStep with the trial's optimizer.
 */
function stepFn(mode: Mode, model: tf.LayersModel, trial: Trial, x: tf.Tensor4D, y: tf.Tensor1D): Step {
  if (mode === 'forward') {
    const head = lossHead(model);
    const folds: FoldCache = new Map();
    return {
      run: async () => {
        const p = head.infer(x, folds);
        await p.data();
        p.dispose();
      },
      dispose: () => disposeFoldCache(folds),
    };
  }
  // Compiled once: a second compile would leave the first optimizer's moments in memory.
  if (!model.optimizer) compileModel(model, trial.optimizer);
  return {
    run: async () => {
      await trainStep(model, x, y);
    },
    dispose: () => releaseStepFolds(model),
  };
}

/** The images/s and GFLOP/s rows of one timed mode. */
function rateRows(
  net: string,
  mode: Mode,
  label: string,
  batch: number,
  t: Timing,
  flops: number,
  target?: number,
): BenchRow[] {
  const ips = batch / t.wallS;
  return [
    { metric: `${net} ${mode}, ${label} batch ${batch}`, value: ips, unit: 'images/s', target, notes: spread(t.all) },
    {
      metric: `${net} ${mode} GFLOP/s, ${label}`,
      value: (ips * flops) / 1e9,
      unit: 'GFLOP/s',
      notes: `${(flops / 1e9).toFixed(3)} GFLOP/image`,
    },
  ];
}

/** The images/s row of `net` and `mode` in a training section, if measured. */
export function findRate(section: BenchSection | undefined, net: string, mode: Mode): BenchRow | undefined {
  return section?.rows.find((r) => r.unit === 'images/s' && r.metric.startsWith(`${net} ${mode}, `));
}

/** The GFLOP/s row of `net` and `mode` in a training section, if measured. */
export function findGflops(section: BenchSection | undefined, net: string, mode: Mode): BenchRow | undefined {
  return section?.rows.find((r) => r.unit === 'GFLOP/s' && r.metric.startsWith(`${net} ${mode} GFLOP/s, `));
}

/**
 * Another engine timing each bench model in turn with ours, run for run (bench/main.ts: PyTorch in a child process), so
 * that each ratio compares runs seconds apart: load on these machines drifts over a bench run by more than the gaps
 * between the engines.
 */
export interface Peer {
  /** The engine as rows name it, e.g. "PyTorch". */
  name: string;
  /** Builds `m`'s trial model in the peer; throws why it cannot. */
  load(m: BenchModel): Promise<PeerModel>;
  /** The peer's warm-up of `mode` (as warmUp), after ours. */
  warm(mode: Mode): Promise<void>;
  /** One timed run of `mode` in the peer: seconds per call. */
  time(mode: Mode): Promise<number>;
}

/** What the peer says of a model it built. */
export interface PeerModel {
  /** FLOPs per image of each mode, counted as modelFlops counts ours. */
  flops: Record<Mode, number>;
  /** The peer's version, threads and how it built the model, for the rows' notes. */
  notes: string;
}

/** A peer's request that failed: the bench goes on timing ours alone. */
class PeerFailure extends Error {}

/** `p`, its failure marked as the peer's. */
const fromPeer = <T>(peer: Peer, p: Promise<T>): Promise<T> =>
  p.catch((e: Error) => {
    throw new PeerFailure(`${peer.name} failed: ${e.message}`);
  });

/** Seconds per call of the peer's run and ours in each round, in order. */
export interface PeerTiming {
  peer: number[];
  ours: number[];
}

/**
 * Forward or training images/s and GFLOP/s of one model on the current backend, and with `peer` its runs in turn with
 * ours: a run of ours, then one of the peer's, PEER_ROUNDS rounds, after both warm-ups.
 */
async function modeRows(
  m: BenchModel,
  model: tf.LayersModel,
  mode: Mode,
  batch: number,
  label: string,
  target?: number,
  peer?: Peer,
): Promise<{ rows: BenchRow[]; peer?: PeerTiming }> {
  const { x, y } = randomBatch(m, batch);
  let step: Step | undefined;
  try {
    step = stepFn(mode, model, m.trial, x, y);
    const fn = step.run;
    const flops = modelFlops(model)[mode];
    if (!peer) {
      const [t] = await timeWarm([fn]);
      return { rows: rateRows(m.name, mode, label, batch, t, flops, target) };
    }
    const calls = await warmUp(fn);
    await fromPeer(peer, peer.warm(mode));
    const rounds: PeerTiming = { peer: [], ours: [] };
    const runs: Timing[] = [];
    for (let r = 0; r < PEER_ROUNDS; r++) {
      const [t] = await timedAlternating([repeated(fn, calls)], 1);
      runs.push(perCall(t, calls));
      rounds.ours.push(runs[r].wallS);
      rounds.peer.push(await fromPeer(peer, peer.time(mode)));
    }
    runs.sort((a, b) => a.wallS - b.wallS);
    const ours = { ...runs[Math.floor(runs.length / 2)], all: runs.map((t) => t.wallS) };
    return { rows: rateRows(m.name, mode, label, batch, ours, flops, target), peer: rounds };
  } finally {
    step?.dispose();
    tf.dispose([x, y]);
  }
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/**
 * The peer's rows of one model and mode: its images/s and GFLOP/s (medians of its runs), and ours over its as the median
 * of each round's ratio (our run and the peer's next to it).
 */
export function peerRows(
  peer: Peer,
  m: BenchModel,
  mode: Mode,
  batch: number,
  t: PeerTiming,
  info: PeerModel,
  ourFlops: number,
): BenchRow[] {
  const ips = batch / median(t.peer);
  const gflops = (ips * info.flops[mode]) / 1e9;
  const runs = t.peer.map((s) => s.toFixed(3)).join('/');
  // Ours over the peer's FLOPs per image: 1 where the models are the same.
  const flopsRatio = ourFlops / info.flops[mode];
  const rounds = t.peer.map((s, i) => s / t.ours[i]);
  const roundList = rounds.map((r) => fmt(r)).join(', ');
  return [
    {
      metric: `${m.name} ${mode}, ${peer.name}`,
      value: ips,
      unit: 'images/s',
      notes: `${info.notes}, batch ${batch}, runs ${runs} s`,
    },
    {
      metric: `${m.name} ${mode} GFLOP/s, ${peer.name}`,
      value: gflops,
      unit: 'GFLOP/s',
      notes: `${(info.flops[mode] / 1e9).toFixed(3)} GFLOP/image`,
    },
    {
      metric: `${m.name} ${mode}, wasm / ${peer.name} images/s`,
      value: median(rounds),
      unit: 'ratio',
      notes: `median of the rounds' ratios (${roundList}), each a run of ours and the next of ${peer.name}'s`,
    },
    {
      metric: `${m.name} ${mode}, wasm / ${peer.name} GFLOP/s`,
      value: median(rounds) * flopsRatio,
      unit: 'ratio',
      // The target: every trial model trains at the peer's GFLOP/s or better.
      target: mode === 'training' ? 1 : undefined,
      notes:
        Math.abs(flopsRatio - 1) < 1e-3
          ? 'the same FLOPs per image on both sides'
          : `our model has ${fmt(flopsRatio)}x ${peer.name}'s FLOPs per image: the fair ratio where the models differ`,
    },
  ];
}

/** A figure with about three significant digits, for tables and notes. */
export function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toPrecision(3);
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

/**
 * Where one wasm training step spends its time: the top kernels, the optimizer's update, all kernels against the
 * step's wall time, JS kernels.
 */
async function profileRows(m: BenchModel, model: tf.LayersModel): Promise<BenchRow[]> {
  const { x, y } = randomBatch(m);
  if (!model.optimizer) compileModel(model, m.trial.optimizer);
  // Ours take every step through applyGradientsWithL2 (trainStep calls it, and so does their applyGradients); tfjs'
  // own optimizers through applyGradients.
  const optimizer = model.optimizer as unknown as Record<string, (...args: unknown[]) => unknown>;
  const method = 'applyGradientsWithL2' in optimizer ? 'applyGradientsWithL2' : 'applyGradients';
  const apply = optimizer[method];
  let updateMs = 0;
  optimizer[method] = (...args) => {
    const t0 = performance.now();
    const out = apply.apply(optimizer, args);
    updateMs += performance.now() - t0;
    return out;
  };
  takeStockFallbacks();
  const { wallS, kernels } = await timeKernels(async () => {
    await trainStep(model, x, y);
  }).finally(() => {
    optimizer[method] = apply;
  });
  const fallbacks = takeStockFallbacks();
  tf.dispose([x, y]);
  const where = computedWhere();
  const step = `${m.name} training step (one, profiled)`;
  const top = [...kernels.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 8);
  const rows: BenchRow[] = top.map(([name, k]) => ({
    metric: `${step}, kernel ${name}`,
    value: k.ms,
    unit: 'ms/step',
    notes: [
      `${k.calls} calls`,
      where.get(name),
      fallbacks.has(name) && `${fallbacks.get(name)} of them on the stock kernel`,
    ]
      .filter(Boolean)
      .join(', '),
  }));
  const all = [...kernels.values()];
  const kernelMs = all.reduce((a, k) => a + k.ms, 0);
  const wallMs = wallS * 1000;
  const fused = nativeOptimizer() !== undefined;
  rows.push(
    {
      metric: `${step}, optimizer update`,
      value: updateMs,
      unit: 'ms/step',
      notes: fused
        ? 'fused native update (outside kernels)'
        : 'tfjs ops (their kernels are counted in the kernel rows too)',
    },
    { metric: `${step}, wall time`, value: wallMs, unit: 'ms/step' },
    {
      metric: `${step}, all kernels`,
      value: kernelMs,
      unit: 'ms/step',
      notes: `${((100 * kernelMs) / wallMs).toFixed(0)}% of the wall time, ${all.reduce((a, k) => a + k.calls, 0)} calls`,
    },
    {
      metric: `${step}, outside kernels`,
      value: wallMs - kernelMs,
      unit: 'ms/step',
      notes: `framework: autograd tape, bookkeeping, layers JS${fused ? ', and the fused optimizer update' : ''}`,
    },
  );
  const jsUsed = [...kernels.keys()].filter((n) => where.get(n) === 'JS (slow path)');
  rows.push({
    metric: `kernels on a JS (slow) path in a ${m.name} step`,
    value: jsUsed.length,
    unit: 'kernels',
    notes: jsUsed.join(', ') || 'none',
  });
  return rows;
}

/**
 * The native addon's status: a row (its threads, what runs the convolutions and matrix products, OpenBLAS config)
 * when in use, else a skipped line with the reason.
 */
function noteNativeStatus(section: BenchSection): void {
  const s = loadNativeConv();
  if (s.available)
    section.rows.push({
      metric: 'native convolution addon',
      value: s.threads,
      unit: 'native threads',
      notes: `convolutions: ${s.convolutions}; matrix products: ${s.gemm}; own kernels: ${s.instructions}; ${s.blas}`,
    });
  else
    section.skipped.push(`native convolution addon not in use (${s.reason}): every convolution runs on wasm kernels`);
}

/**
 * Forward and training images/s of `m` with the native addon switched off, and the addon's speed-up: each mode
 * alternates runs with and without the addon, so that load from other jobs does not favour either.
 */
async function nativeOffRows(m: BenchModel, model: tf.LayersModel, label: string): Promise<BenchRow[]> {
  const { x, y } = randomBatch(m);
  const flops = modelFlops(model);
  const rows: BenchRow[] = [];
  const speedUps: BenchRow[] = [];
  for (const mode of ['forward', 'training'] as const) {
    const step = stepFn(mode, model, m.trial, x, y);
    const [on, off] = await timeWarm([step.run, () => withNativeConv(false, step.run)]).finally(step.dispose);
    rows.push(...rateRows(m.name, mode, label, m.batch, off, flops[mode]));
    speedUps.push({
      metric: `${m.name} ${mode} speed-up, native addon vs wasm kernels only`,
      value: off.wallS / on.wallS,
      unit: 'x',
      notes: `alternating runs; native ${spread(on.all)}`,
    });
  }
  tf.dispose([x, y]);
  return [...rows, ...speedUps];
}

/**
 * Training images/s of the VGG-top model (flattened ResNet-18 + Dense 4096 x2 on 4608 features) with the native
 * matrix products and with wasm's own, convolutions native in both; alternating runs, as nativeOffRows.
 */
async function matMulRows(m: BenchModel, model: tf.LayersModel): Promise<BenchRow[]> {
  const { x, y } = randomBatch(m);
  const step = stepFn('training', model, m.trial, x, y);
  const wasmMatMul = async () => {
    const before = setNativeMatMulEnabled(false);
    try {
      await step.run();
    } finally {
      setNativeMatMulEnabled(before);
    }
  };
  const [on, off] = await timeWarm([step.run, wasmMatMul]).finally(() => {
    step.dispose();
    tf.dispose([x, y]);
  });
  const net = `${m.name} training, batch ${m.batch}`;
  return [
    { metric: `${net}, native matrix products`, value: m.batch / on.wallS, unit: 'images/s', notes: spread(on.all) },
    { metric: `${net}, wasm matrix products`, value: m.batch / off.wallS, unit: 'images/s', notes: spread(off.all) },
    {
      metric: `${net}, speed-up of native matrix products`,
      value: off.wallS / on.wallS,
      unit: 'x',
      notes: 'alternating runs',
    },
  ];
}

const trialKey = (e: Experiment, t: Trial) => `${e.name}/${t.name}`;
const cachedEpochMetric = (m: BenchModel) => `${m.name} epoch, on cached features`;
const cacheComputeMetric = (m: BenchModel) => `${m.name}, computing the feature cache (once per run)`;

/**
 * Experiment 4's frozen trial with the feature cache against without, on the trial's own model (random weights): an
 * epoch of training steps on the whole model (the runner's path without the cache), against an epoch that trains the
 * top on cached features (the runner's path, lib/runner/features.ts), and the one-off cost of computing the cache.
 * Over the trial's published epochs the cache's cost is paid once.
 */
async function featureCacheRows(m: BenchModel): Promise<BenchRow[]> {
  const model = await buildBenchModel(m);
  const { backbone, top } = splitAtTop(model);
  compileModel(model, m.trial.optimizer);
  compileModel(top, m.trial.optimizer);
  const n = 2 * m.batch;
  const { x, y } = randomBatch(m, n);
  // Each batch as `input(i)` through `net`: the whole model on images, or the top on cached features.
  const epoch = (net: tf.LayersModel, input: (i: number) => tf.Tensor) => async () => {
    for (let i = 0; i < n; i += m.batch) {
      const f = input(i);
      const yb = y.slice(i, m.batch);
      await trainStep(net, f, yb);
      tf.dispose([f, yb]);
    }
  };
  // Without the cache, the runner trains the whole model: trainStep runs the frozen backbone off the tape, folded.
  const [uncached] = await timeWarm([epoch(model, (i) => x.slice(i, m.batch))]);
  const [computing] = await timeWarm([
    async () => (await cacheFeatures(backbone, x, { batchSize: m.batch })).dispose(),
  ]);
  const cacheS = computing.wallS;
  const cache = await cacheFeatures(backbone, x, { batchSize: m.batch });
  const [cached] = await timeWarm([epoch(top, (i) => cache.batch(i, m.batch))]);
  tf.dispose([x, y]);
  cache.dispose();
  top.optimizer.dispose();
  model.optimizer.dispose();
  model.dispose();
  const epochs = m.trial.published.epochsRun ?? m.trial.epochs;
  const notes = `${m.name}: ${n} images, batch ${m.batch}; ${spread(uncached.all)} uncached, ${spread(cached.all)} cached`;
  const perImage = (seconds: number) => n / seconds;
  return [
    {
      metric: `${m.name} epoch, frozen backbone run on every batch`,
      value: perImage(uncached.wallS),
      unit: 'images/s',
      notes,
    },
    { metric: cachedEpochMetric(m), value: perImage(cached.wallS), unit: 'images/s', notes },
    {
      metric: cacheComputeMetric(m),
      value: perImage(cacheS),
      unit: 'images/s',
      notes,
    },
    {
      metric: `feature cache speed-up per epoch, ${m.name}`,
      value: uncached.wallS / cached.wallS,
      unit: 'x',
      target: 10,
      notes,
    },
    {
      metric: `feature cache speed-up over the trial's ${epochs} epochs, computing the cache included`,
      value: (epochs * uncached.wallS) / (cacheS + epochs * cached.wallS),
      unit: 'x',
      notes,
    },
  ];
}

/**
 * The images a full-scale run of `t` trains and validates on each epoch, from its manifest's counts: where the set has
 * no validation split, validation is carved from train as the runner carves it.
 */
function trialImages(t: Trial): { train: number; validation: number } {
  const splits = findManifest(t.data.dataset).splits;
  const total = (re: RegExp) => splits.find((s) => re.test(s.name))?.total;
  const train = total(/^train$/i);
  if (train === undefined) throw new Error(`manifest ${t.data.dataset} gives no train count`);
  const validation = total(/^validation$/i);
  if (validation !== undefined) return { train, validation };
  const split = validationSplit(train, { fraction: t.data.validationFraction, seed: 0 });
  return { train: split.train.length, validation: split.validation.length };
}

/** The speed target: the full face-mask trial (experiment 5) in under 45 minutes on 2 cores. */
const FACE_MASK_TARGET_H = 0.75;

/**
 * The projected wall time of each experiment's full-scale default trial from `rows`' rates, with the published epochs
 * run (else the trial's limit): epochs x (train images / training rate + validation images / forward rate); for a trial
 * that trains on cached features (`cachedTrials`, the runner's featureCachePlan), computing the features of its train
 * and validation images once, then epochs x those images / the rate of an epoch on cached features.
 */
function projectionRows(models: BenchModel[], rows: BenchRow[], cachedTrials: Set<string>): BenchRow[] {
  const out: BenchRow[] = [];
  const rate = (metric: string) => rows.find((r) => r.metric === metric && r.unit === 'images/s')?.value;
  const section = { name: '', rows, skipped: [] };
  for (const m of models) {
    const training = findRate(section, m.name, 'training');
    const forward = findRate(section, m.name, 'forward');
    if (!training || !forward) continue;
    for (const { experiment, trial } of m.uses) {
      // Sets without a manifest (CK+48) have no published counts to project from.
      if (!listManifests().some((d) => d.name === trial.data.dataset)) continue;
      const { train, validation } = trialImages(trial);
      const epochs = trial.published.epochsRun ?? trial.epochs;
      const epochsNote = `${epochs} epochs (${trial.published.epochsRun ? 'published epochs run' : "the trial's limit; none published"})`;
      const [cachedEpoch, computing] = [rate(cachedEpochMetric(m)), rate(cacheComputeMetric(m))];
      const usesCache = cachedTrials.has(trialKey(experiment, trial));
      const cached = usesCache && cachedEpoch !== undefined && computing !== undefined;
      const images = train + validation;
      const hours = cached
        ? (images / computing + (epochs * images) / cachedEpoch) / 3600
        : (epochs * (train / training.value + validation / forward.value)) / 3600;
      const how = cached
        ? `the features of ${images} train and validation images computed once at ${computing.toFixed(1)} images/s, then ` +
          `${epochsNote} x ${images} images on cached features at ${cachedEpoch.toFixed(0)} images/s (validation ` +
          'counted at the training rate)'
        : `${epochsNote} x (${train} train images at ${training.value.toFixed(1)} images/s + ${validation} validation ` +
          `images at ${forward.value.toFixed(1)} images/s)` +
          (usesCache ? '; the trial trains on cached features, not measured in this section' : '');
      out.push({
        metric: `projected full-scale run, ${experiment.number === undefined ? '' : `exp ${experiment.number} `}${experiment.name} / ${trial.name}`,
        value: hours,
        unit: 'h',
        target: experiment.name === 'face-mask' ? FACE_MASK_TARGET_H : undefined,
        notes: `${how}; data loading and the test evaluation not included`,
      });
    }
  }
  return out;
}

export interface TrainingBenchOptions {
  /**
   * An engine to time each model in turn with wasm (its rows in a section of their own, named `peerSection`); a
   * model it cannot load is listed as skipped there.
   */
  peer?: Peer;
  /** The peer's section name. Default: "<peer> peer". */
  peerSection?: string;
  /** Backends to measure, in order. Default: tensorflow, wasm, cpu. */
  backends?: BackendName[];
  /** Names of the bench models to measure (benchModels()). Default all. */
  models?: string[];
  /** Also profile wasm steps, measure wasm without the native addon and the feature cache. Default true. */
  extras?: boolean;
}

/** The row label of a backend: its description without the leading "backend". */
const describe = (r: BackendReport) => describeBackend(r).replace(/^backend /, '');

/**
 * Speed targets in images/s for ResNet-18 96x96 batch 32 on wasm (experiment 1's model), on the default configuration
 * (native addon if built).
 */
const TARGETS = { forward: 60, training: 20 };

/** One section per backend; a backend that cannot start is listed as skipped, never replaced by another. */
export async function benchTraining(opts: TrainingBenchOptions = {}): Promise<BenchSection[]> {
  const sections: BenchSection[] = [];
  const all = benchModels();
  const models = opts.models ? all.filter((m) => opts.models?.includes(m.name)) : all;
  const extras = opts.extras !== false;
  const peerSection: BenchSection | undefined = opts.peer
    ? { name: opts.peerSection ?? `${opts.peer.name} peer`, rows: [], skipped: [] }
    : undefined;
  for (const name of opts.backends ?? (['tensorflow', 'wasm', 'cpu'] as BackendName[])) {
    const section: BenchSection = {
      name: `training speed: ${name}${SMOKE ? ' (SMOKE: tiny batches and images)' : ''}`,
      rows: [],
      skipped: [],
    };
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
    // Trials the runner trains on cached features (its featureCachePlan on the full-scale configuration).
    const cachedTrials = new Set<string>();
    if (name === 'wasm') noteNativeStatus(section);
    for (const m of models) {
      const model = await buildBenchModel(m);
      for (const { experiment, trial } of m.uses)
        if (featureCachePlan(model, resolveTrial(experiment.name, trial.name, 'full', 0)).use)
          cachedTrials.add(trialKey(experiment, trial));
      if (name === 'cpu') {
        // The cpu backend is ~300x slower: a small forward batch only.
        section.rows.push(...(await modeRows(m, model, 'forward', 2, label)).rows);
        section.skipped.push(`${m.name} training on cpu (about 300x slower than wasm)`);
      } else {
        // Experiment 1's model is the ResNet-18 at 96x96, batch 32 that TARGETS are for.
        const isTarget = name === 'wasm' && m === all[0] && !SMOKE;
        let peer = name === 'wasm' && peerSection ? await loadPeer(opts.peer as Peer, m, peerSection) : undefined;
        for (const mode of ['forward', 'training'] as const) {
          const time = (p?: Peer) => modeRows(m, model, mode, m.batch, label, isTarget ? TARGETS[mode] : undefined, p);
          const r = await time(peer?.peer).catch((e: Error) => {
            if (!(e instanceof PeerFailure)) throw e;
            peerSection?.skipped.push(`${m.name} ${mode}: ${e.message}`);
            peer = undefined;
            return time();
          });
          section.rows.push(...r.rows);
          if (peer && r.peer)
            peerSection?.rows.push(
              ...peerRows(peer.peer, m, mode, m.batch, r.peer, peer.info, modelFlops(model)[mode]),
            );
        }
        if (name === 'wasm' && extras && (m === all[0] || m.trial.model.top === 'vgg')) {
          section.rows.push(...(await profileRows(m, model)));
          const offLabel = `${describe({ ...report, native: undefined })}, wasm kernels only`;
          if (native && m === all[0]) section.rows.push(...(await nativeOffRows(m, model, offLabel)));
          if (native && m.trial.model.top === 'vgg') section.rows.push(...(await matMulRows(m, model)));
        }
      }
      // The model does not own the optimizer it was compiled with (Adam's moments of 47M weights for the VGG top).
      model.optimizer?.dispose();
      model.dispose();
    }
    const frozen = models.find((m) => m.trial.model.frozen);
    const cacheRows = name === 'wasm' && extras && frozen ? await featureCacheRows(frozen) : [];
    section.rows.push(...projectionRows(models, [...section.rows, ...cacheRows], cachedTrials), ...cacheRows);
  }
  if (peerSection) {
    // A model the wasm section did not reach has no peer figure either.
    if (!(opts.backends ?? ['wasm']).includes('wasm')) peerSection.skipped.push('wasm not measured: nothing to pair');
    sections.push(peerSection);
  }
  return sections;
}

/** `m` loaded into `peer`, or undefined with why it could not be listed in `section`. */
async function loadPeer(
  peer: Peer,
  m: BenchModel,
  section: BenchSection,
): Promise<{ peer: Peer; info: PeerModel } | undefined> {
  try {
    return { peer, info: await peer.load(m) };
  } catch (e) {
    section.skipped.push(`${m.name}: ${peer.name} could not build it: ${(e as Error).message}`);
    return undefined;
  }
}

if (require.main === module) {
  // Child-process entry: experiment 1's model on wasm as JSON (threads from AFFECT_WASM_THREADS and AFFECT_NATIVE_THREADS).
  benchTraining({ backends: ['wasm'], models: [benchModels()[0].name], extras: false })
    .then((s) => {
      process.stdout.write(JSON.stringify(s[0]) + '\n');
      process.exit(0);
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
