/** Snapshot ensembles: when snapshots are taken, how many are kept, that a checkpoint carries them, and the averaged evaluation. */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import {
  compileModel,
  cosineDecayRestarts,
  evaluateEnsemble,
  fit,
  seedModelWeights,
  snapshotEnsemble,
  stepwiseLearningRate,
  type Batch,
  type Callback,
  type Snapshot,
} from '../lib/train';

before(async () => {
  await initBackend();
});

/** A 2-feature, 3-class softmax model. */
function tinyModel(): tf.LayersModel {
  const input = tf.input({ shape: [1, 1, 2] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }).apply(flat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  seedModelWeights(model, 3);
  return model;
}

/** `batches` batches of 4 random images per epoch. */
function batches(n: number): (epoch: number) => Batch[] {
  return (epoch) =>
    Array.from({ length: n }, (_, i) => ({
      xs: tf.randomNormal([4, 1, 1, 2], 0, 1, 'float32', 100 * epoch + i),
      ys: tf.tensor1d([0, 1, 2, i % 3], 'int32'),
    }));
}

test('snapshotEnsemble: one snapshot every N iterations, the last `keep` kept, each an independent copy', async () => {
  const model = tinyModel();
  compileModel(model, { kind: 'adam', lr: 0.1 });
  const cb = snapshotEnsemble({ every: 3, keep: 2 });
  await fit(model, batches(5), undefined, { epochs: 2, callbacks: [cb], verbose: 0 });
  // 10 iterations: snapshots at 3, 6, 9; the first dropped.
  assert.deepEqual(
    cb.snapshots().map((s) => s.at),
    [6, 9],
  );
  const [a, b] = cb.snapshots().map((s) => s.weights[0].arraySync());
  assert.notDeepEqual(a, b, 'different iterations, different weights');
  const now = model.getWeights()[0].arraySync();
  assert.notDeepEqual(b, now, 'iteration 10 changed the weights after the last snapshot');
  cb.dispose();
  assert.equal(cb.snapshots().length, 0);
  model.dispose();
});

test('snapshotEnsemble: per epoch when unit is epoch; bad settings are errors naming the setting', async () => {
  const model = tinyModel();
  compileModel(model, { kind: 'sgd', lr: 0.1 });
  const cb = snapshotEnsemble({ every: 2, unit: 'epoch' });
  await fit(model, batches(2), undefined, { epochs: 5, callbacks: [cb], verbose: 0 });
  assert.deepEqual(
    cb.snapshots().map((s) => s.at),
    [2, 4],
  );
  cb.dispose();
  model.dispose();
  assert.throws(() => snapshotEnsemble({ every: 0 }), /every must be a positive integer/);
  assert.throws(() => snapshotEnsemble({ every: 1, keep: 1.5 }), /keep must be a positive integer/);
  assert.throws(() => snapshotEnsemble({ every: 1, unit: 'step' as 'epoch' }), /unit must be iteration or epoch/);
});

test('snapshotEnsemble: a resumed run keeps the snapshots and the iteration count of its checkpoint', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-snap-'));
  try {
    const whole = tinyModel();
    compileModel(whole, { kind: 'adam', lr: 0.05 });
    const wholeCb = snapshotEnsemble({ every: 4, keep: 3 });
    await fit(whole, batches(3), undefined, { epochs: 4, callbacks: [wholeCb], verbose: 0, seed: 1 });

    const first = tinyModel();
    compileModel(first, { kind: 'adam', lr: 0.05 });
    await fit(first, batches(3), undefined, {
      epochs: 2,
      callbacks: [snapshotEnsemble({ every: 4, keep: 3 })],
      verbose: 0,
      seed: 1,
      checkpoint: { dir },
    });
    const resumed = tinyModel();
    compileModel(resumed, { kind: 'adam', lr: 0.05 });
    const resumedCb = snapshotEnsemble({ every: 4, keep: 3 });
    await fit(resumed, batches(3), undefined, {
      epochs: 4,
      callbacks: [resumedCb],
      verbose: 0,
      seed: 1,
      resumeFrom: dir,
      checkpoint: { dir },
    });

    // 12 iterations: snapshots at 4, 8, 12 in both; the one at 4 was taken before the interruption.
    assert.deepEqual(
      resumedCb.snapshots().map((s) => s.at),
      [4, 8, 12],
    );
    assert.deepEqual(
      resumedCb.snapshots().map((s) => s.at),
      wholeCb.snapshots().map((s) => s.at),
    );
    resumedCb.snapshots().forEach((s, i) => {
      const w = wholeCb.snapshots()[i].weights;
      s.weights.forEach((t, j) =>
        assert.ok((tf.max(tf.abs(tf.sub(t, w[j]))).arraySync() as number) < 1e-6, `snapshot ${s.at} weight ${j}`),
      );
    });
    for (const cb of [wholeCb, resumedCb]) cb.dispose();
    for (const m of [whole, first, resumed]) m.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('warm restarts with snapshots in fit: each snapshot after the constant phase ends a cycle; a resumed run keeps the rates', async () => {
  // Rates seen by each step, through a callback after the schedule's (fit calls callbacks in order).
  const recorder = (rates: number[]): Callback => ({
    name: 'RateRecorder',
    onTrainBegin: (ctx) => void rates.push(ctx.getLearningRate()),
    onBatchEnd: (_b, _l, ctx) => void rates.push(ctx.getLearningRate()),
    setState: (_s, ctx) => void rates.splice(rates.length - 1, 1, ctx.getLearningRate()),
    getState: () => ({ json: null }),
  });
  const schedule = () => cosineDecayRestarts(0.05, 3, { tMul: 1, start: 3 });
  const run = async (epochs: number, opts: { resumeFrom?: string; checkpoint?: { dir: string } }) => {
    const model = tinyModel();
    compileModel(model, { kind: 'adam', lr: 0.05 });
    const rates: number[] = [];
    const snaps = snapshotEnsemble({ every: 3, keep: 10 });
    await fit(model, batches(4), undefined, {
      epochs,
      callbacks: [stepwiseLearningRate(schedule()), recorder(rates), snaps],
      verbose: 0,
      seed: 1,
      ...opts,
    });
    return { model, rates, snaps };
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-restarts-'));
  try {
    const whole = await run(3, {});
    // rates[k] is the rate step k ran at: 3 steps at 0.05, then cycles of 3 steps from step 3.
    const f = schedule();
    assert.deepEqual(
      whole.rates.slice(0, 12).map((r) => Math.fround(r)),
      Array.from({ length: 12 }, (_, step) => Math.fround(f(step))),
    );
    assert.deepEqual(
      whole.snaps.snapshots().map((s) => s.at),
      [3, 6, 9, 12],
    );
    // After the constant phase, each snapshot holds the weights of a cycle's last, lowest-rate step, and the next
    // step restarts at the full rate.
    for (const at of [6, 9, 12]) {
      assert.ok(whole.rates[at - 1] < 0.05 * 0.3, `the step before snapshot ${at} ran at ${whole.rates[at - 1]}`);
      assert.equal(whole.rates[at - 3], Math.fround(0.05), `the cycle ending at ${at} began at the full rate`);
    }
    // Interrupted after 2 of 3 epochs (8 steps, mid-cycle) and resumed: the same rates, the same snapshots.
    const first = await run(2, { checkpoint: { dir } });
    const resumed = await run(3, { resumeFrom: dir, checkpoint: { dir } });
    assert.deepEqual(
      [...first.rates.slice(0, 8), ...resumed.rates].map((r) => Math.fround(r)),
      whole.rates.map((r) => Math.fround(r)),
    );
    assert.deepEqual(
      resumed.snaps.snapshots().map((s) => s.at),
      [3, 6, 9, 12],
    );
    for (const r of [whole, first, resumed]) {
      r.snaps.dispose();
      r.model.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('evaluateEnsemble: predicts the class of the highest mean probability, reports each member, and puts the model back', async () => {
  const model = tinyModel();
  const dense = model.getLayer('out');
  // Member A scores x0 for class 0 and x1 for class 1; member B scores x1 for class 1 (weaker) and x0 for class 2.
  const member = (kernel: number[][]): Snapshot => ({ at: 0, weights: [tf.tensor2d(kernel), tf.zeros([3])] });
  const a = member([
    [4, 0, 0],
    [0, 1, 0],
  ]);
  const b = member([
    [0, 0, 3],
    [0, 2, 0],
  ]);
  const own = dense.getWeights().map((w) => w.arraySync());
  // Image 1 (x = [1, 0]): A says 0 confidently, B says 2 less so: the mean favours 0.
  // Image 2 (x = [0, 1]): both favour 1.
  const xs = tf.tensor4d([1, 0, 0, 1], [2, 1, 1, 2]);
  const data = () => [{ xs: xs.clone(), ys: tf.tensor1d([0, 1], 'int32') }];
  const e = await evaluateEnsemble(model, [a, b], data, ['x', 'y', 'z']);
  const probs = (k: number[][], x: number[]) => {
    const logits = [0, 1, 2].map((c) => x[0] * k[0][c] + x[1] * k[1][c]);
    const z = logits.map(Math.exp);
    const s = z.reduce((p, q) => p + q, 0);
    return z.map((v) => v / s);
  };
  const mean = [
    [1, 0],
    [0, 1],
  ].map((x) =>
    probs(
      [
        [4, 0, 0],
        [0, 1, 0],
      ],
      x,
    ).map(
      (p, c) =>
        (p +
          probs(
            [
              [0, 0, 3],
              [0, 2, 0],
            ],
            x,
          )[c]) /
        2,
    ),
  );
  assert.deepEqual(
    e.predictions,
    mean.map((p) => p.indexOf(Math.max(...p))),
  );
  assert.deepEqual(e.predictions, [0, 1]);
  assert.equal(e.accuracy, 1);
  assert.deepEqual(e.memberAccuracies, [1, 0.5]);
  assert.equal(e.members, 2);
  const loss = -(Math.log(mean[0][0]) + Math.log(mean[1][1])) / 2;
  assert.ok(Math.abs(e.loss - loss) < 1e-5, `loss ${e.loss} vs ${loss}`);
  assert.deepEqual(
    dense.getWeights().map((w) => w.arraySync()),
    own,
    'the model keeps its own weights',
  );
  await assert.rejects(evaluateEnsemble(model, [], data, ['x', 'y', 'z']), /no snapshots/);
  tf.dispose([...a.weights, ...b.weights, xs]);
  model.dispose();
});
