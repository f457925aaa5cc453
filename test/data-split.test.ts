import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { datasplit, formatSplitSummary, planSplit, roundHalfEven } from '../lib/data/datasplit';
import { readCsv, toCsv } from '../lib/data/csv';
import { Progress } from '../lib/data/progress';
import { INCOMPLETE_MARKER } from '../lib/data/outdir';
import { main } from '../lib/cli/main';
import { SKIP_SAMPLE, failingIO, hashTree, sampleData, tempDir, writeTree } from './data-fixtures';

const total = (p: ReturnType<typeof planSplit>, part: 'train' | 'test') =>
  Object.values(p).reduce((a, c) => a + c[part] + c[part === 'train' ? 'trainAug' : 'testAug'], 0);

test('roundHalfEven is Python round()', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, 3651.2, 2.6, 4.8].map(roundHalfEven), [0, 2, 2, 4, 3651, 3, 5]);
});

test('planSplit: the surprise class (4,564) gets 3,653 train and keeps 913 test at 1x, 10,956 / 2,736 at 3x', () => {
  const one = planSplit({ surprise: 4564 }, { balanceTrain: true, balanceTest: true });
  assert.deepEqual(one.surprise, { train: 3651, test: 913, trainAug: 2, testAug: 0 });
  const three = planSplit({ surprise: 4564 }, { balanceTrain: true, balanceTest: true, globalMultiplier: 3 });
  assert.equal(three.surprise.train + three.surprise.trainAug, 10956);
  assert.equal(three.surprise.test + three.surprise.testAug, 2736);
});

test('planSplit reproduces the published relabeled totals (class counts reconstructed, see comment)', () => {
  // The study publishes totals, not the relabeled per-class counts. These counts are a reconstruction consistent with
  // every published figure: 28,664 images, surprise largest at 4,564, unbalanced split 22,930 / 5,734.
  const counts = {
    anger: 2500,
    contempt: 2510,
    disgust: 3090,
    fear: 3129,
    happy: 4074,
    neutral: 4383,
    sad: 4414,
    surprise: 4564,
  };
  assert.equal(
    Object.values(counts).reduce((a, b) => a + b),
    28664,
  );
  const plain = planSplit(counts);
  assert.deepEqual([total(plain, 'train'), total(plain, 'test')], [22930, 5734]);
  const x1 = planSplit(counts, { balanceTrain: true, balanceTest: true });
  assert.deepEqual([total(x1, 'train'), total(x1, 'test')], [29217, 7297]);
  for (const [c, s] of Object.entries(x1)) {
    assert.equal(s.train + s.trainAug, c === 'surprise' ? 3653 : 3652, c);
    assert.equal(s.test + s.testAug, c === 'surprise' ? 913 : 912, c);
  }
  const x3 = planSplit(counts, { balanceTrain: true, balanceTest: true, globalMultiplier: 3 });
  assert.deepEqual([total(x3, 'train'), total(x3, 'test')], [87648, 21888]);
  for (const s of Object.values(x3)) assert.deepEqual([s.train + s.trainAug, s.test + s.testAug], [10956, 2736]);
  // The global multiplier applies only when balancing.
  assert.deepEqual(planSplit(counts, { globalMultiplier: 3 }), plain);
  const trainOnly = planSplit(counts, { balanceTrain: true, globalMultiplier: 3 });
  assert.equal(total(trainOnly, 'test'), 5734);
  assert.throws(() => planSplit(counts, { trainSplit: 0.5 }), /train split must be > 0.5/);
  assert.throws(() => planSplit(counts, { globalMultiplier: 0.5 }), /global multiplier must be >= 1/);
});

/** A small dataset in the original's layout: input/train/<class>/, classes of 6, 4 and 3 images (16x16 PNG/JPEG). */
async function makeInput(root: string): Promise<void> {
  const files: Record<string, Buffer | string> = {};
  const sizes: Record<string, number> = { cat: 6, dog: 4, eel: 3 };
  let k = 0;
  for (const [c, n] of Object.entries(sizes)) {
    for (let i = 0; i < n; i++, k++) {
      const raw = Buffer.alloc(16 * 16 * 3);
      for (let j = 0; j < raw.length; j++) raw[j] = (j * (k + 3) + k * 40) % 256;
      const img = sharp(raw, { raw: { width: 16, height: 16, channels: 3 } });
      files[`train/${c}/${c}${i}.${i % 2 ? 'jpg' : 'png'}`] = await (i % 2 ? img.jpeg() : img.png()).toBuffer();
    }
  }
  files['train/eel/notes.txt'] = 'not an image';
  writeTree(root, files);
}

const countDir = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => !f.startsWith('.')).length : 0);

test('datasplit: balanced split, byte-identical copies, CSVs, input untouched, same seed -> identical output', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const input = path.join(dir, 'in');
    await makeInput(input);
    const before = hashTree(input);
    const opts = { input, balanceTrain: true, balanceTest: true, globalMultiplier: 2, seed: 5, threads: 2 };
    const r = await datasplit({ ...opts, output: path.join(dir, 'a') });
    assert.deepEqual(hashTree(input), before, 'input untouched');
    const plan = planSplit({ cat: 6, dog: 4, eel: 3 }, opts);
    for (const c of r.classes) {
      assert.deepEqual({ train: c.train, test: c.test, trainAug: c.trainAug, testAug: c.testAug }, plan[c.className]);
      assert.equal(countDir(path.join(dir, 'a/train', c.className)), c.train + c.trainAug);
      assert.equal(countDir(path.join(dir, 'a/test', c.className)), c.test + c.testAug);
    }
    assert.equal(r.bad.length, 1);
    assert.match(formatSplitSummary(r), /cat\s+6\s+5\s+5\s+1\s+1/);
    // Originals are copied byte for byte; augmented files are PNGs of the source size.
    const a = hashTree(path.join(dir, 'a'));
    for (const [rel, h] of Object.entries(a)) {
      const m = /^(train|test)\/(\w+)\/(\w+\.(png|jpg))$/.exec(rel);
      if (m && !m[3].startsWith('aug_')) assert.equal(h, before[`train/${m[2]}/${m[3]}`], rel);
    }
    const augFile = Object.keys(a).find((f) => f.includes('aug_'))!;
    const meta = await sharp(path.join(dir, 'a', augFile)).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 16, 16]);
    // CSV rows name exactly the files written.
    const csv = await readCsv(path.join(dir, 'a/train.csv'));
    assert.deepEqual(csv.columns, ['label', 'filename']);
    assert.deepEqual(
      csv.rows.map(([l, f]) => `train/${l}/${f}`).sort(),
      Object.keys(a)
        .filter((f) => f.startsWith('train/'))
        .sort(),
    );
    assert.ok(!fs.existsSync(path.join(dir, 'a', INCOMPLETE_MARKER)));

    // Same seed: identical bytes; another seed: a different split or augmentation.
    await datasplit({ ...opts, output: path.join(dir, 'b'), threads: 1 });
    assert.deepEqual(hashTree(path.join(dir, 'b')), a);
    await datasplit({ ...opts, output: path.join(dir, 'c'), seed: 6 });
    assert.notDeepEqual(hashTree(path.join(dir, 'c')), a);

    await assert.rejects(datasplit({ ...opts, output: path.join(dir, 'a') }), /output folder .*a is not empty/);
    await assert.rejects(
      datasplit({ ...opts, output: path.join(input, 'train', 'x') }),
      /output .*x is inside the input .*; nothing is written into an input/,
    );
  } finally {
    cleanup();
  }
});

test('datasplit: a write failure stops with a clear message, input untouched, output marked incomplete; a rerun resumes to the same bytes', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const input = path.join(dir, 'in');
    await makeInput(input);
    const before = hashTree(input);
    const opts = { input, balanceTrain: true, seed: 1, threads: 2 };
    await datasplit({ ...opts, output: path.join(dir, 'clean') });
    const failing = failingIO('writeFile', 3, 'ENOSPC: no space left on device, write');
    const out = path.join(dir, 'out');
    await assert.rejects(datasplit({ ...opts, output: out, io: failing }), (e: Error) => {
      assert.match(e.message, /writing .*aug_\d+_.*\.png failed: ENOSPC: no space left on device/);
      assert.match(e.message, /is incomplete .*rerun the same command to resume/);
      return true;
    });
    assert.deepEqual(hashTree(input), before);
    assert.ok(fs.existsSync(path.join(out, INCOMPLETE_MARKER)));
    assert.ok(!fs.existsSync(path.join(out, 'train.csv')), 'no CSV for an incomplete run');
    // A different command on the incomplete folder is refused; the same one resumes.
    await assert.rejects(
      datasplit({ ...opts, seed: 2, output: out }),
      /incomplete datasplit run with other options: seed: stored "\d+", now "2"\. Rerun it with the options it started with/,
    );
    const r = await datasplit({ ...opts, output: out });
    assert.equal(r.resumed, true);
    assert.deepEqual(hashTree(out), hashTree(path.join(dir, 'clean')));
  } finally {
    cleanup();
  }
});

test('datasplit --in-place moves only test files into <input>/test, as the original did', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await makeInput(dir);
    const r = await datasplit({ input: dir, inPlace: true, seed: 3 });
    for (const c of r.classes) {
      assert.equal(countDir(path.join(dir, 'train', c.className)), c.train + (c.className === 'eel' ? 1 : 0)); // eel keeps notes.txt
      assert.equal(countDir(path.join(dir, 'test', c.className)), c.test);
    }
    assert.ok(fs.existsSync(path.join(dir, 'train.csv')) && fs.existsSync(path.join(dir, 'test.csv')));
    await assert.rejects(datasplit({ input: dir, inPlace: true, seed: 3 }), /already exists; it would be overwritten/);
  } finally {
    cleanup();
  }
});

test('datasplit --in-place interrupted by a write failure resumes from its stored plan', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await makeInput(dir);
    const opts = { input: dir, inPlace: true, balanceTrain: true, seed: 3, threads: 1 };
    await assert.rejects(
      datasplit({ ...opts, io: failingIO('writeFile', 1, 'ENOSPC: no space left on device') }),
      /ENOSPC.*incomplete/,
    );
    assert.ok(fs.existsSync(path.join(dir, INCOMPLETE_MARKER)));
    const r = await datasplit(opts);
    assert.equal(r.resumed, true);
    for (const c of r.classes) {
      assert.equal(
        countDir(path.join(dir, 'train', c.className)),
        c.train + c.trainAug + (c.className === 'eel' ? 1 : 0),
      );
      assert.equal(countDir(path.join(dir, 'test', c.className)), c.test);
    }
    assert.ok(!fs.existsSync(path.join(dir, INCOMPLETE_MARKER)));
  } finally {
    cleanup();
  }
});

test("affect data split: the original's documented flags work as aliases", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const input = path.join(dir, 'in');
    await makeInput(input);
    const out = path.join(dir, 'out');
    const code = await main(['data', 'split', input, '--output', out, '--balance', '--label-col', 'y', '--seed', '4']);
    assert.equal(code, 0);
    const csv = await readCsv(path.join(out, 'test.csv'));
    assert.deepEqual(csv.columns, ['y', 'filename']);
    // --balance balances test too: every class reaches the largest class's test size.
    for (const c of ['cat', 'dog', 'eel']) assert.equal(countDir(path.join(out, 'test', c)), 1);
    assert.equal(await main(['data', 'split', input]), 2);
  } finally {
    cleanup();
  }
});

test('toCsv quotes what danfojs does not; readCsv reads it back with line numbers', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rows = [
      ['a', 'x,1.png'],
      ['b', 'say "hi".png'],
      ['007', 'two\nlines.png'],
    ];
    const text = toCsv(['label', 'filename'], rows);
    assert.equal(text, 'label,filename\na,"x,1.png"\nb,"say ""hi"".png"\n007,"two\nlines.png"\n');
    fs.writeFileSync(path.join(dir, 't.csv'), text + '\nz,last.png\n');
    const back = await readCsv(path.join(dir, 't.csv'));
    assert.deepEqual(back.rows, [...rows, ['z', 'last.png']]);
    assert.deepEqual(back.lines, [2, 3, 4, 7]);
    assert.equal(toCsv(['label', 'filename'], []), 'label,filename\n');
    assert.throws(() => toCsv(['a', 'a'], []), /distinct/);
  } finally {
    cleanup();
  }
});

test('Progress: a plain line when not a terminal, with count, rate and ETA', () => {
  const out: string[] = [];
  const stream = { isTTY: false, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream;
  const p = new Progress('datasplit', 10, { stream, everySeconds: 0 });
  p.tick(4);
  p.finish();
  assert.match(out[0], /^datasplit 4\/10 \(40%\) [\d.]+\/s ETA [\d?]/);
  assert.match(out.at(-1)!, /^datasplit 4\/10 \(40%\).*\n$/);
});

test(
  'datasplit on real CK+48 images (grayscale 48x48), balanced train',
  { skip: sampleData() ? false : SKIP_SAMPLE },
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = path.join(sampleData()!, 'ck-plus-48');
      const r = await datasplit({ input, output: path.join(dir, 'out'), balanceTrain: true, seed: 27 });
      const largestTrain = Math.ceil(Math.max(...r.classes.map((c) => c.source)) * 0.8);
      for (const c of r.classes) {
        assert.ok(c.train + c.trainAug >= largestTrain, c.className);
        assert.equal(countDir(path.join(dir, 'out/train', c.className)), c.train + c.trainAug);
      }
      const aug = fs.readdirSync(path.join(dir, 'out/train/contempt')).find((f) => f.startsWith('aug_'))!;
      const meta = await sharp(path.join(dir, 'out/train/contempt', aug)).metadata();
      assert.deepEqual([meta.width, meta.height, meta.channels], [48, 48, 3]);
    } finally {
      cleanup();
    }
  },
);
