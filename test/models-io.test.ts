import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import {
  CaffePreprocess,
  batchNorm,
  cnn4,
  folderHandler,
  loadKerasH5Weights,
  loadModel,
  readKerasH5Weights,
  resnet18,
  saveModel,
  setWeightsByName,
  writeKerasH5Weights,
} from '../lib/models';

let tmp: string;
before(async () => {
  await initBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'models-io-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const input = () => tf.randomUniform([2, 32, 32, 3], 0, 255, 'float32', 7);

/** conv -> our BatchNormalization -> pool -> Dense, with an optional preprocessing layer first. */
function tiny(units = 3, seed = 1, preprocess = false): tf.LayersModel {
  const x0 = tf.input({ shape: [32, 32, 3], name: 'input_1' });
  let x = preprocess ? (new CaffePreprocess({ name: 'preprocess' }).apply(x0) as tf.SymbolicTensor) : x0;
  x = tf.layers
    .conv2d({ filters: 4, kernelSize: 3, name: 'conv1', kernelInitializer: tf.initializers.glorotUniform({ seed }) })
    .apply(x) as tf.SymbolicTensor;
  x = batchNorm({ name: 'bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .dense({
      units,
      activation: 'softmax',
      name: 'predictions',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: x0, outputs: x, name: 'tiny' });
}

test('saveModel/loadModel round trip: same predictions, custom layers deserialise, only complete files left', async () => {
  const model = resnet18({ inputShape: [32, 32, 3], outputUnits: 3, normalize: true });
  const dir = path.join(tmp, 'resnet18');
  await saveModel(model, dir);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'weights.bin']);
  const loaded = await loadModel(dir);
  assert.equal(loaded.getLayer('rescaling').getClassName(), 'Rescaling');
  assert.equal(loaded.getLayer('conv1_bn').constructor, model.getLayer('conv1_bn').constructor); // our BatchNormalization
  const x = input();
  const a = model.predict(x) as tf.Tensor;
  const b = loaded.predict(x) as tf.Tensor;
  assert.deepEqual(await b.data(), await a.data());
  tf.dispose([x, a, b]);
  const pre = tiny(3, 1, true);
  await saveModel(pre, path.join(tmp, 'tiny'));
  const pre2 = await loadModel(path.join(tmp, 'tiny'));
  assert.ok(pre2.getLayer('preprocess') instanceof CaffePreprocess);
  const x2 = input();
  assert.deepEqual(await (pre2.predict(x2) as tf.Tensor).data(), await (pre.predict(x2) as tf.Tensor).data());
  model.dispose();
  loaded.dispose();
  const std = cnn4({ inputShape: [16, 16, 1], outputUnits: 2, normalize: true, standardize: true });
  await saveModel(std, path.join(tmp, 'cnn4-std'));
  const std2 = await loadModel(path.join(tmp, 'cnn4-std'));
  assert.equal(std2.getLayer('standardization').getClassName(), 'PerImageStandardization');
  const x3 = tf.randomUniform([2, 16, 16, 1], 0, 255, 'float32', 4);
  assert.deepEqual(await (std2.predict(x3) as tf.Tensor).data(), await (std.predict(x3) as tf.Tensor).data());
  std.dispose();
  std2.dispose();
});

test('saveModel with includeOptimizer restores the optimizer state', async () => {
  const model = tiny();
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
  await model.trainOnBatch(input(), tf.tensor1d([0, 2]));
  const dir = path.join(tmp, 'with-optimizer');
  await saveModel(model, dir, { includeOptimizer: true });
  const loaded = await loadModel(dir);
  const want = await model.optimizer.getWeights();
  const got = await loaded.optimizer.getWeights();
  assert.equal(got.length, want.length);
  assert.ok(want.length > 1);
  for (let i = 0; i < want.length; i++)
    assert.deepEqual(await got[i].tensor.data(), await want[i].tensor.data(), want[i].name);
});

test('folderHandler: loading a folder without a model is an error naming it', async () => {
  await assert.rejects(folderHandler(path.join(tmp, 'nothing')).load!(), /no saved model in .*nothing/);
});

test('Keras .h5 weights: written in Keras layout, read back by name into a fresh model', async () => {
  // h5wasm is an ES module: a real import(), which tsc would turn into require() for CommonJS output.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- on purpose: see the line above
  const importEsm = new Function('s', 'return import(s)') as (
    s: string,
  ) => Promise<{ default: typeof import('h5wasm') }>;
  const h5 = (await importEsm('h5wasm/node')).default;
  const src = tiny(3, 1);
  const file = path.join(tmp, 'tiny.h5');
  await writeKerasH5Weights(src, file);
  // Layout check with h5wasm directly: /<layer>/<layer>/<weight>:0 and the name attributes Keras reads.
  const f = new h5.File(file, 'r');
  assert.deepEqual(f.attrs['layer_names'].value, ['conv1', 'bn', 'predictions']);
  assert.deepEqual((f.get('bn') as InstanceType<typeof h5.Group>).attrs['weight_names'].value, [
    'bn/gamma:0',
    'bn/beta:0',
    'bn/moving_mean:0',
    'bn/moving_variance:0',
  ]);
  assert.deepEqual((f.get('conv1/conv1/kernel:0') as InstanceType<typeof h5.Dataset>).shape, [3, 3, 3, 4]);
  f.close();
  const read = await readKerasH5Weights(file);
  assert.deepEqual(
    [...read.keys()],
    [
      'conv1/kernel',
      'conv1/bias',
      'bn/gamma',
      'bn/beta',
      'bn/moving_mean',
      'bn/moving_variance',
      'predictions/kernel',
      'predictions/bias',
    ],
  );
  const dst = tiny(3, 2);
  const x = input();
  assert.notDeepEqual(await (dst.predict(x) as tf.Tensor).data(), await (src.predict(x) as tf.Tensor).data());
  const report = await loadKerasH5Weights(dst, file);
  assert.deepEqual(report, { assigned: 8, unused: [] });
  assert.deepEqual(await (dst.predict(x) as tf.Tensor).data(), await (src.predict(x) as tf.Tensor).data());
});

test('weights by name: a mis-shaped or missing tensor is an error naming it, and nothing is assigned', async () => {
  const file = path.join(tmp, 'tiny3.h5');
  await writeKerasH5Weights(tiny(3, 1), file);
  const wrong = tiny(5, 2);
  const before = await wrong.getLayer('conv1').getWeights()[0].data();
  await assert.rejects(
    loadKerasH5Weights(wrong, file),
    /tiny3\.h5.*predictions\/kernel has shape \[4,3\], the model expects \[4,5\]/,
  );
  assert.deepEqual(await wrong.getLayer('conv1').getWeights()[0].data(), before);
  const source = await readKerasH5Weights(file);
  source.delete('bn/moving_variance');
  assert.throws(
    () => setWeightsByName(tiny(3, 2), source, 'my source'),
    /my source.*missing bn\/moving_variance \[4\]/,
  );
  await assert.rejects(readKerasH5Weights(path.join(tmp, 'absent.h5')), /absent\.h5 does not exist/);
});
