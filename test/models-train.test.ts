/**
 * Every model of the zoo takes one SGD training step (32x32 inputs, batch 2) without error: on the cpu backend, and on
 * wasm with the native addon and with wasm's kernels alone (wasm is the default backend: every zoo model must train on it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { MODEL_REGISTRY, buildModel, weightsAvailable } from '../lib/models';
import { nativeModes, withNative } from './native-modes';

const paths: { backend: 'cpu' | 'wasm'; native: boolean; label: string }[] = [
  { backend: 'cpu', native: false, label: 'cpu' },
  ...nativeModes().map((m) => ({ backend: 'wasm' as const, native: m.native, label: `wasm, ${m.label}` })),
];

for (const p of paths) {
  // The majority baseline has nothing to train (test/models-majority.test.ts covers it).
  for (const entry of MODEL_REGISTRY.filter((e) => e.weights !== 'training-labels')) {
    const { name, options } = entry;
    const skip = !weightsAvailable(entry) ? `weights not cached: ${entry.fetch}` : false;
    test(`${name}: one training step (${p.label})`, { skip }, async () => {
      await initBackend(p.backend);
      await withNative(p.native, async () => {
        const model = await buildModel(name, {
          inputShape: [32, 32, 3],
          outputUnits: 3,
          normalize: options.includes('normalize'),
        });
        model.compile({ optimizer: tf.train.sgd(0.01), loss: 'sparseCategoricalCrossentropy' });
        const x = tf.randomUniform([2, 32, 32, 3], 0, 255, 'float32', 5);
        const y = tf.tensor1d([0, 2]);
        const last = model.trainableWeights[model.trainableWeights.length - 1];
        const before = await last.read().data();
        const loss = (await model.trainOnBatch(x, y)) as number;
        assert.ok(Number.isFinite(loss), `loss ${loss}`);
        assert.notDeepEqual(await last.read().data(), before);
        tf.dispose([x, y]);
        model.dispose();
      });
    });
  }
}
