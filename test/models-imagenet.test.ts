import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import {
  Top,
  imagenetResNet50,
  kerasResNet50Name,
  loadImagenetResNet50,
  paramCounts,
  preprocessInput,
  readNpmResNet50Weights,
  resnet18,
  resnet50WeightsFile,
  setTrainable,
  setWeightsByName,
  withTop,
  writeKerasH5Weights,
} from '../lib/models';

before(async () => {
  await initBackend('cpu');
});

test('preprocessInput is Keras "caffe": RGB -> BGR minus the ImageNet means, no scaling', async () => {
  const out = preprocessInput(tf.tensor4d([10, 20, 30, 255, 0, 128], [1, 1, 2, 3]));
  const want = [30 - 103.939, 20 - 116.779, 10 - 123.68, 128 - 103.939, 0 - 116.779, 255 - 123.68];
  const got = Array.from(await out.data());
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-4, `${i}: ${v} vs ${want[i]}`));
});

test('old Keras ResNet50 weight names map onto Keras applications names', () => {
  assert.equal(kerasResNet50Name('conv1/kernel'), 'conv1_conv/kernel');
  assert.equal(kerasResNet50Name('bn_conv1/moving_variance'), 'conv1_bn/moving_variance');
  assert.equal(kerasResNet50Name('res2a_branch2a/kernel'), 'conv2_block1_1_conv/kernel');
  assert.equal(kerasResNet50Name('bn3d_branch2c/gamma'), 'conv3_block4_3_bn/gamma');
  assert.equal(kerasResNet50Name('res4f_branch2b/bias'), 'conv4_block6_2_conv/bias');
  assert.equal(kerasResNet50Name('res5a_branch1/kernel'), 'conv5_block1_0_conv/kernel');
  assert.equal(kerasResNet50Name('fc1000/bias'), 'predictions/bias');
  assert.throws(() => kerasResNet50Name('res6a_branch2a/kernel'), /res6a_branch2a/);
  assert.throws(() => kerasResNet50Name('conv1'), /conv1/);
});

test('imagenetResNet50 is Keras applications.ResNet50: names, parameters, pooling options', () => {
  const full = imagenetResNet50();
  assert.deepEqual(
    full.layers.slice(0, 8).map((l) => l.name),
    ['input_1', 'conv1_pad', 'conv1_conv', 'conv1_bn', 'conv1_relu', 'pool1_pad', 'pool1_pool', 'conv2_block1_1_conv'],
  );
  assert.deepEqual(
    full.layers.slice(-4).map((l) => l.name),
    ['conv5_block3_add', 'conv5_block3_out', 'avg_pool', 'predictions'],
  );
  assert.deepEqual(paramCounts(full), { total: 25_636_712, trainable: 25_583_592, nonTrainable: 53_120 });
  assert.equal(full.getLayer('conv1_bn').getConfig().epsilon, 1.001e-5);
  assert.deepEqual(full.getLayer('conv2_block1_1_conv').getConfig().strides, [1, 1]);
  full.dispose();
  const feats = imagenetResNet50({ includeTop: false });
  assert.deepEqual(feats.outputs[0].shape, [null, 7, 7, 2048]);
  assert.equal(feats.countParams(), 23_587_712);
  feats.dispose();
  const avg = imagenetResNet50({ includeTop: false, pooling: 'avg', inputShape: [96, 96, 3], preprocess: true });
  assert.deepEqual(avg.outputs[0].shape, [null, 2048]);
  assert.equal(avg.layers[1].name, 'preprocess');
  avg.dispose();
  const max = imagenetResNet50({ includeTop: false, pooling: 'max', inputShape: [64, 64, 3] });
  assert.equal(max.layers[max.layers.length - 1].name, 'max_pool');
  max.dispose();
});

// Linear with a squared-error loss: a softmax saturates on the untrained backbone's large features in about one
// initialisation in ten, and the clipped cross-entropy then gives the top no gradient at all.
const tinyTop: Top = { name: 'tiny', layers: (c) => [tf.layers.dense({ units: c, name: 'predictions' })] };

test('a frozen backbone stays frozen through a training step: weights and BN statistics unchanged, BN in inference mode', async () => {
  const x = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 3);
  const y = tf.tensor2d([
    [1, 0],
    [0, 1],
    [0, 1],
    [1, 0],
  ]);
  const backbone = resnet18({ inputShape: [32, 32, 3], includeTop: false });
  // Control: unfrozen, a training-mode pass uses batch statistics, so the test below can tell the difference.
  const trainMode = async (m: tf.LayersModel) => (m.apply(x, { training: true }) as tf.Tensor).data();
  const inferMode = async (m: tf.LayersModel) => (m.predict(x) as tf.Tensor).data();
  assert.notDeepEqual(await trainMode(backbone), await inferMode(backbone));
  setTrainable(backbone, false);
  const model = withTop(backbone, tinyTop, 2);
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
  assert.equal(model.trainableWeights.length, 2); // the top's kernel and bias only
  const before = await Promise.all(backbone.getWeights().map((w) => w.data()));
  const topBefore = await model.getLayer('predictions').getWeights()[0].data();
  await model.trainOnBatch(x, y);
  const after = await Promise.all(backbone.getWeights().map((w) => w.data()));
  assert.equal(after.length, before.length);
  after.forEach((w, i) => assert.deepEqual(w, before[i], backbone.weights[i].originalName));
  assert.notDeepEqual(await model.getLayer('predictions').getWeights()[0].data(), topBefore);
  assert.deepEqual(await trainMode(backbone), await inferMode(backbone));
  setTrainable(backbone, true);
  assert.notDeepEqual(await trainMode(backbone), await inferMode(backbone));
});

const cached = fs.existsSync(resnet50WeightsFile());

test(
  'npm ResNet50 weights: every tensor maps onto the Keras architecture',
  { skip: !cached && 'weights not cached: run `affect weights fetch resnet50-imagenet`' },
  () => {
    const npm = readNpmResNet50Weights();
    assert.equal(npm.weights.size, 320);
    assert.equal(npm.bnEpsilon, 1e-3);
    const model = imagenetResNet50({ includeTop: false, pooling: 'avg' });
    const report = setWeightsByName(model, npm.weights, 'npm');
    assert.equal(report.assigned, 318);
    assert.deepEqual(report.unused.sort(), ['predictions/bias', 'predictions/kernel']);
    model.dispose();
  },
);

test('loadImagenetResNet50 from a Keras .h5 weights file (notop layout), frozen', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'models-imagenet-'));
  try {
    const src = imagenetResNet50({ includeTop: false, inputShape: [32, 32, 3] });
    const file = path.join(dir, 'resnet50_notop.h5');
    await writeKerasH5Weights(src, file);
    const model = await loadImagenetResNet50({
      weights: { h5: file },
      includeTop: false,
      inputShape: [32, 32, 3],
      trainable: false,
    });
    assert.equal(model.trainableWeights.length, 0);
    assert.equal(paramCounts(model).nonTrainable, 23_587_712);
    const x = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 9);
    assert.deepEqual(await (model.predict(x) as tf.Tensor).data(), await (src.predict(x) as tf.Tensor).data());
    // The top is not in a notop file: a clear error, not a half-loaded model.
    await assert.rejects(
      loadImagenetResNet50({ weights: { h5: file }, inputShape: [32, 32, 3] }),
      /missing predictions\/kernel \[2048,1000\]/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
