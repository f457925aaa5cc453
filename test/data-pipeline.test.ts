import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { imageDataset, loadAll, memorySource, readBatches, validationSplit } from '../lib/data/pipeline';
import { scanImageFolder } from '../lib/data/scan';
import { checkIndex, folderSource, type ImageSource } from '../lib/data/source';
import { SKIP_SAMPLE, makeImages, sampleData, tempDir, writeTree } from './data-fixtures';

/** A source whose image i is filled with the value i, so batches show which images they hold. */
function fakeSource(n: number, classes = ['a', 'b', 'c']): ImageSource & { reads: number } {
  const src = {
    classes,
    size: n,
    labels: Int32Array.from({ length: n }, (_, i) => i % classes.length),
    describe: `fake source of ${n}`,
    reads: 0,
    async read(index: number, size: [number, number]) {
      checkIndex(index, n, src.describe);
      src.reads++;
      return new Uint8Array(size[0] * size[1] * 3).fill(index);
    },
  };
  return src;
}

test('validationSplit follows Keras: last int(fraction * n) of a seeded shuffle; same seed, same split', () => {
  const a = validationSplit(29217, { fraction: 0.2, seed: 27 });
  assert.deepEqual([a.train.length, a.validation.length], [23374, 5843]);
  assert.deepEqual(
    [...a.train, ...a.validation].sort((x, y) => x - y),
    Array.from({ length: 29217 }, (_, i) => i),
  );
  assert.deepEqual(validationSplit(29217, { fraction: 0.2, seed: 27 }), a);
  assert.notDeepEqual(validationSplit(29217, { fraction: 0.2, seed: 28 }).validation, a.validation);
  assert.deepEqual(validationSplit([0, 1, 0, 1, 1], { fraction: 0.4, seed: 1 }).validation.length, 2);
  assert.throws(() => validationSplit(10, { fraction: 0, seed: 1 }), /fraction must be between 0 and 1/);
  assert.throws(() => validationSplit(10, { fraction: 1.2, seed: 1 }), /fraction must be between 0 and 1/);
  assert.throws(() => validationSplit(3, { fraction: 0.2, seed: 1 }), /empty validation set/);
  assert.throws(() => validationSplit(-1, { fraction: 0.2, seed: 1 }), /non-negative integer/);
});

test('readBatches yields uint8 batches in the given order, the last one short', async () => {
  const src = fakeSource(7);
  const got: number[][] = [];
  for await (const b of readBatches(src, [6, 0, 3, 1, 2], { imageSize: [2, 3], batchSize: 2, prefetch: 1 })) {
    assert.deepEqual(b.shape.slice(1), [2, 3, 3]);
    got.push([...b.images.filter((_, i) => i % 18 === 0)]);
    assert.deepEqual(
      [...b.labels],
      got.at(-1)!.map((i) => i % 3),
    );
  }
  assert.deepEqual(got, [[6, 0], [3, 1], [2]]);
  await assert.rejects(async () => {
    for await (const _ of readBatches(src, [9], {})) void _;
  }, /image index 9 is out of range for fake source of 7/);
  await assert.rejects(async () => {
    for await (const _ of readBatches(src, [0], { batchSize: 0 })) void _;
  }, /batchSize must be a positive integer/);
});

test('imageDataset: float32 0..255 xs and float32 ys; no shuffle keeps order, shuffle is seeded and changes per epoch', async () => {
  await tf.setBackend('cpu');
  const src = fakeSource(10);
  const order = async (ds: tf.data.Dataset<{ xs: tf.Tensor4D; ys: tf.Tensor1D }>) => {
    const seen: number[] = [];
    await ds.forEachAsync(({ xs, ys }) => {
      assert.equal(xs.dtype, 'float32');
      assert.equal(ys.dtype, 'float32');
      assert.deepEqual(xs.shape.slice(1), [4, 4, 3]);
      const v = xs.dataSync();
      for (let k = 0; k < xs.shape[0]; k++) seen.push(v[k * 48]);
      assert.deepEqual(
        [...ys.dataSync()],
        seen.slice(-xs.shape[0]).map((i) => i % 3),
      );
      tf.dispose([xs, ys]);
    });
    return seen;
  };
  const idx = [9, 8, 7, 1, 2, 3];
  const plain = imageDataset(src, idx, { imageSize: 4, batchSize: 4 });
  assert.deepEqual(await order(plain), idx);
  assert.deepEqual(await order(plain), idx);
  const sh = imageDataset(src, idx, { imageSize: 4, batchSize: 4, shuffle: true, seed: 5 });
  const e1 = await order(sh);
  const e2 = await order(sh);
  assert.deepEqual([...e1].sort(), [...idx].sort());
  assert.notDeepEqual(e1, e2, 'a new order each epoch');
  const again = imageDataset(src, idx, { imageSize: 4, batchSize: 4, shuffle: true, seed: 5 });
  assert.deepEqual([await order(again), await order(again)], [e1, e2], 'same seed, same epochs');
  const asInt = imageDataset(src, [1], { imageSize: 4, dtype: 'int32', labelDtype: 'int32' });
  await asInt.forEachAsync(({ xs, ys }) => {
    assert.deepEqual([xs.dtype, ys.dtype], ['int32', 'int32']);
    tf.dispose([xs, ys]);
  });
  assert.throws(() => imageDataset(src, [], {}), /no images selected/);
  assert.throws(() => imageDataset(src, [10], {}), /out of range/);
});

test('imageDataset feeds model.fitDataset with sparse categorical crossentropy, and a separable toy set is learned', async () => {
  await tf.setBackend('cpu');
  const src = fakeSource(24, ['dark', 'light']);
  src.read = async (i, size) => new Uint8Array(size[0] * size[1] * 3).fill(i % 2 ? 220 : 20);
  const model = tf.sequential({
    layers: [
      tf.layers.rescaling({ scale: 1 / 255, inputShape: [4, 4, 3] }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: 'zeros' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.1), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const all = Array.from({ length: 24 }, (_, i) => i);
  const h = await model.fitDataset(imageDataset(src, all, { imageSize: 4, batchSize: 8, shuffle: true, seed: 3 }), {
    epochs: 6,
    validationData: imageDataset(src, all, { imageSize: 4, batchSize: 8 }),
    verbose: 0,
  });
  const loss = h.history.loss as number[];
  assert.ok(loss[5] < loss[0], `loss fell: ${loss.join(', ')}`);
  assert.equal((h.history.val_acc as number[]).at(-1), 1);
  model.dispose();
});

test('imageDataset streams: memory stays bounded while many batches pass', async () => {
  await tf.setBackend('cpu');
  const src = fakeSource(2000);
  const before = tf.memory().numTensors;
  let batches = 0;
  let consumed = 0;
  let maxAhead = 0;
  await imageDataset(
    src,
    Array.from({ length: 2000 }, (_, i) => i),
    { imageSize: 8, batchSize: 50, prefetch: 2 },
  ).forEachAsync(({ xs, ys }) => {
    batches++;
    consumed += xs.shape[0];
    maxAhead = Math.max(maxAhead, src.reads - consumed);
    tf.dispose([xs, ys]);
  });
  assert.ok(
    maxAhead <= 2 * 50,
    `decoded ${maxAhead} images ahead of the consumer; at most prefetch x batch = 100 allowed`,
  );
  assert.equal(batches, 40);
  assert.equal(src.reads, 2000);
  assert.equal(tf.memory().numTensors, before);
});

test('folderSource, loadAll and memorySource: decode a folder once, then batch from memory', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const imgs = await makeImages(12, 9);
    writeTree(dir, { 'cat/a.png': imgs.png, 'cat/b.jpg': imgs.gray, 'dog/c.webp': imgs.webp });
    const src = folderSource(await scanImageFolder(dir));
    assert.deepEqual([src.classes, src.size, [...src.labels]], [['cat', 'dog'], 3, [0, 0, 1]]);
    assert.match(src.describe, /3 images, 2 classes/);
    const loaded = await loadAll(src, undefined, [5, 6]);
    assert.deepEqual(loaded.shape, [3, 5, 6, 3]);
    assert.deepEqual(Buffer.from(loaded.images.subarray(0, 90)), Buffer.from(await src.read(0, [5, 6])));
    const mem = memorySource(loaded);
    assert.deepEqual(Buffer.from(await mem.read(2, [5, 6])), Buffer.from(loaded.images.subarray(180, 270)));
    await assert.rejects(mem.read(0, [4, 4]), /holds 5x6 images; cannot read them at 4x4/);
    await assert.rejects(src.read(3, [4, 4]), /out of range/);
    await assert.rejects(
      loadAll(src, [0, 1], 96, { maxBytes: 1000 }),
      /over the .* limit: stream them with imageDataset/,
    );
    const sub = await loadAll(src, [2], 4);
    assert.deepEqual([sub.shape, [...sub.labels]], [[1, 4, 4, 3], [1]]);
  } finally {
    cleanup();
  }
});

test(
  'sample data: face-mask-12k-validation loads as 800 images of 96x96x3',
  { skip: sampleData() ? false : SKIP_SAMPLE },
  async () => {
    const src = folderSource(await scanImageFolder(path.join(sampleData()!, 'face-mask-12k-validation')));
    const all = await loadAll(src, undefined, 96);
    assert.deepEqual(all.shape, [800, 96, 96, 3]);
    assert.deepEqual(all.classes, ['WithMask', 'WithoutMask']);
    assert.deepEqual([all.labels.filter((l) => l === 0).length, all.labels.filter((l) => l === 1).length], [400, 400]);
  },
);
