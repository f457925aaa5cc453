/** Experiment fer-transfer as data: its trials, their partial freezing, FER2013 without disgust as RGB, and its quick scale. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeModel, getExperiment, resolveTrial } from '../lib/experiments';
import { FER6_RGB_DATA, FER_TRANSFER_SOURCE, ferTransfer } from '../lib/experiments/fer-transfer';
import { findManifest } from '../lib/data';
import { modelEntry } from '../lib/models';

test('fer-transfer is in the registry without a number, its trials freeze the ImageNet backbones up to different stages', () => {
  assert.equal(getExperiment('fer-transfer'), ferTransfer);
  assert.equal(ferTransfer.number, undefined);
  assert.deepEqual(
    ferTransfer.trials.map((t) => [t.name, t.model.name, t.model.freezeUpTo]),
    [
      ['resnet50-freeze2', 'resnet50-imagenet', 2],
      ['resnet50-freeze3', 'resnet50-imagenet', 3],
      ['resnet50-frozen', 'resnet50-imagenet', 4],
      ['resnet50-freeze0', 'resnet50-imagenet', 0],
      ['densenet121-freeze2', 'densenet121-imagenet', 2],
    ],
  );
  assert.equal(ferTransfer.defaultTrial, 'resnet50-freeze2');
  for (const t of ferTransfer.trials) {
    // Every model and option is one the registry accepts.
    const entry = modelEntry(t.model.name);
    assert.ok(entry.tops.includes(t.model.top) && entry.options.includes('freezeUpTo'), t.name);
    assert.equal(t.published.source, FER_TRANSFER_SOURCE);
    assert.match(t.published.notes!, /overfit after 5-15 epochs/);
    assert.equal(t.imageSize, 96);
  }
  assert.match(ferTransfer.trials[0].description, /the stem and conv2, conv3 frozen, conv4, conv5 and the top trained/);
  assert.match(ferTransfer.trials[2].description, /features only/);
  assert.equal(describeModel(ferTransfer.trials[0].model), 'resnet50-imagenet + pretrained top (frozen up to stage 2)');
});

test("fer-transfer's data: FER2013 less disgust, decoded to RGB (gray replicated into 3 channels), classes the manifest has", () => {
  assert.equal(FER6_RGB_DATA.dataset, 'fer2013');
  assert.deepEqual(FER6_RGB_DATA.drop, ['disgust']);
  assert.ok(!FER6_RGB_DATA.grayscale);
  assert.equal(FER6_RGB_DATA.augment?.flip, 'horizontal');
  const manifest = findManifest('fer2013');
  assert.ok(manifest.classes.includes('disgust'));
  assert.equal(manifest.classes.filter((c) => !FER6_RGB_DATA.drop!.includes(c)).length, 6);
});

test("fer-transfer at quick: 64 px, a small capped subset, the trial's model, freezing and optimizer", () => {
  const cfg = resolveTrial('fer-transfer', undefined, 'quick', 27);
  assert.deepEqual(
    [cfg.imageSize, cfg.epochs, cfg.batchSize, cfg.trainPerClass, cfg.testPerClass],
    [64, 5, 16, 150, 50],
  );
  assert.deepEqual(cfg.model, { name: 'resnet50-imagenet', top: 'pretrained', freezeUpTo: 2 });
  assert.deepEqual(cfg.optimizer, { kind: 'adam', lr: 1e-4 });
  assert.equal(cfg.note, undefined);
  const full = resolveTrial('fer-transfer', 'densenet121-freeze2', 'full', 27);
  assert.deepEqual([full.imageSize, full.epochs, full.batchSize], [96, 20, 64]);
  assert.equal(full.callbacks.earlyStopping?.patience, 5);
});
