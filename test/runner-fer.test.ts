/**
 * The FER experiments through the runner on tiny generated data: a class left out, the snapshot ensemble evaluated and
 * recorded, the misclassified gallery read back from the run's own test split, the majority baseline (0 epochs), and
 * the same data given as a FER2013 CSV.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../lib/backend';
import { experimentLabel, getExperiment } from '../lib/experiments';
import {
  classCounts,
  misclassifiedImages,
  resolveData,
  runExperiment,
  type RunMetrics,
  type RunResult,
} from '../lib/runner';
import { makeRunLog } from '../lib/runner/log';
import { resolveTrial } from '../lib/experiments';
import { ensembleGain } from '../lib/viz';
import { foldersToFer2013 } from '../lib/data';

let tmp: string;
let fer: string;
/** Images per class in train/ (unbalanced: happy is the majority) and test/. */
const TRAIN = { angry: 4, disgust: 2, fear: 4, happy: 10, neutral: 4, sad: 4, surprise: 4 } as const;
const TEST = { angry: 2, disgust: 1, fear: 2, happy: 5, neutral: 2, sad: 2, surprise: 2 } as const;

/** A 48x48 grayscale face-like image whose brightness pattern depends on the class, so a small net can learn something. */
async function face(file: string, cls: number, k: number): Promise<void> {
  const px = Buffer.alloc(48 * 48);
  for (let y = 0; y < 48; y++)
    for (let x = 0; x < 48; x++) px[y * 48 + x] = (((x >> 3) + (y >> 3) + cls) % 4) * 60 + ((k * 7 + x) % 11);
  await sharp(px, { raw: { width: 48, height: 48, channels: 1 } })
    .jpeg()
    .toFile(file);
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-fer-'));
  fer = path.join(tmp, 'fer2013');
  for (const [split, counts] of [
    ['train', TRAIN],
    ['test', TEST],
  ] as const) {
    for (const [i, [cls, n]] of Object.entries(counts).entries()) {
      fs.mkdirSync(path.join(fer, split, cls), { recursive: true });
      for (let k = 0; k < n; k++) await face(path.join(fer, split, cls, `${split}_${k}.jpg`), i, k);
    }
  }
  await initBackend();
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test(
  'fer-small-cnn: disgust left out, a snapshot every epoch, the ensemble evaluated, recorded and its gallery read back',
  { timeout: 300_000 },
  async () => {
    const r: RunResult = await runExperiment({
      experiment: 'fer-small-cnn',
      scale: 'quick',
      data: fer,
      epochs: 3,
      outDir: path.join(tmp, 'runs'),
      quiet: true,
    });
    assert.deepEqual(r.classes, ['angry', 'fear', 'happy', 'neutral', 'sad', 'surprise']);
    assert.equal(r.evaluation.labels.length, Object.values(TEST).reduce((a, b) => a + b, 0) - TEST.disgust);
    const e = r.metrics.ensemble!;
    // quick: a snapshot every epoch, the last 5 kept; 3 epochs give 3.
    assert.deepEqual([e.members, e.memberAt, e.unit, e.memberAccuracies.length], [3, [1, 2, 3], 'epoch', 3]);
    assert.ok(e.testAccuracy >= 0 && e.testAccuracy <= 1);
    const saved = JSON.parse(fs.readFileSync(path.join(r.runDir, 'metrics.json'), 'utf8')) as RunMetrics;
    assert.deepEqual(saved.ensemble, JSON.parse(JSON.stringify(e)));
    const csv = fs.readFileSync(path.join(r.runDir, 'ensemble-confusion.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'true\\predicted,angry,fear,happy,neutral,sad,surprise');
    assert.equal(
      csv
        .slice(1)
        .map((l) => l.split(',').slice(1).map(Number))
        .flat()
        .reduce((a, b) => a + b, 0),
      r.evaluation.labels.length,
    );
    assert.match(
      fs.readFileSync(path.join(r.runDir, 'report.html'), 'utf8'),
      /snapshot ensemble \(3 members; published 9\)/,
    );
    assert.match(
      fs.readFileSync(path.join(r.runDir, 'run.log'), 'utf8'),
      /snapshot ensemble of 3 \(at epoch 1, 2, 3\)/,
    );

    const wrong = r.evaluation.labels.filter((t, i) => r.evaluation.predictions[i] !== t).length;
    const gallery = await misclassifiedImages(r, { limit: 4 });
    assert.equal(gallery.length, Math.min(4, wrong));
    for (const g of gallery) {
      assert.deepEqual([g.height, g.width, g.rgb.length], [48, 48, 48 * 48 * 3]);
      const [truth, predicted] = g.label.split(' → ');
      assert.ok(r.classes.includes(truth) && r.classes.includes(predicted) && truth !== predicted, g.label);
    }
    // Every misclassified image, in the test split's order, labelled as the evaluation predicted it.
    const all = await misclassifiedImages(r, { limit: 100 });
    assert.deepEqual(
      all.map((g) => g.label),
      r.evaluation.labels.flatMap((t, i) =>
        r.evaluation.predictions[i] !== t ? [`${r.classes[t]} → ${r.classes[r.evaluation.predictions[i]]}`] : [],
      ),
    );
  },
);

test(
  'fer-lr majority: nothing trained, the most frequent training class predicted, a normal run folder',
  { timeout: 120_000 },
  async () => {
    const r = await runExperiment({
      experiment: 'fer-lr',
      trial: 'majority',
      scale: 'full',
      data: fer,
      outDir: path.join(tmp, 'runs'),
      quiet: true,
    });
    assert.equal(r.metrics.epochsRun, 0);
    assert.deepEqual(r.history.epochs, []);
    const happy = r.classes.indexOf('happy');
    assert.ok(r.evaluation.predictions.every((p) => p === happy));
    const total = Object.values(TEST).reduce((a, b) => a + b, 0);
    assert.equal(r.metrics.testAccuracy, TEST.happy / total);
    for (const f of ['config.json', 'metrics.json', 'history.csv', 'confusion.csv', 'report.html'])
      assert.ok(fs.existsSync(path.join(r.runDir, f)), f);
    assert.match(
      fs.readFileSync(path.join(r.runDir, 'report.html'), 'utf8'),
      /No training: the model was evaluated as built/,
    );
  },
);

test(
  'fer-small-cnn restarts at quick: the epoch-counted cycles become iterations of the real training set',
  { timeout: 300_000 },
  async () => {
    const r = await runExperiment({
      experiment: 'fer-small-cnn',
      trial: 'cnn4-high-restarts-ensemble',
      scale: 'quick',
      data: fer,
      epochs: 5,
      outDir: path.join(tmp, 'runs'),
      quiet: true,
    });
    // An epoch's logged rate is the one set for the next step: 1e-3 until 3 epochs' worth of iterations have run,
    // then 3e-3 after each epoch, as each cycle ends with its epoch. Cycles timed in some other number of iterations
    // would end mid-epoch, or (one iteration long) restart after every step from iteration 3.
    assert.deepEqual(
      r.history.logs.lr.map((v) => Number(v.toPrecision(6))),
      [1e-3, 1e-3, 3e-3, 3e-3, 3e-3],
    );
  },
);

test("classCounts counts a split per class, zeros included; experimentLabel names the study's experiments by number", async () => {
  const cfg = resolveTrial('fer-lr', 'majority', 'full', 27);
  const data = await resolveData(cfg, { data: fer }, makeRunLog(true));
  const counts = classCounts(data.train, data.classes.length);
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    data.counts.train,
  );
  assert.equal(counts[data.classes.indexOf('happy')], Math.max(...counts));
  assert.deepEqual(classCounts({ ...data.train, indices: [] }, 4), [0, 0, 0, 0]);
  assert.equal(experimentLabel(getExperiment('face-mask')), 'experiment 5 (face-mask)');
  assert.equal(experimentLabel(getExperiment('fer-lr'), true), 'Experiment fer-lr');
});

test('ensembleGain: recall per class of the last network and of the ensemble, the gain in the hover', () => {
  const f = ensembleGain(
    [
      { name: 'a', recall: 0.5 },
      { name: 'b', recall: 0.8 },
    ],
    [
      { name: 'b', recall: 0.7 },
      { name: 'a', recall: 0.75 },
    ],
  );
  const [single, ens] = f.data as { x: string[]; y: number[]; customdata?: number[] }[];
  assert.deepEqual(
    [single.x, single.y, ens.y],
    [
      ['a', 'b'],
      [0.5, 0.8],
      [0.75, 0.7],
    ],
  );
  assert.deepEqual(
    ens.customdata!.map((v) => Number(v.toFixed(6))),
    [0.25, -0.1],
  );
  assert.throws(() => ensembleGain([{ name: 'c', recall: 1 }], [{ name: 'a', recall: 1 }]), /no class "c"/);
});

test(
  'a FER2013 CSV is data like its folders: Training rows train, PublicTest test, PrivateTest left out, sorted classes',
  { timeout: 120_000 },
  async () => {
    const csv = path.join(tmp, 'fer2013.csv');
    await foldersToFer2013({ input: fer, output: csv });
    // Two PrivateTest rows (copies of the last two), which a run must not train or test on.
    const lines = fs.readFileSync(csv, 'utf8').trim().split('\n');
    const extra = lines.slice(-2).map((l) => l.replace(/,PublicTest$/, ',PrivateTest'));
    fs.writeFileSync(csv, [...lines, ...extra].join('\n') + '\n');

    const cfg = resolveTrial('fer-small-cnn', 'cnn4-ensemble', 'full', 27);
    const fromCsv = await resolveData(cfg, { data: csv }, makeRunLog(true));
    const fromFolders = await resolveData(cfg, { data: fer }, makeRunLog(true));
    assert.deepEqual(fromCsv.classes, fromFolders.classes);
    assert.deepEqual(fromCsv.classes, ['angry', 'fear', 'happy', 'neutral', 'sad', 'surprise']);
    const n = fromCsv.classes.length;
    assert.deepEqual(classCounts(fromCsv.test, n), classCounts(fromFolders.test, n));
    const trainAndValidation = (d: typeof fromCsv) =>
      classCounts(d.train, n).map((c, i) => c + classCounts(d.validation, n)[i]);
    assert.deepEqual(trainAndValidation(fromCsv), trainAndValidation(fromFolders));
    assert.match(fromCsv.layout, /Training rows train, PublicTest rows test \(2 PrivateTest rows left out\)/);
    assert.equal(fromCsv.kind, 'real sample');

    // The majority baseline scores on the CSV what it scores on the folders.
    const r = await runExperiment({
      experiment: 'fer-lr',
      trial: 'majority',
      scale: 'full',
      data: csv,
      outDir: path.join(tmp, 'runs-csv'),
      quiet: true,
    });
    const total = Object.values(TEST).reduce((a, b) => a + b, 0);
    assert.equal(r.metrics.testAccuracy, TEST.happy / total);

    // A trial that groups images by file name cannot take a CSV, and says what to do instead.
    await assert.rejects(
      resolveData(resolveTrial('small-data-variance', 'happy-vs-rest', 'full', 27), { data: csv, anyClasses: true }),
      /groups images by file name.*--to-folders/,
    );
  },
);
