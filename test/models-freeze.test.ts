/** Partial unfreezing by stage of the ImageNet backbones: which layers freeze, and what one training step leaves alone. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { ConfigError } from '../lib/errors';
import { buildModel, freezeStages, imagenetResNet50, kerasStage, paramCounts, stageParams } from '../lib/models';
import { compileModel, trainStep } from '../lib/train';

before(async () => {
  await initBackend('wasm');
});

test("kerasStage: stem 0, conv2..conv5 and the transitions after them 1..4, DenseNet's final bn 4, anything else none", () => {
  const cases: [string, number | undefined][] = [
    ['conv1_conv', 0],
    ['conv1_bn', 0],
    ['pool1_pool', 0],
    ['conv1/bn', 0],
    ['pool1', 0],
    ['conv2_block1_1_conv', 1],
    ['pool2_bn', 1],
    ['conv3_block4_3_bn', 2],
    ['pool4_conv', 3],
    ['conv5_block16_concat', 4],
    ['bn', 4],
    ['relu', 4],
    ['input_1', undefined],
    ['preprocess', undefined],
    ['avg_pool', undefined],
    ['fc1', undefined],
    ['predictions', undefined],
    ['conv10', undefined],
    ['convx_1', undefined],
  ];
  for (const [name, stage] of cases) assert.equal(kerasStage(name), stage, name);
});

test('freezeStages rejects a stage outside 0..4', () => {
  const m = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
  for (const bad of [-1, 5, 1.5, NaN])
    assert.throws(() => freezeStages(m, bad), /freezeUpTo must be an integer 0\.\.4/);
  m.dispose();
});

const stageOfWeight = (m: tf.LayersModel) => m.weights.map((w) => kerasStage(w.originalName.split('/')[0]));

test('ResNet-50 frozen up to stage 2: one trainStep leaves the stem and stages 1-2 (weights and BN moving statistics) as they were and changes stages 3-4', async () => {
  const model = imagenetResNet50({ includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
  freezeStages(model, 2);
  const stages = stageOfWeight(model);
  // Every weight of the backbone belongs to a stage; the trainable ones are exactly those of stages 3 and 4.
  assert.ok(stages.every((s) => s !== undefined));
  assert.deepEqual(
    new Set(model.trainableWeights.map((w) => kerasStage(w.originalName.split('/')[0]))),
    new Set([3, 4]),
  );
  // A head so that trainStep has a classifier: Dense on the pooled features.
  const head = tf.layers.dense({ units: 2, activation: 'softmax', name: 'predictions' });
  const full = tf.model({ inputs: model.inputs, outputs: head.apply(model.outputs[0]) as tf.SymbolicTensor });
  compileModel(full, { kind: 'sgd', lr: 0.1 });
  const before = model.weights.map((w) => w.read().dataSync().slice());
  const x = tf.randomUniform([4, 32, 32, 3], 0, 255, 'float32', 4);
  const y = tf.tensor1d([0, 1, 1, 0]);
  const [loss] = await trainStep(full, x, y);
  assert.ok(Number.isFinite(loss));
  let changedLate = 0;
  let movingLate = 0;
  model.weights.forEach((w, i) => {
    const same = tf.util.arraysEqual(w.read().dataSync(), before[i]);
    const stage = stages[i];
    assert.ok(stage !== undefined, `${w.originalName} belongs to no stage`);
    if (stage <= 2) assert.ok(same, `${w.originalName} (stage ${stage}, frozen) changed`);
    else if (!same) {
      changedLate++;
      if (/moving_(mean|variance)$/.test(w.originalName)) movingLate++;
    }
  });
  // Trained stages: kernels moved and their BN layers, in training mode, updated their moving statistics.
  const late = model.weights.filter((_, i) => (stages[i] ?? 0) > 2);
  assert.ok(changedLate > late.length / 2, `only ${changedLate} of ${late.length} stage 3-4 weights changed`);
  assert.ok(movingLate > 0, 'no moving statistic of stages 3-4 changed');
  tf.dispose([x, y]);
  full.dispose();
});

test("the registry: resnet50-imagenet takes freezeUpTo (not with frozen: true); the study's ResNets do not", async () => {
  const o = { inputShape: [32, 32, 3] as [number, number, number], outputUnits: 3, weights: 'random' as const };
  const m = await buildModel('resnet50-imagenet', { ...o, freezeUpTo: 3 });
  const trainable = new Set(m.trainableWeights.map((w) => w.originalName.split('/')[0]));
  assert.ok(trainable.has('conv5_block1_1_conv') && trainable.has('predictions') && trainable.has('fc1'));
  assert.ok(!trainable.has('conv4_block6_3_bn') && !trainable.has('conv1_conv'));
  // Per stage: the stem and stages 1-3 frozen, stage 4 and the top trained except their moving statistics.
  const rows = stageParams(m);
  assert.deepEqual(
    rows.map((r) => r.stage),
    [
      'stem (conv1, pool1)',
      'stage 1 (conv2)',
      'stage 2 (conv3)',
      'stage 3 (conv4)',
      'stage 4 (conv5)',
      'other (input, pooling, top)',
    ],
  );
  assert.deepEqual(
    rows.slice(0, 4).map((r) => r.trainable),
    [0, 0, 0, 0],
  );
  assert.ok(rows[4].trainable > 0 && rows[4].frozen > 0 && rows[5].frozen === 0);
  const counts = paramCounts(m);
  assert.equal(
    rows.reduce((a, r) => a + r.trainable, 0),
    counts.trainable,
  );
  assert.equal(
    rows.reduce((a, r) => a + r.frozen, 0),
    counts.nonTrainable,
  );
  m.dispose();
  await assert.rejects(
    buildModel('resnet50-imagenet', { ...o, freezeUpTo: 2, frozen: true }),
    (e: Error) => e instanceof ConfigError && /not both/.test(e.message),
  );
  await assert.rejects(
    buildModel('resnet50-imagenet', { ...o, freezeUpTo: 7 }),
    (e: Error) => e instanceof ConfigError && /freezeUpTo must be an integer 0\.\.4/.test(e.message),
  );
  await assert.rejects(
    buildModel('resnet18', { ...o, freezeUpTo: 1 }),
    (e: Error) => e instanceof ConfigError && /resnet18 does not accept option "freezeUpTo"/.test(e.message),
  );
});
