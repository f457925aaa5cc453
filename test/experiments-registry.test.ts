import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ConfigError } from '../lib/errors';
import {
  EXPERIMENTS,
  experimentNames,
  getExperiment,
  getTrial,
  resolveTrial,
  validateRunConfig,
} from '../lib/experiments';

/** The study's five experiments (numbered); the FER projects' follow them unnumbered. */
const STUDY = EXPERIMENTS.filter((e) => e.number !== undefined);

test('the five experiments are found by name and by number, the FER ones by name', () => {
  assert.deepEqual(
    STUDY.map((e) => e.name),
    ['baseline', 'adam-sweep', 'vgg-top', 'pretrained', 'face-mask'],
  );
  assert.deepEqual(EXPERIMENTS.slice(0, 5), STUDY, 'the study first, in its order');
  for (const e of STUDY) assert.equal(getExperiment(String(e.number)), e);
  for (const name of ['fer-small-cnn', 'fer-lr']) assert.equal(getExperiment(name).name, name);
  assert.ok(!experimentNames().includes('undefined'));
  assert.equal(getExperiment('Face-Mask').name, 'face-mask');
  assert.ok(experimentNames().includes('5'));
});

test('unknown experiments and trials are errors listing the accepted names', () => {
  assert.throws(
    () => getExperiment('resnet'),
    /unknown experiment "resnet"; accepted: baseline \(1\), adam-sweep \(2\).*face-mask \(5\)/,
  );
  assert.throws(() => getTrial('face-mask', 'nope'), /face-mask has no trial "nope"; accepted trials: resnet18-vgg/);
});

test('every documented trial is there with the published settings and results', () => {
  const counts = Object.fromEntries(STUDY.map((e) => [e.name, e.trials.length]));
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
  assert.deepEqual(fm.published.confusion, [
    [472, 11],
    [10, 499],
  ]);
  assert.equal(fm.published.testAccuracy, 0.9788);
  // EarlyStopping(val_loss, patience 10, restore best) everywhere; ReduceLROnPlateau only in experiment 1.
  for (const e of STUDY) {
    for (const t of e.trials) {
      assert.deepEqual(
        t.callbacks.earlyStopping,
        { monitor: 'val_loss', patience: 10, restoreBestWeights: true },
        t.name,
      );
      assert.equal(t.callbacks.reduceLROnPlateau !== undefined, e.name === 'baseline', t.name);
      assert.ok(t.quick.description.startsWith('quick: '), t.name);
    }
  }
});

test("every scale trains the trial's own model, top, optimizer kind, callbacks (quick retimes restarts) and data variant", () => {
  for (const e of EXPERIMENTS) {
    for (const t of e.trials) {
      for (const scale of ['smoke', 'quick', 'full'] as const) {
        const cfg = resolveTrial(e.name, t.name, scale, 27);
        assert.deepEqual(cfg.model, t.model, `${t.name} ${scale}`);
        // Quick retimes warm restarts to every epoch from the fourth, and changes nothing else of the callbacks.
        const restarts = t.callbacks.cosineDecayRestarts;
        const retimed = { start: 3, firstDecaySteps: 1, unit: 'epoch' };
        const callbacks =
          scale === 'quick' && restarts
            ? { ...t.callbacks, cosineDecayRestarts: { ...restarts, ...retimed } }
            : t.callbacks;
        assert.deepEqual(
          [cfg.optimizer.kind, cfg.callbacks, cfg.data],
          [t.optimizer.kind, callbacks, t.data],
          `${t.name} ${scale}`,
        );
      }
      // Smoke changes nothing but the images and their number: the published optimizer and batch size run.
      const smoke = resolveTrial(e.name, t.name, 'smoke', 27);
      assert.deepEqual(
        [smoke.optimizer, smoke.batchSize, smoke.epochs, smoke.imageSize, smoke.note],
        [t.optimizer, t.batchSize, t.epochs === 0 ? 0 : 1, 32, undefined],
        t.name,
      );
      // Snapshot trials snapshot every iteration at smoke (one epoch of a handful of images), as published at full.
      if (t.snapshots) {
        assert.deepEqual(smoke.snapshots, { ...t.snapshots, every: 1, unit: 'iteration' }, t.name);
        assert.deepEqual(resolveTrial(e.name, t.name, 'full', 27).snapshots, t.snapshots, t.name);
      }
    }
  }
});

test('resolveTrial applies the scale, states a quick learning-rate change, and applies overrides', () => {
  const full = resolveTrial('face-mask', undefined, 'full', 27);
  assert.equal(full.note, undefined);
  assert.deepEqual([full.imageSize, full.batchSize, full.epochs, full.optimizer.lr], [96, 64, 100, 1e-5]);
  const quick = resolveTrial('5', undefined, 'quick', 27, { epochs: 2 });
  assert.deepEqual([quick.model.name, quick.model.top], ['resnet18', 'vgg']);
  assert.deepEqual([quick.imageSize, quick.batchSize, quick.epochs, quick.optimizer.lr], [48, 16, 2, 1e-4]);
  assert.match(quick.note ?? '', /^lr 0\.0001 instead of the published 0\.00001: Adam at 1e-5 learns slowly/);
  assert.match(
    quick.description,
    /quick: 48 px, at most 250 train \/ 75 test images per class, 10 epochs, batch 16, lr 0\.0001 instead of 0\.00001/,
  );
  // A caller's lr replaces the scale's, and its note with it.
  const own = resolveTrial('5', undefined, 'quick', 27, { lr: 3e-4 });
  assert.deepEqual([own.optimizer.lr, own.note], [3e-4, undefined]);
  assert.equal(resolveTrial('5', undefined, 'quick', 27, { trainPerClass: 0 }).trainPerClass, undefined);
  // The sweep keeps its rates at quick (they are what it compares); the others' changes are stated.
  for (const t of getExperiment('adam-sweep').trials)
    assert.equal(resolveTrial('2', t.name, 'quick', 27).optimizer.lr, t.optimizer.lr, t.name);
  assert.equal(resolveTrial('1', undefined, 'quick', 27).optimizer.lr, 0.01);
  assert.equal(resolveTrial('3', 'resnet34-vgg-adam-lr1e-6', 'quick', 27).optimizer.lr, 1e-5);
  assert.equal(resolveTrial('4', undefined, 'quick', 27).optimizer.lr, 1e-4);
});

test('the FER trials: their data, snapshots, published source, and a majority baseline with nothing to train', () => {
  for (const e of ['fer-small-cnn', 'fer-lr'].map((name) => getExperiment(name))) {
    for (const t of e.trials) {
      assert.match(t.published.source ?? '', /FER2013 project/, `${t.name}: cites its project`);
      assert.deepEqual([t.data.dataset, t.data.grayscale, t.imageSize], ['fer2013', true, 48], t.name);
    }
  }
  for (const t of getExperiment('fer-small-cnn').trials) {
    assert.deepEqual(t.data.drop, ['disgust'], t.name);
    assert.deepEqual(t.snapshots, { every: 1000, unit: 'iteration', keep: 9 }, t.name);
    assert.equal(resolveTrial('fer-small-cnn', t.name, 'quick', 27).snapshots?.unit, 'epoch', t.name);
  }
  assert.deepEqual(
    getExperiment('fer-small-cnn').trials.map((t) => [t.name, t.model.name, t.data.augment !== undefined]),
    [
      ['cnn4-ensemble', 'cnn4', false],
      ['cnn5-ensemble', 'cnn5', false],
      ['cnn4-augment-ensemble', 'cnn4', true],
      ['cnn5-augment-ensemble', 'cnn5', true],
      ['cnn4-flip-shift-ensemble', 'cnn4', true],
      ['cnn5-flip-shift-ensemble', 'cnn5', true],
      ['cnn4-restarts-ensemble', 'cnn4', true],
      ['cnn5-restarts-ensemble', 'cnn5', true],
      ['cnn4-standardized-ensemble', 'cnn4', true],
      ['cnn5-standardized-ensemble', 'cnn5', true],
      ['cnn4-high-restarts-ensemble', 'cnn4', true],
      ['cnn5-high-restarts-ensemble', 'cnn5', true],
    ],
  );
  // The flip-shift variant: no rotation or zoom, shifts of 4 of 48 pixels, and lr / 10 for its last 15 of 50 epochs.
  const flipShift = resolveTrial('fer-small-cnn', 'cnn4-flip-shift-ensemble', 'full', 27);
  assert.deepEqual(flipShift.data.augment, { flip: 'horizontal', rotation: 0, zoom: 0, translation: [4 / 48, 4 / 48] });
  assert.equal(flipShift.epochs, 50);
  assert.deepEqual(flipShift.callbacks.stepDecay, { factor: 0.1, epochs: [35] });
  // The restarts variant: whole-pixel shifts, and warm restarts timed so that each of the 9 snapshots kept (every
  // 1,000 iterations up to the last of 50 epochs of 25,446 images at batch 64) ends a cycle, none before the first.
  const restarts = resolveTrial('fer-small-cnn', 'cnn4-restarts-ensemble', 'full', 27);
  assert.equal(restarts.data.augment?.interpolation, 'nearest');
  assert.equal(restarts.model.standardize, undefined);
  const standardized = resolveTrial('fer-small-cnn', 'cnn5-standardized-ensemble', 'full', 27);
  assert.equal(standardized.model.standardize, true);
  assert.deepEqual(standardized.callbacks, restarts.callbacks, 'the -restarts recipe, standardized');
  assert.deepEqual(standardized.data.augment, restarts.data.augment);
  const high = resolveTrial('fer-small-cnn', 'cnn5-high-restarts-ensemble', 'full', 27);
  assert.equal(high.model.standardize, true);
  assert.deepEqual(high.data.augment, restarts.data.augment);
  assert.deepEqual(
    high.callbacks.cosineDecayRestarts,
    { ...restarts.callbacks.cosineDecayRestarts, initialLearningRate: 3 * high.optimizer.lr },
    'the standardized recipe, restarting at three times the training rate',
  );
  const cr = restarts.callbacks.cosineDecayRestarts;
  const snaps = restarts.snapshots;
  assert.ok(cr && snaps, 'the restarts variant has cosineDecayRestarts and snapshots');
  const iterations = restarts.epochs * Math.ceil(25_446 / restarts.batchSize);
  const last = Math.floor(iterations / snaps.every) * snaps.every;
  for (let i = 0; i < snaps.keep; i++) {
    const at: number = last - i * snaps.every;
    assert.ok(at > cr.start, `snapshot at ${at} is after the first cycle began`);
    assert.equal((at - cr.start) % cr.firstDecaySteps, 0, `snapshot at ${at} ends a cycle`);
  }
  // At quick scale the restarts count epochs (every epoch from the end of the third), so that each of the 5 epoch
  // snapshots of an 8-epoch run ends a cycle whatever the data's size.
  const quick = resolveTrial('fer-small-cnn', 'cnn5-high-restarts-ensemble', 'quick', 27);
  assert.deepEqual(quick.callbacks.cosineDecayRestarts, {
    start: 3,
    firstDecaySteps: 1,
    tMul: 1,
    initialLearningRate: 3e-3,
    unit: 'epoch',
  });
  assert.deepEqual([quick.epochs, quick.snapshots], [8, { every: 1, unit: 'epoch', keep: 5 }]);
  const majority = getTrial('fer-lr', 'majority').trial;
  assert.equal(majority.model.name, 'majority');
  for (const scale of ['smoke', 'quick', 'full'] as const)
    assert.equal(resolveTrial('fer-lr', 'majority', scale, 27).epochs, 0, scale);
  const restore = getExperiment('fer-lr').trials.map((t) => [t.name, t.callbacks.earlyStopping?.restoreBestWeights]);
  assert.deepEqual(restore, [
    ['majority', undefined],
    ['adam-lr1e-2', false],
    ['adam-lr1e-3', false],
    ['adam-lr1e-4', false],
    ['adam-lr1e-4-restore', true],
  ]);
  assert.throws(() => getExperiment('undefined'), /unknown experiment/);
});

test('invalid settings are errors naming the field', () => {
  const config = (re: RegExp) => (e: Error) => e instanceof ConfigError && re.test(e.message);
  assert.throws(
    () => resolveTrial('5', undefined, 'quick', 27, { lr: 0 }),
    config(/invalid lr: 0; must be a number > 0/),
  );
  assert.throws(() => resolveTrial('5', undefined, 'quick', 27, { batchSize: 0 }), config(/invalid batchSize: 0/));
  assert.throws(() => resolveTrial('5', undefined, 'quick', 27, { epochs: 1.5 }), config(/invalid epochs: 1.5/));
  assert.throws(
    () => resolveTrial('5', undefined, 'quick', 27, { epochs: -1 }),
    config(/invalid epochs: -1; must be an integer >= 0/),
  );
  const snap = resolveTrial('fer-small-cnn', undefined, 'full', 27);
  snap.snapshots = { every: 0, unit: 'iteration', keep: 9 };
  assert.throws(() => validateRunConfig(snap), config(/invalid snapshots/));
  const drop = resolveTrial('fer-small-cnn', undefined, 'full', 27);
  drop.data.drop = [''];
  assert.throws(() => validateRunConfig(drop), config(/invalid data.drop/));
  const decay = resolveTrial('fer-small-cnn', 'cnn4-flip-shift-ensemble', 'full', 27);
  decay.callbacks.stepDecay = { factor: 0.1, epochs: [-1] };
  assert.throws(() => validateRunConfig(decay), config(/invalid callbacks.stepDecay.epochs/));
  decay.callbacks.stepDecay = { factor: 2, epochs: [3] };
  assert.throws(() => validateRunConfig(decay), config(/invalid callbacks.stepDecay.factor: 2/));
  const cosine = resolveTrial('fer-small-cnn', 'cnn4-restarts-ensemble', 'full', 27);
  cosine.callbacks.cosineDecayRestarts = { start: 0, firstDecaySteps: 0, tMul: 1 };
  assert.throws(() => validateRunConfig(cosine), config(/invalid callbacks.cosineDecayRestarts.firstDecaySteps: 0/));
  cosine.callbacks.cosineDecayRestarts = { start: -5, firstDecaySteps: 10, tMul: 1 };
  assert.throws(() => validateRunConfig(cosine), config(/invalid callbacks.cosineDecayRestarts.start: -5/));
  cosine.callbacks.cosineDecayRestarts = { start: 0, firstDecaySteps: 10, tMul: 0.5 };
  assert.throws(() => validateRunConfig(cosine), config(/invalid callbacks.cosineDecayRestarts.tMul: 0.5/));
  cosine.callbacks.cosineDecayRestarts = { start: 0, firstDecaySteps: 10, tMul: Infinity };
  assert.throws(
    () => validateRunConfig(cosine),
    config(/invalid callbacks.cosineDecayRestarts.tMul: null; must be a finite number >= 1/),
  );
  cosine.callbacks.cosineDecayRestarts = { start: 0, firstDecaySteps: 10, tMul: 1, initialLearningRate: 0 };
  assert.throws(
    () => validateRunConfig(cosine),
    config(/invalid callbacks.cosineDecayRestarts.initialLearningRate: 0; must be a finite number > 0/),
  );
  cosine.callbacks.cosineDecayRestarts = { start: 0, firstDecaySteps: 10, tMul: 1, unit: 'step' as 'epoch' };
  assert.throws(
    () => validateRunConfig(cosine),
    config(/invalid callbacks.cosineDecayRestarts.unit: "?step"?; must be iteration or epoch/),
  );
  cosine.callbacks.cosineDecayRestarts = { start: 0, firstDecaySteps: 10, tMul: 1 };
  cosine.callbacks.stepDecay = { factor: 0.1, epochs: [3] };
  assert.throws(() => validateRunConfig(cosine), config(/cannot be combined with stepDecay$/));
  cosine.callbacks.reduceLROnPlateau = { monitor: 'val_loss', factor: 0.5, patience: 2 };
  assert.throws(() => validateRunConfig(cosine), config(/cannot be combined with stepDecay or reduceLROnPlateau$/));
  const blur = resolveTrial('fer-small-cnn', 'cnn4-restarts-ensemble', 'full', 27);
  blur.data.augment = { ...blur.data.augment!, interpolation: 'cubic' as 'nearest' };
  assert.throws(
    () => validateRunConfig(blur),
    config(/invalid data.augment.interpolation: "?cubic"?; must be bilinear or nearest/),
  );
  assert.throws(
    () => resolveTrial('5', undefined, 'huge' as 'full', 27),
    config(/unknown scale "huge"; accepted: smoke, quick, full/),
  );
  assert.throws(() => resolveTrial('5', 'x', 'quick', 27), config(/experiment face-mask has no trial "x"/));
  const cfg = resolveTrial('1', undefined, 'full', 27);
  cfg.optimizer.momentum = 1.5;
  assert.throws(() => validateRunConfig(cfg), /invalid optimizer.momentum: 1.5/);
});
