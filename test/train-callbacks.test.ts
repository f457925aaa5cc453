import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import {
  appendHistory,
  cosineDecayRestarts,
  csvLogger,
  earlyStopping,
  historyRecorder,
  pyFloat,
  learningRateScheduler,
  reduceLROnPlateau,
  stepSchedule,
  stepwiseLearningRate,
  terminateOnNaN,
  type Callback,
  type TrainContext,
  type TrainHistory,
} from '../lib/train';

/** A context around a fake model whose "weights" are one scalar: the epoch that produced them. */
function fakeContext(initialEpoch = 0) {
  const messages: string[] = [];
  let weights = -1;
  let lr = Math.fround(0.1);
  const model = {
    getWeights: () => [tf.scalar(weights)],
    setWeights: (ws: tf.Tensor[]) => {
      weights = ws[0].dataSync()[0];
    },
  } as unknown as tf.LayersModel;
  const ctx: TrainContext = {
    model,
    params: { epochs: 100, initialEpoch },
    stopTraining: false,
    getLearningRate: () => lr,
    setLearningRate: (v) => {
      lr = Math.fround(v);
    },
    log: (m) => messages.push(m),
  };
  return { ctx, messages, weights: () => weights, setWeights: (w: number) => (weights = w) };
}

/** Drives a callback through epochs with the given monitored values, as fit would; returns epochs run. */
async function drive(
  cb: Callback,
  f: ReturnType<typeof fakeContext>,
  values: number[],
  key = 'val_loss',
): Promise<number> {
  await cb.onTrainBegin?.(f.ctx);
  let e = f.ctx.params.initialEpoch;
  for (; e < values.length && !f.ctx.stopTraining; e++) {
    f.setWeights(e);
    await cb.onEpochEnd?.(e, { [key]: values[e] }, f.ctx);
  }
  await cb.onTrainEnd?.(f.ctx, { epochs: [], logs: {} });
  return e;
}

// The study's ResNet-18 run: improving to epoch 9 (1-based), then 10 epochs without improvement.
const STUDY = [
  2.0, 1.9, 1.8, 1.7, 1.6, 1.5, 1.45, 1.42, 1.4, 1.41, 1.43, 1.45, 1.5, 1.55, 1.6, 1.7, 1.8, 1.9, 2.0, 2.1, 2.2,
];

test('EarlyStopping(patience 10, restore best) stops after 19 epochs and restores epoch 9, with Keras messages', async () => {
  await initBackend('cpu');
  const f = fakeContext();
  const run = await drive(earlyStopping({ patience: 10, restoreBestWeights: true, verbose: 1 }), f, STUDY);
  assert.equal(run, 19);
  assert.equal(f.weights(), 8, 'weights of the best epoch (0-based 8) restored');
  assert.equal(f.ctx.bestEpoch, 8);
  assert.equal(f.ctx.stoppedEpoch, 18);
  assert.deepEqual(f.messages, [
    'Restoring model weights from the end of the best epoch: 9.',
    'Epoch 19: early stopping',
  ]);
});

test('EarlyStopping: minDelta, max mode (auto for acc), baseline, startFromEpoch, no restore by default', async () => {
  await initBackend('cpu');
  // Improvements smaller than minDelta do not count: best stays at epoch 0, stop at epoch 2 with patience 2.
  let f = fakeContext();
  assert.equal(await drive(earlyStopping({ patience: 2, minDelta: 0.1 }), f, [1.0, 0.95, 0.92, 0.5]), 3);
  assert.equal(f.weights(), 2, 'weights untouched without restoreBestWeights');
  assert.deepEqual(f.messages, []);
  // val_acc is maximised under mode auto.
  f = fakeContext();
  assert.equal(
    await drive(
      earlyStopping({ monitor: 'val_acc', patience: 1, restoreBestWeights: true }),
      f,
      [0.5, 0.7, 0.6, 0.9],
      'val_acc',
    ),
    3,
  );
  assert.equal(f.weights(), 1);
  // A baseline never reached: improvements do not reset the wait, so the first plateau epoch can stop training.
  const plateau = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98];
  f = fakeContext();
  assert.equal(await drive(earlyStopping({ patience: 3, baseline: 0.5 }), f, plateau), 3);
  f = fakeContext();
  assert.equal(await drive(earlyStopping({ patience: 3 }), f, plateau), 5);
  // Nothing is monitored before startFromEpoch.
  f = fakeContext();
  assert.equal(await drive(earlyStopping({ patience: 1, startFromEpoch: 3 }), f, [1, 2, 3, 4, 5, 6]), 5);
});

test('EarlyStopping state survives a checkpoint: a resumed run stops and restores as the whole run would', async () => {
  await initBackend('cpu');
  const first = fakeContext();
  const cb = earlyStopping({ patience: 10, restoreBestWeights: true });
  await cb.onTrainBegin?.(first.ctx);
  for (let e = 0; e < 12; e++) {
    first.setWeights(e);
    await cb.onEpochEnd?.(e, { val_loss: STUDY[e] }, first.ctx);
  }
  const state = cb.getState!();
  const second = fakeContext(12);
  const resumed = earlyStopping({ patience: 10, restoreBestWeights: true });
  await resumed.onTrainBegin?.(second.ctx);
  resumed.setState!(state, second.ctx);
  tf.dispose(state.tensors!);
  let e = 12;
  for (; e < STUDY.length && !second.ctx.stopTraining; e++) {
    second.setWeights(e);
    await resumed.onEpochEnd?.(e, { val_loss: STUDY[e] }, second.ctx);
  }
  assert.equal(e, 19);
  assert.equal(second.weights(), 8);
  await cb.onTrainEnd?.(first.ctx, { epochs: [], logs: {} });
});

test('ReduceLROnPlateau: patience, cooldown, minLr and the Keras message (lr is float32, printed as Python does)', async () => {
  const f = fakeContext();
  const cb = reduceLROnPlateau({ factor: 0.5, patience: 2, cooldown: 2, minLr: 0.03, verbose: 1 });
  const losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 1.1, 1.2];
  const lrs: number[] = [];
  await cb.onTrainBegin?.(f.ctx);
  for (let e = 0; e < losses.length; e++) {
    lrs.push(f.ctx.getLearningRate());
    await cb.onEpochEnd?.(e, { val_loss: losses[e] }, f.ctx);
  }
  // Plateau from epoch 2: reduce after epoch 3 (wait 2); cooldown covers epochs 4-5 (wait counts from 5 again
  // once the cooldown is over: Keras decrements first); reduce after epoch 6 to max(0.025, 0.03) = 0.03; then minLr holds.
  const f32 = Math.fround;
  assert.deepEqual(lrs, [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.03, 0.03, 0.03].map(f32));
  assert.deepEqual(f.messages, [
    'Epoch 4: ReduceLROnPlateau reducing learning rate to 0.05000000074505806.',
    'Epoch 7: ReduceLROnPlateau reducing learning rate to 0.03.',
  ]);
  // minDelta: a drop of less than 1e-4 is no improvement.
  const g = fakeContext();
  const cb2 = reduceLROnPlateau({ patience: 1 });
  await drive(cb2, g, [1.0, 0.99995]);
  assert.equal(g.ctx.getLearningRate(), f32(f32(0.1) * 0.1));
  assert.throws(() => reduceLROnPlateau({ factor: 1 }), /factor must be < 1/);
  assert.throws(() => reduceLROnPlateau({ mode: 'up' as never }), /mode must be auto, min or max, got "up"/);
  assert.throws(() => earlyStopping({ mode: 'up' as never }), /mode must be auto, min or max, got "up"/);
});

test("learningRateScheduler sets each epoch's rate from the schedule, with a step schedule resuming on the same rates", async () => {
  const f = fakeContext();
  const cb = learningRateScheduler(stepSchedule(0.001, 0.1, [3, 5]), { verbose: 1 });
  const lrs: number[] = [];
  for (let e = 0; e < 7; e++) {
    await cb.onEpochBegin?.(e, f.ctx);
    lrs.push(f.ctx.getLearningRate());
  }
  const f32 = Math.fround;
  assert.deepEqual(
    lrs,
    [0.001, 0.001, 0.001, 0.0001, 0.0001, 0.00001, 0.00001].map((v) => f32(v)),
  );
  assert.equal(f.messages[3], 'Epoch 4: LearningRateScheduler setting learning rate to 0.0001.');
  // A run resumed at epoch 6 starts on epoch 6's rate, whatever rate it was built with.
  const g = fakeContext(5);
  await cb.onEpochBegin?.(5, g.ctx);
  assert.equal(g.ctx.getLearningRate(), f32(0.00001));
  // Keras' form: a schedule of the epoch and the current rate.
  const h = fakeContext();
  const halving = learningRateScheduler((epoch, lr) => (epoch > 0 ? lr / 2 : lr));
  for (let e = 0; e < 3; e++) await halving.onEpochBegin?.(e, h.ctx);
  assert.equal(h.ctx.getLearningRate(), f32(f32(f32(0.1) / 2) / 2));
  assert.deepEqual(h.messages, []);
  const bad = learningRateScheduler(() => NaN);
  assert.throws(() => bad.onEpochBegin?.(0, h.ctx), /the schedule gave NaN for epoch 1/);
});

test('cosineDecayRestarts: cosine cycles that restart, t_mul times longer and m_mul times lower, above alpha', () => {
  const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
  // lr 1, first cycle 10 steps, t_mul 2, m_mul 0.5, alpha 0.1: cycles begin at steps 0, 10, 30, 70, ... and cycle i
  // runs from 0.1 + 0.9 x 0.5^i down towards 0.1, through its midpoint 0.1 + 0.45 x 0.5^i.
  const f = cosineDecayRestarts(1, 10, { tMul: 2, mMul: 0.5, alpha: 0.1 });
  near(f(0), 1, 'step 0');
  near(f(5), 0.55, 'mid first cycle');
  near(f(10), 0.55, 'second cycle begins at half the rate');
  near(f(20), 0.325, 'mid second cycle (20 steps long)');
  near(f(30), 0.325, 'third cycle begins');
  near(f(50), 0.2125, 'mid third cycle (40 steps long)');
  near(f(70), 0.2125, 'fourth cycle begins');
  assert.ok(f(69) < 0.1 + 1e-3 && f(69) > 0.1, `end of the third cycle nears alpha: ${f(69)}`);
  // Every restart of a long run lands on its own step, whatever the logarithm's rounding.
  for (let i = 1; i < 25; i++) {
    const begin = 10 * (2 ** i - 1);
    near(f(begin), 0.1 + 0.9 * 0.5 ** i, `restart ${i}`);
    // The cycle before ran 10 x 2^(i-1) steps from 0.1 + 0.9 x 0.5^(i-1): its last step is one step short of alpha.
    const length = 10 * 2 ** (i - 1);
    near(f(begin - 1), 0.1 + 0.45 * 0.5 ** (i - 1) * (1 - Math.cos(Math.PI / length)), `step before restart ${i}`);
  }
  // Cycles of other growth factors, where the logarithm of a cycle's start lands a hair off its index (t_mul 1.5 at
  // cycles 5, 7, 10, 14; t_mul 10 at 3, 6, 9): each cycle still begins at its own step, at its full rate.
  for (const tMul of [1.5, 10]) {
    const r = cosineDecayRestarts(1, 8, { tMul });
    let begin = 0;
    let length = 8;
    for (let i = 0; i < (tMul === 10 ? 10 : 16); i++) {
      near(r(begin), 1, `t_mul ${tMul}, cycle ${i} begins at step ${begin}`);
      if (i > 0) assert.ok(r(begin - 1e-9 * begin) < 1e-6, `t_mul ${tMul}: just before cycle ${i} the rate is near 0`);
      near(r(begin + length / 2), 0.5, `t_mul ${tMul}, middle of cycle ${i}`);
      begin += length;
      length *= tMul;
    }
  }
  // Keras' defaults (t_mul 2, m_mul 1, alpha 0), and equal cycles after a constant start.
  const g = cosineDecayRestarts(0.01, 4);
  assert.deepEqual(
    [0, 2, 4, 8, 12].map((s) => Number(g(s).toPrecision(12))),
    [0.01, 0.005, 0.01, 0.005, 0.01],
  );
  const h = cosineDecayRestarts(1e-3, 1000, { tMul: 1, start: 10_000 });
  assert.equal(h(0), 1e-3);
  assert.equal(h(9999), 1e-3);
  assert.equal(h(10_000), 1e-3);
  near(h(10_500), 5e-4, 'half a cycle after the start');
  assert.ok(h(10_999) < 1e-8, `last step of a cycle: ${h(10_999)}`);
  assert.equal(h(11_000), 1e-3);
  near(h(19_500), 5e-4, 'ninth cycle');
  // Restarting above the rate of the constant start.
  const hot = cosineDecayRestarts(3e-3, 1000, { tMul: 1, start: 10_000, startRate: 1e-3 });
  assert.deepEqual([hot(0), hot(9999), hot(10_000), hot(11_000)], [1e-3, 1e-3, 3e-3, 3e-3]);
  near(hot(10_500), 1.5e-3, 'half a hot cycle');
  assert.throws(() => cosineDecayRestarts(1, 10, { startRate: -1 }), /startRate must be a finite number >= 0, got -1/);
  assert.throws(() => cosineDecayRestarts(1, 0), /firstDecaySteps must be a positive integer, got 0/);
  assert.throws(() => cosineDecayRestarts(1, 10, { tMul: 0.5 }), /tMul must be a finite number >= 1, got 0.5/);
  assert.throws(
    () => cosineDecayRestarts(1, 10, { tMul: Infinity }),
    /tMul must be a finite number >= 1, got Infinity/,
  );
  assert.throws(() => cosineDecayRestarts(1, 10, { mMul: 0 }), /mMul must be a finite number > 0, got 0/);
  assert.throws(() => cosineDecayRestarts(1, 10, { alpha: 2 }), /alpha must be in \[0, 1\], got 2/);
  assert.throws(() => cosineDecayRestarts(1, 10, { start: -1 }), /start must be an integer >= 0, got -1/);
});

test('stepwiseLearningRate sets the rate before every step and resumes on the step it reached', async () => {
  const f32 = Math.fround;
  const schedule = (step: number) => 1 / (step + 1);
  const f = fakeContext();
  const cb = stepwiseLearningRate(schedule);
  const seen: number[] = [];
  await cb.onTrainBegin?.(f.ctx);
  for (let batch = 0; batch < 5; batch++) {
    seen.push(f.ctx.getLearningRate());
    await cb.onBatchEnd?.(batch, {}, f.ctx, 0);
  }
  assert.deepEqual(seen, [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5].map(f32));
  // A checkpoint taken now holds step 5; a resumed run's first step runs at schedule(5), not schedule(0).
  const state = cb.getState!();
  const g = fakeContext();
  const resumed = stepwiseLearningRate(schedule);
  await resumed.onTrainBegin?.(g.ctx);
  resumed.setState!(state, g.ctx);
  assert.equal(g.ctx.getLearningRate(), f32(1 / 6));
  await resumed.onBatchEnd?.(0, {}, g.ctx, 1);
  assert.equal(g.ctx.getLearningRate(), f32(1 / 7));
  const bad = stepwiseLearningRate((step) => (step > 1 ? -1 : 0.1));
  await bad.onTrainBegin?.(g.ctx);
  await bad.onBatchEnd?.(0, {}, g.ctx, 0);
  await assert.rejects(
    async () => bad.onBatchEnd?.(1, {}, g.ctx, 0),
    /the schedule gave -1 for step 3 \(after 2 steps\)/,
  );
});

test('pyFloat prints floats as Python repr does', () => {
  assert.equal(pyFloat(1e-5), '1e-05');
  assert.equal(pyFloat(Math.fround(0.1) * 0.1), '0.010000000149011612');
  assert.equal(pyFloat(2), '2.0');
  assert.equal(pyFloat(0.0001), '0.0001');
  assert.equal(pyFloat(1.5e-7), '1.5e-07');
  assert.equal(pyFloat(1e16), '1e+16');
});

test('TerminateOnNaN stops at the first invalid batch loss and names it', async () => {
  const f = fakeContext();
  const cb = terminateOnNaN();
  await cb.onBatchEnd?.(0, { loss: 1.2 }, f.ctx, 3);
  assert.equal(f.ctx.stopTraining, false);
  await cb.onBatchEnd?.(5, { loss: NaN }, f.ctx, 3);
  assert.equal(f.ctx.stopTraining, true);
  assert.equal(f.ctx.stoppedEpoch, 3);
  assert.match(f.ctx.stopReason!, /epoch 4, batch 5/);
  assert.deepEqual(f.messages, ['Batch 5: Invalid loss, terminating training']);
});

test('history: appendHistory pads late metrics; historyRecorder records stop info', async () => {
  const h: TrainHistory = { epochs: [], logs: {} };
  appendHistory(h, 0, { loss: 1 });
  appendHistory(h, 1, { loss: 0.5, val_loss: 0.7 });
  appendHistory(h, 2, { val_loss: 0.6 });
  assert.deepEqual(h, { epochs: [0, 1, 2], logs: { loss: [1, 0.5, NaN], val_loss: [NaN, 0.7, 0.6] } });
  const f = fakeContext();
  const rec = historyRecorder();
  await rec.onEpochEnd?.(0, { loss: 2 }, f.ctx);
  f.ctx.stopReason = 'x';
  f.ctx.stoppedEpoch = 0;
  await rec.onTrainEnd?.(f.ctx, rec.history);
  assert.deepEqual(rec.history, { epochs: [0], logs: { loss: [2] }, stoppedEpoch: 0, stopReason: 'x' });
});

test('CSVLogger writes Keras columns, and a resumed run keeps earlier rows and drops rows after the checkpoint', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-csv-'));
  try {
    const file = path.join(dir, 'sub', 'log.csv');
    const logs = (e: number) => ({ loss: 1 / (e + 1), acc: e / 10, val_loss: 2, val_acc: 0.5, lr: 0.25 });
    let f = fakeContext();
    let cb = csvLogger(file);
    await cb.onTrainBegin?.(f.ctx);
    for (let e = 0; e < 4; e++) await cb.onEpochEnd?.(e, logs(e), f.ctx);
    let lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'epoch,acc,loss,lr,val_acc,val_loss');
    assert.equal(lines[2], '1,0.1,0.5,0.25,0.5,2');
    assert.equal(lines.length, 5);
    fs.appendFileSync(file, '4,0.4,0.2'); // a row cut short by a kill
    // Resume from the checkpoint of epoch 2 (epochs 0-1 done): rows 2, 3 and the broken one go.
    f = fakeContext(2);
    cb = csvLogger(file);
    await cb.onTrainBegin?.(f.ctx);
    await cb.onEpochEnd?.(2, logs(2), f.ctx);
    lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split(',')[0]),
      ['epoch', '0', '1', '2'],
    );
    // A fresh run replaces the file.
    f = fakeContext(0);
    cb = csvLogger(file);
    await cb.onTrainBegin?.(f.ctx);
    await cb.onEpochEnd?.(0, { loss: 3 }, f.ctx);
    assert.equal(fs.readFileSync(file, 'utf8'), 'epoch,loss\n0,3\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
