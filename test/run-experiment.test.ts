import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../lib/backend';
import { resolveTrial, type RunConfig } from '../lib/experiments';
import { ConfigError } from '../lib/errors';
import {
  capPerClass,
  listRuns,
  resolveData,
  runExperiment,
  studyComparison,
  type RunMetrics,
  type RunOptions,
} from '../lib/runner';

/** What these tests read back from a run's config.json. */
interface SavedConfig {
  seed: number;
  backend: { name: string };
  classes: string[];
  data: { fingerprint: string };
  versions: Record<string, string>;
  run: RunConfig;
  options: RunOptions;
}

let tmp: string;
let data: string;

/** A tiny two-class folder: bright vs dark noisy squares, 12 per class, 20x20 PNG. */
before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-run-experiment-'));
  data = path.join(tmp, 'data');
  for (const [cls, base] of [
    ['WithMask', 200],
    ['WithoutMask', 50],
  ] as const) {
    fs.mkdirSync(path.join(data, cls), { recursive: true });
    for (let i = 0; i < 12; i++) {
      const px = Buffer.alloc(20 * 20 * 3, 0).map((_, k) => base + ((k * 7 + i * 13) % 40));
      await sharp(px, { raw: { width: 20, height: 20, channels: 3 } })
        .png()
        .toFile(path.join(data, cls, `img${i}.png`));
    }
  }
  await initBackend('wasm');
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// The baseline's ResNet-18 has no dropout, whose masks tfjs does not seed: its runs repeat exactly.
// Two classes where the baseline's dataset has eight: accepted with anyClasses.
const tiny = (outDir: string): RunOptions => ({
  experiment: 'baseline',
  data,
  scale: 'quick',
  imageSize: 12,
  epochs: 2,
  batchSize: 4,
  seed: 5,
  backend: 'wasm',
  outDir,
  quiet: true,
  anyClasses: true,
});

test('resolveData splits one folder seeded 75/25 then 80/20, capping per class, and fingerprints the files', async () => {
  const cfg = resolveTrial('face-mask', undefined, 'quick', 5, { trainPerClass: 0, testPerClass: 0 });
  const a = await resolveData(cfg, { data });
  const b = await resolveData(cfg, { data });
  assert.deepEqual(a.counts, { train: 15, validation: 3, test: 6 });
  assert.deepEqual(
    [a.train.indices, a.validation.indices, a.test.indices],
    [b.train.indices, b.validation.indices, b.test.indices],
  );
  assert.equal(new Set([...a.train.indices, ...a.validation.indices, ...a.test.indices]).size, 24);
  assert.equal(a.kind, 'real sample');
  assert.deepEqual(a.classes, ['WithMask', 'WithoutMask']);
  assert.match(a.fingerprint, /^[0-9a-f]{64}$/);
  const other = await resolveData({ ...cfg, seed: 6 }, { data });
  assert.notDeepEqual(other.test.indices, a.test.indices);
  await assert.rejects(resolveData(cfg, { data: path.join(tmp, 'nope') }), /data folder .*nope does not exist/);
});

test('capPerClass keeps at most k per class, seeded, in the given order', () => {
  const labels = [0, 0, 0, 1, 1, 1];
  const kept = capPerClass([0, 1, 2, 3, 4, 5], labels, 2, 's');
  assert.equal(kept.length, 4);
  assert.deepEqual(
    kept,
    [...kept].sort((x, y) => x - y),
  );
  assert.deepEqual(capPerClass([0, 1, 2, 3, 4, 5], labels, 2, 's'), kept);
  assert.deepEqual(capPerClass([5, 4], labels, undefined, 's'), [5, 4]);
});

test('same seed and backend give the same split, weights and history; the run folder holds the record', async () => {
  const out = path.join(tmp, 'runs');
  const a = await runExperiment(tiny(out));
  const b = await runExperiment(tiny(out));
  assert.notEqual(a.runDir, b.runDir);
  assert.deepEqual(a.history.logs, b.history.logs);
  assert.equal(a.history.epochs.length, 2);
  assert.deepEqual(a.evaluation.predictions, b.evaluation.predictions);
  const read = (d: string, f: string) => fs.readFileSync(path.join(d, f));
  assert.deepEqual(read(a.runDir, 'model/weights.bin'), read(b.runDir, 'model/weights.bin'));
  for (const f of [
    'config.json',
    'history.csv',
    'metrics.json',
    'confusion.csv',
    'run.log',
    'report.html',
    'model/model.json',
  ])
    assert.ok(fs.existsSync(path.join(a.runDir, f)), f);
  assert.ok(!fs.existsSync(path.join(a.runDir, 'checkpoints')));
  const config = JSON.parse(read(a.runDir, 'config.json').toString()) as SavedConfig;
  assert.equal(config.seed, 5);
  assert.equal(config.backend.name, 'wasm');
  assert.deepEqual(config.classes, ['WithMask', 'WithoutMask']);
  assert.deepEqual(a.classes, config.classes);
  assert.equal(
    config.data.fingerprint,
    (JSON.parse(read(b.runDir, 'config.json').toString()) as SavedConfig).data.fingerprint,
  );
  assert.match(config.versions['@tensorflow/tfjs'], /^4\.22/);
  assert.deepEqual(config.run.model, { name: 'resnet18', top: 'dense', normalize: true, l2: 1e-4 });
  assert.equal(config.run.optimizer.lr, 0.01);
  assert.match(config.run.note ?? '', /^lr 0\.01 instead of the published 0\.1: /);
  const metrics = JSON.parse(read(a.runDir, 'metrics.json').toString()) as RunMetrics;
  assert.equal(metrics.testAccuracy, a.evaluation.accuracy);
  assert.equal(metrics.published.testAccuracy, 0.5658);
  const [accuracyRow] = studyComparison(a.metrics);
  assert.deepEqual(accuracyRow, {
    name: 'test accuracy',
    run: a.metrics.testAccuracy,
    study: 0.5658,
    data: 'real sample',
  });
  assert.match(
    read(a.runDir, 'run.log').toString(),
    /NOTE: lr 0\.01 instead of the published 0\.1: [\s\S]*test accuracy: /,
  );
  assert.match(read(a.runDir, 'report.html').toString(), /NOTE: lr 0\.01 instead of the published 0\.1/);
  // Two classes where the baseline's dataset has eight: the report says so and leaves out the comparison with the study.
  assert.match(
    read(a.runDir, 'report.html').toString(),
    /OTHER CLASSES: the trial(&#39;|')s dataset has anger, contempt/,
  );
  assert.doesNotMatch(read(a.runDir, 'report.html').toString(), /This run vs the study/);
  assert.equal(listRuns(out).length, 2);
  // A different seed changes the initial weights, so the history differs.
  const c = await runExperiment({ ...tiny(out), seed: 6 });
  assert.notDeepEqual(c.history.logs.loss, a.history.logs.loss);
});

test("the grayscale trial runs end to end (quick scale) and a caller's progress sink sees it", async () => {
  const out = path.join(tmp, 'runs-flags');
  // A progress sink given by the caller (a notebook's) sees every epoch even when quiet, and is not saved with the options.
  const ended: number[] = [];
  const progress = { message: () => {}, epochEnd: (e: number) => void ended.push(e) };
  const gray = await runExperiment({
    ...tiny(out),
    experiment: 'adam-sweep',
    trial: 'adam-b32-lr1e-5-grayscale',
    epochs: 1,
    progress,
  });
  assert.deepEqual(ended, [0]);
  const grayConfig = JSON.parse(fs.readFileSync(path.join(gray.runDir, 'config.json'), 'utf8')) as SavedConfig;
  assert.equal(grayConfig.options.progress, undefined);
  // One input channel: the grayscale trial feeds the model 1-channel images.
  assert.match(
    fs.readFileSync(path.join(gray.runDir, 'model/model.json'), 'utf8'),
    /"batch_input_shape":\[null,12,12,1\]/,
  );
});

test('a run folder written before the quick scale changed resumes with the settings it started with', async () => {
  // config.json as the previous runner wrote it for a quick run (cnn4 standing in for ResNet-18 + VGG top), killed in its first epoch.
  const dir = path.join(tmp, 'old', 'face-mask', 'resnet18-vgg', '2026-11-01T00-00-00Z');
  fs.mkdirSync(dir, { recursive: true });
  const run = {
    experiment: 'face-mask',
    trial: 'resnet18-vgg',
    scale: 'quick',
    description: 'ResNet-18 + VGG top ...; quick: cnn4 instead of resnet18 + vgg top, ...',
    model: { name: 'cnn4', top: 'dense', normalize: true },
    substitution: 'quick scale trains the small 4-layer CNN (cnn4) instead of resnet18 + vgg top',
    optimizer: { kind: 'adam', lr: 0.001, beta1: 0.9, beta2: 0.999 },
    batchSize: 4,
    epochs: 1,
    imageSize: 12,
    callbacks: { earlyStopping: { monitor: 'val_loss', patience: 10, restoreBestWeights: true } },
    data: { dataset: 'face-mask-12k', validationFraction: 0.2, testFraction: 0.25 },
    seed: 5,
    trainPerClass: 128,
    testPerClass: 64,
  };
  const options = {
    experiment: 'face-mask',
    data,
    synthetic: false,
    scale: 'quick',
    seed: 5,
    backend: 'wasm',
    outDir: path.join(tmp, 'old'),
    epochs: 1,
    batchSize: 4,
    imageSize: 12,
  };
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ created: '2026-11-01T00:00:00.000Z', runDir: dir, run, options, seed: 5 }),
  );
  const r = await runExperiment({ experiment: '', resume: dir, quiet: true });
  assert.equal(r.runDir, dir);
  assert.deepEqual(r.config.model, run.model);
  assert.equal(r.history.epochs.length, 1);
  assert.ok(fs.existsSync(path.join(dir, 'metrics.json')));
  assert.match(fs.readFileSync(path.join(dir, 'model', 'model.json'), 'utf8'), /"name":"conv1"/);
});

test('bad options are ConfigErrors naming the option, and nothing is written', async () => {
  const out = path.join(tmp, 'r2');
  const config = (re: RegExp) => (e: Error) => e instanceof ConfigError && re.test(e.message);
  await assert.rejects(
    runExperiment({ experiment: 'face-mask', outDir: out, quiet: true }),
    config(/no data given: set `data` to a dataset folder, or `synthetic`/),
  );
  await assert.rejects(
    runExperiment({ experiment: 'face-mask', data, synthetic: true, outDir: out, quiet: true }),
    config(/either `data` or `synthetic`, not both/),
  );
  await assert.rejects(
    runExperiment({ experiment: 'face-mask', trial: 'x', data, outDir: out, quiet: true }),
    config(/no trial "x"/),
  );
  await assert.rejects(
    runExperiment({ experiment: 'face-mask', data, backend: 'gpu', outDir: out, quiet: true }),
    config(/unknown backend "gpu"/),
  );
  assert.ok(!fs.existsSync(out));
  const done = listRuns(path.join(tmp, 'runs'))[0].dir;
  await assert.rejects(
    runExperiment({ experiment: 'face-mask', resume: done, quiet: true }),
    config(/the run already finished/),
  );
});
