/**
 * Bad input through the real `affect` binary (a child process in a temp cwd): the exit code, a message naming the
 * file or option and the reason, and nothing written or changed where it should not be.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { hashTree, makeImages, pngBomb, tempDir, writeTree } from './data-fixtures';
import { affect } from './fault-fixtures';

let dir: string;
let cleanup: () => void;

before(async () => {
  ({ dir, cleanup } = tempDir('affect-fault-cli-'));
  const png = (v: number) =>
    sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: v, b: v } } })
      .png()
      .toBuffer();
  writeTree(dir, {
    'in/train/anger/a.png': await png(10),
    'in/train/anger/b.png': await png(20),
    'in/train/anger/c.png': await png(25),
    'in/train/happy/d.png': await png(30),
    'in/train/happy/e.png': await png(40),
    'in/train/happy/f.png': await png(45),
    'in/labels.csv': ',pth,label\n0,anger/a.png,happy\n1,happy/d.png,happy\n',
    'in/nolabel.csv': ',pth,relFCs\n0,anger/a.png,0.9\n',
    'in/unknown.csv': ',pth,label\n0,anger/a.png,happy\n1,anger/b.png,joy\n',
    'in/missing.csv': ',pth,label\n0,anger/a.png,happy\n1,anger/zz.png,happy\n',
    afile: 'a regular file, not a folder',
    'full/keep.txt': 'user data',
  });
  // Every kind of bad file next to good ones (a PNG named .jpg, grayscale, RGBA, 16-bit and CMYK images are good).
  const good = await png(60);
  const kinds = await makeImages(8, 8);
  writeTree(dir, {
    'bad/a/rgba.png': kinds.rgba,
    'bad/a/png16.png': kinds.png16,
    'bad/a/cmyk.jpg': kinds.cmyk,
    'bad/a/1.png': good,
    'bad/a/2.png': good,
    'bad/a/png-named.jpg': good,
    'bad/a/gray.png': await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 90, g: 90, b: 90 } } })
      .toColourspace('b-w')
      .png()
      .toBuffer(),
    'bad/a/bomb.png': pngBomb(),
    'bad/b/3.png': good,
    'bad/b/4.png': good,
    'bad/b/cut.png': good.subarray(0, good.length >> 1),
    'bad/b/zero.png': Buffer.alloc(0),
    'bad/b/text.jpg': 'not an image',
    'bomb/WithoutMask/bomb.png': pngBomb(),
  });
  for (let i = 0; i < 8; i++)
    writeTree(dir, { [`bomb/WithMask/${i}.png`]: await png(100 + i), [`bomb/WithoutMask/${i}.png`]: await png(i) });
  fs.mkdirSync(path.join(dir, 'emptyclass', 'a'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'emptyclass', 'b'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'emptyclass', 'a', 'x.png'), await png(50));
});
after(() => cleanup());

test('affect data scan: an empty class folder and a missing root exit 1 naming the folder', async () => {
  const [empty, missing] = await Promise.all([
    affect(dir, 'data', 'scan', 'emptyclass'),
    affect(dir, 'data', 'scan', 'nope'),
  ]);
  assert.equal(empty.code, 1);
  assert.match(empty.err, /class folder .*emptyclass\/b is empty/);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /image folder .*\/nope does not exist/);
});

test('affect data split: a non-empty output and an output under a regular file exit 1 naming the path; nothing is written', async () => {
  const input = hashTree(path.join(dir, 'in'));
  const full = hashTree(path.join(dir, 'full'));
  const [r, f] = await Promise.all([
    affect(dir, 'data', 'split', 'in', 'full'),
    affect(dir, 'data', 'split', 'in', 'afile/x'),
  ]);
  assert.equal(r.code, 1);
  assert.match(r.err, /output folder .*\/full is not empty; choose a new or empty folder/);
  assert.deepEqual(hashTree(path.join(dir, 'full')), full, 'the non-empty folder is untouched');
  assert.equal(f.code, 1);
  assert.match(f.err, /output folder .*\/afile\/x: .*\/afile is not a folder/);
  assert.equal(fs.readFileSync(path.join(dir, 'afile'), 'utf8'), 'a regular file, not a folder');
  assert.deepEqual(hashTree(path.join(dir, 'in')), input, 'input untouched');
});

test('affect data relabel: a labels file with a missing column, an unknown label or a missing image names file and line; an unwritable output names the path', async () => {
  const input = hashTree(path.join(dir, 'in'));
  const [r, f, unknown, missing] = await Promise.all([
    affect(dir, 'data', 'relabel', 'in', 'out-nolabel', '--labels', 'nolabel.csv'),
    affect(dir, 'data', 'relabel', 'in', 'afile/x'),
    affect(dir, 'data', 'relabel', 'in', 'out-unknown', '--labels', 'unknown.csv'),
    affect(dir, 'data', 'relabel', 'in', 'out-missing', '--labels', 'missing.csv'),
  ]);
  assert.equal(unknown.code, 1);
  assert.match(
    unknown.err,
    /in\/unknown\.csv: line 3: unknown label "joy" for anger\/b\.png; labels must be class folders .*: anger, happy/,
  );
  assert.equal(missing.code, 1);
  assert.match(missing.err, /in\/missing\.csv: line 3: image .*anger\/zz\.png does not exist/);
  for (const out of ['out-unknown', 'out-missing'])
    assert.ok(!fs.existsSync(path.join(dir, out)), `${out}: nothing written`);
  assert.equal(r.code, 1);
  assert.match(r.err, /in\/nolabel\.csv: line 1: no "label" column \(columns: "", "pth", "relFCs"\)/);
  assert.ok(!fs.existsSync(path.join(dir, 'out-nolabel')), 'nothing written');
  assert.equal(f.code, 1);
  assert.match(f.err, /output folder .*afile\/x: .*\/afile is not a folder/);
  assert.deepEqual(hashTree(path.join(dir, 'in')), input, 'input untouched');
});

test('affect run: invalid settings exit 2 naming the option and the accepted values; an output under a file exits 1', async () => {
  const cases: [string[], RegExp][] = [
    [['--lr', '0'], /option --lr must be a number > 0, got 0/],
    [['--lr', '-1e-3'], /option --lr must be a number > 0, got -0\.001/],
    [['--batch-size', '0'], /option --batch-size must be a positive integer, got 0/],
    [['--backend', 'nope'], /option --backend: "nope" is not accepted; accepted values: tensorflow, wasm, cpu/],
    [['--trial', 'nope'], /experiment face-mask has no trial "nope"; accepted trials: resnet18-vgg/],
  ];
  const [unknown, out, ...results] = await Promise.all([
    affect(dir, 'run', 'nine', '--synthetic'),
    affect(dir, 'run', 'face-mask', '--data', 'emptyclass', '--backend', 'cpu', '--out', 'afile/x'),
    ...cases.map(([extra]) => affect(dir, 'run', 'face-mask', '--synthetic', ...extra)),
  ]);
  for (const [k, [extra, re]] of cases.entries()) {
    const r = results[k];
    assert.equal(r.code, 2, extra.join(' '));
    assert.match(r.err, re, extra.join(' '));
  }
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown experiment "nine"; accepted: baseline \(1\)/);
  assert.equal(out.code, 1);
  assert.match(out.err, /output folder \(outDir, --out\) afile\/x: .*\/afile is not a folder/);
  assert.ok(!fs.existsSync(path.join(dir, 'runs')), 'no run folder elsewhere');
});

test('affect data split: truncated, zero-byte, non-image and oversized files are skipped and listed with the reason (wrong extension, grayscale, RGBA, 16-bit, CMYK kept), or with --on-bad-image fail exit 1 before writing', async () => {
  const input = hashTree(path.join(dir, 'bad'));
  const [skip, fail] = await Promise.all([
    affect(dir, 'data', 'split', 'bad', 'bad-split', '--balance'),
    affect(dir, 'data', 'split', 'bad', 'bad-fail', '--on-bad-image', 'fail'),
  ]);
  assert.equal(skip.code, 0, skip.err);
  assert.match(skip.out, /4 unreadable file\(s\) skipped/);
  for (const re of [
    /bad\/b\/text\.jpg: not an image/,
    /bad\/b\/zero\.png: empty file \(0 bytes\)/,
    /bad\/b\/cut\.png: .*is truncated or corrupt/,
    /bad\/a\/bomb\.png: .*is larger than the pixel limit/,
  ])
    assert.match(skip.out, re);
  const written = Object.keys(hashTree(path.join(dir, 'bad-split')));
  for (const name of ['text.jpg', 'zero.png', 'cut.png', 'bomb.png'])
    assert.ok(!written.some((f) => f.endsWith(`/${name}`)), `${name} not copied`);
  for (const name of ['png-named.jpg', 'gray.png', 'rgba.png', 'png16.png', 'cmyk.jpg'])
    assert.ok(
      written.some((f) => f.endsWith(`/${name}`)),
      `${name} kept`,
    );
  assert.equal(fail.code, 1);
  assert.match(fail.err, /bad image .*bad\/(a\/bomb\.png|b\/\w+\.(png|jpg)): /);
  assert.ok(!fs.existsSync(path.join(dir, 'bad-fail')), 'nothing written');
  assert.deepEqual(hashTree(path.join(dir, 'bad')), input, 'input untouched');
});

test('affect run: an image over the pixel limit in the data stops the run before training, naming the file (exit 1)', async () => {
  const r = await affect(
    dir,
    'run',
    'face-mask',
    '--data',
    'bomb',
    '--backend',
    'cpu',
    '--epochs',
    '1',
    '--image-size',
    '8',
    '--out',
    'runs-bomb',
  );
  assert.equal(r.code, 1);
  assert.match(r.err, /affect run: image .*bomb\/WithoutMask\/bomb\.png is larger than the pixel limit of \d+ pixels/);
});
