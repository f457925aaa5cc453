/** Reproduction records: copied run records, figures from the records and the registry, best with best and last with last. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getTrial } from '../lib/experiments';
import {
  generatedBlock,
  listReproductions,
  parseConfusionCsv,
  replaceGeneratedBlock,
  reproductionTable,
  writeReproduction,
} from '../lib/runner/reproduction';
import { repoRoot } from '../lib/paths';
import { parseHistoryCsv, readHistoryCsv } from '../lib/runner/read';
import { browserUnavailable } from '../lib/viz';

/** A finished face-mask run folder: 4 epochs, best epoch 2, with figures unlike the study's. */
function fakeRun(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-repro-run-'));
  const config = {
    created: new Date(Date.now() - 3 * 3600e3).toISOString(),
    run: {
      experiment: 'face-mask',
      trial: 'resnet18-vgg',
      scale: 'full',
      description: 'ResNet-18 + VGG top',
      epochs: 100,
      batchSize: 64,
      imageSize: 96,
    },
    backend: { name: 'cpu', threads: 1, simd: false },
    seed: 27,
    classes: ['WithMask', 'WithoutMask'],
    data: {
      kind: 'full Kaggle set',
      root: '/data/face-mask-12k',
      counts: { train: 10023, validation: 800, test: 992 },
    },
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  fs.writeFileSync(
    path.join(dir, 'history.csv'),
    'epoch,acc,loss,lr,val_acc,val_loss\n0,0.9,0.3,0.00001,0.95,0.2\n1,0.97,0.11,0.00001,0.98,0.05\n2,0.99,0.04,0.00001,0.975,0.07\n3,0.995,0.02,0.00001,0.97,0.09\n',
  );
  fs.writeFileSync(
    path.join(dir, 'confusion.csv'),
    'true\\predicted,WithMask,WithoutMask\nWithMask,470,13\nWithoutMask,9,500\n',
  );
  const metrics = {
    testAccuracy: 0.9778,
    testLoss: 0.061,
    epochsRun: 4,
    bestEpoch: 2,
    stopReason: 'early stopping',
    trainSeconds: 7200,
    dataKind: 'full Kaggle set',
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
  assert.deepEqual(fs.readdirSync(out).sort(), [
    'README.md',
    'config.json',
    'confusion.csv',
    'history.csv',
    'metrics.json',
  ]);
  assert.equal(
    fs.readFileSync(path.join(out, 'history.csv'), 'utf8'),
    fs.readFileSync(path.join(run, 'history.csv'), 'utf8'),
  );
  const readme = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
  const p = getTrial('face-mask').trial.published;
  assert.ok(
    readme.includes(
      `| test accuracy | 0.9778 | ${p.testAccuracy!.toFixed(4)} | ${(0.9778 - p.testAccuracy!).toFixed(4)} |`,
    ),
    readme,
  );
  // best epoch 2 of the run (val loss 0.05) beside the study's best-epoch val loss; last epoch 4 (0.09) beside its last.
  assert.match(
    readme,
    new RegExp(`\\| best epoch \\(2 / ${p.bestEpoch}\\): val loss \\| 0\\.0500 \\| ${p.best!.valLoss!.toFixed(4)} \\|`),
  );
  assert.match(
    readme,
    new RegExp(`\\| last epoch \\(4 / ${p.epochsRun}\\): val loss \\| 0\\.0900 \\| ${p.valLoss!.toFixed(4)} \\|`),
  );
  // Confusion cells pair the run's and the study's counts by class name.
  const c = p.confusionClasses!.indexOf('WithoutMask');
  assert.ok(readme.includes(`| WithoutMask | 9 / ${p.confusion![c][1 - c]} | 500 / ${p.confusion![c][c]} |`), readme);
  assert.ok(readme.includes('Train images were resized to 96x96 JPEG.'));
  assert.match(readme, /Wall time from start to finish 3 h 0 min; training 2 h 0 min of it/);
  fs.writeFileSync(path.join(run, 'run.log'), 'affect run face-mask\naffect run face-mask (resumed)\n');
  await writeReproduction(run, out, { svg: false });
  assert.match(
    fs.readFileSync(path.join(out, 'README.md'), 'utf8'),
    /including 1 stop\(s\) and resume\(s\); the last process trained for 2 h 0 min/,
  );
});

test('writeReproduction refuses an unfinished run and an output inside the run folder; parsers reject bad files', async () => {
  const run = fakeRun();
  await assert.rejects(
    writeReproduction(run, path.join(run, 'record'), { svg: false }),
    /must not be inside the run folder/,
  );
  fs.rmSync(path.join(run, 'metrics.json'));
  await assert.rejects(
    writeReproduction(run, fs.mkdtempSync(path.join(os.tmpdir(), 'affect-repro-')), { svg: false }),
    /has not finished \(no metrics\.json\); resume it first/,
  );
  assert.throws(
    () => parseHistoryCsv('epoch,loss\n0,1,2\n', 'h.csv'),
    /^Error: h\.csv: line 2 has 3 cells, the header 2$/,
  );
  assert.throws(() => parseHistoryCsv('step,loss\n0,1\n', 'h.csv'), /first column must be "epoch"/);
  assert.throws(() => parseConfusionCsv('x,a,b\na,1,2\n', 'c.csv'), /expected a 2x2 matrix/);
  assert.deepEqual(parseHistoryCsv('epoch,loss,val_loss\n0,0.5,\n').logs.val_loss.map(Number.isNaN), [true]);
  // A run folder's file: none yet is no epochs, a header alone (a run in its first epoch) too, a bad one names itself.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-history-'));
  const file = path.join(dir, 'history.csv');
  assert.deepEqual(readHistoryCsv(file), { epochs: [], logs: {} });
  fs.writeFileSync(file, 'epoch,loss\n');
  assert.deepEqual(readHistoryCsv(file), { epochs: [], logs: { loss: [] } });
  fs.writeFileSync(file, 'epoch,loss\n0,0.7\n1,0.5\n');
  assert.deepEqual(readHistoryCsv(file), { epochs: [0, 1], logs: { loss: [0.7, 0.5] } });
  // A last row cut short is left out (its run writes it again when resumed); one inside the file is an error.
  fs.writeFileSync(file, 'epoch,loss\r\n0,0.7\r\n1\n');
  assert.deepEqual(readHistoryCsv(file), { epochs: [0], logs: { loss: [0.7] } });
  fs.writeFileSync(file, 'epoch,loss\n0\n1,0.5\n');
  assert.throws(() => readHistoryCsv(file), new RegExp(`${file.replace(/[.]/g, '\\.')}: line 2 has 1 cells`));
  fs.rmSync(dir, { recursive: true });
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

test('writeReproduction: a snapshot-ensemble run gets its ensemble row, member accuracies and per-class gain; a 0-epoch baseline only its test figures', async () => {
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-repro-fer-'));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-repro-fer-out-'));
  try {
    const run = (name: string, trial: string, history: string, metrics: object, ensembleCsv?: string) => {
      const dir = path.join(src, name);
      fs.mkdirSync(dir);
      const config = {
        run: { experiment: name, trial, scale: 'full', description: trial, epochs: 2, batchSize: 64, imageSize: 48 },
        backend: { name: 'cpu', threads: 1, simd: false },
        seed: 27,
        classes: ['angry', 'happy'],
        data: { kind: 'full Kaggle set', root: '/data/fer2013', counts: { train: 10, validation: 2, test: 4 } },
      };
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
      fs.writeFileSync(path.join(dir, 'history.csv'), history);
      fs.writeFileSync(path.join(dir, 'confusion.csv'), 'true\\predicted,angry,happy\nangry,1,1\nhappy,0,2\n');
      if (ensembleCsv) fs.writeFileSync(path.join(dir, 'ensemble-confusion.csv'), ensembleCsv);
      const perClass = [
        { name: 'angry', precision: 1, recall: 0.5, f1: 0.667, support: 2 },
        { name: 'happy', precision: 0.667, recall: 1, f1: 0.8, support: 2 },
      ];
      fs.writeFileSync(
        path.join(dir, 'metrics.json'),
        JSON.stringify({ testLoss: 0.9, trainSeconds: 60, dataKind: 'full Kaggle set', perClass, ...metrics }),
      );
      return dir;
    };
    const ens = run(
      'fer-small-cnn',
      'cnn4-ensemble',
      'epoch,acc,loss,val_acc,val_loss\n0,0.4,1.5,0.4,1.5\n1,0.5,1.3,0.5,1.4\n',
      {
        testAccuracy: 0.75,
        epochsRun: 2,
        ensemble: {
          testAccuracy: 0.875,
          testLoss: 0.5,
          members: 2,
          memberAt: [1000, 2000],
          unit: 'iteration',
          memberAccuracies: [0.5, 0.75],
          perClass: [
            { name: 'angry', recall: 0.75 },
            { name: 'happy', recall: 0.95 },
          ],
        },
        baseline: { testAccuracy: 0.625, images: 4 },
      },
      'true\\predicted,angry,happy\nangry,2,0\nhappy,0,2\n',
    );
    const r = await writeReproduction(ens, path.join(out, 'ens'), { svg: false });
    assert.ok(r.files.includes('ensemble-confusion.csv'));
    const md = fs.readFileSync(path.join(out, 'ens', 'README.md'), 'utf8');
    const published = getTrial('fer-small-cnn', 'cnn4-ensemble').trial.published;
    assert.ok(
      md.includes(
        `| test accuracy, snapshot ensemble (2 / ${published.ensemble!.members} members) | 0.8750 | ${published.ensemble!.testAccuracy.toFixed(4)} |`,
      ),
      md,
    );
    assert.match(md, /Each member alone: 0\.5000, 0\.7500/);
    assert.match(
      md,
      /\| test accuracy, face-api expression net \(off the shelf, same test images\) \| 0\.6250 \| - \|/,
    );
    assert.match(reproductionTable([ens], src).split('\n')[2], /\| 0\.8750 \/ 0\.6370 \| 0\.6250 \| 2 \|/);
    assert.match(md, /\| angry \| 0\.5000 \| 0\.7500 \| \+0\.2500 \|/);
    assert.match(md, /no EarlyStopping: the test figures are the last epoch's/);
    assert.ok(md.includes(published.source!), 'cites the project');

    const maj = run('fer-lr', 'majority', 'epoch\n', { testAccuracy: 0.5, epochsRun: 0 });
    const m = await writeReproduction(maj, path.join(out, 'maj'));
    assert.ok(!m.files.some((f) => f.endsWith('.svg')), 'no curves without epochs');
    const mmd = fs.readFileSync(path.join(out, 'maj', 'README.md'), 'utf8');
    assert.match(mmd, /Nothing trained \(0 epochs\)/);
    assert.ok(!/best epoch/.test(mmd), mmd);
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("README's reproductions table is the one generated from the committed records (affect runs table --readme README.md)", () => {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const records = listReproductions(path.join(repoRoot, 'reproductions'));
  assert.ok(records.length >= 1);
  assert.equal(generatedBlock(readme, 'reproductions'), reproductionTable(records, repoRoot));
});

test('reproductionTable: one row per record with run and published figures; generated blocks are replaced between their markers only', () => {
  const dir = fakeRun();
  try {
    const table = reproductionTable([dir], path.dirname(dir));
    const published = getTrial('face-mask').trial.published.testAccuracy!;
    assert.ok(
      table
        .split('\n')[2]
        .startsWith(
          `| 5 face-mask / resnet18-vgg | full Kaggle set, face-mask-12k (train 10023, test 992) | 0.9778 / ${published.toFixed(4)} |`,
        ),
      table,
    );
    assert.ok(table.includes(`(${path.basename(dir)}/README.md)`));
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-repro-list-'));
    fs.cpSync(dir, path.join(parent, 'study', 'face-mask'), { recursive: true });
    fs.mkdirSync(path.join(parent, 'empty'));
    assert.deepEqual(listReproductions(parent), [path.join(parent, 'study', 'face-mask')]);
    fs.rmSync(parent, { recursive: true, force: true });
    assert.throws(() => listReproductions(path.join(parent, 'gone')), /does not exist/);
    const text = 'intro\n<!-- t:start (generated by affect runs table; do not edit) -->\nold\n<!-- t:end -->\noutro\n';
    const out = replaceGeneratedBlock(text, 't', 'new');
    assert.equal(generatedBlock(out, 't'), 'new');
    assert.ok(out.startsWith('intro\n') && out.endsWith('<!-- t:end -->\noutro\n'));
    assert.throws(() => replaceGeneratedBlock('no markers', 't', 'x', 'R.md'), /R\.md has no generated block "t"/);
    assert.equal(generatedBlock('none', 't'), undefined);
    // Another command's block keeps its own start line; the error names the command that writes it.
    const bench = '<!-- b:start (generated by npm run bench; do not edit) -->\nold\n<!-- b:end -->';
    assert.equal(replaceGeneratedBlock(bench, 'b', 'new', 'R.md', 'npm run bench'), bench.replace('old', 'new'));
    assert.throws(() => replaceGeneratedBlock('x', 'b', 'y', 'R.md', 'npm run bench'), /generated by npm run bench;/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('affect runs table: prints the table, rewrites a README block, and an unreadable --readme is a usage error naming it', async () => {
  const { main } = await import('../lib/cli/main');
  const records = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-runs-table-'));
  const dir = fakeRun();
  try {
    fs.cpSync(dir, path.join(records, 'face-mask'), { recursive: true });
    const readme = path.join(records, 'README.md');
    fs.writeFileSync(
      readme,
      '# R\n<!-- reproductions:start (generated by affect runs table; do not edit) -->\n<!-- reproductions:end -->\n',
    );
    assert.equal(await main(['runs', 'table', '--records', records, '--readme', readme]), 0);
    assert.equal(
      generatedBlock(fs.readFileSync(readme, 'utf8'), 'reproductions'),
      reproductionTable([path.join(records, 'face-mask')], records),
    );
    const errors: string[] = [];
    const original = console.error;
    console.error = (...a: unknown[]) => errors.push(a.join(' '));
    try {
      assert.equal(
        await main(['runs', 'table', '--records', records, '--readme', path.join(records, 'missing.md')]),
        2,
      );
    } finally {
      console.error = original;
    }
    assert.match(errors.join('\n'), /--readme .*missing\.md: cannot read it \(ENOENT\)/);
  } finally {
    fs.rmSync(records, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
