import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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

test('wasm runs one thread beside the native addon, else every core, unless AFFECT_WASM_THREADS says', async () => {
  const cores = os.cpus().length;
  const r = await initBackend('wasm');
  const want = Number(process.env.AFFECT_WASM_THREADS ?? (r.native?.available ? 1 : cores));
  assert.equal(r.threads, want);
  assert.equal(r.threads, wasm.getThreadsCount());
  // os.cpus() is restored after initialisation.
  assert.equal(os.cpus().length, cores);
});

test('the threaded wasm build computes correctly with the pool in use (child process, 2 threads, no addon)', () => {
  const code = `
    const tf = require(${JSON.stringify(require.resolve('@tensorflow/tfjs'))});
    require(${JSON.stringify(require.resolve('../lib/backend'))}).initBackend('wasm').then((r) => {
      // A convolution large enough to be split across threads, on wasm's own kernels.
      const y = tf.conv2d(tf.ones([2, 16, 16, 8]), tf.ones([3, 3, 8, 4]), 1, 'valid');
      console.log(JSON.stringify({ threads: r.threads, values: [...new Set(y.dataSync())] }));
      process.exit(0);
    });`;
  const out = execFileSync(process.execPath, ['-e', code], {
    env: { ...process.env, AFFECT_WASM_THREADS: '2', AFFECT_NATIVE: '0' },
    encoding: 'utf8',
  });
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop() as string), { threads: 2, values: [72] });
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
  // Frozen layers add no weight gradient, and nothing below the first trainable layer needs an input gradient.
  model.layers[0].trainable = false;
  model.layers[1].trainable = false;
  assert.deepEqual(modelFlops(model), { forward, training: forward + 2 * 80 * 3 });
  model.layers[1].trainable = true;
  assert.deepEqual(modelFlops(model), { forward, training: forward + 2 * 4 * 4 * 4 * 5 + 2 * (2 * 80 * 3) });
  model.dispose();
});
