/**
 * The off-the-shelf baseline: face-api's expression net with dataset classes mapped by name, evaluated like a run and
 * recorded so that `affect runs list` shows it. The real-image checks need AFFECT_SAMPLE_DATA.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../lib/backend';
import { ConfigError } from '../lib/errors';
import { folderSource, scanImageFolder } from '../lib/data';
import * as affect from '../lib';
import { getTrial } from '../lib/experiments';
import {
  baselineResultRow,
  evaluateExpressionBaseline,
  faceApiApplies,
  mapToFaceApi,
  recordExpressionBaseline,
  summarizeBaseline,
} from '../lib/predict';
import { baselineTestSet, listRuns } from '../lib/runner';
import { SKIP_SAMPLE, sampleData, tempDir } from './data-fixtures';

const sample = sampleData();

test('dataset classes map to face-api expressions by meaning; sets it cannot classify are refused', () => {
  assert.deepEqual(mapToFaceApi(['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']), [
    'angry',
    'disgusted',
    'fearful',
    'happy',
    'neutral',
    'sad',
    'surprised',
  ]);
  assert.deepEqual(mapToFaceApi(['anger', 'contempt', 'Happiness', 'sadness']), ['angry', undefined, 'happy', 'sad']);
  assert.throws(
    () => mapToFaceApi(['WithMask', 'WithoutMask']),
    (e: Error) => e instanceof ConfigError && /does not apply to the classes WithMask, WithoutMask/.test(e.message),
  );
  assert.throws(() => mapToFaceApi(['sad', 'sadness', 'happy']), /cannot tell apart the classes sad and sadness/);
  assert.equal(faceApiApplies(['anger', 'contempt', 'happy']), true);
  assert.equal(faceApiApplies(['WithMask', 'WithoutMask']), false);
  assert.equal(faceApiApplies(['happy', 'other']), false, 'one known class is no classification');
  const row = baselineResultRow({ accuracy: 0.5, mapping: { anger: 'angry', contempt: null } }, 'real sample');
  assert.equal(row.run, 0.5);
  assert.match(row.note!, /it has no contempt: those images count as errors/);
});

test(
  'on real CK+ faces: evaluated like a run, unmapped classes count as errors, recorded for `affect runs list`',
  { skip: sample ? false : SKIP_SAMPLE },
  async () => {
    await initBackend('wasm');
    const tmp = tempDir('affect-baseline-');
    try {
      // A small dataset in the Kaggle layout: Test/<class>/, 8 CK+ faces per class.
      for (const c of ['contempt', 'happy', 'surprise']) {
        const from = path.join(sample!, 'ck-plus-48', c);
        fs.mkdirSync(path.join(tmp.dir, 'data', 'Test', c), { recursive: true });
        for (const f of fs.readdirSync(from).sort().slice(0, 8))
          fs.copyFileSync(path.join(from, f), path.join(tmp.dir, 'data', 'Test', c, f));
      }
      const scan = await scanImageFolder(path.join(tmp.dir, 'data', 'Test'));
      const ev = await evaluateExpressionBaseline(
        folderSource(scan),
        scan.entries.map((_, i) => i),
      );
      assert.deepEqual(ev.mapping, { contempt: null, happy: 'happy', surprise: 'surprised' });
      assert.deepEqual(
        ev.confusion.map((row) => row[0]),
        [0, 0, 0],
        'contempt is never predicted',
      );
      // Happy and surprise are the net's easiest classes: nearly all right on CK+.
      assert.ok(ev.confusion[1][1] + ev.confusion[2][2] >= 14, JSON.stringify(ev.confusion));
      assert.equal(ev.accuracy, (ev.confusion[1][1] + ev.confusion[2][2]) / 24);

      const cli = spawnSync(
        process.execPath,
        [
          path.join(__dirname, '..', 'lib', 'cli', 'main.js'),
          'baseline',
          'face-api',
          path.join(tmp.dir, 'data'),
          '--out',
          path.join(tmp.dir, 'runs'),
          '--backend',
          'wasm',
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      assert.equal(cli.status, 0, cli.stderr);
      assert.match(cli.stdout, /test accuracy \(face-api baseline\): 0\.\d{4}/);
      const [rec] = listRuns(path.join(tmp.dir, 'runs'));
      assert.deepEqual(
        [rec.experiment, rec.trial, rec.dataKind, rec.complete],
        ['baseline', 'face-api-baseline', 'real sample', true],
      );
      assert.equal(rec.testAccuracy, ev.accuracy);
      for (const f of ['confusion.csv', 'report.html']) assert.ok(fs.existsSync(path.join(rec.dir, f)), f);

      // The library call the command makes, here with a run to compare with: the record names it, the report shows it
      // beside the baseline and the study's published figure for its trial.
      const test = await baselineTestSet(path.join(tmp.dir, 'data'));
      assert.deepEqual(
        [test.indices.length, test.kind, test.root],
        [24, 'real sample', path.join(tmp.dir, 'data', 'Test')],
      );
      const run = {
        dir: path.join(tmp.dir, 'a-run'),
        experiment: 'baseline',
        trial: 'resnet18-original',
        scale: 'quick',
        testAccuracy: 0.5,
      };
      const r = await recordExpressionBaseline({ ...test, run }, { out: path.join(tmp.dir, 'lib-runs') });
      assert.equal(r.evaluation.accuracy, ev.accuracy);
      assert.equal(r.published, getTrial('baseline', 'resnet18-original').trial.published.testAccuracy);
      assert.equal(path.dirname(r.dir), path.join(tmp.dir, 'lib-runs', 'baseline', 'face-api-baseline'));
      const config = JSON.parse(fs.readFileSync(path.join(r.dir, 'config.json'), 'utf8')) as {
        baseline: { comparedWith: string; mapping: unknown };
      };
      assert.equal(config.baseline.comparedWith, run.dir);
      assert.deepEqual(config.baseline.mapping, ev.mapping);
      assert.match(fs.readFileSync(path.join(r.dir, 'report.html'), 'utf8'), /run resnet18-original \(quick\)/);
      assert.deepEqual(summarizeBaseline(ev), { testAccuracy: ev.accuracy, mapping: ev.mapping, images: 24 });
    } finally {
      tmp.cleanup();
    }
  },
);

test("the package's public API exports the predict functions", () => {
  for (const f of [
    'loadPredictor',
    'predictFiles',
    'gradCam',
    'exportWeb',
    'evaluateExpressionBaseline',
    'recordExpressionBaseline',
  ] as const) {
    assert.equal(typeof affect.predict[f], 'function', f);
  }
});
