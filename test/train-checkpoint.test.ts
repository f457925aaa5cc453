import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { makeRng } from '../lib/random';
import { disposeCheckpoint, latestCheckpoint, readCheckpoint, saveCheckpoint, type CheckpointData } from '../lib/train';

function sample(epoch: number): CheckpointData {
  return {
    epoch,
    seed: 3,
    history: { epochs: [0], logs: { loss: [NaN], lr: [Infinity] } },
    weightNames: ['dense/kernel', 'steps'],
    weights: [
      tf.tensor2d([
        [1.5, -2],
        [3, 4],
      ]),
      tf.tensor1d([7], 'int32'),
    ],
    optimizer: {
      config: { kind: 'sgd', lr: 0.1, momentum: 0.9, nesterov: false },
      iterations: 12,
      learningRate: 0.05,
      slots: [
        {
          momentum: tf.tensor2d([
            [0.5, 0],
            [0, 0.25],
          ]),
        },
        null,
      ],
    },
    callbacks: {
      EarlyStopping: { json: { wait: 2 }, tensors: [tf.scalar(9)] },
      ReduceLROnPlateau: { json: { best: 'Infinity' } },
    },
    rngStates: { augment: makeRng('x').state() },
  };
}

test('saveCheckpoint/readCheckpoint round-trip every part; only the newest `keep` stay', async () => {
  await initBackend('cpu');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-ckpt-'));
  try {
    for (const e of [1, 2, 3]) {
      const c = sample(e);
      await saveCheckpoint(dir, c, 2);
      disposeCheckpoint(c);
    }
    assert.deepEqual(fs.readdirSync(dir).sort(), ['epoch-0002', 'epoch-0003']);
    assert.equal(latestCheckpoint(dir), path.join(dir, 'epoch-0003'));
    const before = tf.memory().numTensors;
    const r = readCheckpoint(dir);
    assert.equal(r.epoch, 3);
    assert.equal(r.seed, 3);
    assert.deepEqual(r.history, { epochs: [0], logs: { loss: [NaN], lr: [Infinity] } });
    assert.deepEqual(
      r.weights.map((w) => [w.dtype, w.shape, Array.from(w.dataSync())]),
      [
        ['float32', [2, 2], [1.5, -2, 3, 4]],
        ['int32', [1], [7]],
      ],
    );
    assert.equal(r.optimizer.iterations, 12);
    assert.deepEqual(Array.from(r.optimizer.slots[0]!.momentum.dataSync()), [0.5, 0, 0, 0.25]);
    assert.equal(r.optimizer.slots[1], null);
    assert.deepEqual(r.callbacks.EarlyStopping.json, { wait: 2 });
    assert.equal(r.callbacks.EarlyStopping.tensors![0].dataSync()[0], 9);
    assert.equal(r.callbacks.ReduceLROnPlateau.tensors, undefined);
    // The saved RNG state continues the same sequence.
    const a = makeRng('x', r.rngStates.augment);
    assert.equal(a(), makeRng('x')());
    disposeCheckpoint(r);
    assert.equal(tf.memory().numTensors, before);
    // Reading a specific checkpoint directory works too.
    const older = readCheckpoint(path.join(dir, 'epoch-0002'));
    assert.equal(older.epoch, 2);
    disposeCheckpoint(older);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('half-written checkpoints are never read: temp dirs are ignored, a truncated file is an error naming it', async () => {
  await initBackend('cpu');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-ckpt-'));
  try {
    const c = sample(1);
    await saveCheckpoint(dir, c);
    // A process killed while writing epoch 2 leaves only a temporary directory behind.
    fs.mkdirSync(path.join(dir, '.tmp-epoch-0002-999999-1'));
    fs.writeFileSync(path.join(dir, '.tmp-epoch-0002-999999-1', 'tensors.bin'), 'partial');
    fs.mkdirSync(path.join(dir, 'epoch-0005')); // no checkpoint.json: not complete
    assert.equal(latestCheckpoint(dir), path.join(dir, 'epoch-0001'));
    // The next save removes the stale temporary directory.
    c.epoch = 2;
    await saveCheckpoint(dir, c, 3);
    disposeCheckpoint(c);
    assert.ok(!fs.readdirSync(dir).some((n) => n.startsWith('.tmp-')));
    fs.truncateSync(path.join(dir, 'epoch-0002', 'tensors.bin'), 8);
    assert.throws(() => readCheckpoint(path.join(dir, 'epoch-0002')), /tensors\.bin is truncated/);
    fs.writeFileSync(path.join(dir, 'epoch-0002', 'checkpoint.json'), '{"format":"other"}');
    assert.throws(() => readCheckpoint(path.join(dir, 'epoch-0002')), /is not an affect-lab-checkpoint/);
    assert.equal(latestCheckpoint(path.join(dir, 'missing')), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
