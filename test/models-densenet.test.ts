/** Keras' DenseNet-121 and -169: the architecture (names, parameter counts), torch preprocessing, and loading Keras .h5 weights by layer name. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { compileModel, trainStep } from '../lib/train';
import {
  buildModel,
  densenet,
  densenetWeightsFile,
  densenetWeightsFileName,
  loadImagenetDenseNet,
  modelEntry,
  paramCounts,
  torchPreprocessInput,
  weightsAvailable,
  writeKerasH5Weights,
} from '../lib/models';

before(async () => {
  await initBackend('cpu');
});

test('torchPreprocessInput is Keras "torch": 0..1, minus the ImageNet means, over the standard deviations (RGB order kept)', async () => {
  const got = Array.from(await torchPreprocessInput(tf.tensor4d([0, 127.5, 255], [1, 1, 1, 3])).data());
  const want = [(0 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (1 - 0.406) / 0.225];
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `${i}: ${v} vs ${want[i]}`));
});

test("densenet(121) and densenet(169) have Keras' layer names and parameter counts (without the top: 7,037,504 and 12,642,880)", () => {
  const d121 = densenet(121, { includeTop: false });
  assert.equal(d121.countParams(), 7_037_504);
  assert.deepEqual(
    d121.layers.slice(0, 7).map((l) => l.name),
    ['input_1', 'zero_padding2d', 'conv1/conv', 'conv1/bn', 'conv1/relu', 'zero_padding2d_1', 'pool1'],
  );
  assert.deepEqual(
    d121.layers.slice(7, 14).map((l) => l.name),
    [
      'conv2_block1_0_bn',
      'conv2_block1_0_relu',
      'conv2_block1_1_conv',
      'conv2_block1_1_bn',
      'conv2_block1_1_relu',
      'conv2_block1_2_conv',
      'conv2_block1_concat',
    ],
  );
  assert.deepEqual(
    d121.layers.slice(-2).map((l) => l.name),
    ['bn', 'relu'],
  );
  assert.ok(
    d121.layers.some((l) => l.name === 'pool4_pool') && d121.layers.some((l) => l.name === 'conv5_block16_concat'),
  );
  assert.equal(d121.weights[0].originalName, 'conv1/conv/kernel');
  assert.deepEqual(d121.outputs[0].shape, [null, 7, 7, 1024]);
  d121.dispose();
  const d169 = densenet(169, { includeTop: false, pooling: 'avg', inputShape: [64, 64, 3], preprocess: true });
  assert.equal(d169.countParams(), 12_642_880);
  assert.deepEqual(d169.outputs[0].shape, [null, 1664]);
  assert.equal(d169.layers[1].name, 'preprocess');
  d169.dispose();
  const top = densenet(121, { inputShape: [32, 32, 3], classes: 10 });
  assert.deepEqual(
    top.layers.slice(-2).map((l) => l.name),
    ['avg_pool', 'predictions'],
  );
  assert.equal(top.countParams(), 7_037_504 + 1024 * 10 + 10);
  top.dispose();
  assert.throws(() => densenet(201 as 121), /no DenseNet of depth 201/);
  assert.throws(
    () => densenet(121, { includeTop: false, pooling: 'sum' as 'avg', inputShape: [32, 32, 3] }),
    /pooling must be/,
  );
});

test('loadImagenetDenseNet reads a Keras .h5 weights file by layer name (nested conv1/conv groups), frozen on request', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'models-densenet-'));
  try {
    const src = densenet(121, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
    const file = path.join(dir, densenetWeightsFileName(121));
    await writeKerasH5Weights(src, file);
    const model = await loadImagenetDenseNet(121, {
      h5: file,
      includeTop: false,
      pooling: 'avg',
      inputShape: [32, 32, 3],
      trainable: false,
    });
    assert.equal(model.trainableWeights.length, 0);
    assert.equal(paramCounts(model).nonTrainable, 7_037_504);
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 9);
    assert.deepEqual(await (model.predict(x) as tf.Tensor).data(), await (src.predict(x) as tf.Tensor).data());
    // The top is not in a notop file: a clear error naming the weight.
    await assert.rejects(
      loadImagenetDenseNet(121, { h5: file, inputShape: [32, 32, 3] }),
      /missing predictions\/kernel \[1024,1000\]/,
    );
    // A DenseNet-169 does not fit DenseNet-121 weights.
    await assert.rejects(
      loadImagenetDenseNet(169, { h5: file, includeTop: false, inputShape: [32, 32, 3] }),
      /do not fit model "densenet169".*missing conv4_block25/,
    );
    await assert.rejects(
      loadImagenetDenseNet(121, { h5: path.join(dir, 'none.h5') }),
      /none\.h5 are missing: affect-lab cannot download them/,
    );
    tf.dispose([x]);
    src.dispose();
    model.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the registry's densenet121/169-imagenet read the weights from the cache or ~/.keras/models, and build without them only as random", async () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'models-densenet-cache-'));
  const saved = process.env.AFFECT_CACHE;
  process.env.AFFECT_CACHE = cache;
  try {
    const entry = modelEntry('densenet121-imagenet');
    assert.deepEqual(
      [entry.tops, entry.options, entry.weights],
      [['pretrained'], ['frozen', 'freezeUpTo'], 'imagenet'],
    );
    const where = path.join(
      cache,
      'weights',
      'densenet121-imagenet',
      'densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5',
    );
    if (!fs.existsSync(path.join(os.homedir(), '.keras', 'models', densenetWeightsFileName(121)))) {
      assert.equal(densenetWeightsFile(121), where);
      assert.equal(weightsAvailable(entry), false);
      assert.match(
        entry.fetch!,
        new RegExp(
          `^cp densenet121_weights_tf_dim_ordering_tf_kernels_notop\\.h5 ${where.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`,
        ),
      );
      await assert.rejects(
        buildModel('densenet121-imagenet', { inputShape: [32, 32, 3], outputUnits: 3 }),
        /cannot download them/,
      );
    }
    const m = await buildModel('densenet169-imagenet', {
      inputShape: [32, 32, 3],
      outputUnits: 3,
      weights: 'random',
      freezeUpTo: 3,
    });
    const trainable = new Set(m.trainableWeights.map((w) => w.originalName.split('/')[0]));
    assert.ok(trainable.has('conv5_block32_2_conv') && trainable.has('bn') && trainable.has('predictions'));
    assert.ok(!trainable.has('pool4_conv') && !trainable.has('conv1'));
    assert.deepEqual(m.outputs[0].shape, [null, 3]);
    m.dispose();
    // With the file in place (a generated one here), the registry loads it.
    const src = densenet(121, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
    await writeKerasH5Weights(src, where);
    assert.equal(weightsAvailable(entry), true);
    const loaded = await buildModel('densenet121-imagenet', { inputShape: [32, 32, 3], outputUnits: 3 });
    assert.equal(loaded.trainableWeights.length, 6, 'frozen by default: only the top trains');
    assert.deepEqual(
      await loaded.getLayer('conv1/conv').getWeights()[0].data(),
      await src.getLayer('conv1/conv').getWeights()[0].data(),
    );
    loaded.dispose();
    src.dispose();
  } finally {
    if (saved === undefined) delete process.env.AFFECT_CACHE;
    else process.env.AFFECT_CACHE = saved;
    fs.rmSync(cache, { recursive: true, force: true });
  }
});

test('a DenseNet-121 frozen up to stage 3 trains: one trainStep changes conv5 and the top, not pool4 or the stem', async () => {
  const m = await buildModel('densenet121-imagenet', {
    inputShape: [32, 32, 3],
    outputUnits: 3,
    weights: 'random',
    freezeUpTo: 3,
  });
  compileModel(m, { kind: 'adam', lr: 1e-3 });
  const watch = ['conv1/conv', 'pool4_conv', 'pool4_bn', 'conv5_block16_2_conv', 'bn', 'predictions'];
  const before = watch.map((n) =>
    m
      .getLayer(n)
      .getWeights()
      .map((w) => w.dataSync().slice()),
  );
  const x = tf.randomUniform([4, 32, 32, 3], 0, 255, 'float32', 2);
  const [loss] = await trainStep(m, x, tf.tensor1d([0, 1, 2, 0]));
  assert.ok(Number.isFinite(loss), `loss ${loss}`);
  const changed = watch.map((n, i) =>
    m
      .getLayer(n)
      .getWeights()
      .some((w, k) => !tf.util.arraysEqual(w.dataSync(), before[i][k])),
  );
  assert.deepEqual(Object.fromEntries(watch.map((n, i) => [n, changed[i]])), {
    'conv1/conv': false,
    pool4_conv: false,
    pool4_bn: false,
    conv5_block16_2_conv: true,
    bn: true,
    predictions: true,
  });
  tf.dispose(x);
  m.dispose();
});
