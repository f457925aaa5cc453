import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { EXPERIMENTS, experimentNames, getExperiment, getTrial, resolveTrial, validateRunConfig } from '../lib/experiments';

test('the five experiments are found by name and by number', () => {
  assert.deepEqual(EXPERIMENTS.map((e) => e.name), ['baseline', 'adam-sweep', 'vgg-top', 'pretrained', 'face-mask']);
  for (const e of EXPERIMENTS) assert.equal(getExperiment(String(e.number)), e);
  assert.equal(getExperiment('Face-Mask').name, 'face-mask');
  assert.ok(experimentNames().includes('5'));
});

test('unknown experiments and trials are errors listing the accepted names', () => {
  assert.throws(() => getExperiment('resnet'), /unknown experiment "resnet"; accepted: baseline \(1\), adam-sweep \(2\).*face-mask \(5\)/);
  assert.throws(() => getTrial('face-mask', 'nope'), /face-mask has no trial "nope"; accepted trials: resnet18-vgg/);
});

test('every documented trial is there with the published settings and results', () => {
  const counts = Object.fromEntries(EXPERIMENTS.map((e) => [e.name, e.trials.length]));
  assert.deepEqual(counts, { baseline: 10, 'adam-sweep': 10, 'vgg-top': 3, pretrained: 8, 'face-mask': 1 });
  const r34 = getTrial('1', 'resnet34-original').trial;
  assert.equal(r34.published.testAccuracy, 0.6247);
  assert.deepEqual([r34.published.epochsRun, r34.published.bestEpoch], [33, 23]);
  assert.deepEqual(r34.optimizer, { kind: 'sgd', lr: 0.1, momentum: 0.9 });
  assert.equal(r34.model.l2, 1e-4);
  assert.deepEqual(r34.callbacks.reduceLROnPlateau, { monitor: 'val_loss', factor: 0.1, patience: 5 });
  assert.equal(getTrial('baseline', 'resnet152-improved').trial.published.testAccuracy, 0.5218);
  assert.equal(getTrial('adam-sweep', 'adam-b32-lr1e-5-grayscale').trial.data.grayscale, true);
  assert.equal(getTrial('adam-sweep', 'adam-b64-lr1e-6-no-normalize').trial.model.normalize, false);
  const aug = getTrial('pretrained', 'adamw-frozen-augment-1x').trial;
  assert.deepEqual(aug.data.augment, { flip: 'horizontal', rotation: 0.1, zoom: 0.15, translation: [0.15, 0.15] });
  assert.equal(aug.published.testAccuracy, 0.3884);
  assert.equal(getTrial('pretrained', 'adamw-unfrozen').trial.model.frozen, false);
  assert.equal(getTrial('pretrained', 'adamw-frozen-3x').trial.data.dataset, 'data_relabeled_balanced_3x');
  const fm = getTrial('face-mask').trial;
  assert.deepEqual(fm.published.confusion, [[472, 11], [10, 499]]);
  assert.equal(fm.published.testAccuracy, 0.9788);
  // EarlyStopping(val_loss, patience 10, restore best) everywhere; ReduceLROnPlateau only in experiment 1.
  for (const e of EXPERIMENTS) {
    for (const t of e.trials) {
      assert.deepEqual(t.callbacks.earlyStopping, { monitor: 'val_loss', patience: 10, restoreBestWeights: true }, t.name);
      assert.equal(t.callbacks.reduceLROnPlateau !== undefined, e.name === 'baseline', t.name);
      assert.ok(t.quick.description.startsWith('quick: '), t.name);
    }
  }
});

test('resolveTrial applies the scale, says when quick substitutes the model, and applies overrides', () => {
  const full = resolveTrial('face-mask', undefined, 'full', 27);
  assert.equal(full.model.name, 'resnet18');
  assert.equal(full.substitution, undefined);
  assert.deepEqual([full.imageSize, full.batchSize, full.epochs, full.optimizer.lr], [96, 64, 100, 1e-5]);
  const quick = resolveTrial('5', undefined, 'quick', 27, { epochs: 2 });
  assert.equal(quick.model.name, 'cnn4');
  assert.match(quick.substitution ?? '', /instead of resnet18 \+ vgg top/);
  assert.match(quick.description, /quick: cnn4 instead of resnet18/);
  assert.equal(quick.epochs, 2);
  assert.equal(quick.optimizer.lr, 1e-3);
  assert.equal(resolveTrial('5', undefined, 'quick', 27, { trainPerClass: 0 }).trainPerClass, undefined);
});

test('invalid settings are errors naming the field', () => {
  assert.throws(() => resolveTrial('5', undefined, 'quick', 27, { lr: 0 }), /invalid learning rate \(optimizer.lr\): 0; must be a number > 0/);
  assert.throws(() => resolveTrial('5', undefined, 'quick', 27, { batchSize: 0 }), /invalid batch size: 0/);
  assert.throws(() => resolveTrial('5', undefined, 'quick', 27, { epochs: 1.5 }), /invalid epochs: 1.5/);
  assert.throws(() => resolveTrial('5', undefined, 'huge' as 'full', 27), /unknown scale "huge"; accepted: quick, full/);
  const cfg = resolveTrial('1', undefined, 'full', 27);
  cfg.optimizer.momentum = 1.5;
  assert.throws(() => validateRunConfig(cfg), /invalid optimizer.momentum: 1.5/);
});
