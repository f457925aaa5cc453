import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { ConfigError } from '../lib/errors';
import {
  MODEL_REGISTRY,
  PerImageStandardization,
  buildModel,
  cnn4,
  cnn5,
  perImageStandardization,
  pretrainedTop,
  resnet18,
  vggTop,
  withTop,
} from '../lib/models';

before(async () => {
  await initBackend('cpu');
});

const shapes = (m: tf.LayersModel) => Object.fromEntries(m.layers.map((l) => [l.name, l.outputShape]));

test('cnn4: two 5x5 conv + pool stages (16, 36), dense 128, softmax; grayscale 48x48', () => {
  const m = cnn4({ inputShape: [48, 48, 1], outputUnits: 7 });
  const s = shapes(m);
  assert.deepEqual(
    [s.conv1, s.pool1, s.conv2, s.pool2, s.flatten, s.fc1, s.predictions],
    [
      [null, 48, 48, 16],
      [null, 24, 24, 16],
      [null, 24, 24, 36],
      [null, 12, 12, 36],
      [null, 5184],
      [null, 128],
      [null, 7],
    ],
  );
  assert.equal(m.countParams(), 416 + 14436 + 663680 + 903);
  assert.ok(!m.layers.some((l) => l.getClassName() === 'Dropout' || l.getClassName() === 'Rescaling'));
  m.dispose();
});

test('cnn5: three 5x5 conv + pool stages (32, 64, 64), 30% dropout, dense 128; RGB of any size; normalize', () => {
  const m = cnn5({ inputShape: [48, 48, 3], outputUnits: 7, normalize: true });
  assert.equal(m.countParams(), 2432 + 51264 + 102464 + 295040 + 903);
  assert.equal(m.getLayer('dropout').getConfig().rate, 0.3);
  assert.equal(m.getLayer('rescaling').getConfig().scale, 1 / 255);
  assert.equal(m.getLayer('fc1').getConfig().activation, 'relu');
  const odd = cnn5({ inputShape: [45, 37, 3], outputUnits: 2, kernelRegularizer: tf.regularizers.l2({ l2: 1e-3 }) });
  assert.deepEqual(odd.getLayer('pool3').outputShape, [null, 6, 5, 64]);
  for (const name of ['conv1', 'conv2', 'conv3', 'fc1', 'predictions'])
    assert.notEqual(odd.getLayer(name).getConfig().kernelRegularizer, null, name);
  const p = tf.tidy(() => (odd.predict(tf.randomUniform([2, 45, 37, 3])) as tf.Tensor).sum(1).arraySync() as number[]);
  for (const v of p) assert.ok(Math.abs(v - 1) < 1e-5);
  assert.throws(() => cnn4({ inputShape: [48, 48, 1], outputUnits: 0 }), /outputUnits/);
  m.dispose();
  odd.dispose();
});

/** A layer setting as text (the settings compared here are numbers and strings). */
const setting = (v: tf.serialization.ConfigDictValue | undefined) =>
  typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '');

const topConfig = (m: tf.LayersModel, n: number) =>
  m.layers.slice(-n).map((l) => {
    const c = l.getConfig();
    return l.getClassName() === 'Dense'
      ? `${l.name}:${setting(c.units)}:${setting(c.activation)}`
      : `${l.name}:${l.getClassName()}:${setting(c.rate)}`;
  });

test('perImageStandardization: each image to mean 0 and deviation 1 over all its values; a flat image to zeros', async () => {
  // One 2x2 gray image 1, 2, 3, 4: mean 2.5, deviation sqrt(1.25); and a flat one, whose deviation 0 is floored at
  // 1 / sqrt(4) values, so it becomes zeros rather than NaN.
  const out = perImageStandardization(tf.tensor4d([1, 2, 3, 4, 7, 7, 7, 7], [2, 2, 2, 1]));
  const d = Math.sqrt(1.25);
  const got = Array.from(await out.data());
  const want = [-1.5 / d, -0.5 / d, 0.5 / d, 1.5 / d, 0, 0, 0, 0];
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `value ${i}: ${v} vs ${want[i]}`));
  // Over every channel of an RGB image together, image by image.
  const rgb = tf.randomUniform([3, 5, 4, 3], 0, 255, 'float32', 5);
  const s = perImageStandardization(tf.mul(rgb, tf.tensor4d([1, 10, 100], [3, 1, 1, 1])));
  const { mean, variance } = tf.moments(s, [1, 2, 3]);
  for (const m of await mean.data()) assert.ok(Math.abs(m) < 1e-4, `mean ${m}`);
  for (const v of await variance.data()) assert.ok(Math.abs(v - 1) < 1e-3, `variance ${v}`);
  // As the zoo's input option: after the rescaling, before the first convolution; the same output either way.
  const m = cnn4({ inputShape: [8, 8, 1], outputUnits: 2, normalize: true, standardize: true });
  assert.deepEqual(
    m.layers.slice(0, 4).map((l) => l.getClassName()),
    ['InputLayer', 'Rescaling', 'PerImageStandardization', 'Conv2D'],
  );
  assert.ok(m.getLayer('standardization') instanceof PerImageStandardization);
  const x = tf.randomUniform([2, 8, 8, 1], 0, 255, 'float32', 3);
  const scaled = tf.mul(x, 3);
  const a = (await (m.predict(x) as tf.Tensor).data()) as Float32Array;
  const b = (await (m.predict(scaled) as tf.Tensor).data()) as Float32Array;
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-5, "a standardized model ignores the images' contrast"));
  m.dispose();
  tf.dispose([out, rgb, s, mean, variance, x, scaled]);
});

test('vggTop on a flattened ResNet-18 with dropout 0.2 (experiments 3 and 5)', () => {
  const backbone = resnet18({ inputShape: [32, 32, 3], includeTop: false, flatten: true, dropoutRate: 0.2 });
  const m = withTop(backbone, vggTop, 2);
  assert.deepEqual(topConfig(m, 7), [
    'flatten:Flatten:',
    'dropout:Dropout:0.2',
    'fc1:4096:relu',
    'fc1_dropout:Dropout:0.5',
    'fc2:4096:relu',
    'fc2_dropout:Dropout:0.5',
    'predictions:2:softmax',
  ]);
  assert.equal(m.countParams(), backbone.countParams() + (512 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 2 + 2));
  // The backbone's layers are shared, not copied.
  assert.equal(m.getLayer('conv1_conv'), backbone.getLayer('conv1_conv'));
  assert.throws(() => withTop(resnet18({ inputShape: [32, 32, 3] }), vggTop, 2), /includeTop: false/);
  m.dispose();
});

test('pretrainedTop: Dense 2048 relu, Dropout 0.5, Dense 512 relu, Dropout 0.2, softmax', () => {
  const backbone = resnet18({ inputShape: [32, 32, 3], includeTop: false });
  const m = withTop(backbone, pretrainedTop, 8);
  assert.deepEqual(topConfig(m, 5), [
    'fc1:2048:relu',
    'fc1_dropout:Dropout:0.5',
    'fc2:512:relu',
    'fc2_dropout:Dropout:0.2',
    'predictions:8:softmax',
  ]);
  assert.deepEqual(m.outputs[0].shape, [null, 8]);
  assert.throws(() => withTop(backbone, pretrainedTop, 0), /classes/);
  m.dispose();
});

test('the registry names the zoo with its metadata; buildModel puts the top on and rejects unknown models, tops and options', async () => {
  assert.deepEqual(
    MODEL_REGISTRY.map((e) => e.name).sort(),
    [
      'cnn4',
      'cnn5',
      'densenet121-imagenet',
      'densenet169-imagenet',
      'majority',
      'resnet101',
      'resnet152',
      'resnet18',
      'resnet34',
      'resnet50',
      'resnet50-imagenet',
      'small-bn-cnn',
    ].sort(),
  );
  for (const e of MODEL_REGISTRY) assert.equal(e.task, 'image-classification', e.name);
  const imagenet = MODEL_REGISTRY.find((e) => e.name === 'resnet50-imagenet')!;
  assert.deepEqual(
    [imagenet.tops, imagenet.options, imagenet.weights],
    [['pretrained'], ['frozen', 'freezeUpTo'], 'imagenet'],
  );
  const m = await buildModel('resnet34', { inputShape: [32, 32, 3], outputUnits: 4, frozen: true });
  assert.equal(m.name, 'resnet34');
  assert.deepEqual(m.outputs[0].shape, [null, 4]);
  assert.equal(m.trainableWeights.length, 0);
  m.dispose();
  // The VGG top goes on the flattened backbone (the study's Flatten + Dropout 0.2 come from the options), in one place.
  const vgg = await buildModel('resnet18', {
    inputShape: [32, 32, 3],
    outputUnits: 2,
    top: 'vgg',
    flatten: true,
    dropoutRate: 0.2,
  });
  assert.equal(vgg.name, 'resnet18_vgg');
  assert.deepEqual(topConfig(vgg, 5), [
    'fc1:4096:relu',
    'fc1_dropout:Dropout:0.5',
    'fc2:4096:relu',
    'fc2_dropout:Dropout:0.5',
    'predictions:2:softmax',
  ]);
  vgg.dispose();
  // The architecture alone, without the cached weights: frozen as in experiment 4, under its pretrained top.
  const random = await buildModel('resnet50-imagenet', { inputShape: [32, 32, 3], outputUnits: 3, weights: 'random' });
  assert.equal(random.name, 'resnet50_pretrained');
  assert.deepEqual(random.outputs[0].shape, [null, 3]);
  assert.equal(random.trainableWeights.length, 6, 'only the top trains');
  random.dispose();
  const o = { inputShape: [32, 32, 3] as [number, number, number], outputUnits: 4 };
  await assert.rejects(
    buildModel('resnet19', o),
    (e: Error) => e instanceof ConfigError && /unknown model "resnet19".*resnet18/.test(e.message),
  );
  await assert.rejects(
    buildModel('cnn4', { ...o, top: 'vgg' }),
    (e: Error) => e instanceof ConfigError && /cnn4 takes the dense top, not "vgg"/.test(e.message),
  );
  await assert.rejects(
    buildModel('resnet50-imagenet', { ...o, l2: 1e-4 }),
    (e: Error) =>
      e instanceof ConfigError && /resnet50-imagenet does not accept option "l2"; accepted: frozen/.test(e.message),
  );
  await assert.rejects(
    buildModel('resnet18', { ...o, dropout: 0.5 } as typeof o),
    (e: Error) =>
      e instanceof ConfigError &&
      /unknown option "dropout"; known: normalize, standardize, l2, flatten, dropoutRate, frozen/.test(e.message),
  );
  // An option at its off value is not a request: experiment 4's saved configs carry normalize: false.
  (await buildModel('cnn4', { ...o, flatten: false })).dispose();
});
