/** Reproduction records: copied run records, figures from the records and the registry, best with best and last with last. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getTrial } from '../lib/experiments';
import { parseConfusionCsv, parseHistoryCsv, writeReproduction } from '../lib/runner/reproduction';
import { browserUnavailable } from '../lib/viz';

/** A finished face-mask run folder: 4 epochs, best epoch 2, with figures unlike the study's. */
function fakeRun(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-repro-run-'));
  const config = {
    created: new Date(Date.now() - 3 * 3600e3).toISOString(),
    run: { experiment: 'face-mask', trial: 'resnet18-vgg', scale: 'full', description: 'ResNet-18 + VGG top', epochs: 100, batchSize: 64, imageSize: 96 },
    backend: { name: 'cpu', threads: 1, simd: false },
    seed: 27,
    classes: ['WithMask', 'WithoutMask'],
    data: { kind: 'full Kaggle set', root: '/data/face-mask-12k', counts: { train: 10023, validation: 800, test: 992 } },
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  fs.writeFileSync(
    path.join(dir, 'history.csv'),
    'epoch,acc,loss,lr,val_acc,val_loss\n0,0.9,0.3,0.00001,0.95,0.2\n1,0.97,0.11,0.00001,0.98,0.05\n2,0.99,0.04,0.00001,0.975,0.07\n3,0.995,0.02,0.00001,0.97,0.09\n',
  );
  fs.writeFileSync(path.join(dir, 'confusion.csv'), 'true\\predicted,WithMask,WithoutMask\nWithMask,470,13\nWithoutMask,9,500\n');
  const metrics = {
    testAccuracy: 0.9778, testLoss: 0.061, epochsRun: 4, bestEpoch: 2, stopReason: 'early stopping', trainSeconds: 7200, dataKind: 'full Kaggle set',
    perClass: [
      { name: 'WithMask', precision: 0.9812, recall: 0.9731, f1: 0.977, support: 483 },
      { name: 'WithoutMask', precision: 0.9747, recall: 0.9823, f1: 0.978, support: 509 },
    ],
  };
  fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(metrics));
  fs.mkdirSync(path.join(dir, 'model'));
  fs.writeFileSync(path.join(dir, 'model', 'weights.bin'), 'weights');
  return dir;
}

test('writeReproduction: records copied, no weights, README compares best with best and last with last from the registry', async () => {
  const run = fakeRun();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-repro-out-'));
  const r = await writeReproduction(run, out, { notes: 'Train images were resized to 96x96 JPEG.', svg: false });
  assert.deepEqual(r.files, ['config.json', 'history.csv', 'metrics.json', 'confusion.csv', 'README.md']);
  assert.deepEqual(fs.readdirSync(out).sort(), ['README.md', 'config.json', 'confusion.csv', 'history.csv', 'metrics.json']);
  assert.equal(fs.readFileSync(path.join(out, 'history.csv'), 'utf8'), fs.readFileSync(path.join(run, 'history.csv'), 'utf8'));
  const readme = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
  const p = getTrial('face-mask').trial.published;
  assert.ok(readme.includes(`| test accuracy | 0.9778 | ${p.testAccuracy!.toFixed(4)} | ${(0.9778 - p.testAccuracy!).toFixed(4)} |`), readme);
  // best epoch 2 of the run (val loss 0.05) beside the study's best-epoch val loss; last epoch 4 (0.09) beside its last.
  assert.match(readme, new RegExp(`\\| best epoch \\(2 / ${p.bestEpoch}\\): val loss \\| 0\\.0500 \\| ${p.best!.valLoss!.toFixed(4)} \\|`));
  assert.match(readme, new RegExp(`\\| last epoch \\(4 / ${p.epochsRun}\\): val loss \\| 0\\.0900 \\| ${p.valLoss!.toFixed(4)} \\|`));
  // Confusion cells pair the run's and the study's counts by class name.
  const c = p.confusionClasses!.indexOf('WithoutMask');
  assert.ok(readme.includes(`| WithoutMask | 9 / ${p.confusion![c][1 - c]} | 500 / ${p.confusion![c][c]} |`), readme);
  assert.ok(readme.includes('Train images were resized to 96x96 JPEG.'));
  assert.match(readme, /Wall time from start to finish 3 h 0 min; training 2 h 0 min of it/);
  fs.writeFileSync(path.join(run, 'run.log'), 'affect run face-mask\naffect run face-mask (resumed)\n');
  await writeReproduction(run, out, { svg: false });
  assert.match(fs.readFileSync(path.join(out, 'README.md'), 'utf8'), /including 1 stop\(s\) and resume\(s\); the last process trained for 2 h 0 min/);
});

test('writeReproduction refuses an unfinished run and an output inside the run folder; parsers reject bad files', async () => {
  const run = fakeRun();
  await assert.rejects(writeReproduction(run, path.join(run, 'record'), { svg: false }), /must not be inside the run folder/);
  fs.rmSync(path.join(run, 'metrics.json'));
  await assert.rejects(writeReproduction(run, fs.mkdtempSync(path.join(os.tmpdir(), 'affect-repro-')), { svg: false }), /has not finished \(no metrics\.json\); resume it first/);
  assert.throws(() => parseHistoryCsv('epoch,loss\n0,1,2\n', 'h.csv'), /^Error: h\.csv: line 2 has 3 cells, the header 2$/);
  assert.throws(() => parseHistoryCsv('step,loss\n0,1\n', 'h.csv'), /first column must be "epoch"/);
  assert.throws(() => parseConfusionCsv('x,a,b\na,1,2\n', 'c.csv'), /expected a 2x2 matrix/);
  assert.deepEqual(parseHistoryCsv('epoch,loss,val_loss\n0,0.5,\n').logs.val_loss.map(Number.isNaN), [true]);
});

test('writeReproduction draws the curves as SVG files', { skip: browserUnavailable() ?? false }, async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-repro-svg-'));
  const r = await writeReproduction(fakeRun(), out);
  assert.ok(r.files.includes('loss.svg') && r.files.includes('accuracy.svg'));
  const svg = fs.readFileSync(path.join(out, 'loss.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  // Two traces (train and validation) with one point per epoch.
  assert.ok((svg.match(/class="trace scatter/g) ?? []).length >= 2, 'no scatter traces in the SVG');
  assert.ok(svg.length < 200_000, `SVG is ${svg.length} bytes`);
  assert.match(fs.readFileSync(path.join(out, 'README.md'), 'utf8'), /!\[loss\]\(loss\.svg\)/);
});
