/**
 * The notebook helpers (lib/notebook/experiment.ts) on a real smoke run: runTrial from parameters-cell values, the
 * figures showRun shows are the ones report.html draws, a run folder read back draws the same, the summary line, and a
 * trial over several seeds with its spread.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../lib/backend';
import { synthesizeFaces } from '../lib/data/synth';
import { dataUsed, runPartFigures, runSeeds, runSweep, runTrial, seedFigures, summarizeRun } from '../lib/notebook';
import { readRun, type RunResult } from '../lib/runner';
import { isTableFigure } from '../lib/viz';

let tmp: string;
let mask: string;
let run: RunResult;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-nb-helpers-'));
  mask = path.join(tmp, 'mask');
  await synthesizeFaces({ task: 'mask', out: mask, perClass: 4, seed: 1, size: 32 });
  await initBackend();
  // Parameters-cell values: 'auto' backend, the default trial (''), two epochs so that curves have a shape.
  run = await runTrial('face-mask', {
    trial: '',
    dataDir: mask,
    scale: 'smoke',
    seed: 27,
    backend: 'auto',
    epochs: 2,
    outDir: path.join(tmp, 'runs'),
    quiet: true,
  });
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const count = (s: string, sub: string) => s.split(sub).length - 1;

test(
  'runTrial: parameters-cell values map to a run (default trial, scale, seed, epochs); bad values are named',
  { timeout: 300_000 },
  async () => {
    assert.deepEqual(
      [run.config.experiment, run.config.trial, run.config.scale, run.config.seed, run.history.epochs.length],
      ['face-mask', 'resnet18-vgg', 'smoke', 27, 2],
    );
    assert.ok(run.runDir.startsWith(path.join(tmp, 'runs')));
    await assert.rejects(
      runTrial('face-mask', { dataDir: mask, scale: 'huge', quiet: true }),
      /scale must be one of smoke, quick, full; got "huge"/,
    );
  },
);

test('showRun shows what report.html draws: the same plots and tables, and the page stays under 4 MB', () => {
  const all = runPartFigures(run);
  const parts = ['curves', 'learning-rate', 'confusion', 'study'] as const;
  assert.deepEqual(
    parts.flatMap((p) => runPartFigures(run, p)),
    all,
  );
  assert.equal(runPartFigures(run, 'curves').length, 2);
  assert.equal(runPartFigures(run, 'confusion').length, 2, "this run's matrix and the study's");
  const page = fs.readFileSync(path.join(run.runDir, 'report.html'), 'utf8');
  assert.equal(count(page, 'class="affect-plot"'), all.filter((f) => !isTableFigure(f)).length);
  assert.equal(count(page, 'class="affect-table"'), all.filter(isTableFigure).length);
  for (const f of all) {
    const title = (f.layout.title as { text: string }).text;
    assert.ok(page.includes(title), `report.html lacks "${title}"`);
  }
  assert.ok(
    Buffer.byteLength(page) <= 4 * 2 ** 20,
    `report.html weighs ${(Buffer.byteLength(page) / 2 ** 20).toFixed(2)} MB`,
  );
  assert.throws(
    () => runPartFigures(run, 'nope' as never),
    /unknown part "nope"; accepted: all, curves, learning-rate, confusion, study/,
  );
  const untrained = { ...run, history: { epochs: [], logs: {} } };
  assert.deepEqual(runPartFigures(untrained, 'curves'), []);
});

test('readRun: a run folder read back draws the same figures as the run itself', async () => {
  const stored = await readRun(run.runDir);
  assert.deepEqual(runPartFigures(stored), runPartFigures(run));
  assert.equal(
    stored.backend,
    run.config &&
      (JSON.parse(fs.readFileSync(path.join(run.runDir, 'config.json'), 'utf8')) as { backend: { name: string } })
        .backend.name,
  );
  await assert.rejects(readRun(tmp), /config\.json cannot be read \(ENOENT\)/);
  const unfinished = path.join(tmp, 'unfinished');
  fs.mkdirSync(unfinished);
  fs.copyFileSync(path.join(run.runDir, 'config.json'), path.join(unfinished, 'config.json'));
  await assert.rejects(readRun(unfinished), /the run has not finished \(no metrics\.json\)/);
});

test('summarizeRun and dataUsed say what a run means', () => {
  const text = summarizeRun(run);
  assert.match(
    text,
    /^resnet18-vgg at the smoke scale: test accuracy \d\.\d{4} \(study 0\.\d+; chance 0\.5000\); last epoch loss/,
  );
  assert.ok(text.includes(`data used: ${dataUsed(run)}`));
  assert.ok(text.includes(`run folder: ${run.runDir}`));
  assert.equal(
    dataUsed({ metrics: { dataKind: 'synthetic' } }),
    "SYNTHETIC DATA (generated drawings, not the study's images)",
  );
});

test(
  'runSweep: parameters-cell values become a sweep in the run store; running it again reads it back',
  { timeout: 300_000 },
  async () => {
    const params = {
      dataDir: mask,
      scale: 'smoke',
      backend: 'auto',
      epochs: 1,
      outDir: path.join(tmp, 'store'),
      quiet: true,
    };
    const first = await runSweep('face-mask', ' resnet18-vgg, ', params);
    assert.deepEqual(
      first.trials.map((t) => [t.trial, t.state, t.history.epochs.length]),
      [['resnet18-vgg', 'completed', 1]],
    );
    assert.ok(first.report.startsWith(path.join(tmp, 'store', 'sweeps')));
    const again = await runSweep('face-mask', ['resnet18-vgg'], params);
    assert.equal(again.sweep.id, first.sweep.id);
    assert.deepEqual(again.trials[0].history, first.trials[0].history);
    await assert.rejects(runSweep('face-mask', ' , '), /no trials given/);
  },
);

test(
  'runSeeds: one trial over consecutive seeds, its spread, and the figures of the spread and the worst and best seed',
  { timeout: 300_000 },
  async () => {
    const affect = path.join(tmp, 'affect');
    await synthesizeFaces({ task: 'affect', out: affect, perClass: 6, seed: 1, size: 32 });
    const params = {
      dataDir: affect,
      scale: 'smoke',
      seed: 3,
      seeds: 2,
      epochs: 2,
      outDir: path.join(tmp, 'seeds'),
      quiet: true,
    };
    // small-data-variance splits CK+ by subject; the synthetic images have none, so they are split image by image.
    const r = await runSeeds('small-data-variance', params);
    assert.deepEqual(
      r.seeds.map((s) => [s.seed, s.epochsRun, s.failure]),
      [
        [3, 2, undefined],
        [4, 2, undefined],
      ],
    );
    assert.equal(r.test.n, 2);
    const accs = r.seeds.map((s) => s.testAccuracy!);
    assert.equal(r.test.min, Math.min(...accs));
    assert.equal(r.test.max, Math.max(...accs));
    const [spread, curves] = await seedFigures(r);
    const points = (spread.data as { y?: number[] }[]).find((t) => t.y?.length === 2);
    assert.ok(points, 'the spread figure plots one point per seed');
    const panels = Object.keys(curves.layout).filter((k) => /^xaxis\d*$/.test(k));
    assert.equal(panels.length, 2, 'the worst and the best seed side by side');
    // Running it again reads the finished seeds back.
    const again = await runSeeds('small-data-variance', params);
    assert.deepEqual(
      again.seeds.map((s) => s.testAccuracy),
      accs,
    );
    await assert.rejects(runSeeds('small-data-variance', { ...params, seeds: 0 }), /invalid seeds: 0/);
  },
);
