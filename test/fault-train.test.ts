/**
 * Bad model and training files, and a NaN loss: a damaged saved model, a corrupted checkpoint in a run folder being
 * resumed (error naming the file; the runner keeps one checkpoint, so there is nothing older to fall back to), and a
 * run whose loss becomes NaN (stops, records why in metrics.json, and `affect run` exits 1).
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { initBackend } from '../lib/backend';
import { loadModel, saveModel } from '../lib/models/io';
import { runExperiment, type RunMetrics, type RunOptions } from '../lib/runner';
import { tempDir } from './data-fixtures';
import { affect } from './fault-fixtures';

let dir: string;
let cleanup: () => void;
let data: string;

before(async () => {
  ({ dir, cleanup } = tempDir('affect-fault-train-'));
  data = path.join(dir, 'data');
  for (const [cls, base] of [
    ['WithMask', 200],
    ['WithoutMask', 50],
  ] as const) {
    fs.mkdirSync(path.join(data, cls), { recursive: true });
    for (let i = 0; i < 10; i++) {
      const px = Buffer.alloc(16 * 16 * 3).map((_, k) => base + ((k * 7 + i * 13) % 40));
      await sharp(px, { raw: { width: 16, height: 16, channels: 3 } })
        .png()
        .toFile(path.join(data, cls, `img${i}.png`));
    }
  }
  await initBackend('wasm');
});
after(() => cleanup());

test('loadModel: a truncated weights.bin, a manifest whose shapes do not fit, and a damaged model.json are errors naming the folder or file', async () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 3, inputShape: [4] }), tf.layers.dense({ units: 2 })],
  });
  const m = path.join(dir, 'model');
  await saveModel(model, m);
  model.dispose();
  const weights = fs.readFileSync(path.join(m, 'weights.bin'));
  const json = fs.readFileSync(path.join(m, 'model.json'), 'utf8');

  fs.writeFileSync(path.join(m, 'weights.bin'), weights.subarray(0, weights.length - 8));
  await assert.rejects(
    loadModel(m),
    new RegExp(
      `weights in ${m} hold ${weights.length - 8} bytes, ${m}/model.json describes ${weights.length}: the weights file is truncated`,
    ),
  );
  fs.writeFileSync(path.join(m, 'weights.bin'), weights);

  const swapped = JSON.parse(json) as tf.io.ModelJSON;
  swapped.weightsManifest[0].weights[0].shape = [3, 4];
  fs.writeFileSync(path.join(m, 'model.json'), JSON.stringify(swapped));
  await assert.rejects(
    loadModel(m),
    new RegExp(`loading the model in ${m} failed: Shape mismatch: \\[4,3\\] vs\\. \\[3,4\\]`),
  );

  fs.writeFileSync(path.join(m, 'model.json'), json.slice(0, 40));
  await assert.rejects(loadModel(m), new RegExp(`${m}/model.json is not valid JSON`));

  fs.writeFileSync(path.join(m, 'model.json'), json);
  (await loadModel(m)).dispose();
});

// The baseline's ResNet-18 is the smallest study network: its checkpoints are the quickest to write.
// Two classes where the baseline's dataset has eight: accepted with anyClasses.
const tiny = (outDir: string): RunOptions => ({
  experiment: 'baseline',
  data,
  imageSize: 12,
  epochs: 3,
  batchSize: 4,
  seed: 5,
  backend: 'wasm',
  outDir,
  quiet: true,
  anyClasses: true,
});
const runFolder = (outDir: string) => {
  const trial = path.join(outDir, 'baseline', 'resnet18-original');
  return path.join(trial, fs.readdirSync(trial)[0]);
};

test('resuming a run folder whose checkpoint is corrupted is an error naming the file (runExperiment and affect run --resume)', async () => {
  const outDir = path.join(dir, 'runs-crash');
  // A crash at the start of epoch 2: the run folder keeps config.json and the epoch-1 checkpoint, as after a kill.
  const crash: RunOptions['progress'] = {
    message: () => {},
    epochBegin: (e) => {
      if (e === 1) throw new Error('simulated crash');
    },
  };
  await assert.rejects(runExperiment({ ...tiny(outDir), progress: crash }), /simulated crash/);
  const run = runFolder(outDir);
  const ckpt = path.join(run, 'checkpoints', 'epoch-0001');
  assert.deepEqual(
    fs.readdirSync(path.join(run, 'checkpoints')),
    ['epoch-0001'],
    'one checkpoint: nothing older to fall back to',
  );

  const tensors = fs.readFileSync(path.join(ckpt, 'tensors.bin'));
  fs.writeFileSync(path.join(ckpt, 'tensors.bin'), tensors.subarray(0, tensors.length >> 1));
  await assert.rejects(
    runExperiment({ ...tiny(outDir), resume: run }),
    new RegExp(`checkpoint: ${ckpt}/tensors\\.bin is truncated`),
  );
  fs.writeFileSync(path.join(ckpt, 'tensors.bin'), tensors);

  fs.writeFileSync(path.join(ckpt, 'checkpoint.json'), '{"format":"affect-lab-checkp');
  const r = await affect(dir, 'run', '--resume', run);
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`affect run: checkpoint: ${ckpt}/checkpoint\\.json is unreadable`));
  assert.ok(!fs.existsSync(path.join(run, 'metrics.json')), 'the failed resume records no result');
});

test('a non-finite loss (lr 1e30) stops the run, metrics.json records why, and affect run exits 1 naming the run folder', async () => {
  const r = await affect(
    dir,
    'run',
    'baseline',
    '--data',
    data,
    '--lr',
    '1e30',
    '--epochs',
    '2',
    '--image-size',
    '12',
    '--batch-size',
    '4',
    '--backend',
    'wasm',
    '--out',
    'runs-nan',
    '--any-classes',
  );
  assert.equal(r.code, 1, r.err);
  const run = runFolder(path.join(dir, 'runs-nan'));
  assert.match(
    r.err,
    new RegExp(
      `affect run: training failed: TerminateOnNaN: invalid loss \\((NaN|Infinity)\\) at epoch 1, batch \\d+; the run folder ${run} records it`,
    ),
  );
  const metrics = JSON.parse(fs.readFileSync(path.join(run, 'metrics.json'), 'utf8')) as RunMetrics;
  assert.match(metrics.stopReason ?? '', /^TerminateOnNaN: invalid loss \((NaN|Infinity)\) at epoch 1/);
  assert.equal(metrics.epochsRun, 1);
  assert.match(fs.readFileSync(path.join(run, 'run.log'), 'utf8'), /stopped: TerminateOnNaN/);
});
