import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AFFECT_CLASSES, ensureSyntheticSet, isSynthetic, synthesizeFaces } from '../lib/data/synth';
import { datasplit } from '../lib/data/datasplit';
import { decodeImage } from '../lib/data/image';
import { findSplits, scanImageFolder } from '../lib/data/scan';
import { hashTree, tempDir } from './data-fixtures';

test('synth affect: Kaggle layout, 8 classes, SYNTHETIC.txt, 96x96 RGB, deterministic per seed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = path.join(dir, 'a');
    const r = await synthesizeFaces({ task: 'affect', out: a, perClass: 3, seed: 1 });
    assert.equal(r.files, 24);
    const scan = await scanImageFolder(a);
    assert.deepEqual(scan.classes, [...AFFECT_CLASSES]);
    assert.ok(Object.values(scan.counts).every((n) => n === 3));
    assert.equal(scan.bad.length, 0);
    assert.ok(isSynthetic(a) && isSynthetic(path.join(a, 'happy')));
    assert.ok(!isSynthetic(dir));
    assert.match(fs.readFileSync(path.join(a, 'SYNTHETIC.txt'), 'utf8'), /SYNTHETIC DATA/);
    const px = await decodeImage(scan.entries[0].path, { size: 96 });
    assert.equal(px.length, 96 * 96 * 3);

    await synthesizeFaces({ task: 'affect', out: path.join(dir, 'b'), perClass: 3, seed: 1 });
    assert.deepEqual(hashTree(path.join(dir, 'b')), hashTree(a));
    await synthesizeFaces({ task: 'affect', out: path.join(dir, 'c'), perClass: 3, seed: 2 });
    const c = hashTree(path.join(dir, 'c'));
    assert.notEqual(c['happy/happy_00000.png'], hashTree(a)['happy/happy_00000.png']);
    await assert.rejects(synthesizeFaces({ task: 'affect', out: a, perClass: 3 }), /not empty/);
    // A split of a synthetic set says it is synthetic too.
    await datasplit({ input: a, output: path.join(dir, 'split'), seed: 1 });
    assert.ok(isSynthetic(path.join(dir, 'split', 'train')));
    await assert.rejects(
      synthesizeFaces({ task: 'affect', out: path.join(dir, 'd'), perClass: 0 }),
      /positive integer/,
    );
  } finally {
    cleanup();
  }
});

test('synth classes differ on average (the mean happy face is not the mean sad face)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await synthesizeFaces({ task: 'affect', out: dir + '/s', perClass: 6, seed: 3, size: 48 });
    // Mouth region, face-centred: happy's upturned open mouth and sad's downturned closed one.
    const meanMouth = async (c: string) => {
      let sum = 0;
      for (const f of fs.readdirSync(path.join(dir, 's', c))) {
        const px = await decodeImage(path.join(dir, 's', c, f), { size: 48 });
        for (let y = 30; y < 40; y++) for (let x = 18; x < 30; x++) sum += px[(y * 48 + x) * 3];
      }
      return sum;
    };
    assert.notEqual(await meanMouth('happy'), await meanMouth('sad'));
  } finally {
    cleanup();
  }
});

test('synth mask: Train/Validation/Test x WithMask/WithoutMask in Face Mask 12K proportions', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const r = await synthesizeFaces({ task: 'mask', out: dir + '/m', perClass: 25, seed: 1, size: 32 });
    assert.deepEqual(r.counts, {
      'Train/WithMask': 25,
      'Train/WithoutMask': 25,
      'Validation/WithMask': 2,
      'Validation/WithoutMask': 2,
      'Test/WithMask': 2,
      'Test/WithoutMask': 2,
    });
    const splits = findSplits(dir + '/m');
    assert.deepEqual(Object.keys(splits), ['Train', 'Validation', 'Test']);
    const train = await scanImageFolder(splits.Train);
    assert.deepEqual(train.classes, ['WithMask', 'WithoutMask']);
    assert.ok(isSynthetic(splits.Test));
  } finally {
    cleanup();
  }
});

test('ensureSyntheticSet generates into the cache once and reuses it', async () => {
  const { dir, cleanup } = tempDir();
  const old = process.env.AFFECT_CACHE;
  process.env.AFFECT_CACHE = dir;
  try {
    const a = await ensureSyntheticSet('affect', { perClass: 2, seed: 4, size: 24 });
    assert.ok(a.startsWith(path.join(dir, 'synthetic')));
    const f = path.join(a, 'anger', 'anger_00000.png');
    const mtime = fs.statSync(f).mtimeMs;
    assert.equal(await ensureSyntheticSet('affect', { perClass: 2, seed: 4, size: 24 }), a);
    assert.equal(fs.statSync(f).mtimeMs, mtime, 'not regenerated');
    assert.notEqual(await ensureSyntheticSet('affect', { perClass: 2, seed: 5, size: 24 }), a);
  } finally {
    if (old === undefined) delete process.env.AFFECT_CACHE;
    else process.env.AFFECT_CACHE = old;
    cleanup();
  }
});
