import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  compareRuns,
  confusionCsv,
  createRunDir,
  datasetFingerprint,
  formatComparison,
  formatRunsTable,
  historyCsv,
  listRuns,
  makeRunLog,
  packageVersions,
  runTimestamp,
  writeJsonAtomic,
} from '../lib/runner';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'affect-run-record-'));

test('createRunDir makes runs/<experiment>/<trial>/<timestamp>, never reusing a folder', () => {
  const out = tmp();
  try {
    const date = new Date('2026-11-25T12:07:05.123Z');
    assert.equal(runTimestamp(date), '2026-11-25T12-07-05Z');
    const a = createRunDir(out, 'face-mask', 'resnet18-vgg', date);
    const b = createRunDir(out, 'face-mask', 'resnet18-vgg', date);
    assert.equal(a, path.join(out, 'face-mask', 'resnet18-vgg', '2026-11-25T12-07-05Z'));
    assert.equal(b, a + '-2');
    assert.ok(fs.statSync(b).isDirectory());
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('datasetFingerprint depends on paths and sizes, not on their order', () => {
  const f = [
    { relPath: 'a/1.png', size: 10 },
    { relPath: 'b/2.png', size: 20 },
  ];
  assert.equal(datasetFingerprint(f), datasetFingerprint([...f].reverse()));
  assert.notEqual(datasetFingerprint(f), datasetFingerprint([{ relPath: 'a/1.png', size: 11 }, f[1]]));
  assert.match(datasetFingerprint(f), /^[0-9a-f]{64}$/);
});

test('history and confusion CSVs', () => {
  const csv = historyCsv({ epochs: [0, 1], logs: { loss: [1.5, 1.25], val_loss: [2, 1.75] } });
  assert.equal(csv, 'epoch,loss,val_loss\n1,1.5,2\n2,1.25,1.75\n');
  assert.equal(
    confusionCsv(
      [
        [3, 1],
        [0, 4],
      ],
      ['WithMask', 'Without,Mask'],
    ),
    'true\\predicted,WithMask,"Without,Mask"\nWithMask,3,1\n"Without,Mask",0,4\n',
  );
});

test('packageVersions names node, tfjs and sharp', () => {
  const v = packageVersions();
  assert.equal(v.node, process.versions.node);
  assert.match(v['@tensorflow/tfjs'], /^4\.22\./);
  assert.match(v.sharp, /^0\.34\./);
});

test('makeRunLog keeps lines logged before the file is attached', () => {
  const dir = tmp();
  try {
    const log = makeRunLog(true);
    log('first');
    log.attach(path.join(dir, 'run.log'));
    log('second');
    assert.equal(fs.readFileSync(path.join(dir, 'run.log'), 'utf8'), 'first\nsecond\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('listRuns and compareRuns read run folders back', () => {
  const out = tmp();
  try {
    const a = createRunDir(out, 'face-mask', 'resnet18-vgg', new Date('2026-01-01T00:00:00Z'));
    const b = createRunDir(out, 'face-mask', 'resnet18-vgg', new Date('2026-01-02T00:00:00Z'));
    const config = (lr: number, created: string) => ({
      created,
      run: { experiment: 'face-mask', trial: 'resnet18-vgg', scale: 'quick', optimizer: { kind: 'adam', lr } },
      data: { kind: 'synthetic' },
    });
    writeJsonAtomic(path.join(a, 'config.json'), config(0.001, '2026-01-01T00:00:00.000Z'));
    writeJsonAtomic(path.join(b, 'config.json'), config(0.01, '2026-01-02T00:00:00.000Z'));
    writeJsonAtomic(path.join(a, 'metrics.json'), { testAccuracy: 0.75, epochsRun: 3 });
    const runs = listRuns(out);
    assert.deepEqual(
      runs.map((r) => [r.dir, r.testAccuracy, r.complete, r.dataKind]),
      [
        [a, 0.75, true, 'synthetic'],
        [b, undefined, false, 'synthetic'],
      ],
    );
    const table = formatRunsTable(runs, out);
    assert.match(table, /^experiment\s+trial\s+scale\s+date\s+data\s+test acc\s+folder/);
    assert.match(table, /face-mask\s+resnet18-vgg\s+quick\s+2026-01-01 00:00:00Z\s+synthetic\s+0\.7500/);
    assert.match(table, /incomplete/);
    const c = compareRuns(a, b);
    assert.deepEqual(c.config, [{ key: 'run.optimizer.lr', a: '0.001', b: '0.01' }]);
    assert.deepEqual(
      c.metrics.find((m) => m.key === 'testAccuracy'),
      { key: 'testAccuracy', a: '0.75', b: undefined },
    );
    assert.match(formatComparison(c), /run\.optimizer\.lr\s+0\.001\s+0\.01/);
    assert.throws(() => compareRuns(a, path.join(out, 'nope')), /config\.json is missing or not JSON/);
    assert.throws(() => listRuns(path.join(out, 'nope')), /does not exist/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
