import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { nativeConv } from '../lib/kernels/native';
import { RELU_GRAD } from '../lib/kernels/relu';
import { withNative } from './native-modes';

// Zeros, negatives, NaN and infinities: where step(x) and dy * step(x) have their edge cases.
const X = [-2, -0, 0, 1e-30, 3, NaN, -Infinity, Infinity, 0.5, -0.5];
const DY = [1, 2, 3, 4, 5, 6, 7, Infinity, -Infinity, Infinity];

/** ReLU's gradient at X for output gradient DY on the current backend, and how often the native kernel ran. */
function reluGrad(): { values: number[]; nativeCalls: number } {
  const kernel = tf.getKernel(RELU_GRAD, 'wasm');
  const f = kernel?.kernelFunc;
  let nativeCalls = 0;
  if (kernel && f) {
    kernel.kernelFunc = (args) => {
      nativeCalls++;
      return f(args);
    };
  }
  try {
    const values = tf.tidy(() => {
      const dy = tf.tensor1d(DY);
      const [g] = tf.grads((x: tf.Tensor) => tf.mul(tf.relu(x), dy))([tf.tensor1d(X)]);
      return [...g.dataSync()];
    });
    return { values, nativeCalls };
  } finally {
    if (kernel && f) kernel.kernelFunc = f;
  }
}

test("ReLU's gradient on wasm matches tfjs' on cpu, natively with the addon and on tfjs' kernels without", async () => {
  await initBackend('cpu');
  const ref = reluGrad();
  assert.equal(ref.nativeCalls, 0);
  await initBackend('wasm');
  for (const native of nativeConv() ? [true, false] : [false]) {
    const got = await withNative(native, reluGrad);
    assert.deepEqual(got.values, ref.values, `native ${native}`);
    assert.equal(got.nativeCalls, native ? 1 : 0, `native ${native}: native kernel calls`);
  }
  // Spot checks against the definition: dy where x > 0, NaN for NaN x and for Inf * 0, else 0.
  assert.deepEqual(ref.values.slice(0, 6), [0, 0, 0, 4, 5, NaN]);
  assert.ok(Number.isNaN(ref.values[7]) === false && ref.values[7] === Infinity);
  assert.ok(Number.isNaN(ref.values[6]) || ref.values[6] === 0);
});
