import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { nativeConv, nativeOptimizer, setNativeConvEnabled, setNativeOptimizerEnabled } from '../lib/kernels/native';
import { fusedAdamUpdate, fusedSgdUpdate } from '../lib/kernels/optimizer';
import { makeRng, normal } from '../lib/random';
import { compileModel, makeOptimizer, trainStep, type OptimizerConfig } from '../lib/train';

const CONFIGS: [string, OptimizerConfig][] = [
  ['SGD', { kind: 'sgd', lr: 0.05 }],
  ['SGD momentum', { kind: 'sgd', lr: 0.05, momentum: 0.9 }],
  ['SGD Nesterov', { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true }],
  ['Adam', { kind: 'adam', lr: 0.01 }],
  ['AdamW', { kind: 'adamw', lr: 0.01, weightDecay: 0.004 }],
];

const STEPS = 5;
/** The lr after this step is cut as ReduceLROnPlateau cuts it (fit's setLearningRate, factor 0.1). */
const LR_CUT_AFTER = 2;

const randoms = (seed: string, n: number) => {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => normal(rng));
};

/** Asserts every array of `actual` within `tol` times the largest entry of its counterpart in `expected`. */
function assertClose(actual: Float32Array[], expected: Float32Array[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => {
    const e = expected[i];
    assert.equal(a.length, e.length, `${what} [${i}]`);
    let diff = 0;
    let scale = 0;
    for (let j = 0; j < a.length; j++) {
      diff = Math.max(diff, Math.abs(a[j] - e[j]));
      scale = Math.max(scale, Math.abs(e[j]));
    }
    assert.ok(diff <= tol * scale, `${what} [${i}]: max diff ${diff}, scale ${scale}`);
  });
}

/** Values of the optimizer's slots for `names`, as getState lists them (slot order per variable). */
function slotValues(opt: ReturnType<typeof makeOptimizer>, names: string[]): Float32Array[] {
  const state = opt.getState(names);
  const values = state.slots.flatMap((s) =>
    Object.keys(s ?? {})
      .sort()
      .map((k) => Float32Array.from((s as Record<string, tf.Tensor>)[k].dataSync())),
  );
  tf.dispose(state.slots.flatMap((s) => Object.values(s ?? {})));
  return values;
}

let counter = 0;

/**
 * STEPS updates of three variables (one of a length no SIMD width divides, one long enough for the addon to split it
 * over its threads) from fixed gradients, on the current backend and path, with L2 coefficients `l2` for the first and
 * last and for a fourth variable without a gradient (frozen): the weights and slots after the last step. With L2, each
 * step's returned penalty is checked against l2 * sum w² of the weights before it, in float64.
 */
function runOnVariables(cfg: OptimizerConfig, l2 = 0): Float32Array[] {
  const names = [`fused_test_a${counter}`, `fused_test_b${counter}`, `fused_test_c${counter}`];
  const sizes = [64, 37, 70001];
  const vars = names.map((n, i) => tf.variable(tf.tensor1d(randoms(`w${i}`, sizes[i])), true, n));
  const frozen = tf.variable(tf.tensor1d(randoms('frozen', 50)), false, `fused_test_frozen${counter++}`);
  const frozenStart = Float32Array.from(frozen.dataSync());
  const penalised = [vars[0], vars[2], frozen];
  const coefficients = new Map(penalised.map((v) => [v.name, l2]));
  const opt = makeOptimizer(cfg);
  for (let step = 0; step < STEPS; step++) {
    if (step === LR_CUT_AFTER) opt.learningRate = opt.learningRate * 0.1;
    const grads = Object.fromEntries(names.map((n, i) => [n, tf.tensor1d(randoms(`g${step}:${i}`, sizes[i]))]));
    if (l2 === 0) {
      opt.applyGradients(grads);
    } else {
      const expected = l2 * penalised.reduce((a, v) => a + Array.from(v.dataSync()).reduce((b, x) => b + x * x, 0), 0);
      const penalty = opt.applyGradientsWithL2(grads, coefficients);
      const got = penalty.dataSync()[0];
      penalty.dispose();
      assert.ok(Math.abs(got - expected) <= 1e-5 * expected, `step ${step}: penalty ${got}, expected ${expected}`);
    }
    tf.dispose(Object.values(grads));
  }
  assert.deepEqual(frozen.dataSync(), frozenStart, 'the variable without a gradient changed');
  const out = [...vars.map((v) => Float32Array.from(v.dataSync())), ...slotValues(opt, names)];
  opt.dispose();
  tf.dispose([...vars, frozen]);
  return out;
}

test('fused native updates equal the tfjs update on wasm and on cpu (SGD, momentum, Nesterov, Adam, AdamW; with and without L2; lr cut midway)', async (t) => {
  if (!nativeConv()) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  for (const [name, cfg] of CONFIGS) {
    for (const l2 of [0, 0.05]) {
      const what = `${name}${l2 ? ' with L2' : ''}`;
      await initBackend('wasm');
      const fused = runOnVariables(cfg, l2);
      const before = setNativeOptimizerEnabled(false);
      const tfjsWasm = runOnVariables(cfg, l2);
      setNativeOptimizerEnabled(before);
      await initBackend('cpu');
      const tfjsCpu = runOnVariables(cfg, l2);
      // The same float32 operations in the same order: equal up to contraction into fused multiply-adds.
      assertClose(fused, tfjsWasm, 1e-6, `${what}: fused vs tfjs on wasm`);
      assertClose(fused, tfjsCpu, 1e-6, `${what}: fused vs tfjs on cpu`);
      if (l2) {
        // The penalty's gradient moved the weights it applies to and no other (the same fused path without L2).
        await initBackend('wasm');
        const plain = runOnVariables(cfg);
        assert.ok(
          fused[0].some((v, i) => v !== plain[0][i]),
          `${what}: L2 left the first weight alone`,
        );
        assert.deepEqual(fused[1], plain[1], `${what}: L2 reached the weight without a penalty`);
      }
    }
  }
});

/** A small model with an L2 penalty on its kernels (in the loss trainStep minimises) and batch norm. */
function l2Model(): tf.LayersModel {
  const l2 = () => tf.regularizers.l2({ l2: 0.01 });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, kernelRegularizer: l2() }),
      tf.layers.batchNormalization(),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelRegularizer: l2() }),
    ],
  });
}

const batchX = () => tf.tensor4d(randoms('x', 4 * 8 * 8 * 3), [4, 8, 8, 3]);
const batchY = () => tf.tensor1d([0, 1, 2, 1]);

const trainable = (m: tf.LayersModel) => m.trainableWeights.map((w) => w.read() as tf.Variable);
const values = (vs: tf.Tensor[]) => vs.map((v) => Float32Array.from(v.dataSync()));

/**
 * STEPS training steps (trainStep, the lr cut midway) of `model` from the weights `start`, which the model's
 * variables share (setWeights assigns the tensors themselves, as EarlyStopping restores its clone()d best weights):
 * the weights and slots after the last step.
 */
async function trainFrom(model: tf.LayersModel, start: tf.Tensor[], cfg: OptimizerConfig): Promise<Float32Array[]> {
  model.setWeights(start);
  const opt = compileModel(model, cfg);
  const x = batchX();
  const y = batchY();
  for (let step = 0; step < STEPS; step++) {
    if (step === LR_CUT_AFTER) opt.learningRate = opt.learningRate * 0.1;
    await trainStep(model, x, y);
  }
  const out = [
    ...values(trainable(model)),
    ...slotValues(
      opt,
      trainable(model).map((v) => v.name),
    ),
  ];
  tf.dispose([x, y]);
  opt.dispose();
  return out;
}

test('training steps with an L2 penalty: fused updates equal the tfjs update, and never write into shared buffers', async (t) => {
  if (!nativeConv()) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  await initBackend('wasm');
  const model = l2Model();
  const start = model.getWeights().map((w) => w.clone());
  const startValues = values(start);
  for (const [name, cfg] of CONFIGS) {
    const fused = await trainFrom(model, start, cfg);
    const before = setNativeOptimizerEnabled(false);
    const tfjs = await trainFrom(model, start, cfg).finally(() => setNativeOptimizerEnabled(before));
    assertClose(fused, tfjs, 1e-6, `${name}: fused vs tfjs`);
    assert.ok(
      fused.some((w, i) => i < startValues.length && w.some((v, j) => v !== startValues[i][j])),
      `${name}: nothing trained`,
    );
    assert.deepEqual(values(start), startValues, `${name}: the tensors the weights were set from changed`);
  }
  tf.dispose(start);
  model.dispose();
});

test('checkpoint/resume: an optimizer restored with setState continues exactly; the saved state is left untouched', async (t) => {
  if (!nativeConv()) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  await initBackend('wasm');
  const x = batchX();
  const y = batchY();
  for (const [name, cfg] of CONFIGS) {
    const a = l2Model();
    const optA = compileModel(a, cfg);
    for (let step = 0; step < LR_CUT_AFTER; step++) await trainStep(a, x, y);
    optA.learningRate = optA.learningRate * 0.1;
    const state = optA.getState(trainable(a).map((v) => v.name));
    const saved = state.slots.map((s) => (s ? values(Object.values(s)) : null));

    // b starts from a's variables and state, sharing their buffers (setWeights and setState assign the tensors themselves).
    const b = l2Model();
    b.setWeights(a.getWeights());
    const optB = compileModel(b, cfg);
    optB.setState(
      state,
      trainable(b).map((v) => v.name),
    );
    const bStart = values(b.getWeights());
    await trainStep(a, x, y);
    assert.deepEqual(values(b.getWeights()), bStart, `${name}: a's step changed b's weights`);
    for (let step = LR_CUT_AFTER; step < STEPS; step++) {
      if (step > LR_CUT_AFTER) await trainStep(a, x, y);
      await trainStep(b, x, y);
    }
    assert.deepEqual(values(trainable(b)), values(trainable(a)), `${name}: weights after resuming`);
    assert.deepEqual(
      slotValues(
        optB,
        trainable(b).map((v) => v.name),
      ),
      slotValues(
        optA,
        trainable(a).map((v) => v.name),
      ),
      `${name}: slots after resuming`,
    );
    assert.equal(optB.iterations, optA.iterations);
    assert.deepEqual(
      state.slots.map((s) => (s ? values(Object.values(s)) : null)),
      saved,
      `${name}: the saved state changed`,
    );
    tf.dispose(state.slots.flatMap((s) => Object.values(s ?? {})));
    optA.dispose();
    optB.dispose();
    a.dispose();
    b.dispose();
  }
  tf.dispose([x, y]);
});

test('the fused path is taken on wasm with the addon only: cpu, addon or fused updates off and non-float32 weights run the tfjs update', async () => {
  const tryFused = (l2 = 0) => {
    const w = tf.variable(tf.tensor1d([1, 2]));
    const g = tf.tensor1d([1, 1]);
    const result = fusedSgdUpdate(w, g, undefined, { lr: 0.1, momentum: 0, nesterov: false, l2 });
    const after = Array.from(w.dataSync());
    tf.dispose([w, g]);
    return { result, after };
  };
  const untouched = { result: undefined, after: [1, 2] };
  await initBackend('cpu');
  assert.deepEqual(tryFused(), untouched);
  await initBackend('wasm');
  const before = setNativeConvEnabled(false);
  assert.deepEqual(tryFused(), untouched);
  setNativeConvEnabled(before);
  assert.equal(setNativeOptimizerEnabled(false), true);
  assert.equal(nativeOptimizer(), undefined);
  assert.deepEqual(tryFused(), untouched);
  assert.equal(setNativeOptimizerEnabled(true), false);
  if (nativeConv()) {
    assert.deepEqual(tryFused(), { result: 0, after: [Math.fround(0.9), Math.fround(1.9)] });
    // With L2 0.5 the gradient is g + w = [2, 3], and the result is sum w² before the step.
    assert.deepEqual(tryFused(0.5), { result: 5, after: [Math.fround(0.8), Math.fround(1.7)] });
  }
  const wi = tf.variable(tf.tensor1d([1, 2], 'int32'));
  const gi = tf.tensor1d([1, 1], 'int32');
  const step = { decay: 0, beta1: 0.9, beta2: 0.999, alpha: 0.1, epsilon: 1e-7, l2: 0 };
  assert.equal(fusedAdamUpdate(wi, gi, wi, wi, step), undefined);
  tf.dispose([wi, gi]);
});

/** Keras Adam in float32, one rounding per operation, as the kernel computes it; the L2 gradient at w before decay. */
function adamReference(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, k: Float32Array): void {
  const f = Math.fround;
  const [decay, b1, b2, alpha, eps, l2Gradient] = k;
  for (let i = 0; i < w.length; i++) {
    const gi = f(g[i] + f(w[i] * l2Gradient));
    const wi = decay !== 0 ? f(w[i] - f(w[i] * decay)) : w[i];
    m[i] = f(m[i] + f(f(gi - m[i]) * b1));
    v[i] = f(v[i] + f(f(f(gi * gi) - v[i]) * b2));
    w[i] = f(wi - f(f(m[i] * alpha) / f(f(Math.sqrt(v[i])) + eps)));
  }
}

test('adamUpdate and sgdUpdate compute Keras updates in place; bad arguments throw a TypeError', (t) => {
  const addon = nativeConv();
  if (!addon) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  // 37: the vectorised loops' tails too.
  const n = 37;
  for (const l2Gradient of [0, 0.02]) {
    const k = Float32Array.of(0.001, 0.1, 0.001, 0.03, 1e-7, l2Gradient);
    const [w, g, m, v] = ['w', 'g', 'm', 'v'].map((s) => randoms(s, n));
    v.forEach((x, i) => (v[i] = x * x));
    const expected = [w, m, v].map((a) => a.slice());
    const squares = (a: Float32Array) => (l2Gradient ? a.reduce((s, x) => s + x * x, 0) : 0);
    const wSquares = squares(w);
    adamReference(expected[0], g, expected[1], expected[2], k);
    const adamSquares = addon.adamUpdate(w, g, m, v, k);
    assertClose([w, m, v], expected, 1e-6, `adamUpdate, l2Gradient ${l2Gradient}`);
    assert.ok(Math.abs(adamSquares - wSquares) <= 1e-6 * wSquares, `adamUpdate's sum of squares ${adamSquares}`);

    const vel = randoms('vel', n);
    const wn = randoms('wn', n);
    const f = Math.fround;
    const [lr, mom, l2g] = Float32Array.of(0.1, 0.9, l2Gradient);
    const gl = g.map((x, i) => f(x + f(wn[i] * l2g)));
    const vNew = vel.map((x, i) => f(f(x * mom) - f(gl[i] * lr)));
    const wNew = wn.map((x, i) => f(x + f(f(vNew[i] * mom) - f(gl[i] * lr))));
    const wnSquares = squares(wn);
    const sgdSquares = addon.sgdUpdate(wn, g, vel, Float32Array.of(lr, mom, l2g), true);
    assertClose([wn, vel], [wNew, vNew], 1e-6, `sgdUpdate Nesterov, l2Gradient ${l2Gradient}`);
    assert.ok(Math.abs(sgdSquares - wnSquares) <= 1e-6 * wnSquares, `sgdUpdate's sum of squares ${sgdSquares}`);
  }
  addon.sgdUpdate(new Float32Array(0), new Float32Array(0), null, Float32Array.of(0.1, 0, 0), false);
  const k = Float32Array.of(0.001, 0.1, 0.001, 0.03, 1e-7, 0);

  const bad = (fn: () => void, re: RegExp) =>
    assert.throws(fn, (e: Error) => e instanceof TypeError && re.test(e.message));
  const a = () => new Float32Array(4);
  const sgd = /sgdUpdate needs/;
  const adam = /adamUpdate needs/;
  const sk = () => Float32Array.of(0.1, 0, 0);
  bad(() => (addon.sgdUpdate as (...args: unknown[]) => void)(a(), a(), null, sk()), sgd);
  bad(() => addon.sgdUpdate(a(), new Float32Array(3), null, sk(), false), sgd);
  bad(() => addon.sgdUpdate(a(), a(), new Float64Array(4) as unknown as Float32Array, sk(), false), sgd);
  bad(() => addon.sgdUpdate(a(), a(), null, Float32Array.of(0.1, 0), false), sgd);
  bad(() => addon.sgdUpdate(a(), a(), null, sk(), 1 as unknown as boolean), sgd);
  bad(() => addon.adamUpdate(a(), a(), a(), null as unknown as Float32Array, k), adam);
  bad(() => addon.adamUpdate(a(), a(), a(), a(), Float32Array.of(0, 0, 0, 0, 0)), adam);
  bad(() => addon.adamUpdate(a(), a(), a(), a(), [0, 0, 0, 0, 0, 0] as unknown as Float32Array), adam);
  // The arrays written in place must not overlap each other or the gradient.
  const shared = new Float32Array(8);
  bad(() => addon.adamUpdate(shared.subarray(0, 4), a(), shared.subarray(2, 6), a(), k), adam);
  bad(() => addon.sgdUpdate(shared.subarray(0, 4), shared.subarray(3, 7), null, sk(), false), sgd);
  addon.adamUpdate(shared.subarray(0, 4), a(), shared.subarray(4, 8), a(), k);
});
