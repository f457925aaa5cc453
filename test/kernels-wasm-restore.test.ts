import { test } from 'node:test';
import * as assert from 'node:assert/strict';
// The module object itself, which the wasm set-up patches (a namespace import would be a copy).
import os = require('node:os');
import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../lib/backend';
import {
  WASM_TRAINING_KERNELS,
  configureWasmThreads,
  registerWasmTrainingKernels,
  restoreWasmPatches,
} from '../lib/kernels/wasm';
import { NATIVE_SAME_SHAPE_MIN } from '../lib/kernels/native-dispatch';
import { addRelu } from '../lib/models/common';

const FLAG = 'WASM_HAS_MULTITHREAD_SUPPORT';

/** Everything the wasm set-up may patch, as it is now. */
function globals() {
  return {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- compared, never called
    createObjectURL: URL.createObjectURL,
    cpus: os.cpus,
    flag: tf.env().getFlags()[FLAG],
    kernels: Object.fromEntries(WASM_TRAINING_KERNELS.map((k) => [k.name, tf.getKernel(k.name, 'wasm')])),
    reluGradient: tf.getGradient('Relu'),
  };
}

test('restoreWasmPatches puts back the kernel registry, the Relu gradient, URL.createObjectURL, os.cpus and the multithread flag', () => {
  const before = globals();
  assert.ok(before.kernels.Conv2D, 'the stock wasm kernels are registered on import');
  assert.equal(before.kernels.Conv2DBackpropFilter, undefined, 'wasm has no Conv2DBackpropFilter of its own');

  registerWasmTrainingKernels();
  registerWasmTrainingKernels(); // twice: the second must not take ours for the stock kernels
  configureWasmThreads(wasm, 2); // its done() is not called: the restore must cover os.cpus too
  const patched = globals();
  assert.notEqual(patched.createObjectURL, before.createObjectURL);
  assert.notEqual(patched.cpus, before.cpus);
  assert.ok(patched.cpus().length >= 4);
  assert.equal(patched.flag, true);
  for (const k of WASM_TRAINING_KERNELS) assert.notEqual(patched.kernels[k.name], before.kernels[k.name], k.name);
  assert.notEqual(patched.reluGradient, before.reluGradient);

  restoreWasmPatches();
  const after = globals();
  assert.equal(after.reluGradient, before.reluGradient);
  assert.equal(after.createObjectURL, before.createObjectURL);
  assert.equal(after.cpus, before.cpus);
  assert.equal(after.flag, before.flag);
  assert.ok(!(FLAG in tf.env().getFlags()) || before.flag !== undefined, 'an unset flag is unset again');
  for (const k of WASM_TRAINING_KERNELS) assert.equal(after.kernels[k.name], before.kernels[k.name], k.name);

  // Nothing left to undo: a second restore changes nothing.
  restoreWasmPatches();
  assert.deepEqual(globals(), after);
});

test('after a restore the set-up works again, and a running wasm backend computes on the stock kernels', async () => {
  const before = globals();
  const r = await initBackend('wasm');
  assert.equal(r.name, 'wasm');
  const grad = () =>
    tf.tidy(() => {
      const x = tf.ones<tf.Rank.R4>([1, 4, 4, 2]);
      const dw = tf.grad((w) => tf.conv2d(x, w as tf.Tensor4D, 1, 'same').sum())(tf.ones([3, 3, 2, 1]));
      return [...dw.dataSync()];
    });
  const ours = grad();
  // os.cpus is back once the backend has initialised; the rest stays while the backend is in use.
  assert.equal(globals().cpus, before.cpus);
  assert.notEqual(globals().kernels.Conv2D, before.kernels.Conv2D);

  restoreWasmPatches();
  const after = globals();
  assert.equal(after.createObjectURL, before.createObjectURL);
  for (const k of WASM_TRAINING_KERNELS) assert.equal(after.kernels[k.name], before.kernels[k.name], k.name);
  const y = tf.conv2d(tf.ones<tf.Rank.R4>([1, 3, 3, 1]), tf.ones<tf.Rank.R4>([3, 3, 1, 1]), 1, 'valid');
  assert.deepEqual([...y.dataSync()], [9]);
  y.dispose();
  // The filter gradient is one of the kernels stock wasm lacks.
  assert.throws(grad, /Conv2DBackpropFilter/);
  // The models' fused ops are gone with the kernels: foldedApply runs the layers.
  tf.tidy(() => assert.equal(addRelu(tf.ones([NATIVE_SAME_SHAPE_MIN]), tf.ones([NATIVE_SAME_SHAPE_MIN])), undefined));

  registerWasmTrainingKernels();
  assert.deepEqual(grad(), ours);
});
