/**
 * What callers of runExperiment other than `affect run` rely on (a sweep's trials above all): a run folder of their
 * choosing, config.json written before the data is resolved, bad data as a DataError, an AbortSignal that leaves a
 * resumable run, and the off-the-shelf face-api baseline beside the run where its classes apply.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { ConfigError, DataError, RunAborted } from '../lib/errors';
import type { RunConfig } from '../lib/experiments';
import { baselineComparison, runExperiment, studyComparison, type RunMetrics, type RunOptions } from '../lib/runner';
import type { ProgressSink } from '../lib/train';

let tmp: string;
const datasets: Record<string, string> = {};

/** Two-class folders of bright vs dark noisy squares, 12 per class, 20x20 PNG. */
async function twoClasses(name: string, classes: [string, string]): Promise<string> {
  const root = path.join(tmp, name);
  for (const [cls, base] of [
    [classes[0], 200],
    [classes[1], 50],
  ] as const) {
    fs.mkdirSync(path.join(root, cls), { recursive: true });
    for (let i = 0; i < 12; i++) {
      const px = Buffer.alloc(20 * 20 * 3, 0).map((_, k) => base + ((k * 7 + i * 13) % 40));
      await sharp(px, { raw: { width: 20, height: 20, channels: 3 } })
        .png()
        .toFile(path.join(root, cls, `img${i}.png`));
    }
  }
  return root;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-run-hooks-'));
  datasets.mask = await twoClasses('mask', ['WithMask', 'WithoutMask']);
  datasets.faces = await twoClasses('faces', ['happy', 'sad']);
  await initBackend('wasm');
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ResNet-18 without dropout: its runs repeat exactly, so a resumed run can be compared with an uninterrupted one. Smoke
// scale at 3 training images per class: 5 training images after validation's, 3 batches per epoch.
const tiny = (o: Partial<RunOptions>): RunOptions => ({
  experiment: 'baseline',
  data: datasets.mask,
  scale: 'smoke',
  imageSize: 12,
  epochs: 2,
  batchSize: 2,
  trainPerClass: 3,
  seed: 5,
  backend: 'wasm',
  quiet: true,
  baseline: false,
  anyClasses: true,
  ...o,
});
const read = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8');

/** What these tests read back from a run's config.json (`classes` once the data is resolved). */
interface SavedConfig {
  created: string;
  classes?: string[];
  run: RunConfig;
  options: RunOptions;
}
const readConfig = (dir: string) => JSON.parse(read(dir, 'config.json')) as SavedConfig;

test('runDir: the run is written where the caller says; a folder holding a run is refused', async () => {
  const dir = path.join(tmp, 'chosen', 'run');
  const r = await runExperiment(tiny({ runDir: dir, epochs: 1 }));
  assert.equal(r.runDir, dir);
  for (const f of ['config.json', 'history.csv', 'metrics.json', 'report.html'])
    assert.ok(fs.existsSync(path.join(dir, f)), f);
  assert.equal(readConfig(dir).options.runDir, undefined, 'the folder is not a setting');
  await assert.rejects(
    runExperiment(tiny({ runDir: dir })),
    (e: Error) => e instanceof ConfigError && /already holds a run \(config\.json\); resume it/.test(e.message),
  );
});

test('bad data is a DataError after config.json is written; once the data is there, the run resumes and completes', async () => {
  const dir = path.join(tmp, 'early', 'run');
  const missing = path.join(tmp, 'arrives-later');
  await assert.rejects(
    runExperiment(tiny({ runDir: dir, data: missing })),
    (e: Error) => e instanceof DataError && e.message.includes(`data folder ${missing} does not exist`),
  );
  const early = readConfig(dir);
  assert.equal(early.options.data, missing);
  assert.equal(early.run.trial, 'resnet18-original');
  assert.equal(early.classes, undefined, 'written before the data was resolved');
  fs.cpSync(datasets.mask, missing, { recursive: true });
  const r = await runExperiment({ experiment: '', resume: dir, quiet: true });
  const config = readConfig(dir);
  assert.deepEqual(config.classes, ['WithMask', 'WithoutMask']);
  assert.equal(config.created, early.created, 'the record keeps its start time');
  assert.equal(r.history.epochs.length, 2);
});

test('an aborted run stops at the next batch, keeps its epoch checkpoint, and resumes to the uninterrupted history', async () => {
  const whole = await runExperiment(tiny({ outDir: path.join(tmp, 'whole') }));
  const stop = new AbortController();
  // Aborted during the second epoch's first batch; the run notices at the next batch.
  const progress: ProgressSink = {
    message: () => {},
    batch: (epoch) => (epoch === 1 ? stop.abort('test stop') : undefined),
  };
  const dir = path.join(tmp, 'aborted', 'run');
  await assert.rejects(
    runExperiment(tiny({ runDir: dir, signal: stop.signal, progress })),
    (e: Error) => e instanceof RunAborted && e.runDir === dir && /stopped on request \(test stop\)/.test(e.message),
  );
  assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'epoch-0001')));
  assert.ok(!fs.existsSync(path.join(dir, 'metrics.json')));
  assert.match(
    read(dir, 'run.log'),
    /stopped on request \(test stop\); resume continues from the last epoch checkpoint/,
  );
  const resumed = await runExperiment({ experiment: '', resume: dir, quiet: true });
  assert.equal(read(dir, 'history.csv'), read(whole.runDir, 'history.csv'));
  assert.equal(resumed.metrics.testAccuracy, whole.metrics.testAccuracy);
  // Aborted before it starts: nothing trains.
  const early = new AbortController();
  early.abort('at once');
  await assert.rejects(
    runExperiment(tiny({ runDir: path.join(tmp, 'never', 'run'), signal: early.signal })),
    RunAborted,
  );
});

test('a run frees its model, optimizer and snapshots however it ends: completed, stopped or failed', async () => {
  // A first run warms tfjs' caches up; after it, every run must leave the tensor count where it found it.
  await runExperiment(tiny({ outDir: path.join(tmp, 'free-warm') }));
  const before = tf.memory().numTensors;
  await runExperiment(tiny({ outDir: path.join(tmp, 'free-done') }));
  assert.equal(tf.memory().numTensors, before, 'after a completed run');
  const stop = new AbortController();
  await assert.rejects(
    runExperiment(
      tiny({
        outDir: path.join(tmp, 'free-stopped'),
        signal: stop.signal,
        progress: { message: () => {}, batch: (epoch) => (epoch === 1 ? stop.abort('test stop') : undefined) },
      }),
    ),
    RunAborted,
  );
  assert.equal(tf.memory().numTensors, before, 'after a stopped run');
  const failing: ProgressSink = {
    message: () => {},
    batch: (epoch) => {
      if (epoch === 1) throw new Error('a progress display failed');
    },
  };
  await assert.rejects(
    runExperiment(tiny({ outDir: path.join(tmp, 'free-failed'), progress: failing })),
    /a progress display failed/,
  );
  assert.equal(tf.memory().numTensors, before, 'after a failed run');
});

test("the face-api baseline is evaluated on the run's test split where its classes apply, and shown beside the run", async () => {
  const r = await runExperiment(
    tiny({ data: datasets.faces, outDir: path.join(tmp, 'with-baseline'), epochs: 1, baseline: true }),
  );
  const b = r.metrics.baseline!;
  assert.ok(b, 'the run evaluated the baseline');
  assert.deepEqual(b.mapping, { happy: 'happy', sad: 'sad' });
  assert.equal(
    b.images,
    r.evaluation.confusion.flat().reduce((a, c) => a + c, 0),
  );
  assert.ok(b.testAccuracy >= 0 && b.testAccuracy <= 1);
  assert.deepEqual((JSON.parse(read(r.runDir, 'metrics.json')) as RunMetrics).baseline, b);
  const row = studyComparison(r.metrics).at(-1)!;
  assert.match(row.name, /face-api expression net \(off the shelf, not trained here\)/);
  assert.equal(row.run, b.testAccuracy);
  // These classes are not the trial's dataset's: the report has no study comparison, but the baseline's table.
  assert.deepEqual(
    baselineComparison(r.metrics).map((x) => x.run),
    [r.metrics.testAccuracy, b.testAccuracy],
  );
  const report = read(r.runDir, 'report.html');
  for (const text of [
    'This run vs the off-the-shelf baseline',
    'face-api expression net (off the shelf, not trained here)',
  ])
    assert.ok(report.includes(text), `report.html shows: ${text}`);
  assert.match(
    read(r.runDir, 'run.log'),
    /face-api expression baseline \(off the shelf\) on the same test split: accuracy [01]\.\d{4}/,
  );

  // Face-mask classes are no expressions: no baseline, no row, even when asked for.
  const mask = await runExperiment(tiny({ outDir: path.join(tmp, 'no-baseline'), epochs: 1, baseline: true }));
  assert.equal(mask.metrics.baseline, undefined);
  assert.ok(!studyComparison(mask.metrics).some((x) => /face-api/.test(x.name)));
  assert.deepEqual(baselineComparison(mask.metrics), []);
});
