import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trialRow, trialsTable } from '../lib/notebook/trials';
import { getExperiment } from '../lib/experiments';

test('trialRow shows published figures, dashes where the study reported none', () => {
  assert.deepEqual(trialRow('t', 'd', { testAccuracy: 0.3325, epochsRun: 100, bestEpoch: 90, loss: 1.3926 }), ['t', 'd', '0.3325', '100 / 90', '1.3926 / -', '-', '']);
  assert.deepEqual(trialRow('t', 'd', { notes: 'overfit after 12 epochs' }).slice(2), ['-', '-', '-', '-', 'overfit after 12 epochs']);
});

test('trialsTable lists every trial of the experiment and shades the highlighted one', () => {
  const exp = getExperiment('baseline');
  const fig = trialsTable(1, { highlight: 'resnet34-original' });
  const cells = fig.data[0].cells as { values: string[][]; fill: { color: string[][] } };
  assert.deepEqual(cells.values[0], exp.trials.map((t) => t.name));
  assert.equal(cells.values[2][cells.values[0].indexOf('resnet34-original')], '0.6247');
  assert.deepEqual(cells.fill.color[0].map((c, i) => (c === 'white' ? '' : cells.values[0][i])).filter(Boolean), ['resnet34-original']);
  assert.throws(() => trialsTable('baseline', { highlight: 'nope' }), /experiment baseline has no trial "nope"; accepted: resnet18-original/);
  assert.throws(() => trialsTable('nine'), /unknown experiment "nine"/);
});
