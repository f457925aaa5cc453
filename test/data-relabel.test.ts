import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { formatRelabelSummary, relabel } from '../lib/data/relabel';
import { INCOMPLETE_MARKER } from '../lib/data/outdir';
import { main } from '../lib/cli/main';
import { failingIO, hashTree, tempDir, writeTree } from './data-fixtures';

/** The Kaggle layout: train/<class>/ plus labels.csv. `anger/a.jpg` and `happy/a.jpg` share a name and both become happy. */
async function makeInput(root: string, csv?: string): Promise<void> {
  const png = (v: number) => sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: v, b: v } } }).png().toBuffer();
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
    assert.deepEqual(Object.keys(out).sort(), ['train/anger/b.jpg', 'train/happy/anger__a.jpg', 'train/happy/happy__a.jpg', 'train/sad/c.jpg']);
    assert.equal(out['train/happy/anger__a.jpg'], before['train/anger/a.jpg']);
    assert.equal(out['train/happy/happy__a.jpg'], before['train/happy/a.jpg']);
    assert.match(formatRelabelSummary(r, true), /original relabel\.py would have lost 1 of these 4 images/);
  } finally {
    cleanup();
  }
});

test('relabel errors name the labels file and line', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cases: [string, RegExp][] = [
      [',path,label\n0,anger/a.jpg,happy\n', /labels\.csv: line 1: no "pth" column \(columns: "", "path", "label"\)/],
      [',pth,label\n0,anger/a.jpg,happy\n1,anger/b.jpg,joy\n', /labels\.csv: line 3: unknown label "joy" for anger\/b\.jpg; labels must be class folders .*: anger, happy, sad/],
      [',pth,label\n0,anger/a.jpg,happy\n\n1,anger/zz.jpg,sad\n', /labels\.csv: line 4: image .*anger\/zz\.jpg does not exist/],
      [',pth,label\n0,anger/a.jpg,happy\n1,anger/a.jpg,sad\n', /line 3: anger\/a\.jpg is labelled "sad" here and "happy" on line 2/],
    ];
    for (const [i, [csv, re]] of cases.entries()) {
      const input = path.join(dir, `in${i}`);
      await makeInput(input, csv);
      await assert.rejects(relabel({ input, output: path.join(dir, `out${i}`) }), (e: Error) => re.test(e.message) && e.message.includes(path.join(input, 'labels.csv')));
    }
    const input = path.join(dir, 'in2');
    const r = await relabel({ input, output: path.join(dir, 'skip'), onMissing: 'skip' });
    assert.deepEqual(r.missing, [{ line: 4, pth: 'anger/zz.jpg' }]);
    await assert.rejects(relabel({ input, output: path.join(dir, 'x'), labels: 'nope.csv' }), /nope\.csv cannot be read: ENOENT/);
    await assert.rejects(relabel({ input, output: path.join(input, 'train', 'new') }), /must not be the input .* or inside it/);
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

test('affect data relabel --output-path --label-csv --legacy-report', async () => {
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
      code = await main(['data', 'relabel', input, '--output-path', path.join(dir, 'out'), '--label-csv', 'better.csv', '--legacy-report']);
    } finally {
      console.log = log;
    }
    assert.equal(code, 0);
    assert.match(logs.join('\n'), /would have lost 1 of these 4/);
  } finally {
    cleanup();
  }
});
