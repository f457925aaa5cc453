import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import {
  classificationMetrics,
  compileModel,
  evaluate,
  inferencePass,
  metricsFromConfusion,
  pyFixed,
} from '../lib/train';

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

test("the study's face-mask confusion matrix gives its published precision, recall and accuracy", () => {
  const m = metricsFromConfusion(
    [
      [499, 10],
      [11, 472],
    ],
    ['WithoutMask', 'WithMask'],
  );
  assert.equal(r4(m.accuracy), 0.9788);
  const [without, withMask] = m.perClass;
  assert.deepEqual([r4(without.precision), r4(without.recall), without.support], [0.9784, 0.9804, 509]);
  assert.deepEqual([r4(withMask.precision), r4(withMask.recall), withMask.support], [0.9793, 0.9772, 483]);
  // F1 by hand: 2*499/(2*499+10+11) = 998/1019.
  assert.equal(r4(without.f1), r4(998 / 1019));
  assert.equal(m.macro.support, 992);
  assert.equal(r4(m.macro.precision), r4((499 / 510 + 472 / 482) / 2));
  assert.equal(r4(m.weighted.recall), r4(m.accuracy), 'weighted recall equals accuracy');
  // scikit-learn classification_report(digits=4) layout.
  assert.equal(
    m.reportText,
    [
      '              precision    recall  f1-score   support',
      '',
      ' WithoutMask     0.9784    0.9804    0.9794       509',
      '    WithMask     0.9793    0.9772    0.9782       483',
      '',
      '    accuracy                         0.9788       992',
      '   macro avg     0.9788    0.9788    0.9788       992',
      'weighted avg     0.9788    0.9788    0.9788       992',
      '',
    ].join('\n'),
  );
});

test('classificationMetrics builds the confusion matrix (rows true) and scores unpredicted classes 0', () => {
  const m = classificationMetrics([0, 0, 1, 2, 2], [0, 1, 1, 1, 2], ['a', 'b', 'c']);
  assert.deepEqual(m.confusion, [
    [1, 1, 0],
    [0, 1, 0],
    [0, 1, 1],
  ]);
  assert.equal(m.accuracy, 3 / 5);
  assert.deepEqual(
    m.perClass.map((c) => [c.precision, c.recall]),
    [
      [1, 0.5],
      [1 / 3, 1],
      [1, 0.5],
    ],
  );
  const none = classificationMetrics([0, 1], [0, 0], ['a', 'b']);
  assert.deepEqual([none.perClass[1].precision, none.perClass[1].f1], [0, 0]);
  assert.throws(() => classificationMetrics([0, 3], [0, 1], ['a', 'b']), /out of range at sample 1/);
  assert.throws(() => metricsFromConfusion([[1]], ['a', 'b']), /must be 2x2/);
});

test('evaluate reads the data once, in order, and reports loss, accuracy and predictions per sample', async () => {
  await initBackend('cpu');
  // A fixed linear model: class = argmax of the two inputs.
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [1, 2, 1] }),
      tf.layers.dense({ units: 2, activation: 'softmax', useBias: false }),
    ],
  });
  model.setWeights([
    tf.tensor2d([
      [10, 0],
      [0, 10],
    ]),
  ]);
  compileModel(model, { kind: 'sgd' });
  const xs = [
    [1, 0],
    [0, 1],
    [0, 1],
    [1, 0],
    [0.2, 0.1],
  ];
  const ys = [0, 1, 0, 0, 1];
  const batches = () =>
    [0, 2, 4].map((s) => ({
      xs: tf.tensor4d(xs.slice(s, s + 2).flat(), [Math.min(2, xs.length - s), 1, 2, 1]),
      ys: tf.tensor1d(ys.slice(s, s + 2), 'int32'),
    }));
  const before = tf.memory().numTensors;
  const ev = await evaluate(model, () => batches(), ['left', 'right']);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  assert.deepEqual(ev.predictions, [0, 1, 1, 0, 0]);
  assert.deepEqual(ev.labels, ys);
  assert.equal(ev.accuracy, 3 / 5);
  assert.deepEqual(ev.confusion, [
    [2, 1],
    [1, 1],
  ]);
  // Loss by hand: -log softmax of the true class.
  const p = (a: number, b: number) => Math.exp(a) / (Math.exp(a) + Math.exp(b));
  const expected = -(Math.log(p(10, 0)) * 2 + Math.log(p(10, 0)) + Math.log(p(0, 10)) + Math.log(p(1, 2))) / 5;
  assert.ok(Math.abs(ev.loss - expected) < 1e-4, `loss ${ev.loss} vs ${expected}`);
  assert.match(ev.reportText, /^ {14}precision/);
});

test('pyFixed rounds exact ties to even as Python does (toFixed rounds them up)', () => {
  assert.deepEqual(
    [
      pyFixed(0.03125, 4),
      pyFixed(0.96875, 4),
      pyFixed(0.125, 2),
      pyFixed(0.375, 2),
      pyFixed(2.5, 0),
      pyFixed(0.97843, 4),
    ],
    ['0.0312', '0.9688', '0.12', '0.38', '2', '0.9784'],
  );
});

test('inferencePass: summed cross-entropy, argmax predictions and labels in batch order; bad batches name the source', async () => {
  await initBackend('cpu');
  // A fixed linear softmax model: logits = x, so the probabilities are known.
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [2],
        units: 2,
        useBias: false,
        kernelInitializer: 'identity',
        activation: 'softmax',
      }),
    ],
  });
  const xs = [
    [2, 0],
    [0, 1],
    [1, 3],
  ];
  const batches = [
    { xs: tf.tensor2d(xs.slice(0, 2)), ys: tf.tensor1d([0, 0]) },
    { xs: tf.tensor2d(xs.slice(2)), ys: tf.tensor1d([1]) },
  ];
  const r = await inferencePass(model, () => batches, 'test data');
  assert.deepEqual(r.predictions, [0, 1, 1]);
  assert.deepEqual(r.labels, [0, 0, 1]);
  const nll = (l: number[], k: number) => Math.log(Math.exp(l[0]) + Math.exp(l[1])) - l[k];
  assert.ok(Math.abs(r.lossSum - (nll(xs[0], 0) + nll(xs[1], 0) + nll(xs[2], 1))) < 1e-5, `loss sum ${r.lossSum}`);
  await assert.rejects(
    inferencePass(model, () => [{ xs: tf.zeros([2, 2]), ys: tf.zeros([3]) }], 'test data'),
    /^Error: test data batch has 2 images but 3 labels$/,
  );
  model.dispose();
});
