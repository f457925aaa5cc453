import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { makeRng, normal } from '../lib/random';
import { cacheFeatures } from '../lib/train/feature-cache';
import { splitAtTop, topSplitIndex } from '../lib/train/split';

const N = 12;
const BATCH = 4;

/** A small backbone with batch norm (so inference mode matters) and a Dropout + Dense top. */
function smallModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  let x = tf.layers
    .conv2d({
      filters: 4,
      kernelSize: 3,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.5, seed: 3 }).apply(x) as tf.SymbolicTensor;
  const y = tf.layers
    .dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: y });
}

function data(): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const rng = makeRng('feature-cache');
  const x = tf.tensor4d(
    Float32Array.from({ length: N * 8 * 8 * 3 }, () => normal(rng)),
    [N, 8, 8, 3],
  );
  const y = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: N }, (_, i) => i % 3),
      'int32',
    ),
    3,
  ) as tf.Tensor2D;
  return { x, y };
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

test('splitAtTop: top(backbone(x)) equals the model, and the parts share its weights', async () => {
  await initBackend('cpu');
  const model = smallModel();
  const { backbone, top } = splitAtTop(model);
  assert.equal(backbone.outputs[0].shape[1], 4);
  assert.deepEqual(
    top.layers.slice(1).map((l) => l.getClassName()),
    ['Dropout', 'Dense'],
  );
  const { x } = data();
  const whole = model.predict(x) as tf.Tensor;
  const parts = top.predict(backbone.predict(x)) as tf.Tensor;
  assert.ok(maxDiff(whole, parts) < 1e-6);
  assert.equal(top.layers[2], model.layers[model.layers.length - 1]);
  assert.throws(() => splitAtTop(model, 'nope'), /no layer named "nope"/);
  assert.throws(() => splitAtTop(model, model.layers[model.layers.length - 1].name), /no top left/);
  const seq = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
  assert.throws(() => splitAtTop(seq), /no global pooling or Flatten layer/);
});

test("topSplitIndex finds splitAtTop's split without touching the model; a split's top must be disposed before it", async () => {
  await initBackend('cpu');
  const before = tf.memory().numTensors;
  const model = smallModel();
  const index = topSplitIndex(model);
  assert.equal(model.layers[index].getClassName(), 'GlobalAveragePooling2D');
  assert.throws(() => topSplitIndex(model, 'nope'), /no layer named "nope"/);
  // Asking leaves the model's own dispose able to free every weight.
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
  // A split's top holds a reference to the top layers: disposed first, the model's dispose frees them too.
  const split = smallModel();
  const { backbone, top } = splitAtTop(split);
  assert.equal(backbone.layers[backbone.layers.length - 1], split.layers[topSplitIndex(split)]);
  top.dispose();
  split.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('training the top on cached features gives the uncached result (frozen backbone)', async () => {
  await initBackend('cpu');
  const { x, y } = data();
  const run = async (cached: boolean): Promise<tf.Tensor[]> => {
    const model = smallModel();
    const { backbone, top } = splitAtTop(model);
    backbone.trainable = false;
    // Plain SGD and a seeded dropout: both paths see the same masks.
    top.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
    const cache = cached ? await cacheFeatures(backbone, x, { batchSize: BATCH }) : undefined;
    for (let epoch = 0; epoch < 3; epoch++) {
      for (let i = 0; i < N; i += BATCH) {
        const yb = y.slice(i, BATCH);
        const f = cache ? cache.batch(i, BATCH) : (backbone.predict(x.slice(i, BATCH)) as tf.Tensor);
        await top.trainOnBatch(f, yb);
        tf.dispose([f, yb]);
      }
    }
    cache?.dispose();
    return top.getWeights().map((w) => w.clone());
  };
  const plain = await run(false);
  const withCache = await run(true);
  plain.forEach((w, i) => assert.ok(maxDiff(w, withCache[i]) < 1e-5, `top weight ${i} differs`));
  // The top did train (the comparison would be empty otherwise).
  const initial = splitAtTop(smallModel()).top.getWeights();
  assert.ok(maxDiff(plain[0], initial[0]) > 1e-3);
});

test('cacheFeatures: file store equals the memory store, is written atomically, and checks its ranges', async () => {
  await initBackend('cpu');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'feature-cache-'));
  try {
    const { backbone } = splitAtTop(smallModel());
    const { x } = data();
    const mem = await cacheFeatures(backbone, x, { batchSize: 5 });
    const file = path.join(dir, 'sub', 'features.f32');
    // Batches as an iterable (the caller's tensors) rather than one tensor.
    const parts = [x.slice(0, 7), x.slice(7, N - 7)];
    const disk = await cacheFeatures(backbone, parts, { file });
    assert.equal(parts[0].isDisposed, false);
    assert.deepEqual([mem.count, mem.shape, mem.location], [N, [4], 'memory']);
    assert.deepEqual([disk.count, disk.shape, disk.location], [N, [4], file]);
    assert.equal(fs.statSync(file).size, N * 4 * 4);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['features.f32']);
    const direct = backbone.predict(x) as tf.Tensor;
    assert.ok(maxDiff(mem.batch(0, N), direct) < 1e-6);
    assert.ok(maxDiff(disk.batch(3, 6), direct.slice(3, 6)) < 1e-6);
    assert.throws(() => mem.batch(10, 3), /outside \[0, 12\)/);
    await assert.rejects(cacheFeatures(backbone, [], {}), /no images given/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
