/** Every model of the zoo takes one SGD training step on the cpu backend (32x32 inputs, batch 2) without error. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { MODEL_BUILDERS, resnet50WeightsDir } from '../lib/models';

before(async () => {
  await initBackend('cpu');
});

const cached = fs.existsSync(path.join(resnet50WeightsDir(), 'ResNet50', 'model.json'));

for (const name of Object.keys(MODEL_BUILDERS)) {
  const skip = name === 'resnet50-imagenet' && !cached ? 'weights not cached: run `affect weights fetch resnet50-imagenet`' : false;
  test(`${name}: one training step`, { skip }, async () => {
    const model = await MODEL_BUILDERS[name]({ inputShape: [32, 32, 3], outputUnits: 3, normalize: name !== 'resnet50-imagenet' });
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
}
