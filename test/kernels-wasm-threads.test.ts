import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../lib/backend';
import { configureWasmThreads } from '../lib/kernels/wasm';
import { modelFlops } from '../bench/training';

test('configureWasmThreads rejects a bad AFFECT_WASM_THREADS and keeps 1 as the single-threaded build', () => {
  const saved = process.env.AFFECT_WASM_THREADS;
  try {
    process.env.AFFECT_WASM_THREADS = 'two';
    assert.throws(() => configureWasmThreads(wasm), /AFFECT_WASM_THREADS must be a positive integer, got "two"/);
    assert.equal(configureWasmThreads(wasm, 1).requested, 1);
  } finally {
    if (saved === undefined) delete process.env.AFFECT_WASM_THREADS;
    else process.env.AFFECT_WASM_THREADS = saved;
  }
});

test('wasm runs with the requested threads (all cores by default) and the report shows the real count', async () => {
  const cores = os.cpus().length;
  const r = await initBackend('wasm');
  const want = Number(process.env.AFFECT_WASM_THREADS ?? cores);
  assert.equal(r.threads, want);
  assert.equal(r.threads, wasm.getThreadsCount());
  // os.cpus() is restored after initialisation.
  assert.equal(os.cpus().length, cores);
  // The thread pool computes correctly: a convolution large enough to be split across threads.
  const x = tf.ones([2, 16, 16, 8]);
  const y = tf.conv2d(x as tf.Tensor4D, tf.ones([3, 3, 8, 4]) as tf.Tensor4D, 1, 'valid');
  assert.deepEqual(Array.from(new Set(y.dataSync())), [72]);
  tf.dispose([x, y]);
});

test('modelFlops counts conv and dense multiply-adds from the layer shapes', () => {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, padding: 'same' }),
      tf.layers.conv2d({ filters: 5, kernelSize: 1, strides: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3 }),
    ],
  });
  const first = 2 * 8 * 8 * 3 * 3 * 2 * 4;
  const forward = first + 2 * 4 * 4 * 4 * 5 + 2 * 80 * 3;
  assert.deepEqual(modelFlops(model), { forward, training: 3 * forward - first });
});
