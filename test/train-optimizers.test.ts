import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { makeOptimizer, resolveOptimizerConfig, type KerasOptimizer } from '../lib/train';

let counter = 0;

/** Applies `grads` one step at a time to a fresh variable [1, -2]; `lrAt(step)` may change the lr before a step. */
function run(opt: KerasOptimizer, grads: number[][], lrAt?: (step: number) => number | undefined): number[][] {
  const name = `opt_test_w${counter++}`;
  const w = tf.variable(tf.tensor1d([1, -2]), true, name);
  const out: number[][] = [];
  grads.forEach((g, i) => {
    const lr = lrAt?.(i);
    if (lr !== undefined) opt.learningRate = lr;
    const gt = tf.tensor1d(g);
    opt.applyGradients({ [name]: gt });
    gt.dispose();
    out.push(Array.from(w.dataSync()));
  });
  w.dispose();
  opt.dispose();
  return out;
}

function close(actual: number[][], expected: number[][], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((row, i) =>
    row.forEach((v, j) =>
      assert.ok(Math.abs(v - expected[i][j]) <= tol, `step ${i + 1} element ${j}: ${v} vs ${expected[i][j]}`),
    ),
  );
}

const G = [
  [0.5, -1],
  [0.1, 0.2],
  [-0.3, 0.4],
];

test('SGD without momentum: w -= lr*g', async () => {
  await initBackend('cpu');
  close(run(makeOptimizer({ kind: 'sgd', lr: 0.1 }), G.slice(0, 2)), [
    [0.95, -1.9],
    [0.94, -1.92],
  ]);
});

test('SGD momentum follows Keras (v = m*v - lr*g; w += v), also after the lr changes, unlike tfjs Momentum', async () => {
  await initBackend('cpu');
  // By hand: v1 = -0.05, w1 = 0.95; v2 = -0.045 - 0.01 = -0.055, w2 = 0.895; lr -> 0.01: v3 = -0.0495 + 0.003, w3 = 0.8485.
  const lrAt = (s: number) => (s === 2 ? 0.01 : undefined);
  const ours = run(makeOptimizer({ kind: 'sgd', lr: 0.1, momentum: 0.9 }), G, lrAt);
  close(ours, [
    [0.95, -1.9],
    [0.895, -1.83],
    [0.8485, -1.771],
  ]);
  // tfjs' accumulator form scales the whole accumulated velocity by the new lr: w3 = 0.895 - 0.01*0.195.
  const w = tf.variable(tf.tensor1d([1, -2]), true, `opt_test_w${counter++}`);
  const tfjs = tf.train.momentum(0.1, 0.9);
  G.forEach((g, i) => {
    if (i === 2) tfjs.setLearningRate(0.01);
    const gt = tf.tensor1d(g);
    tfjs.applyGradients([{ name: w.name, tensor: gt }]);
    gt.dispose();
  });
  assert.ok(Math.abs(w.dataSync()[0] - 0.89305) < 1e-6, `tfjs gives ${w.dataSync()[0]}`);
  w.dispose();
  tfjs.dispose();
});

test('SGD Nesterov: w += m*v - lr*g', async () => {
  await initBackend('cpu');
  // By hand: v1 = -0.05, w1 = 1 - 0.045 - 0.05 = 0.905; v2 = -0.055, w2 = 0.905 - 0.0495 - 0.01 = 0.8455.
  close(
    run(makeOptimizer({ kind: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true }), G.slice(0, 2)).map((r) => [r[0]]),
    [[0.905], [0.8455]],
  );
});

/** Keras' Adam written out in float64, for comparison. */
function adamReference(lr: number, wd: number, steps: number[][]): number[][] {
  const [b1, b2, eps] = [0.9, 0.999, 1e-7];
  let w = [1, -2];
  let m = [0, 0];
  let v = [0, 0];
  return steps.map((g, i) => {
    const t = i + 1;
    w = w.map((x) => x - lr * wd * x);
    m = m.map((x, j) => x + (g[j] - x) * (1 - b1));
    v = v.map((x, j) => x + (g[j] * g[j] - x) * (1 - b2));
    const alpha = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
    w = w.map((x, j) => x - (alpha * m[j]) / (Math.sqrt(v[j]) + eps));
    return w;
  });
}

test('Adam matches Keras (epsilon 1e-7, bias correction folded into alpha)', async () => {
  await initBackend('cpu');
  const ours = run(makeOptimizer({ kind: 'adam', lr: 0.1 }), G);
  // First step by hand: m = 0.05, v = 0.00025, alpha = 0.1*sqrt(0.001)/0.1, step = alpha*m/(sqrt(v)+1e-7) ~ 0.0999994.
  assert.ok(Math.abs(ours[0][0] - (1 - (Math.sqrt(0.001) * 0.05) / (Math.sqrt(0.00025) + 1e-7))) < 1e-6);
  close(ours, adamReference(0.1, 0, G));
});

test('AdamW decays weights first (w -= lr*wd*w), then takes the Adam step', async () => {
  await initBackend('cpu');
  const ours = run(makeOptimizer({ kind: 'adamw', lr: 0.1, weightDecay: 0.004 }), G);
  // First step: 1 - 0.1*0.004 = 0.9996, then the Adam step of ~0.0999994.
  assert.ok(Math.abs(ours[0][0] - (0.9996 - (Math.sqrt(0.001) * 0.05) / (Math.sqrt(0.00025) + 1e-7))) < 1e-6);
  close(ours, adamReference(0.1, 0.004, G));
});

test('optimizer state round-trips: a restored optimizer continues exactly', async () => {
  await initBackend('cpu');
  for (const cfg of [
    { kind: 'sgd', lr: 0.1, momentum: 0.9 },
    { kind: 'adamw', lr: 0.01 },
  ] as const) {
    const a = makeOptimizer(cfg);
    const nameA = `opt_test_w${counter++}`;
    const nameB = `opt_test_w${counter++}`;
    const wa = tf.variable(tf.tensor1d([1, -2]), true, nameA);
    for (const g of G.slice(0, 2)) a.applyGradients({ [nameA]: tf.tensor1d(g) });
    a.learningRate = 0.05;
    const state = a.getState([nameA]);
    assert.equal(state.iterations, 2);
    assert.equal(state.learningRate, Math.fround(0.05));
    const b = makeOptimizer(cfg);
    b.setState(state, [nameB]);
    const wb = tf.variable(wa.clone(), true, nameB);
    a.applyGradients({ [nameA]: tf.tensor1d(G[2]) });
    b.applyGradients({ [nameB]: tf.tensor1d(G[2]) });
    assert.deepEqual(Array.from(wb.dataSync()), Array.from(wa.dataSync()));
    assert.equal(b.iterations, 3);
    tf.dispose([wa, wb, ...state.slots.flatMap((s) => Object.values(s ?? {}))]);
    a.dispose();
    b.dispose();
  }
});

test('optimizer configs get Keras defaults and bad values are rejected by name', () => {
  assert.deepEqual(resolveOptimizerConfig({ kind: 'adam' }), {
    kind: 'adam',
    lr: 0.001,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-7,
  });
  assert.deepEqual(resolveOptimizerConfig({ kind: 'adamw' }), {
    kind: 'adamw',
    lr: 0.001,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-7,
    weightDecay: 0.004,
  });
  assert.deepEqual(resolveOptimizerConfig({ kind: 'sgd' }), { kind: 'sgd', lr: 0.01, momentum: 0, nesterov: false });
  assert.throws(() => makeOptimizer({ kind: 'sgd', lr: -1 }), /invalid lr/);
  assert.throws(() => makeOptimizer({ kind: 'adam', beta1: 1 }), /invalid beta1/);
  assert.throws(() => makeOptimizer({ kind: 'rmsprop' } as never), /unknown kind "rmsprop"/);
  const o = makeOptimizer({ kind: 'sgd', lr: 0.1 });
  assert.throws(() => (o.learningRate = NaN), /learning rate/);
  o.dispose();
});
