import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { nativeConv } from '../lib/kernels/native';
import { RELU_GRAD } from '../lib/kernels/relu';
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
