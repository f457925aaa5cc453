/** FER2013 CSV <-> folder layout: lossless round trip, resume, refusals, and the real folder (AFFECT_SAMPLE_DATA) to CSV. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { UsageError } from '../lib/cli/args';
import { dataToolsCommands } from '../lib/cli/data-tools';
import { ConfigError } from '../lib/errors';
import { FER2013_CLASSES, fer2013Rows, readFer2013 } from '../lib/data/fer2013';
import {
  encodeGrayPng,
  fer2013ImagePath,
  fer2013ToFolders,
  foldersToFer2013,
  formatFer2013Summary,
  readGray48,
} from '../lib/data/fer2013-folders';
import { INCOMPLETE_MARKER, defaultIO } from '../lib/data/outdir';
import { makeRng } from '../lib/random';
import { tempDir } from './data-fixtures';

const USAGES = ['Training', 'PublicTest', 'PrivateTest'] as const;

/** A CSV of `n` random rows in Kaggle's canonical format (no quotes), every emotion and usage present. */
function generatedCsv(file: string, n: number, opts: { usage?: boolean } = {}): string {
  const rng = makeRng('fer-csv');
  const lines = [opts.usage === false ? 'emotion,pixels' : 'emotion,pixels,Usage'];
  for (let i = 0; i < n; i++) {
    const px = Array.from({ length: 48 * 48 }, () => Math.floor(rng() * 256)).join(' ');
    lines.push(opts.usage === false ? `${i % 7},${px}` : `${i % 7},${px},${USAGES[Math.floor(i / 7) % 3]}`);
  }
  const text = lines.join('\n') + '\n';
  fs.writeFileSync(file, text);
  return text;
}

const walk = (dir: string): string[] =>
  fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)).map((f) => path.join(d.name, f)) : [d.name]));

test('fer2013Rows streams the rows with their 0-based row and line numbers; keep skips rows before parsing', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'f.csv');
    const px = Array(2304).fill(7).join(' ');
    fs.writeFileSync(file, `emotion,pixels,Usage\n3,${px},Training\n\n5,${px},PrivateTest\n1,bad,PublicTest\n`);
    const seen: [number, number, number, string][] = [];
    await assert.rejects(
      (async () => {
        for await (const r of fer2013Rows(file)) seen.push([r.row, r.line, r.emotion, r.usage]);
      })(),
      /f\.csv:5: pixel 0 has the character "b"/,
    );
    assert.deepEqual(seen, [
      [0, 2, 3, 'Training'],
      [1, 4, 5, 'PrivateTest'],
    ]);
    const kept: number[] = [];
    for await (const r of fer2013Rows(file, { keep: (_e, u) => u === 'PrivateTest' })) kept.push(r.row);
    assert.deepEqual(kept, [1]); // the bad row is never parsed: it was not kept
  } finally {
    cleanup();
  }
});

test('fer2013ImagePath: <split>/<class>/<Usage>_<row>.png, Training for a file without Usage', () => {
  assert.equal(
    fer2013ImagePath({ row: 12, emotion: 6, usage: 'PublicTest' }),
    path.join('test', 'neutral', 'PublicTest_12.png'),
  );
  assert.equal(
    fer2013ImagePath({ row: 3, emotion: 1, usage: 'PrivateTest' }),
    path.join('private-test', 'disgust', 'PrivateTest_3.png'),
  );
  assert.equal(fer2013ImagePath({ row: 0, emotion: 0, usage: '' }), path.join('train', 'angry', 'Training_0.png'));
});

test('encodeGrayPng and readGray48: a lossless one-channel 48x48 PNG; other sizes, colour and non-images are errors naming the file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const px = Uint8Array.from({ length: 2304 }, (_, i) => (i * 7) % 256);
    const png = await encodeGrayPng(px);
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 48, 48, 1]);
    fs.writeFileSync(path.join(dir, 'a.png'), png);
    assert.deepEqual(await readGray48(path.join(dir, 'a.png')), px);
    // Gray stored as RGB is fine; real colour is not.
    await sharp(Buffer.from(Array.from(px).flatMap((v) => [v, v, v])), { raw: { width: 48, height: 48, channels: 3 } })
      .png()
      .toFile(path.join(dir, 'rgb.png'));
    assert.deepEqual(await readGray48(path.join(dir, 'rgb.png')), px);
    await sharp(Buffer.alloc(48 * 48 * 3, 0).fill(200, 0, 1), { raw: { width: 48, height: 48, channels: 3 } })
      .png()
      .toFile(path.join(dir, 'colour.png'));
    await assert.rejects(
      readGray48(path.join(dir, 'colour.png')),
      /colour\.png is not grayscale \(pixel 0 is 200,0,0\)/,
    );
    await sharp(Buffer.alloc(40 * 40), { raw: { width: 40, height: 40, channels: 1 } })
      .png()
      .toFile(path.join(dir, 'small.png'));
    await assert.rejects(readGray48(path.join(dir, 'small.png')), /small\.png is 40x40; FER2013 images are 48x48/);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello');
    await assert.rejects(readGray48(path.join(dir, 'notes.txt')), /notes\.txt is not a readable image/);
  } finally {
    cleanup();
  }
});

test('CSV -> folders -> CSV gives back the same file, row for row; the folders hold lossless PNGs per split and class', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const csv = path.join(dir, 'fer2013.csv');
    const original = generatedCsv(csv, 45);
    const out = path.join(dir, 'folders');
    const r = await fer2013ToFolders({ csv, output: out });
    assert.equal(r.total, 45);
    assert.equal(r.resumed, false);
    assert.deepEqual(Object.keys(r.counts).sort(), ['private-test', 'test', 'train']);
    assert.equal(r.counts.train.angry, 3); // rows 0, 21, 42
    assert.ok(!fs.existsSync(path.join(out, INCOMPLETE_MARKER)));
    const files = walk(out).sort();
    assert.equal(files.length, 45);
    assert.ok(files.includes(path.join('train', 'angry', 'Training_0.png')));
    assert.ok(files.includes(path.join('test', 'angry', 'PublicTest_7.png')));
    assert.ok(files.includes(path.join('private-test', 'angry', 'PrivateTest_14.png')));
    assert.deepEqual(fs.readdirSync(path.join(out, 'train')).sort(), [...FER2013_CLASSES].sort());
    assert.match(
      formatFer2013Summary(r),
      /45 images; train 17 \(angry 3, disgust 3, fear 3, happy 2, sad 2, surprise 2, neutral 2\); test 14 \(/,
    );

    const back = path.join(dir, 'back.csv');
    const b = await foldersToFer2013({ input: out, output: back });
    assert.deepEqual(
      [b.total, b.counts, b.orderedByRow],
      [45, { Training: 17, PublicTest: 14, PrivateTest: 14 }, true],
    );
    assert.equal(fs.readFileSync(back, 'utf8'), original);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['back.csv', 'fer2013.csv', 'folders']); // no temp file left
    assert.match(
      formatFer2013Summary(b),
      /45 rows \(Training 17, PublicTest 14, PrivateTest 14\), in the order of the row numbers/,
    );
    // And the reader agrees with both.
    const src = await readFer2013(back, { usage: 'PublicTest' });
    assert.equal(src.size, 14);

    // A CSV without Usage goes to train/ and comes back as Training.
    const plain = path.join(dir, 'plain.csv');
    generatedCsv(plain, 8, { usage: false });
    const r2 = await fer2013ToFolders({ csv: plain, output: path.join(dir, 'plain-folders') });
    assert.deepEqual(Object.keys(r2.counts), ['train']);
    const b2 = await foldersToFer2013({
      input: path.join(dir, 'plain-folders'),
      output: path.join(dir, 'plain-back.csv'),
    });
    assert.deepEqual(b2.counts, { Training: 8 });
  } finally {
    cleanup();
  }
});

test('fer2013ToFolders: an interrupted run leaves .incomplete and resumes on rerun; refuses a non-empty output and an output holding its CSV', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const csv = path.join(dir, 'fer2013.csv');
    generatedCsv(csv, 30);
    const out = path.join(dir, 'out');
    let writes = 0;
    const failing = {
      ...defaultIO,
      writeFile: async (f: string, d: Uint8Array | string) => {
        if (++writes > 10) throw new Error('disk full');
        return defaultIO.writeFile(f, d);
      },
    };
    await assert.rejects(
      fer2013ToFolders({ csv, output: out, io: failing }),
      /disk full.*incomplete \(it holds \.incomplete\); rerun the same command to resume/,
    );
    assert.ok(fs.existsSync(path.join(out, INCOMPLETE_MARKER)));
    const partial = walk(out).filter((f) => f.endsWith('.png') && !path.basename(f).startsWith('.')).length;
    assert.ok(partial >= 1 && partial <= 10, `${partial} files after the failure`);
    const r = await fer2013ToFolders({ csv, output: out });
    assert.equal(r.resumed, true);
    assert.equal(walk(out).length, 30);
    await assert.rejects(fer2013ToFolders({ csv, output: out }), /not empty/);
    // The output may not contain the input CSV, nor may the CSV be missing.
    await assert.rejects(
      fer2013ToFolders({ csv, output: dir }),
      (e: Error) => e instanceof ConfigError && /contains the input CSV/.test(e.message),
    );
    await assert.rejects(
      fer2013ToFolders({ csv: path.join(dir, 'none.csv'), output: path.join(dir, 'x') }),
      /none\.csv does not exist/,
    );
  } finally {
    cleanup();
  }
});

test('foldersToFer2013 refuses an output inside its input, an existing output, unknown class folders; names other than <Usage>_<n> keep split/class/name order', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const input = path.join(dir, 'in');
    const px = (v: number) => Uint8Array.from({ length: 2304 }, () => v);
    fs.mkdirSync(path.join(input, 'Train', 'sad'), { recursive: true });
    fs.mkdirSync(path.join(input, 'test', 'happy'), { recursive: true });
    fs.writeFileSync(path.join(input, 'Train', 'sad', 'b.png'), await encodeGrayPng(px(2)));
    fs.writeFileSync(path.join(input, 'Train', 'sad', 'a.png'), await encodeGrayPng(px(1)));
    fs.writeFileSync(path.join(input, 'test', 'happy', 'PublicTest_5.png'), await encodeGrayPng(px(3)));
    const out = path.join(dir, 'out.csv');
    const r = await foldersToFer2013({ input, output: out });
    assert.equal(r.orderedByRow, false);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    assert.deepEqual(
      lines.map((l) => [l.split(',')[0], l.split(',')[1].slice(0, 3), l.split(',')[2]]),
      [
        ['emotion', 'pix', 'Usage'],
        ['4', '1 1', 'Training'],
        ['4', '2 2', 'Training'],
        ['3', '3 3', 'PublicTest'],
      ],
    );
    await assert.rejects(foldersToFer2013({ input, output: out }), /out\.csv exists; choose a new file name/);
    await assert.rejects(
      foldersToFer2013({ input, output: path.join(input, 'x.csv') }),
      (e: Error) => e instanceof ConfigError && /is inside the input/.test(e.message),
    );
    fs.mkdirSync(path.join(input, 'test', 'contempt'));
    await assert.rejects(
      foldersToFer2013({ input, output: path.join(dir, 'y.csv') }),
      /"contempt" is not a FER2013 class/,
    );
    assert.ok(!fs.existsSync(path.join(dir, 'y.csv')) && !fs.existsSync(path.join(dir, '.y.csv.incomplete')));
    fs.rmdirSync(path.join(input, 'test', 'contempt'));
    fs.writeFileSync(path.join(input, 'test', 'happy', 'readme.txt'), 'not an image');
    await assert.rejects(
      foldersToFer2013({ input, output: path.join(dir, 'z.csv') }),
      /readme\.txt is not a readable image.*nothing was written/,
    );
    assert.ok(!fs.existsSync(path.join(dir, 'z.csv')) && !fs.existsSync(path.join(dir, '.z.csv.incomplete')));
    await assert.rejects(
      foldersToFer2013({ input: path.join(input, 'Train'), output: path.join(dir, 'w.csv') }),
      /has no split folder/,
    );
  } finally {
    cleanup();
  }
});

test('affect data fer2013 needs exactly one of --to-folders and --to-csv', async () => {
  const cmd = dataToolsCommands.find((c) => c.path.join(' ') === 'data fer2013')!;
  await assert.rejects(
    cmd.run({ positionals: ['a', 'b'], options: {} }),
    (e: Error) => e instanceof UsageError && /one of --to-folders/.test(e.message),
  );
  await assert.rejects(
    cmd.run({ positionals: ['a', 'b'], options: { 'to-folders': true, 'to-csv': true } }),
    UsageError,
  );
});

const sample = process.env.AFFECT_SAMPLE_DATA;
test(
  'the real FER2013 folder (train/ and test/) to one CSV: every image a row, per Usage',
  { skip: !sample && 'AFFECT_SAMPLE_DATA is not set' },
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      const out = path.join(dir, 'fer2013.csv');
      const r = await foldersToFer2013({ input: path.join(sample!, 'fer2013'), output: out });
      assert.deepEqual([r.total, r.counts], [32_298, { Training: 28_709, PublicTest: 3_589 }]);
      const src = await readFer2013(out, { usage: 'Training', dropClasses: ['disgust'] });
      assert.equal(src.size, 28_709 - 436);
    } finally {
      cleanup();
    }
  },
);
