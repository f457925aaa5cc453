import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  detectImageFormat,
  dropClasses,
  findSplits,
  formatScanSummary,
  mapLimit,
  scanImageFolder,
} from '../lib/data/scan';
import { SKIP_SAMPLE, makeImages, sampleData, tempDir, writeTree } from './data-fixtures';

test('detectImageFormat reads the five signatures and rejects others', async () => {
  const imgs = await makeImages();
  for (const f of ['jpeg', 'png', 'webp', 'gif', 'tiff'] as const) assert.equal(detectImageFormat(imgs[f]), f);
  assert.equal(detectImageFormat(imgs.cmyk), 'jpeg');
  assert.equal(detectImageFormat(Buffer.from([0x4d, 0x4d, 0x00, 0x2a])), 'tiff'); // big-endian TIFF
  assert.equal(detectImageFormat(Buffer.from('hello, not an image')), undefined);
  assert.equal(detectImageFormat(new Uint8Array(0)), undefined);
  assert.equal(detectImageFormat(Buffer.from('RIFF\0\0\0\0WAVE')), undefined);
});

test('scanImageFolder: sorted classes, format by content, hidden files ignored, bad files reported', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const imgs = await makeImages();
    writeTree(dir, {
      'zebra/a.png': imgs.png,
      'zebra/nested/b.webp': imgs.webp,
      'Apple/really-png.jpg': imgs.png,
      'Apple/c.jpeg': imgs.jpeg,
      'Apple/.hidden.png': imgs.png,
      'Apple/empty.jpg': Buffer.alloc(0),
      'Apple/notes.jpg': 'just some text',
      'mango/d.gif': imgs.gif,
      '.cache/e.png': imgs.png,
    });
    fs.symlinkSync(path.join(dir, 'nowhere.png'), path.join(dir, 'mango/dangling.png'));
    const r = await scanImageFolder(dir);
    assert.deepEqual(r.classes, ['Apple', 'mango', 'zebra']); // code-point order, like Python's sorted()
    assert.deepEqual(r.counts, { Apple: 2, mango: 1, zebra: 2 });
    assert.deepEqual(
      r.entries.map((e) => [e.relPath, e.label, e.format]),
      [
        ['Apple/c.jpeg', 0, 'jpeg'],
        ['Apple/really-png.jpg', 0, 'png'],
        ['mango/d.gif', 1, 'gif'],
        ['zebra/a.png', 2, 'png'],
        ['zebra/nested/b.webp', 2, 'webp'],
      ],
    );
    assert.deepEqual(
      r.bad.map((b) => [path.basename(b.path), b.reason.replace(/ \(.*/, '')]),
      [
        ['empty.jpg', 'empty file'],
        ['notes.jpg', 'not an image'],
        ['dangling.png', 'a dangling symbolic link'],
      ],
    );
    const summary = formatScanSummary(r);
    assert.match(summary, /5 images in 3 classes, 3 bad file\(s\) skipped/);
    assert.match(summary, /0\s+Apple\s+2/);
    assert.match(summary, /empty\.jpg: empty file/);
    assert.match(summary, /formats: jpeg 1, png 2, gif 1, webp 1/);

    await assert.rejects(scanImageFolder(dir, { onBadImage: 'fail' }), /bad image .*empty\.jpg: empty file/);
    const chosen = await scanImageFolder(dir, { classes: ['zebra', 'mango'] });
    assert.deepEqual(
      [chosen.classes, chosen.entries.map((e) => e.label)],
      [
        ['zebra', 'mango'],
        [0, 0, 1],
      ],
    );
    await assert.rejects(scanImageFolder(dir, { classes: ['kiwi'] }), /no class folder\(s\) kiwi/);
  } finally {
    cleanup();
  }
});

test('scanImageFolder: a missing root, an empty root, an empty class folder and a root with no images are errors naming the folder', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await assert.rejects(
      scanImageFolder(path.join(dir, 'nope')),
      (e: Error) => e.message.includes(path.join(dir, 'nope')) && /does not exist/.test(e.message),
    );
    await assert.rejects(
      scanImageFolder(dir),
      (e: Error) => e.message.includes(dir) && /no class subfolders/.test(e.message),
    );
    const imgs = await makeImages();
    writeTree(dir, { 'a/x.png': imgs.png, 'b/.DS_Store': 'x' });
    await assert.rejects(
      scanImageFolder(dir),
      (e: Error) => e.message.includes(path.join(dir, 'b')) && /is empty/.test(e.message),
    );
    fs.rmSync(path.join(dir, 'a/x.png'));
    writeTree(dir, { 'a/x.png': 'text', 'b/y.jpg': Buffer.alloc(0) });
    // A folder of non-images is not a class of 0 images.
    await assert.rejects(
      scanImageFolder(dir),
      (e: Error) => e.message.includes(path.join(dir, 'a')) && /holds no readable image/.test(e.message),
    );
    await assert.rejects(
      scanImageFolder(dir, { classes: ['b'] }),
      (e: Error) => e.message.includes(path.join(dir, 'b')) && /holds no readable image/.test(e.message),
    );
  } finally {
    cleanup();
  }
});

test('dropClasses leaves out whole classes and renumbers the rest in order; an unknown class is an error naming the folder', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const imgs = await makeImages();
    writeTree(dir, {
      'angry/a.png': imgs.png,
      'disgust/b.png': imgs.png,
      'disgust/c.png': imgs.png,
      'happy/d.png': imgs.png,
      'happy/e.png': imgs.png,
    });
    const scan = await scanImageFolder(dir);
    const kept = dropClasses(scan, ['disgust']);
    assert.deepEqual(kept.classes, ['angry', 'happy']);
    assert.deepEqual(
      kept.entries.map((e) => [e.relPath, e.label, e.className]),
      [
        ['angry/a.png', 0, 'angry'],
        ['happy/d.png', 1, 'happy'],
        ['happy/e.png', 1, 'happy'],
      ],
    );
    assert.deepEqual(kept.counts, { angry: 1, happy: 2 });
    assert.equal(scan.entries.length, 5, 'the scan itself is untouched');
    assert.equal(dropClasses(scan, []), scan);
    assert.throws(
      () => dropClasses(scan, ['contempt']),
      (e: Error) =>
        e.message.includes('"contempt"') && e.message.includes(dir) && e.message.includes('angry, disgust, happy'),
    );
    assert.throws(() => dropClasses(scan, ['angry', 'disgust', 'happy']), /leaves no class/);
  } finally {
    cleanup();
  }
});

test('findSplits finds split folders case-insensitively', () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const d of ['train', 'VALIDATION', 'other']) fs.mkdirSync(path.join(dir, d));
    assert.deepEqual(findSplits(dir), { Train: path.join(dir, 'train'), Validation: path.join(dir, 'VALIDATION') });
    assert.deepEqual(findSplits(dir, ['other']), { other: path.join(dir, 'other') });
    assert.throws(() => findSplits(path.join(dir, 'missing')), /does not exist/);
  } finally {
    cleanup();
  }
});

test('mapLimit keeps order and never runs more than the limit at once', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3], 2, async (v, i) => {
    peak = Math.max(peak, ++running);
    await new Promise((r) => setTimeout(r, v));
    running--;
    return v * 10 + i;
  });
  assert.deepEqual(out, [50, 11, 42, 23, 34]);
  assert.equal(peak, 2);
});

test(
  'sample data: affectnet-48-validate has PNG files named .jpg, found by content',
  { skip: sampleData() ? false : SKIP_SAMPLE },
  async () => {
    const r = await scanImageFolder(path.join(sampleData()!, 'affectnet-48-validate'));
    assert.deepEqual(r.classes, ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']);
    assert.equal(r.entries.length, 1400);
    const pngAsJpg = r.entries.filter((e) => e.format === 'png' && /\.jpe?g$/i.test(e.path));
    assert.ok(pngAsJpg.length > 0, 'expected some .jpg files that are really PNG');
    assert.equal(r.bad.length, 0);
  },
);
