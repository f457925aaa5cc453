/** The majority-class baseline model: fixed by the training class counts, it predicts the most frequent class for any image. */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { buildModel } from '../lib/models';
import { majorityClassifier } from '../lib/models/majority';

before(async () => {
  await initBackend();
});

test('majorityClassifier scores every image with the training class shares and trains nothing', () => {
  const counts = [10, 30, 0, 60];
  const model = majorityClassifier({ inputShape: [8, 8, 1], classCounts: counts });
  assert.equal(model.trainableWeights.length, 0);
  const xs = tf.randomUniform([5, 8, 8, 1], 0, 255, 'float32', 3);
  const p = model.predict(xs) as tf.Tensor2D;
  const rows = p.arraySync();
  for (const row of rows) {
    assert.equal(row.indexOf(Math.max(...row)), 3, 'the most frequent class');
    row.forEach((v, c) => assert.ok(Math.abs(v - counts[c] / 100) < 1e-5, `class ${c}: ${v}`));
  }
  tf.dispose([xs, p]);
  model.dispose();
  assert.throws(() => majorityClassifier({ inputShape: [8, 8, 1], classCounts: [5] }), /at least 2 classes/);
  assert.throws(
    () => majorityClassifier({ inputShape: [8, 8, 1], classCounts: [0, 0] }),
    /non-negative integer training counts/,
  );
});

test("the registry's majority model needs the training counts", async () => {
  const model = await buildModel('majority', { inputShape: [4, 4, 3], outputUnits: 2, classCounts: [3, 1] });
  const p = model.predict(tf.zeros([1, 4, 4, 3])) as tf.Tensor;
  assert.deepEqual(
    Array.from(p.dataSync()).map((v) => Number(v.toFixed(4))),
    [0.75, 0.25],
  );
  model.dispose();
  await assert.rejects(buildModel('majority', { inputShape: [4, 4, 3], outputUnits: 2 }), /give classCounts/);
});
