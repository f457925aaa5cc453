import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { formatRelabelSummary, relabel, simulateOriginal } from '../lib/data/relabel';
import { INCOMPLETE_MARKER } from '../lib/data/outdir';
import { main } from '../lib/cli/main';
import { failingIO, hashTree, tempDir, writeTree } from './data-fixtures';

/** The Kaggle layout: train/<class>/ plus labels.csv. `anger/a.jpg` and `happy/a.jpg` share a name and both become happy. */
async function makeInput(root: string, csv?: string): Promise<void> {
  const png = (v: number) =>
    sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: v, b: v } } })
      .png()
      .toBuffer();
  writeTree(root, {
    'train/anger/a.jpg': await png(10),
    'train/anger/b.jpg': await png(20),
    'train/happy/a.jpg': await png(30),
    'train/sad/c.jpg': await png(40),
    'train/sad/d.jpg': await png(50),
    'labels.csv':
      csv ??
      ',pth,label,relFCs\n0,anger/a.jpg,happy,0.9\n1,anger/b.jpg,anger,0.8\n2,happy/a.jpg,happy,0.7\n3,sad/c.jpg,sad,0.6\n',
  });
}

test('relabel keeps every image: same-named files with the same new label are renamed, and the legacy loss is reported', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const input = path.join(dir, 'in');
    await makeInput(input);
    const before = hashTree(input);
    const r = await relabel({ input, output: path.join(dir, 'out') });
    assert.deepEqual(hashTree(input), before, 'input untouched');
    assert.equal(r.copied, 4);
    assert.deepEqual(r.counts, { happy: 2, anger: 1, sad: 1 });
    assert.equal(r.legacyLost, 1);
    assert.deepEqual(r.renamed.map((c) => c.to).sort(), ['train/happy/anger__a.jpg', 'train/happy/happy__a.jpg']);
    assert.deepEqual(r.unlisted, ['sad/d.jpg']);
    const out = hashTree(path.join(dir, 'out'));
    assert.deepEqual(Object.keys(out).sort(), [
      'train/anger/b.jpg',
      'train/happy/anger__a.jpg',
      'train/happy/happy__a.jpg',
      'train/sad/c.jpg',
    ]);
    assert.equal(out['train/happy/anger__a.jpg'], before['train/anger/a.jpg']);
    assert.equal(out['train/happy/happy__a.jpg'], before['train/happy/a.jpg']);
    assert.match(
      formatRelabelSummary(r, true),
      /original relabel\.py loses 1 of the input's 5 images to file-name collisions \(keeps 4\)/,
    );
  } finally {
    cleanup();
  }
});

/**
 * Every kind of collision the original relabel.py meets, each image with its own bytes. The original copies the input,
 * then per row (in file order) whose label differs from the folder copies `train/<pth>` into `train/<label>/`,
 * overwriting, and deletes `train/<pth>`:
 * - x: anger/x and sad/x both go to happy: the later row's (sad/x) bytes stay; anger/x is lost.
 * - y: anger/y goes to sad, where sad/y stays: the moved one wins; sad/y is lost.
 * - z: anger/z goes to happy before happy/z goes to fear: happy/z is overwritten first (lost), and its row then moves
 *   anger/z's bytes to fear/z. Counting same-named images per new label misses this loss.
 * - w: the same with the rows the other way round: happy/w leaves first, nothing is lost.
 * - v moves without a collision, u stays, t is not listed (the original keeps it where it is).
 */
const LEGACY_ROWS = [
  ['sad/y.png', 'sad'],
  ['anger/x.png', 'happy'],
  ['sad/x.png', 'happy'],
  ['anger/y.png', 'sad'],
  ['anger/z.png', 'happy'],
  ['happy/z.png', 'fear'],
  ['happy/w.png', 'fear'],
  ['anger/w.png', 'happy'],
  ['sad/v.png', 'anger'],
  ['anger/u.png', 'anger'],
];
const LEGACY_IMAGES = [
  'anger/x.png',
  'sad/x.png',
  'anger/y.png',
  'sad/y.png',
  'anger/z.png',
  'happy/z.png',
  'happy/w.png',
  'anger/w.png',
  'sad/v.png',
  'anger/u.png',
  'fear/t.png',
];

async function makeCollisionInput(root: string): Promise<void> {
  const tree: Record<string, Buffer | string> = {};
  for (const [i, p] of LEGACY_IMAGES.entries()) {
    tree[`train/${p}`] = await sharp({
      create: { width: 8, height: 8, channels: 3, background: { r: 20 * i, g: 7, b: 200 - 10 * i } },
    })
      .png()
      .toBuffer();
  }
  tree['labels.csv'] = ',pth,label,relFCs\n' + LEGACY_ROWS.map(([p, l], i) => `${i},${p},${l},0.5`).join('\n') + '\n';
  writeTree(root, tree);
}

test('relabel --legacy leaves exactly what the original relabel.py leaves; the default keeps every listed image', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const input = path.join(dir, 'in');
    await makeCollisionInput(input);
    const src = hashTree(path.join(input, 'train'));

    const legacy = await relabel({ input, output: path.join(dir, 'legacy'), legacy: true });
    // Output file -> the input image whose bytes it holds.
    const expected: Record<string, string> = {
      'happy/x.png': 'sad/x.png',
      'sad/y.png': 'anger/y.png',
      'fear/z.png': 'anger/z.png',
      'fear/w.png': 'happy/w.png',
      'happy/w.png': 'anger/w.png',
      'anger/v.png': 'sad/v.png',
      'anger/u.png': 'anger/u.png',
      'fear/t.png': 'fear/t.png',
    };
    const out = hashTree(path.join(dir, 'legacy'));
    assert.deepEqual(out, Object.fromEntries(Object.entries(expected).map(([to, from]) => [`train/${to}`, src[from]])));
    assert.deepEqual([legacy.copied, legacy.legacyLost, legacy.inputImages], [8, 3, 11]);
    assert.deepEqual(legacy.counts, { anger: 2, fear: 3, happy: 2, sad: 1 });
    assert.deepEqual(legacy.renamed, []);
    assert.deepEqual(legacy.unlisted, ['fear/t.png']);
    assert.match(
      formatRelabelSummary(legacy),
      /8 images copied as the original relabel\.py leaves them[^]*fear\/t\.png[^]*loses 3 of the input's 11 images to file-name collisions \(keeps 8\)/,
    );

    const lossless = await relabel({ input, output: path.join(dir, 'default') });
    const kept = hashTree(path.join(dir, 'default'));
    assert.equal(lossless.copied, LEGACY_ROWS.length);
    assert.deepEqual(Object.values(kept).sort(), LEGACY_ROWS.map(([p]) => src[p]).sort(), 'every listed image, once');
    assert.equal(lossless.legacyLost, 3);
    assert.deepEqual(lossless.counts, { anger: 2, fear: 2, happy: 4, sad: 2 });
  } finally {
    cleanup();
  }
});

test('simulateOriginal: a row whose image is already gone stops, as the original did', () => {
  assert.deepEqual(
    [...simulateOriginal(['a/1.png', 'b/1.png'], [{ pth: 'a/1.png', label: 'b' }])],
    [['b/1.png', 'a/1.png']],
  );
  assert.throws(
    () =>
      simulateOriginal(
        ['a/1.png'],
        [
          { pth: 'a/1.png', label: 'b' },
          { pth: 'a/1.png', label: 'c' },
        ],
      ),
    /a\/1\.png is gone when its row is reached; the original relabel\.py stops here with FileNotFoundError/,
  );
});

test('relabel errors name the labels file and line', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cases: [string, RegExp][] = [
      [',path,label\n0,anger/a.jpg,happy\n', /labels\.csv: line 1: no "pth" column \(columns: "", "path", "label"\)/],
      [
        ',pth,label\n0,anger/a.jpg,happy\n1,anger/b.jpg,joy\n',
        /labels\.csv: line 3: unknown label "joy" for anger\/b\.jpg; labels must be class folders .*: anger, happy, sad/,
      ],
      [
        ',pth,label\n0,anger/a.jpg,happy\n\n1,anger/zz.jpg,sad\n',
        /labels\.csv: line 4: image .*anger\/zz\.jpg does not exist/,
      ],
      [
        ',pth,label\n0,anger/a.jpg,happy\n1,anger/a.jpg,sad\n',
        /line 3: anger\/a\.jpg is labelled "sad" here and "happy" on line 2/,
      ],
    ];
    for (const [i, [csv, re]] of cases.entries()) {
      const input = path.join(dir, `in${i}`);
      await makeInput(input, csv);
      await assert.rejects(
        relabel({ input, output: path.join(dir, `out${i}`) }),
        (e: Error) => re.test(e.message) && e.message.includes(path.join(input, 'labels.csv')),
      );
    }
    const input = path.join(dir, 'in2');
    const r = await relabel({ input, output: path.join(dir, 'skip'), onMissing: 'skip' });
    assert.deepEqual(r.missing, [{ line: 4, pth: 'anger/zz.jpg' }]);
    await assert.rejects(
      relabel({ input, output: path.join(dir, 'x'), labels: 'nope.csv' }),
      /nope\.csv cannot be read: ENOENT/,
    );
    await assert.rejects(
      relabel({ input, output: path.join(input, 'train', 'new') }),
      /output .*new is inside the input .*; nothing is written into an input/,
    );
  } finally {
    cleanup();
  }
});

test('relabel: a failed write leaves the output marked incomplete; the same command resumes', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const input = path.join(dir, 'in');
    await makeInput(input);
    const out = path.join(dir, 'out');
    const failing = failingIO('copyFile', 2, 'EIO: i/o error, copyfile');
    await assert.rejects(relabel({ input, output: out, io: failing }), /relabel: writing .* failed: EIO.*incomplete/);
    assert.ok(fs.existsSync(path.join(out, INCOMPLETE_MARKER)));
    const r = await relabel({ input, output: out });
    assert.equal(r.resumed, true);
    assert.equal(Object.keys(hashTree(out)).length, 4);
    assert.ok(!fs.existsSync(path.join(out, INCOMPLETE_MARKER)));
  } finally {
    cleanup();
  }
});

test("affect data relabel --output-path --label-csv --legacy-report, and --legacy --labels-csv (the original script's real flag)", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const input = path.join(dir, 'in');
    await makeInput(input);
    fs.renameSync(path.join(input, 'labels.csv'), path.join(input, 'better.csv'));
    const logs: string[] = [];
    const log = console.log;
    console.log = (s: string) => logs.push(s);
    let code: number;
    try {
      code = await main([
        'data',
        'relabel',
        input,
        '--output-path',
        path.join(dir, 'out'),
        '--label-csv',
        'better.csv',
        '--legacy-report',
      ]);
      assert.equal(
        await main(['data', 'relabel', input, path.join(dir, 'legacy'), '--labels-csv', 'better.csv', '--legacy']),
        0,
      );
    } finally {
      console.log = log;
    }
    assert.equal(code, 0);
    assert.match(logs.join('\n'), /loses 1 of the input's 5 images/);
    assert.deepEqual(Object.keys(hashTree(path.join(dir, 'legacy'))).sort(), [
      'train/anger/b.jpg',
      'train/happy/a.jpg',
      'train/sad/c.jpg',
      'train/sad/d.jpg',
    ]);
  } finally {
    cleanup();
  }
});
