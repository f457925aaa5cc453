/**
 * Training on cached features (lib/runner/features.ts): which runs use it, the top trains on features computed once
 * (in memory or in files) while the frozen backbone stays as it was, cached rows come back in any order, and a run of
 * experiment 4's frozen trial records it.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { resolveTrial } from '../lib/experiments';
import { synthesizeFaces } from '../lib/data/synth';
import { cachedInputs, featureCachePlan, runExperiment, type SplitInputs } from '../lib/runner';
import { makeRunLog } from '../lib/runner/log';
import { cacheFeatures, compileModel, fit, seedModelWeights, type Batch } from '../lib/train';

before(async () => {
  await initBackend();
});

/** A conv backbone (frozen or not) with batch norm, global pooling, and a Dense top. */
function model(frozen: boolean): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  let x = tf.layers
    .conv2d({ filters: 4, kernelSize: 3, activation: 'relu', trainable: !frozen })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ trainable: !frozen }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: 3, activation: 'softmax', name: 'predictions' }).apply(x) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: y });
  seedModelWeights(m, 5);
  return m;
}

/** Split sources of `n` seeded images each, 3 classes, in batches of 4. */
function inputs(n: number): SplitInputs {
  const source = (tag: number) => () =>
    Array.from({ length: Math.ceil(n / 4) }, (_, b): Batch => {
      const k = Math.min(4, n - 4 * b);
      return {
        xs: tf.randomNormal([k, 8, 8, 3], 0, 1, 'float32', 100 * tag + b),
        ys: tf.tensor1d(
          Array.from({ length: k }, (_, i) => (4 * b + i) % 3),
          'int32',
        ),
      };
    });
  return {
    train: source(1) as never,
    trainInOrder: source(1) as never,
    validation: source(2) as never,
    test: source(3) as never,
  };
}

const cfg = { ...resolveTrial('pretrained', 'adamw-frozen', 'smoke', 27), batchSize: 4 };

test('featureCachePlan: a frozen backbone without augmentation uses the cache; a trainable one or augmentation does not', () => {
  assert.equal(featureCachePlan(model(true), cfg).use, true);
  assert.match(featureCachePlan(model(false), cfg).why, /trainable weights/);
  const augmented = resolveTrial('pretrained', 'adamw-frozen-augment-1x', 'smoke', 27);
  assert.match(featureCachePlan(model(true), augmented).why, /augmented on the fly/);
});

for (const where of ['memory', 'file'] as const) {
  test(`cachedInputs (${where}): the top trains on the cached features, the frozen backbone and its batch norm stay as they were`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-features-'));
    try {
      const m = model(true);
      const before = m.getWeights().map((w) => w.arraySync());
      const cached = await cachedInputs(
        m,
        inputs(10),
        { train: 10, validation: 10, test: 10 },
        cfg,
        dir,
        makeRunLog(true),
        where === 'file' ? 0 : undefined,
      );
      assert.deepEqual(cached.record.images, { train: 10, validation: 10, test: 10 });
      assert.equal(cached.record.location, where);
      assert.equal(cached.record.features, 4);
      assert.equal(fs.existsSync(path.join(dir, 'features', 'train.f32')), where === 'file');
      compileModel(cached.top, { kind: 'adam', lr: 0.05 });
      const h = await fit(cached.top, cached.train, cached.validation, { epochs: 2, verbose: 0, seed: 27 });
      assert.equal(h.epochs.length, 2);
      const after = m.getWeights().map((w) => w.arraySync());
      const names = m.weights.map((w) => w.name);
      names.forEach((name, i) => {
        if (name.startsWith('predictions')) assert.notDeepEqual(after[i], before[i], `${name} trained`);
        else assert.deepEqual(after[i], before[i], `${name} unchanged (batch norm statistics included)`);
      });
      // The top's layers are the model's: the whole model predicts with what the top learnt.
      const xs = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 9);
      const viaTop = cached.top.predict(
        m.layers
          .slice(0, -1)
          .reduce((t: tf.Tensor, l) => (l.getClassName() === 'InputLayer' ? t : (l.apply(t) as tf.Tensor)), xs),
      ) as tf.Tensor;
      const whole = m.predict(xs) as tf.Tensor;
      assert.ok((tf.max(tf.abs(tf.sub(viaTop, whole))).arraySync() as number) < 1e-5);
      // Training batches are reshuffled per epoch; evaluation batches keep the split's order.
      const labels = async (fn: (e: number) => Iterable<Batch>, epoch: number) =>
        (await Promise.all([...fn(epoch)].map((b) => b.ys.data()))).flatMap((d) => [...d]);
      assert.notDeepEqual(await labels(cached.train as never, 0), await labels(cached.train as never, 1));
      assert.deepEqual(await labels(cached.test as never, 0), [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
      cached.dispose();
      assert.equal(fs.existsSync(path.join(dir, 'features')), false);
      m.optimizer?.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('FeatureCache.rows: any rows in any order, in memory and in a file; out-of-range rows are errors', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-rows-'));
  try {
    const input = tf.input({ shape: [2] });
    const identity = tf.model({
      inputs: input,
      outputs: tf.layers.activation({ activation: 'linear' }).apply(input) as tf.SymbolicTensor,
    });
    const xs = tf.tensor2d([
      [0, 1],
      [10, 11],
      [20, 21],
      [30, 31],
    ]);
    for (const cache of [
      await cacheFeatures(identity, xs, { batchSize: 3 }),
      await cacheFeatures(identity, xs, { batchSize: 3, file: path.join(dir, 'f.f32') }),
    ]) {
      assert.deepEqual(
        cache.rows([3, 0, 3]).arraySync(),
        [
          [30, 31],
          [0, 1],
          [30, 31],
        ],
        cache.location,
      );
      assert.throws(() => cache.rows([4]), /sample 4 outside \[0, 4\)/);
      assert.throws(() => cache.rows([]), /no indices/);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "experiment 4's frozen trial trains its top on cached features and records it; its augmented trial does not",
  { timeout: 300_000 },
  async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-features-run-'));
    try {
      const faces = path.join(tmp, 'faces');
      await synthesizeFaces({ task: 'affect', out: faces, perClass: 4, seed: 1, size: 32 });
      const r = await runExperiment({
        experiment: 'pretrained',
        trial: 'adamw-frozen',
        scale: 'smoke',
        data: faces,
        outDir: path.join(tmp, 'runs'),
        quiet: true,
      });
      const c = r.metrics.featureCache!;
      const cfgSaved = JSON.parse(fs.readFileSync(path.join(r.runDir, 'config.json'), 'utf8')) as {
        data: { counts: { train: number; validation: number; test: number } };
      };
      assert.deepEqual(
        [c.images.train, c.images.validation, c.images.test],
        [cfgSaved.data.counts.train, cfgSaved.data.counts.validation, cfgSaved.data.counts.test],
      );
      assert.deepEqual([c.splitAt, c.features, c.location], ['avg_pool', 2048, 'memory']);
      assert.match(
        fs.readFileSync(path.join(r.runDir, 'run.log'), 'utf8'),
        /feature cache: the frozen backbone's 2048 features of \d+ images computed once/,
      );
      assert.ok(fs.existsSync(path.join(r.runDir, 'model', 'model.json')), 'the whole model is saved');
      const plain = await runExperiment({
        experiment: 'pretrained',
        trial: 'adamw-frozen',
        scale: 'smoke',
        data: faces,
        outDir: path.join(tmp, 'runs'),
        quiet: true,
        featureCache: false,
      });
      assert.equal(plain.metrics.featureCache, undefined);
      const aug = await runExperiment({
        experiment: 'pretrained',
        trial: 'adamw-frozen-augment-1x',
        scale: 'smoke',
        data: faces,
        outDir: path.join(tmp, 'runs'),
        quiet: true,
      });
      assert.equal(aug.metrics.featureCache, undefined);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
);
