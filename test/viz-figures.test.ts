import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import {
  accuracyCurves,
  bestEpochOf,
  classDistribution,
  confusionHeatmap,
  encodePngRgb,
  learningRate,
  lossCurves,
  resultsTable,
  sampleGrid,
  sweepCurves,
  type History,
} from '../lib/viz';

const history: History = {
  epochs: [0, 1, 2, 3],
  logs: {
    loss: [2, 1.5, 1.2, 1.0],
    val_loss: [2.1, 1.4, 1.6, 1.7],
    acc: [0.2, 0.4, 0.5, 0.6],
    val_acc: [0.2, 0.35, 0.3, 0.3],
    lr: [0.1, 0.1, 0.01, 0.01],
  },
};

test('classDistribution: one set gives one bar trace over sorted classes', () => {
  const f = classDistribution({ sad: 4, happy: 10 });
  assert.equal(f.data.length, 1);
  assert.deepEqual(f.data[0].x, ['happy', 'sad']);
  assert.deepEqual(f.data[0].y, [10, 4]);
});

test('classDistribution: per split gives grouped bars, missing classes count 0', () => {
  const f = classDistribution({ train: { a: 3, b: 5 }, test: { a: 1 } });
  assert.deepEqual(
    f.data.map((d) => d.name),
    ['train', 'test'],
  );
  assert.deepEqual(f.data[1].y, [1, 0]);
  assert.equal(f.layout.barmode, 'group');
  assert.throws(() => classDistribution({}), /empty/);
  assert.throws(() => classDistribution({ a: 1, b: { c: 2 } } as never), /not a mix/);
});

test('encodePngRgb: sharp decodes the exact pixels back', async () => {
  const h = 3,
    w = 5;
  const rgb = new Uint8Array(h * w * 3).map((_, i) => (i * 37) % 256);
  const { data, info } = await sharp(encodePngRgb(rgb, h, w))
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.height, info.width, info.channels], [h, w, 3]);
  assert.deepEqual(new Uint8Array(data), rgb);
  assert.throws(() => encodePngRgb(rgb, 4, 5), /expected 4x5x3 = 60 bytes, got 45/);
});

test('sampleGrid: one image trace per image on its own axes, labels as annotations', () => {
  const img = (label: string) => ({ rgb: new Uint8Array(2 * 2 * 3).fill(200), height: 2, width: 2, label });
  const f = sampleGrid([img('happy'), img('sad'), img('fear')], { columns: 2 });
  assert.equal(f.data.length, 3);
  assert.deepEqual(
    f.data.map((d) => [d.type, d.xaxis, d.yaxis]),
    [
      ['image', 'x', 'y'],
      ['image', 'x2', 'y2'],
      ['image', 'x3', 'y3'],
    ],
  );
  assert.match(String(f.data[0].source), /^data:image\/png;base64,/);
  assert.deepEqual(f.layout.grid, {
    rows: 2,
    columns: 2,
    pattern: 'independent',
    xgap: 0.05,
    ygap: 0.25,
  });
  assert.deepEqual(
    (f.layout.annotations as { text: string }[]).map((a) => a.text),
    ['happy', 'sad', 'fear'],
  );
  assert.throws(() => sampleGrid([]), /no images/);
});

test('bestEpochOf: bestEpoch when given, else the lowest val_loss, else undefined', () => {
  assert.equal(bestEpochOf(history), 1);
  assert.equal(bestEpochOf({ ...history, bestEpoch: 3 }), 3);
  assert.equal(bestEpochOf({ epochs: [0], logs: { loss: [1] } }), undefined);
});

test('lossCurves / accuracyCurves: train and validation, 1-based epochs, best epoch line and note', () => {
  const f = lossCurves(history);
  assert.deepEqual(
    f.data.map((d) => d.name),
    ['train loss', 'validation loss'],
  );
  assert.deepEqual(f.data[0].x, [1, 2, 3, 4]);
  assert.deepEqual(f.data[1].y, history.logs.val_loss);
  const shapes = f.layout.shapes as { x0: number }[];
  assert.equal(shapes[0].x0, 2); // 0-based epoch 1 -> shown as epoch 2
  assert.equal((f.layout.annotations as { text: string }[])[0].text, 'best epoch 2');
  const a = accuracyCurves({ ...history, bestEpoch: 0 });
  assert.deepEqual(a.data[1].y, history.logs.val_acc);
  assert.equal((a.layout.annotations as { text: string }[])[0].text, 'best epoch 1');
  assert.equal(lossCurves({ epochs: [0], logs: { loss: [1] } }).layout.shapes, undefined);
  assert.throws(() => accuracyCurves({ epochs: [0], logs: { loss: [1] } }), /no "acc" log; it has: loss/);
  assert.throws(() => lossCurves({ epochs: [0, 1], logs: { loss: [1] } }), /1 values for 2 epochs/);
});

test('learningRate: log axis, step shape', () => {
  const f = learningRate(history);
  assert.deepEqual(f.data[0].y, [0.1, 0.1, 0.01, 0.01]);
  assert.equal((f.layout.yaxis as { type: string }).type, 'log');
});

test('confusionHeatmap: counts as annotations, first class on top, shape checked', () => {
  const f = confusionHeatmap(
    [
      [499, 10],
      [11, 472],
    ],
    ['WithoutMask', 'WithMask'],
  );
  assert.deepEqual(f.data[0].z, [
    [499, 10],
    [11, 472],
  ]);
  const notes = f.layout.annotations as { x: string; y: string; text: string }[];
  assert.deepEqual(
    notes.map((n) => [n.y, n.x, n.text]),
    [
      ['WithoutMask', 'WithoutMask', '499'],
      ['WithoutMask', 'WithMask', '10'],
      ['WithMask', 'WithoutMask', '11'],
      ['WithMask', 'WithMask', '472'],
    ],
  );
  assert.equal((f.layout.yaxis as { autorange: string }).autorange, 'reversed');
  assert.throws(() => confusionHeatmap([[1, 2]], ['a', 'b']), /2x2 for 2 classes, got 1x2/);
});

test('sweepCurves: one subplot per trial, legend once, per-trial best epoch', () => {
  const f = sweepCurves({ 'lr 1e-4': history, 'lr 1e-6': { ...history, bestEpoch: 3 } });
  assert.equal(f.data.length, 4);
  assert.deepEqual(
    f.data.map((d) => [d.xaxis, d.showlegend]),
    [
      ['x', true],
      ['x', true],
      ['x2', false],
      ['x2', false],
    ],
  );
  assert.deepEqual(
    (f.layout.annotations as { text: string }[]).map((a) => a.text),
    ['lr 1e-4', 'lr 1e-6'],
  );
  assert.deepEqual(
    (f.layout.shapes as { x0: number }[]).map((s) => s.x0),
    [2, 4],
  );
  assert.throws(() => sweepCurves({}), /no histories/);
  assert.throws(() => sweepCurves({ a: history }, { metric: 'auc' }), /no history has a "auc" log/);
});

test('resultsTable: this run, the study, the difference and the data used', () => {
  const f = resultsTable([
    { name: 'ResNet-18', run: 0.5, study: 0.5658, data: 'synthetic' },
    { name: 'ResNet-34', study: 0.6247, data: 'full Kaggle set', note: 'not run' },
    { name: 'epochs run', run: 12, study: 19, data: 'synthetic' },
  ]);
  const cells = (f.data[0].cells as { values: string[][] }).values;
  assert.deepEqual(cells, [
    ['ResNet-18', 'ResNet-34', 'epochs run'],
    ['0.5000', '-', '12'],
    ['0.5658', '0.6247', '19'],
    ['-0.0658', '-', '-7'],
    ['synthetic', 'full Kaggle set', 'synthetic'],
    ['', 'not run', ''],
  ]);
  assert.match((f.data[0].header as { values: string[] }).values[4], /data used/);
  assert.throws(() => resultsTable([]), /no rows/);
});

test('pickSamples: up to perClass images of each class, seeded, resized, labelled by class', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { scanImageFolder } = await import('../lib/data');
  const { pickSamples } = await import('../lib/viz');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-viz-'));
  try {
    const files: [string, number][] = [
      ['happy/a.png', 10],
      ['happy/b.png', 20],
      ['happy/c.png', 30],
      ['sad/d.png', 40],
    ];
    for (const [rel, v] of files) {
      fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
      await sharp(Buffer.alloc(4 * 6 * 3, v), { raw: { width: 6, height: 4, channels: 3 } })
        .png()
        .toFile(path.join(dir, rel));
    }
    const scan = await scanImageFolder(dir);
    const picked = await pickSamples(scan, { perClass: 2, size: 8, seed: 1 });
    assert.deepEqual(
      picked.map((p) => p.label),
      ['happy', 'happy', 'sad'],
    );
    assert.ok(picked.every((p) => p.height === 8 && p.width === 8 && p.rgb.length === 8 * 8 * 3));
    assert.equal(picked[2].rgb[0], 40);
    const again = await pickSamples(scan, { perClass: 2, size: 8, seed: 1 });
    assert.deepEqual(
      again.map((p) => p.rgb[0]),
      picked.map((p) => p.rgb[0]),
    );
    const values = new Set((await pickSamples(scan, { perClass: 3, size: 8 })).slice(0, 3).map((p) => p.rgb[0]));
    assert.deepEqual([...values].sort(), [10, 20, 30]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
