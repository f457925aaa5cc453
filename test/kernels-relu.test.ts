import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { nativeConv } from '../lib/kernels/native';
import { ADD_RELU, RELU_GRAD, addRelu } from '../lib/kernels/relu';
import { NATIVE_SAME_SHAPE_MIN } from '../lib/kernels/native-dispatch';
import { withNative } from './native-modes';
import { countingCalls } from './kernel-checks';

// Zeros, negatives, NaN and infinities: where step(x) and dy * step(x) have their edge cases.
const X = [-2, -0, 0, 1e-30, 3, NaN, -Infinity, Infinity, 0.5, -0.5];
const DY = [1, 2, 3, 4, 5, 6, 7, Infinity, -Infinity, Infinity];

/** ReLU's gradient at X for output gradient DY on the current backend. */
function reluGrad(): number[] {
  return tf.tidy(() => {
    const dy = tf.tensor1d(DY);
    const [g] = tf.grads((x: tf.Tensor) => tf.mul(tf.relu(x), dy))([tf.tensor1d(X)]);
    return [...g.dataSync()];
  });
}

test("ReLU's gradient on wasm matches tfjs' on cpu, natively with the addon and on tfjs' kernels without", async () => {
  await initBackend('cpu');
  const ref = reluGrad();
  await initBackend('wasm');
  for (const native of nativeConv() ? [true, false] : [false]) {
    const [got, calls] = await countingCalls(RELU_GRAD, () => withNative(native, reluGrad));
    assert.deepEqual(got, ref, `native ${native}`);
    assert.equal(calls, native ? 1 : 0, `native ${native}: native kernel calls`);
  }
  // The definition, element by element: dy where x > 0, NaN where x is NaN or where dy is infinite and x <= 0, else 0.
  assert.deepEqual(ref, [0, 0, 0, 4, 5, NaN, 0, Infinity, -Infinity, NaN]);
});

test("ReLU's gradient on wasm matches cpu on an array long enough for the addon to split it over its threads", async () => {
  const n = 100003;
  // The edge cases again, spread over the whole length, between ordinary values.
  const x = Float32Array.from({ length: n }, (_, i) => (i % 97 < X.length ? X[i % 97] : Math.sin(i)));
  const dy = Float32Array.from({ length: n }, (_, i) => (i % 89 < DY.length ? DY[i % 89] : Math.cos(i)));
  const grad = () =>
    tf.tidy(() => [
      ...tf
        .grads((t: tf.Tensor) => tf.mul(tf.relu(t), tf.tensor1d(dy)))([tf.tensor1d(x)])[0]
        .dataSync(),
    ]);
  await initBackend('cpu');
  const ref = grad();
  await initBackend('wasm');
  const [got, calls] = await countingCalls(RELU_GRAD, grad);
  assert.deepEqual(got, ref);
  assert.equal(calls, nativeConv() ? 1 : 0);
});

/**
 * relu(a + b) and its gradients for both inputs (and for one tensor added to itself), weighted by dy so that every
 * element's gradient differs: through addRelu where `fused` (undefined when it does not run), else tfjs' ops.
 */
function addReluAndGrads(a: Float32Array, b: Float32Array, dy: Float32Array, fused: boolean): number[][] | undefined {
  return tf.tidy(() => {
    const join = (x: tf.Tensor, y: tf.Tensor) => (fused ? addRelu(x, y) : tf.relu(tf.add(x, y)));
    const [ta, tb, tdy] = [tf.tensor1d(a), tf.tensor1d(b), tf.tensor1d(dy)];
    const y = join(ta, tb);
    if (!y) return undefined;
    const [ga, gb] = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.mul(join(x, z) as tf.Tensor, tdy))([ta, tb]);
    const [gSelf] = tf.grads((x: tf.Tensor) => tf.mul(join(x, x) as tf.Tensor, tdy))([ta]);
    return [y, ga, gb, gSelf].map((t) => [...t.dataSync()]);
  });
}

test('addRelu on wasm: max(a + b, 0) and its gradients as tfjs gives them on cpu, one native kernel each way', async () => {
  const n = NATIVE_SAME_SHAPE_MIN + 7;
  // X's edge cases as sums (b is 0 there, -0 beside -0 so that the sum is -0), between ordinary values whose sums
  // straddle 0.
  const a = Float32Array.from({ length: n }, (_, i) => (i % 97 < X.length ? X[i % 97] : Math.sin(i)));
  const b = Float32Array.from({ length: n }, (_, i) =>
    i % 97 < X.length ? (Object.is(X[i % 97], -0) ? -0 : 0) : Math.cos(i * 0.7),
  );
  const dy = Float32Array.from({ length: n }, (_, i) => (i % 89 < DY.length ? DY[i % 89] : Math.cos(i)));
  await initBackend('cpu');
  assert.equal(addRelu(tf.ones([n]), tf.ones([n])), undefined, 'not on cpu');
  const ref = addReluAndGrads(a, b, dy, false);
  await initBackend('wasm');
  if (!nativeConv()) {
    assert.equal(addReluAndGrads(a, b, dy, true), undefined, 'without the addon it does not run');
    return;
  }
  const [[got, grads], calls] = await countingCalls(ADD_RELU, () =>
    countingCalls(RELU_GRAD, () => addReluAndGrads(a, b, dy, true)),
  );
  assert.deepEqual(got, ref);
  // Forward: y, then one in each gradient; backward: one gradient kernel for a and b together, one for a + a.
  assert.equal(calls, 3, 'add-ReLU kernels');
  assert.equal(grads, 2, 'ReLU gradient kernels');
  // Nothing left behind by the cloned gradient: freeing what is made here restores the count.
  const before = tf.memory().numTensors;
  const inputs = [tf.tensor1d(a), tf.tensor1d(b), tf.tensor1d(dy)];
  const made = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.mul(addRelu(x, z) as tf.Tensor, inputs[2]))(
    inputs.slice(0, 2),
  );
  tf.dispose([...inputs, ...made]);
  assert.equal(tf.memory().numTensors, before);
  await withNative(false, () => assert.equal(addReluAndGrads(a, b, dy, true), undefined, 'addon off'));
});

test('addRelu declines what its kernel does not take: small, other shapes, other dtypes', async () => {
  await initBackend('wasm');
  const big = NATIVE_SAME_SHAPE_MIN;
  tf.tidy(() => {
    assert.equal(addRelu(tf.ones([big - 1]), tf.ones([big - 1])), undefined, 'below NATIVE_SAME_SHAPE_MIN');
    assert.equal(addRelu(tf.ones([big, 2]), tf.ones([2])), undefined, 'broadcast');
    assert.equal(addRelu(tf.ones([big], 'int32'), tf.ones([big], 'int32')), undefined, 'int32');
    const y = addRelu(tf.fill([big], -1), tf.fill([big], 3));
    assert.equal(y === undefined, !nativeConv(), 'runs exactly where the addon is in use');
    if (y) assert.deepEqual([...new Set(y.dataSync())], [2]);
  });
});
