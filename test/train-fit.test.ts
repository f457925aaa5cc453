/**
 * fit: memory stays flat, seeded runs are reproducible, NaN stops training, checkpoints resume exactly —
 * including after a SIGKILL in the middle of an epoch (this file doubles as the child process of that test
 * when TRAIN_FIT_CHILD is set).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { makeRng, shuffled } from '../lib/random';
import {
  compileModel,
  csvLogger,
  epochBatches,
  lossAndAccuracy,
  regularizationPenalty,
  sparseCrossentropyFromLogits,
  earlyStopping,
  fit,
  latestCheckpoint,
  readCheckpoint,
  disposeCheckpoint,
  reduceLROnPlateau,
  seedModelWeights,
  shuffleSeed,
  type Batch,
  type Callback,
  type TrainHistory,
} from '../lib/train';

const SEED = 7;
const N = 48;
const SIDE = 8;

/** Seeded images whose class (0-2) is the brightest third of the image, so a tiny model can learn it. */
function makeData(seed: number) {
  const rng = makeRng(`data-${seed}`);
  const xs = new Float32Array(N * SIDE * SIDE);
  const ys = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    ys[i] = i % 3;
    for (let p = 0; p < SIDE * SIDE; p++) {
      const third = Math.min(2, Math.floor((p % SIDE) / 3));
      xs[i * SIDE * SIDE + p] = rng() * 0.5 + (third === ys[i] ? 0.5 : 0);
    }
  }
  return { xs, ys };
}

/** Batches of 8 in an order shuffled per epoch from shuffleSeed(seed, epoch): restorable on resume. */
function source(
  data: { xs: Float32Array; ys: Int32Array },
  shuffle: boolean,
  poison?: { epoch: number; batch: number },
) {
  return (epoch: number): Batch[] => {
    const order = shuffle ? shuffled(makeRng(shuffleSeed(SEED, epoch)), [...Array(N).keys()]) : [...Array(N).keys()];
    const out: Batch[] = [];
    for (let s = 0, b = 0; s < N; s += 8, b++) {
      const idx = order.slice(s, s + 8);
      const x = new Float32Array(idx.length * SIDE * SIDE);
      idx.forEach((k, j) => x.set(data.xs.subarray(k * SIDE * SIDE, (k + 1) * SIDE * SIDE), j * SIDE * SIDE));
      if (poison && poison.epoch === epoch && poison.batch === b) x[0] = NaN;
      out.push({
        xs: tf.tensor4d(x, [idx.length, SIDE, SIDE, 1]),
        ys: tf.tensor1d(
          idx.map((k) => data.ys[k]),
          'int32',
        ),
      });
    }
    return out;
  };
}

/** `source` as a generator that disposes the batches fit did not take (when training stops mid-epoch). */
function lazySource(...args: Parameters<typeof source>) {
  const make = source(...args);
  return function* (epoch: number): Iterable<Batch> {
    const all = make(epoch);
    try {
      for (const b of all) yield b;
    } finally {
      for (const b of all) if (!b.xs.isDisposed) tf.dispose([b.xs, b.ys]);
    }
  };
}

function makeModel(seed: number): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [SIDE, SIDE, 1], filters: 4, kernelSize: 3, activation: 'relu' }),
      tf.layers.batchNormalization(),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelRegularizer: tf.regularizers.l2({ l2: 1e-4 }) }),
    ],
  });
  seedModelWeights(model, seed);
  compileModel(model, { kind: 'sgd', lr: 0.05, momentum: 0.9 });
  return model;
}

const callbacks = (): Callback[] => [
  earlyStopping({ patience: 3, restoreBestWeights: true }),
  reduceLROnPlateau({ patience: 1, factor: 0.5, minDelta: 0.5 }), // the lr drops every other epoch
];

const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

/** What a child training process writes to result-<mode>.json. */
interface ChildResult {
  history: TrainHistory;
  weights: number[][];
  ran: number[];
}

/** Disposes a model and its optimizer (whose slots the model does not own). */
function disposeModel(m: tf.LayersModel): void {
  m.optimizer.dispose();
  m.dispose();
}

/** The child process of the kill test: trains with checkpoints, slowly in epoch 3, reporting each batch. */
async function child(mode: string, dir: string): Promise<void> {
  await initBackend('cpu');
  const data = makeData(SEED);
  // A resumed run starts from other weights: everything it continues with must come from the checkpoint.
  const model = makeModel(mode === 'resume' ? SEED + 1 : SEED);
  const ran: number[] = [];
  const slow: Callback = {
    name: 'slow',
    onEpochBegin(epoch) {
      ran.push(epoch);
    },
    async onBatchEnd(batch, _logs, _ctx, epoch) {
      if (epoch === 2 && mode === 'killable') {
        process.stdout.write(`inside epoch 3 batch ${batch}\n`);
        await new Promise((r) => setTimeout(r, 150));
      }
    },
  };
  const history = await fit(model, lazySource(data, true), lazySource(data, false), {
    epochs: 5,
    verbose: 0,
    seed: SEED,
    callbacks: [...callbacks(), csvLogger(path.join(dir, 'log.csv')), slow],
    checkpoint: { dir: path.join(dir, 'ckpt') },
    resumeFrom: mode === 'resume' ? path.join(dir, 'ckpt') : undefined,
  });
  fs.writeFileSync(path.join(dir, `result-${mode}.json`), JSON.stringify({ history, weights: weightsOf(model), ran }));
}

if (process.env.TRAIN_FIT_CHILD) {
  child(process.env.TRAIN_FIT_CHILD, process.env.TRAIN_FIT_DIR as string).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'train-fit-'));

  test('dropout masks follow the seed: same seed -> same weights, resume from a checkpoint -> the same as uninterrupted', async () => {
    await initBackend('cpu');
    const data = makeData(SEED);
    const dropoutModel = () => {
      const m = tf.sequential({
        layers: [
          tf.layers.flatten({ inputShape: [SIDE, SIDE, 1] }),
          tf.layers.dense({ units: 16, activation: 'relu' }),
          tf.layers.dropout({ rate: 0.5 }),
          tf.layers.dense({ units: 3, activation: 'softmax' }),
        ],
      });
      seedModelWeights(m, SEED);
      compileModel(m, { kind: 'adam', lr: 0.01 });
      return m;
    };
    const train = async (seed: number, epochs: number, dir?: string, resume = false, model = dropoutModel()) => {
      const random = Math.random;
      await fit(model, source(data, true), undefined, {
        epochs,
        verbose: 0,
        seed,
        ...(dir ? { checkpoint: { dir } } : {}),
        ...(resume && dir ? { resumeFrom: dir } : {}),
      });
      assert.equal(Math.random, random, 'fit must restore Math.random');
      const w = weightsOf(model);
      disposeModel(model);
      return w;
    };
    const a = await train(SEED, 3);
    assert.deepEqual(await train(SEED, 3), a);
    assert.notDeepEqual(await train(SEED + 1, 3), a);
    const dir = path.join(tmp(), 'ckpt');
    await train(SEED, 1, dir);
    // The resumed model starts from other weights: everything must come from the checkpoint.
    const other = dropoutModel();
    seedModelWeights(other, SEED + 5);
    assert.deepEqual(await train(SEED, 3, dir, true, other), a);
  });

  test('seedModelWeights on some layers: only those change, each with the seed it gets when the whole model is seeded', async () => {
    await initBackend('cpu');
    const whole = makeModel(3);
    const part = makeModel(4);
    const perLayer = (m: tf.LayersModel) => m.layers.map((l) => l.getWeights().map((w) => Array.from(w.dataSync())));
    const before = perLayer(part);
    seedModelWeights(part, 3, new Set([part.layers[part.layers.length - 1]]));
    const after = perLayer(part);
    const last = after.length - 1;
    after.forEach((w, i) => assert.deepEqual(w, i < last ? before[i] : perLayer(whole)[i], `layer ${i}`));
    assert.notDeepEqual(after[last], before[last]);
    disposeModel(whole);
    disposeModel(part);
  });

  test('seedModelWeights: same seed -> identical weights; a different seed -> different ones', async () => {
    await initBackend('cpu');
    const a = makeModel(1);
    const b = makeModel(1);
    const c = makeModel(2);
    assert.deepEqual(weightsOf(a), weightsOf(b));
    assert.notDeepEqual(weightsOf(a)[0], weightsOf(c)[0]);
    // BatchNormalization's gamma keeps its Ones initializer.
    assert.ok(weightsOf(a)[2].every((v) => v === 1));
    [a, b, c].forEach(disposeModel);
  });

  test('fit: same seed and backend give identical histories and weights; memory stays flat across epochs and calls', async () => {
    await initBackend('cpu');
    const data = makeData(SEED);
    const runs: { history: TrainHistory; weights: number[][] }[] = [];
    const counts: number[] = [];
    const bytes: number[] = [];
    const probe: Callback = {
      name: 'probe',
      onEpochEnd() {
        counts.push(tf.memory().numTensors);
        bytes.push(tf.memory().numBytes);
      },
    };
    const before = tf.memory().numTensors;
    for (let r = 0; r < 2; r++) {
      const model = makeModel(SEED);
      const history = await fit(model, lazySource(data, true), lazySource(data, false), {
        epochs: 4,
        verbose: 0,
        callbacks: [...callbacks(), probe],
      });
      runs.push({ history, weights: weightsOf(model) });
      disposeModel(model);
    }
    assert.equal(tf.memory().numTensors, before, 'nothing left once the models are disposed');
    assert.deepEqual(runs[1], runs[0]);
    assert.equal(runs[0].history.epochs.length, 4);
    assert.deepEqual(Object.keys(runs[0].history.logs).sort(), ['acc', 'loss', 'lr', 'val_acc', 'val_loss']);
    assert.ok(runs[0].history.logs.loss[3] < runs[0].history.logs.loss[0], 'the model learns');
    assert.ok(runs[0].history.logs.lr[3] < runs[0].history.logs.lr[0], 'ReduceLROnPlateau lowered the lr');
    // Per epoch (after the optimizer's slots appear in epoch 1) and per call, the same tensors and bytes.
    assert.deepEqual(counts, new Array(8).fill(counts[0]), `tensor counts per epoch: ${counts.join(',')}`);
    assert.deepEqual(bytes, new Array(8).fill(bytes[0]), `bytes per epoch: ${bytes.join(',')}`);
  });

  test("fit: training that ends in an error frees the callbacks' tensors (EarlyStopping's best weights)", async () => {
    await initBackend('cpu');
    const data = makeData(SEED);
    const before = tf.memory().numTensors;
    const model = makeModel(SEED);
    const failing: Callback = {
      name: 'failing',
      onEpochEnd(epoch) {
        if (epoch === 1) throw new Error('a callback failed');
      },
    };
    await assert.rejects(
      fit(model, lazySource(data, true), lazySource(data, false), {
        epochs: 4,
        verbose: 0,
        callbacks: [earlyStopping({ monitor: 'val_loss', patience: 3, restoreBestWeights: true }), failing],
      }),
      /a callback failed/,
    );
    disposeModel(model);
    assert.equal(tf.memory().numTensors, before, 'the best weights EarlyStopping kept were freed');
  });

  test('fit: a NaN loss stops training mid-epoch, names the batch, and does not checkpoint the broken epoch', async () => {
    await initBackend('cpu');
    const dir = tmp();
    try {
      const data = makeData(SEED);
      const before = tf.memory().numTensors;
      const model = makeModel(SEED);
      const messages: string[] = [];
      const history = await fit(model, lazySource(data, true, { epoch: 1, batch: 2 }), lazySource(data, false), {
        epochs: 4,
        progress: { message: (m) => messages.push(m) },
        checkpoint: { dir },
      });
      assert.equal(history.stoppedEpoch, 1);
      assert.match(history.stopReason!, /TerminateOnNaN: invalid loss \(NaN\) at epoch 2, batch 2/);
      assert.deepEqual(messages, ['Batch 2: Invalid loss, terminating training']);
      assert.deepEqual(history.epochs, [0, 1]);
      assert.ok(Number.isNaN(history.logs.loss[1]));
      assert.equal(path.basename(latestCheckpoint(dir)!), 'epoch-0001');
      disposeModel(model);
      assert.equal(tf.memory().numTensors, before, 'the broken-off epoch left no tensors behind');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('fit: resuming from a checkpoint continues exactly (weights, optimizer, callbacks, history, csv)', async () => {
    await initBackend('cpu');
    const dir = tmp();
    try {
      const data = makeData(SEED);
      const opts = (ckpt: string, epochs: number, resumeFrom?: string) => ({
        epochs,
        verbose: 0 as const,
        seed: SEED,
        callbacks: [...callbacks(), csvLogger(path.join(ckpt, 'log.csv'))],
        checkpoint: { dir: ckpt },
        resumeFrom,
      });
      const whole = makeModel(SEED);
      const full = await fit(whole, lazySource(data, true), lazySource(data, false), opts(path.join(dir, 'a'), 5));
      const first = makeModel(SEED);
      await fit(first, lazySource(data, true), lazySource(data, false), opts(path.join(dir, 'b'), 2));
      const ck = readCheckpoint(path.join(dir, 'b'));
      assert.equal(ck.epoch, 2);
      assert.equal(ck.optimizer.iterations, 12);
      assert.deepEqual(Object.keys(ck.callbacks).sort(), ['EarlyStopping', 'ReduceLROnPlateau']);
      disposeCheckpoint(ck);
      const second = makeModel(99); // different initial weights: all must come from the checkpoint
      const resumed = await fit(
        second,
        lazySource(data, true),
        lazySource(data, false),
        opts(path.join(dir, 'b'), 5, path.join(dir, 'b')),
      );
      assert.deepEqual(resumed, full);
      assert.deepEqual(weightsOf(second), weightsOf(whole));
      assert.equal(
        fs.readFileSync(path.join(dir, 'b', 'log.csv'), 'utf8'),
        fs.readFileSync(path.join(dir, 'a', 'log.csv'), 'utf8'),
      );
      const last = `epoch-${String(full.epochs.length).padStart(4, '0')}`;
      assert.deepEqual(
        fs.readdirSync(path.join(dir, 'b')).sort(),
        [last, 'log.csv'],
        'only the newest checkpoint is kept',
      );
      assert.throws(() => readCheckpoint(path.join(dir, 'none')), /no checkpoint found/);
      await assert.rejects(
        fit(second, lazySource(data, true), undefined, {
          ...opts(path.join(dir, 'b'), 5, path.join(dir, 'b')),
          seed: 8,
        }),
        /seed 7, this run has seed 8/,
      );
      const other = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 3, activation: 'softmax' })] });
      compileModel(other, { kind: 'sgd' });
      await assert.rejects(
        fit(other, lazySource(data, true), undefined, { epochs: 5, verbose: 0, resumeFrom: path.join(dir, 'b') }),
        /holds weights \[3x3x1x4, .*\], the model has \[2x3, 3\]/,
      );
      disposeModel(other);
      [whole, first, second].forEach(disposeModel);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('fit: a run that stopped early resumes as finished (no further epochs, same weights)', async () => {
    await initBackend('cpu');
    const dir = tmp();
    try {
      const data = makeData(SEED);
      const model = makeModel(SEED);
      // Monitoring a metric that never improves after epoch 0: stop at epoch 1 with patience 1.
      const stopper = () => [earlyStopping({ monitor: 'lr', mode: 'max', patience: 1, restoreBestWeights: true })];
      const h = await fit(model, lazySource(data, true), undefined, {
        epochs: 6,
        verbose: 0,
        callbacks: stopper(),
        checkpoint: { dir },
      });
      assert.equal(h.stoppedEpoch, 1);
      assert.equal(h.bestEpoch, 0);
      const again = makeModel(3);
      const h2 = await fit(again, lazySource(data, true), undefined, {
        epochs: 6,
        verbose: 0,
        callbacks: stopper(),
        resumeFrom: dir,
      });
      assert.deepEqual(h2, h);
      assert.deepEqual(weightsOf(again), weightsOf(model));
      [model, again].forEach(disposeModel);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  function runChild(
    mode: string,
    dir: string,
    onLine?: (line: string, kill: () => void) => void,
  ): Promise<NodeJS.Signals | number | null> {
    const env: NodeJS.ProcessEnv = { ...process.env, TRAIN_FIT_CHILD: mode, TRAIN_FIT_DIR: dir };
    delete env.NODE_TEST_CONTEXT;
    const p = spawn(process.execPath, [__filename], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    let buf = '';
    p.stdout.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop() as string;
      for (const l of lines) onLine?.(l, () => p.kill('SIGKILL'));
    });
    return new Promise((resolve) =>
      p.on('exit', (code, signal) => {
        if (code) console.error(err);
        resolve(signal ?? code);
      }),
    );
  }

  test('fit: SIGKILL inside epoch 3, then resume: same final history and weights as an uninterrupted run (cpu)', async () => {
    const dir = tmp();
    const fullDir = tmp();
    try {
      assert.equal(await runChild('full', fullDir), 0);
      let killedAt = '';
      const status = await runChild('killable', dir, (line, kill) => {
        // Kill once the epoch-2 checkpoint exists and the child is a few batches into epoch 3.
        if (
          !killedAt &&
          line === 'inside epoch 3 batch 2' &&
          latestCheckpoint(path.join(dir, 'ckpt'))?.endsWith('epoch-0002')
        ) {
          killedAt = line;
          kill();
        }
      });
      assert.equal(status, 'SIGKILL');
      assert.equal(killedAt, 'inside epoch 3 batch 2');
      assert.ok(!fs.existsSync(path.join(dir, 'result-killable.json')));
      assert.equal(path.basename(latestCheckpoint(path.join(dir, 'ckpt'))!), 'epoch-0002');
      assert.equal(await runChild('resume', dir), 0);
      const full = JSON.parse(fs.readFileSync(path.join(fullDir, 'result-full.json'), 'utf8')) as ChildResult;
      const resumed = JSON.parse(fs.readFileSync(path.join(dir, 'result-resume.json'), 'utf8')) as ChildResult;
      assert.ok(full.history.epochs.length >= 4, 'the run went on past the epoch it was killed in');
      assert.deepEqual(resumed.ran, full.ran.slice(2), 'the resumed run trained only the epochs after the checkpoint');
      assert.deepEqual(resumed.history, full.history);
      assert.deepEqual(resumed.weights, full.weights);
      assert.equal(
        fs.readFileSync(path.join(dir, 'log.csv'), 'utf8'),
        fs.readFileSync(path.join(fullDir, 'log.csv'), 'utf8'),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(fullDir, { recursive: true, force: true });
    }
  });

  test('validation loss is the mean crossentropy plus the L2 penalty (as Keras); tf.data datasets are accepted', async () => {
    await initBackend('cpu');
    const model = tf.sequential({
      layers: [
        tf.layers.flatten({ inputShape: [1, 2, 1] }),
        tf.layers.dense({
          units: 2,
          activation: 'softmax',
          useBias: false,
          kernelRegularizer: tf.regularizers.l2({ l2: 0.01 }),
        }),
      ],
    });
    model.setWeights([
      tf.tensor2d([
        [1, -1],
        [2, 0],
      ]),
    ]);
    compileModel(model, { kind: 'sgd', lr: 0 });
    const make = () =>
      tf.data.array([{ xs: tf.tensor4d([1, 0, 0, 1], [2, 1, 2, 1]), ys: tf.tensor1d([0, 1]) }]).map((b) => b as Batch);
    assert.ok(Math.abs((await regularizationPenalty(model)) - 0.01 * (1 + 1 + 4)) < 1e-6);
    const ce = sparseCrossentropyFromLogits(
      tf.tensor1d([0, 1]),
      tf.tensor2d([
        [1, -1],
        [2, 0],
      ]),
    );
    const expected = (ce.dataSync()[0] + ce.dataSync()[1]) / 2 + 0.06;
    // By hand: sample 0 logits (1, -1) -> -log(e/(e+1/e)); sample 1 logits (2, 0) -> -log(1/(e^2+1)).
    assert.ok(Math.abs(ce.dataSync()[0] + Math.log(Math.E / (Math.E + 1 / Math.E))) < 1e-5);
    const v = await lossAndAccuracy(model, () => make(), 0, false);
    assert.ok(Math.abs(v.loss - expected) < 1e-5, `${v.loss} vs ${expected}`);
    assert.equal(v.acc, 0.5);
    let n = 0;
    for await (const b of epochBatches(make(), 0)) n += b.xs.shape[0];
    assert.equal(n, 2);
    // With lr 0 the weights stay, so the training loss equals the validation loss on the same batch.
    const h = await fit(
      model,
      () => make(),
      () => make(),
      { epochs: 1, verbose: 0, disposeBatches: false },
    );
    assert.ok(Math.abs(h.logs.loss[0] - h.logs.val_loss[0]) < 1e-5);
    disposeModel(model);
  });
}
