import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { makeRng, normal } from '../lib/random';
import { batchNormTraining } from '../lib/kernels/batch-norm';
import { nativeConv } from '../lib/kernels/native';
import { batchNorm } from '../lib/models/common';
import { withNative } from './native-modes';
import { countingCalls, relErr } from './kernel-checks';

const SKIP = nativeConv() ? false : 'addon not built (npm run build needs g++ and libopenblas-dev)';

function values(seed: string, n: number, shift = 0, spread = 1): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => shift + spread * normal(rng));
}

interface Case {
  shape: number[];
  shift: number;
}

// A large mean with a small spread (1e4 +- 1) shows a variance formula that cancels badly.
const CASES: Case[] = [
  { shape: [4, 5, 3, 6], shift: 0 },
  { shape: [4, 5, 3, 6], shift: 1e4 },
  { shape: [7, 2], shift: -3 },
  // Narrow rows, which the addon takes several at a time: one channel (an image) and eight, row counts that 64 / the
  // channels does not divide, and a large mean.
  { shape: [5, 7, 3, 1], shift: 2 },
  { shape: [32, 12, 12, 1], shift: 1e4 },
  { shape: [3, 5, 7, 8], shift: -1 },
  // Large enough for the addon to split the rows over its threads.
  { shape: [8, 16, 16, 40], shift: 2 },
];

/**
 * y, mean, variance and the gradients of sum(y * r) with respect to x, scale and offset: through batchNormTraining
 * when `fused`, else composed from tf.moments and tf.batchNorm (tfjs-layers' training path); y through a ReLU when
 * `relu` (tf.relu after the composed one).
 */
function forwardAndGrads(c: Case, fused: boolean, relu: boolean): Float32Array[] {
  const channels = c.shape[c.shape.length - 1];
  const n = tf.util.sizeFromShape(c.shape);
  return tf.tidy(() => {
    const x = tf.tensor(values('x', n, c.shift), c.shape);
    const scale = tf.tensor1d(values('scale', channels, 1, 0.5));
    const offset = tf.tensor1d(values('offset', channels));
    const r = tf.tensor(values('r', n), c.shape);
    const run = (xi: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => {
      if (fused) {
        const out = batchNormTraining(xi, s, o, 1e-3, relu);
        assert.ok(out, 'batchNormTraining did not run');
        return out;
      }
      const axes = c.shape.slice(0, -1).map((_, i) => i);
      const { mean, variance } = tf.moments(xi, axes);
      const y = tf.batchNorm(xi, mean, variance, o, s, 1e-3);
      return { y: relu ? tf.relu(y) : y, mean, variance };
    };
    const { y, mean, variance } = run(x, scale, offset);
    const grads = tf.grads((xi, s, o) => tf.sum(tf.mul(run(xi, s, o).y, r)))([x, scale, offset]);
    return [y, mean, variance, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

const NAMES = ['y', 'mean', 'variance', 'dx', 'dscale', 'doffset'];

test(
  'native batch norm in training, alone and with its ReLU, matches tf.moments + tf.batchNorm (+ tf.relu) on cpu, with its gradients',
  { skip: SKIP },
  async () => {
    for (const relu of [false, true])
      for (const c of CASES) {
        await initBackend('cpu');
        const ref = forwardAndGrads(c, false, relu);
        await initBackend('wasm');
        const got = forwardAndGrads(c, true, relu);
        got.forEach((g, i) => {
          const e = relErr(g, ref[i]);
          // dx is a difference of nearly equal terms where the spread is small against the mean.
          assert.ok(e < (i === 3 ? 1e-3 : 1e-5), `${NAMES[i]} ${JSON.stringify(c)} relu ${relu}: relative error ${e}`);
        });
        if (relu) assert.ok(got[0].some((v) => v === 0) && got[0].every((v) => v >= 0), 'the ReLU ran');
      }
  },
);

test('batchNormTraining declines off the native path: cpu, the addon off, mismatched, rank-1 and empty inputs', async () => {
  await initBackend('cpu');
  const x = tf.ones([2, 3, 4]);
  const v = tf.ones([4]);
  assert.equal(batchNormTraining(x, v, v, 1e-3), undefined);
  await initBackend('wasm');
  const [x2, v2, w2] = [tf.ones([2, 3, 4]), tf.ones([4]), tf.ones([3])];
  assert.equal(await withNative(false, () => batchNormTraining(x2, v2, v2, 1e-3)), undefined);
  // The same call runs where the addon is in use: the declines above are the addon's absence, not a broken op.
  const ran = nativeConv() && batchNormTraining(x2, v2, v2, 1e-3);
  if (ran) tf.dispose([ran.y, ran.mean, ran.variance]);
  assert.equal(Boolean(ran), Boolean(nativeConv()));
  assert.equal(batchNormTraining(x2, w2, w2, 1e-3), undefined, 'scale of another length');
  assert.equal(batchNormTraining(tf.ones([4]), v2, v2, 1e-3), undefined, 'rank 1');
  assert.equal(batchNormTraining(tf.zeros([0, 4]), v2, v2, 1e-3), undefined, 'empty');
  tf.dispose([x, v, x2, v2, w2]);
});

/** Output, then moving mean and variance, of a BatchNormalization layer after two training calls and one inference call. */
function layerRun(): Float32Array[] {
  const layer = batchNorm({ axis: -1, momentum: 0.9, epsilon: 1e-3 });
  const shape = [3, 4, 4, 5];
  const n = tf.util.sizeFromShape(shape);
  const out = tf.tidy(() => {
    layer.apply(tf.tensor(values('a', n, 2, 3), shape), { training: true });
    const y = layer.apply(tf.tensor(values('b', n, -1, 2), shape), { training: true }) as tf.Tensor;
    const inference = layer.apply(tf.tensor(values('c', n), shape)) as tf.Tensor;
    return [y, inference];
  });
  // getWeights gives the variables' own tensors: layer.dispose frees them.
  const result = [...out, ...layer.getWeights()].map((t) => t.dataSync() as Float32Array);
  tf.dispose(out);
  layer.dispose();
  return result;
}

test(
  'BatchNormalization in training on the native path gives tfjs-layers output and moving statistics',
  { skip: SKIP },
  async () => {
    await initBackend('cpu');
    const ref = layerRun();
    await initBackend('wasm');
    const before = tf.memory().numTensors;
    const [got, calls] = await countingCalls('AffectBatchNormTraining', layerRun);
    assert.equal(calls, 2, 'the two training calls run natively');
    assert.equal(tf.memory().numTensors, before, 'tensors left behind');
    assert.equal(got.length, 6, 'output, inference output, gamma, beta, moving mean, moving variance');
    got.forEach((g, i) => {
      const e = relErr(g, ref[i]);
      assert.ok(e < 1e-5, `value ${i}: relative error ${e}`);
    });
  },
);

test(
  'with moving statistics, batchNormTraining moves them in place as the tfjs ops would, never into a buffer they share',
  { skip: SKIP },
  async () => {
    await initBackend('wasm');
    const shape = [6, 5, 4];
    const x = tf.tensor(values('moving-x', 6 * 5 * 4, 3, 2), shape);
    const [scale, offset] = [tf.ones([4]), tf.zeros([4])];
    const old = [values('moving-mean', 4), values('moving-var', 4, 2, 0.5)];
    const [mean, variance] = old.map((v) => tf.variable(tf.tensor1d(v)));
    // clone() shares the variable's buffer, as EarlyStopping's kept best weights do.
    const kept = [mean.clone(), variance.clone()];
    const r = batchNormTraining(x, scale, offset, 1e-3, false, { mean, variance, decay: 0.1 });
    assert.ok(r);
    const expected = [r.mean, r.variance].map((batch, i) =>
      tf.tidy(() => {
        const stat = tf.tensor1d(old[i]);
        return tf.sub(stat, tf.mul(tf.sub(stat, batch), 0.1)).dataSync();
      }),
    );
    assert.deepEqual(Array.from(mean.dataSync()), Array.from(expected[0]), 'moving mean');
    assert.deepEqual(Array.from(variance.dataSync()), Array.from(expected[1]), 'moving variance');
    assert.notDeepEqual(Array.from(mean.dataSync()), Array.from(old[0]), 'the mean did not move');
    kept.forEach((k, i) => assert.deepEqual(Array.from(k.dataSync()), Array.from(old[i]), `kept copy ${i} changed`));
    // Statistics of another length or dtype: declined before anything runs or moves.
    const short = tf.variable(tf.zeros([3]));
    const ints = tf.variable(tf.zeros([4], 'int32'));
    const moved = Array.from(mean.dataSync());
    assert.equal(batchNormTraining(x, scale, offset, 1e-3, false, { mean: short, variance, decay: 0.1 }), undefined);
    assert.equal(batchNormTraining(x, scale, offset, 1e-3, false, { mean, variance: ints, decay: 0.1 }), undefined);
    assert.deepEqual(Array.from(mean.dataSync()), moved, 'a declined call moved the statistics');
    tf.dispose([x, scale, offset, mean, variance, short, ints, r.y, r.mean, r.variance, ...kept]);
  },
);

test(
  'a model whose first layer is batch norm trains on the native path without leaking the unused input gradient',
  { skip: SKIP },
  async () => {
    await initBackend('wasm');
    const input = tf.input({ shape: [6, 6, 2] });
    const bn = batchNorm({ name: 'input_bn' }).apply(input) as tf.SymbolicTensor;
    const flat = tf.layers.flatten().apply(bn) as tf.SymbolicTensor;
    const model = tf.model({
      inputs: input,
      outputs: tf.layers.dense({ units: 2, activation: 'softmax' }).apply(flat) as tf.SymbolicTensor,
    });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
    const x = tf.tensor4d(values('input', 4 * 6 * 6 * 2, 5, 2), [4, 6, 6, 2]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 1, 0], 'int32'), 2);
    await model.trainOnBatch(x, y);
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    const [, calls] = await countingCalls('AffectBatchNormTrainingGrad', async () => {
      for (let i = 0; i < 5; i++) losses.push((await model.trainOnBatch(x, y)) as number);
    });
    assert.equal(calls, 5, 'one native gradient per step');
    assert.equal(tf.memory().numTensors, before, 'tensors left behind per step');
    assert.ok(losses[4] < losses[0], `loss did not fall: ${losses.join(', ')}`);
    tf.dispose([x, y]);
    model.optimizer.dispose();
    model.dispose();
  },
);

test(
  "a NaN in a channel makes that channel's mean and variance NaN, as tf.moments does, and leaves the others",
  { skip: SKIP },
  async () => {
    await initBackend('wasm');
    const xs = Float32Array.from(values('nan', 4 * 3, 1));
    xs[5] = NaN; // row 1, channel 2
    const r = batchNormTraining(tf.tensor2d(xs, [4, 3]), tf.ones([3]), tf.zeros([3]), 1e-3);
    assert.ok(r);
    const [mean, variance] = [r.mean.dataSync(), r.variance.dataSync()];
    assert.ok(Number.isNaN(mean[2]) && Number.isNaN(variance[2]), `channel 2: ${mean[2]}, ${variance[2]}`);
    for (const c of [0, 1])
      assert.ok(Number.isFinite(mean[c]) && variance[c] > 0, `channel ${c}: ${mean[c]}, ${variance[c]}`);
    tf.dispose([r.y, r.mean, r.variance]);
  },
);

/** y and the gradients of sum(y * r) of relu(batch norm) for x with a NaN in channel 1 and an offset NaN in channel 0. */
function reluNaNRun(fused: boolean): Float32Array[] {
  return tf.tidy(() => {
    const xs = Float32Array.from(values('relu-nan', 5 * 3, 1));
    xs[7] = NaN; // row 2, channel 1
    const x = tf.tensor2d(xs, [5, 3]);
    const scale = tf.tensor1d([1.5, 0.5, 2]);
    const offset = tf.tensor1d([NaN, 0.1, -0.2]);
    const r = tf.tensor2d(values('relu-nan-r', 5 * 3), [5, 3]);
    const run = (xi: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => {
      if (fused) return (batchNormTraining(xi, s, o, 1e-3, true) as { y: tf.Tensor }).y;
      const { mean, variance } = tf.moments(xi, [0]);
      return tf.relu(tf.batchNorm(xi, mean, variance, o, s, 1e-3));
    };
    const grads = tf.grads((xi, s, o) => tf.sum(tf.mul(run(xi, s, o), r)))([x, scale, offset]);
    return [run(x, scale, offset), ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

test(
  'with its ReLU, NaN stays NaN forward and backward (a NaN input and a NaN offset), as tf.relu and its gradient give it',
  { skip: SKIP },
  async () => {
    await initBackend('cpu');
    const ref = reluNaNRun(false);
    await initBackend('wasm');
    const got = reluNaNRun(true);
    ['y', 'dx', 'dscale', 'doffset'].forEach((name, i) => {
      const nan = (a: Float32Array) => Array.from(a, Number.isNaN);
      assert.deepEqual(nan(got[i]), nan(ref[i]), `${name}: where NaN is`);
      assert.ok(
        nan(got[i]).some((n) => n),
        `${name}: NaN somewhere`,
      );
      const finite = (a: Float32Array) => a.filter((v) => !Number.isNaN(v));
      assert.ok(relErr(finite(got[i]), finite(ref[i])) < 1e-4, `${name}: the finite values`);
    });
  },
);
