/**
 * Hostile and careless input to the data layer and the data tools: symbolic links (loops, dangling, two links to one
 * file or folder), names that are not UTF-8, folders without images, outputs spelt to land in the input, option-named
 * files leading out, counts and sizes no machine holds, and bad files decoded several at a time.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeRgb } from '../lib/data/image';
import { folderSource } from '../lib/data/source';
import { mapLimit, scanImageFolder } from '../lib/data/scan';
import { datasplit } from '../lib/data/datasplit';
import { synthesizeFaces } from '../lib/data/synth';
import { ConfigError } from '../lib/errors';
import { hashTree, makeImages, pngBomb, tempDir, writeTree } from './data-fixtures';
import { affect } from './fault-fixtures';

let dir: string;
let cleanup: () => void;
let png: (v: number) => Promise<Buffer>;

before(async () => {
  ({ dir, cleanup } = tempDir('affect-hostile-data-'));
  png = (v: number) =>
    sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: v, b: v } } })
      .png()
      .toBuffer();
  const files: Record<string, Buffer | string> = {};
  for (const c of ['anger', 'happy'])
    for (let i = 0; i < 4; i++) files[`in/train/${c}/${i}.png`] = await png(c === 'anger' ? 10 + i : 200 + i);
  writeTree(dir, files);
});
after(() => cleanup());

test('scan: links are followed once; loops, self-links and dangling links are one bad file each; a file reached twice counts once', async () => {
  const root = path.join(dir, 'links');
  writeTree(root, {
    'a/1.png': await png(1),
    'a/2.png': await png(2),
    'b/3.png': await png(3),
    'outside/4.png': await png(4),
    'outside/5.png': await png(5),
  });
  fs.symlinkSync(path.join(root, 'a'), path.join(root, 'a', 'loop')); // a folder loop
  fs.symlinkSync(path.join(root, 'a', 'self.png'), path.join(root, 'a', 'self.png'), 'file'); // ELOOP
  fs.symlinkSync(path.join(root, 'gone.png'), path.join(root, 'b', 'dangling.png'));
  fs.symlinkSync(path.join(root, 'a', '1.png'), path.join(root, 'b', 'same-as-a1.png')); // one file, two classes
  const data = path.join(root, 'data');
  fs.mkdirSync(data);
  fs.symlinkSync(path.join(root, 'a'), path.join(data, 'a'));
  fs.symlinkSync(path.join(root, 'b'), path.join(data, 'b'));
  fs.symlinkSync(path.join(root, 'outside'), path.join(data, 'c')); // a class folder elsewhere, followed
  const r = await scanImageFolder(data);
  assert.deepEqual(r.counts, { a: 2, b: 1, c: 2 });
  const reasons = Object.fromEntries(r.bad.map((b) => [path.relative(data, b.path), b.reason]));
  assert.match(reasons['a/loop'], /a symbolic link to a folder already scanned/);
  assert.match(reasons['a/self.png'], /a symbolic link loop/);
  assert.match(reasons['b/dangling.png'], /a dangling symbolic link/);
  assert.match(reasons['b/same-as-a1.png'], /the same file as .*a\/1\.png .*counted once/);
  assert.equal(Object.keys(reasons).length, 4);
  await assert.rejects(
    scanImageFolder(data, { onBadImage: 'fail' }),
    /bad image .*a\/loop: a symbolic link to a folder already scanned/,
  );

  // Two class folders that are one folder: the second has nothing of its own.
  fs.symlinkSync(path.join(root, 'outside'), path.join(data, 'd'));
  await assert.rejects(scanImageFolder(data), /class folder .*data\/d holds no readable image/);
});

test('scan: a class folder with no readable image is an error like an empty one (a run folder left in the data, notes, bad files)', async () => {
  const root = path.join(dir, 'noimage');
  const good = await png(9);
  const cases: Record<string, Record<string, Buffer | string>> = {
    runs: { 'runs/face-mask/x/config.json': '{}', 'runs/face-mask/x/report.html': '<html>' },
    notes: { 'notes/readme.txt': 'hello' },
    broken: { 'broken/a.png': 'text named .png', 'broken/b.jpg': Buffer.alloc(0) },
  };
  for (const [name, extra] of Object.entries(cases)) {
    const d = path.join(root, name);
    writeTree(d, { 'WithMask/1.png': good, 'WithoutMask/2.png': good, ...extra });
    const cls = Object.keys(extra)[0].split('/')[0];
    await assert.rejects(
      scanImageFolder(d),
      (e: Error) => e.message.includes(path.join(d, cls)) && /holds no readable image/.test(e.message),
      name,
    );
  }
});

test('scan and read: a file name that is not valid UTF-8 is read, not dropped as missing', async () => {
  const root = path.join(dir, 'latin1');
  writeTree(root, { 'a/ok.png': await png(50), 'b/ok.png': await png(150) });
  const odd = [
    Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x70, 0x6e, 0x67]),
    Buffer.from([0xff, 0xfe, 0x2e, 0x70, 0x6e, 0x67]),
  ]; // "café.png" in Latin-1, and two bare bytes
  for (const [i, name] of odd.entries())
    fs.writeFileSync(Buffer.concat([Buffer.from(path.join(root, i ? 'b' : 'a') + path.sep), name]), await png(60 + i));
  const r = await scanImageFolder(root);
  assert.deepEqual(r.counts, { a: 2, b: 2 });
  assert.deepEqual(r.bad, []);
  const source = folderSource(r);
  for (let i = 0; i < source.size; i++) assert.equal((await source.read(i, [4, 4])).length, 48);
  // The data tools copy them too (under the name as shown, with U+FFFD for the bytes that are not UTF-8).
  const split = await datasplit({ input: root, output: path.join(dir, 'latin1-split'), trainSplit: 0.75 });
  assert.deepEqual(split.bad, []);
  assert.equal(
    split.classes.reduce((a, c) => a + c.train + c.test, 0),
    4,
  );
  const copied = Object.keys(hashTree(path.join(dir, 'latin1-split'))).filter((f) => f.endsWith('.png'));
  assert.equal(copied.length, 4);
  assert.equal(copied.filter((f) => f.includes('\uFFFD')).length, 2);
});

test('decode: with many decodes in flight, each bad file gets its own reason', async () => {
  const root = path.join(dir, 'concurrent');
  const jpeg = (await makeImages(64, 64)).jpeg;
  const good = await png(77);
  const kinds: Record<string, [Buffer | string, RegExp]> = {
    'cut.png': [good.subarray(0, good.length - 20), /is truncated or corrupt/],
    'cut.jpg': [jpeg.subarray(0, jpeg.length >> 1), /is truncated or corrupt/],
    'zero.png': [Buffer.alloc(0), /is empty \(0 bytes\)/],
    'text.jpg': ['plain text, not an image', /is not a supported image/],
    'bomb.png': [pngBomb(), /is larger than the pixel limit/],
  };
  const files: Record<string, Buffer | string> = {};
  for (let k = 0; k < 6; k++) for (const [name, [bytes]] of Object.entries(kinds)) files[`${k}-${name}`] = bytes;
  for (let k = 0; k < 6; k++) files[`${k}-good.png`] = good;
  writeTree(root, files);
  const names = Object.keys(files).sort(() => 0.5 - Math.random());
  const results = await mapLimit(names, 12, (n) =>
    decodeRgb(path.join(root, n)).then(
      () => 'ok',
      (e: Error) => e.message,
    ),
  );
  for (const [i, n] of names.entries()) {
    const kind = n.replace(/^\d+-/, '');
    if (kind === 'good.png') assert.equal(results[i], 'ok', n);
    else {
      assert.ok(results[i].includes(path.join(root, n)), `${n}: ${results[i]}`);
      assert.match(results[i], kinds[kind][1], `${n}: ${results[i]}`);
    }
  }
});

test('datasplit: an output spelt to land in the input (a link, `..`, a relative path, the input itself) and option-named files leading out are refused; the input is untouched', async () => {
  const input = path.join(dir, 'in');
  const before = hashTree(input);
  fs.symlinkSync(input, path.join(dir, 'in-link'));
  const rel = path.relative(process.cwd(), path.join(input, 'train', 'rel-out'));
  for (const output of [
    path.join(dir, 'in-link', 'out'),
    path.join(dir, 'elsewhere', '..', 'in', 'out'),
    rel,
    input,
    dir,
  ]) {
    await assert.rejects(
      datasplit({ input, output }),
      (e: Error) => e instanceof ConfigError && /output .* (is inside|contains) the input/.test(e.message),
      output,
    );
  }
  const out = path.join(dir, 'split-out');
  fs.mkdirSync(path.join(dir, 'split-out'));
  fs.symlinkSync(input, path.join(out, 'escape'));
  for (const [trainCsv, re] of [
    ['../train.csv', /--train-csv "\.\.\/train\.csv" must be a plain file name/],
    ['escape/train.csv', /--train-csv "escape\/train\.csv" must be a plain file name/],
    [path.join(input, 'train.csv'), /--train-csv ".*in\/train\.csv" must be a plain file name/],
  ] as const) {
    await assert.rejects(
      datasplit({ input, output: path.join(dir, 'split-out2'), trainCsv }),
      (e: Error) => e instanceof ConfigError && re.test(e.message),
      trainCsv,
    );
  }
  fs.rmSync(path.join(out, 'escape'));
  // A CSV name that is a link in the output pointing into the input.
  fs.symlinkSync(path.join(input, 'x.csv'), path.join(out, 'test.csv'));
  await assert.rejects(
    datasplit({ input, output: out, testCsv: 'test.csv', trainCsv: 'a.csv' }),
    (e: Error) => e instanceof ConfigError && /--test-csv "test\.csv" leads outside the output folder/.test(e.message),
  );
  assert.deepEqual(hashTree(input), before, 'input untouched');
  assert.ok(!fs.existsSync(path.join(dir, 'split-out2')), 'nothing written');
});

test('bounded options: a multiplier, a per-class count or an image size no machine holds is refused at once, naming the option and the limit', async () => {
  const input = path.join(dir, 'in');
  const started = Date.now();
  await assert.rejects(
    datasplit({ input, output: path.join(dir, 'huge-1'), balanceTrain: true, globalMultiplier: 1e9 }),
    (e: Error) =>
      e instanceof ConfigError &&
      /--global-multiplier .* asks for [\d,]+ images; the limit is 5,000,000/.test(e.message),
  );
  await assert.rejects(
    datasplit({ input, output: path.join(dir, 'huge-2'), balanceTrain: true, globalMultiplier: Infinity }),
    /--global-multiplier: global multiplier must be >= 1, got Infinity/,
  );
  for (const perClass of [1e9, 2 ** 40]) {
    await assert.rejects(
      synthesizeFaces({ task: 'affect', out: path.join(dir, 'huge-3'), perClass }),
      (e: Error) => e instanceof ConfigError && /--per-class .* asks for [\d,]+ images; the limit is/.test(e.message),
    );
  }
  await assert.rejects(
    synthesizeFaces({ task: 'mask', out: path.join(dir, 'huge-4'), perClass: 2, size: 100_000 }),
    /--size: size 100000 is above the limit of 4096 px/,
  );
  // The disk: a plan far beyond the free space.
  await assert.rejects(
    synthesizeFaces({ task: 'affect', out: path.join(dir, 'huge-5'), perClass: 4_000_00, size: 4096 }),
    /synthetic images of 4096x4096 px need about [\d.]+ GiB on disk, but the file system of .* has [\d.]+ GiB free/,
  );
  assert.ok(Date.now() - started < 10_000, 'refused before any work');
  for (const k of [1, 2, 3, 4, 5]) assert.ok(!fs.existsSync(path.join(dir, `huge-${k}`)), `huge-${k}: nothing written`);
});

test('affect data split / synth: bad option values exit 2 naming the option; a refused rerun names the options that differ', async () => {
  const cases: [string[], RegExp][] = [
    [['data', 'split', 'in', 'o1', '--train-split', '0.3'], /--train-split: train split must be > 0\.5/],
    [['data', 'split', 'in', 'o2', '--balance', '--global-multiplier', '1e12'], /--global-multiplier .* asks for/],
    [
      ['data', 'split', 'in', 'o3', '--train-csv', '../up.csv'],
      /--train-csv "\.\.\/up\.csv" must be a plain file name/,
    ],
    [['data', 'split', 'in', 'in/train/o4'], /output .*in\/train\/o4 is inside the input/],
    [['data', 'synth', '--task', 'mask', '--out', 'o5', '--per-class', '1e10'], /--per-class .* asks for/],
    [['data', 'synth', '--task', 'mask', '--out', 'o6', '--size', '8'], /--size: size must be an integer >= 16/],
  ];
  const results = await Promise.all(cases.map(([args]) => affect(dir, ...args)));
  for (const [k, [args, re]] of cases.entries()) {
    assert.equal(results[k].code, 2, `${args.join(' ')}: ${results[k].err}`);
    assert.match(results[k].err, re, args.join(' '));
  }
  // An interrupted split (its marker left behind) rerun with another split: the message lists what differs.
  const first = await affect(dir, 'data', 'split', 'in', 'o7', '--seed', '3');
  assert.equal(first.code, 0, first.err);
  const marker = path.join(dir, 'o7', '.incomplete');
  const stored = { tool: 'datasplit', options: { input: path.join(dir, 'in'), trainSplit: 0.8, seed: '3' }, plan: {} };
  fs.writeFileSync(marker, JSON.stringify(stored));
  const again = await affect(dir, 'data', 'split', 'in', 'o7', '--seed', '4', '--train-split', '0.75');
  assert.equal(again.code, 2, again.err);
  assert.match(
    again.err,
    /holds an incomplete datasplit run with other options: .*trainSplit: stored 0\.8, now 0\.75; seed: stored "3", now "4"/,
  );
  assert.doesNotMatch(again.err, /"plan"/);
  // `data scan` warns about the marker; `affect run` refuses the folder.
  const scan = await affect(dir, 'data', 'scan', 'o7/train');
  assert.equal(scan.code, 0, scan.err);
  assert.match(scan.err, /warning: .*o7 holds \.incomplete: a data tool did not finish writing it/);
  const run = await affect(dir, 'run', 'face-mask', '--data', 'o7', '--backend', 'cpu', '--out', 'runs-incomplete');
  assert.equal(run.code, 1, run.err);
  assert.match(run.err, /data folder .*o7: .*o7 holds an unfinished data tool's output \(\.incomplete\)/);
});

test('other commands that write: --explain, --web, runs record and data fer2013 outputs inside their inputs exit 2, nothing written', async () => {
  fs.mkdirSync(path.join(dir, 'photos'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'photos', 'p.png'), await png(5));
  fs.symlinkSync(path.join(dir, 'photos'), path.join(dir, 'photos-link'));
  const before = hashTree(path.join(dir, 'in'));
  const cases: [string[], RegExp][] = [
    [
      ['predict', 'in', 'photos', '--explain', 'photos/explained'],
      /--explain photos\/explained is inside the input photos/,
    ],
    [
      ['predict', 'in', 'photos', '--explain', 'photos-link/explained'],
      /--explain photos-link\/explained is inside the input photos \(real paths/,
    ],
    [['export', 'in', '--web', 'in/train/site'], /--web in\/train\/site is inside the run or model folder in/],
    [['runs', 'record', 'in', 'in/../in/rec'], /record folder OUT in\/\.\.\/in\/rec is inside the run folder RUN in/],
    [['data', 'fer2013', 'in', 'in/x.csv', '--to-csv'], /output in\/x\.csv is inside the input in/],
  ];
  const results = await Promise.all(cases.map(([args]) => affect(dir, ...args)));
  for (const [k, [args, re]] of cases.entries()) {
    assert.equal(results[k].code, 2, `${args.join(' ')}: ${results[k].err}`);
    assert.match(results[k].err, re, args.join(' '));
  }
  assert.deepEqual(fs.readdirSync(path.join(dir, 'photos')), ['p.png']);
  assert.deepEqual(hashTree(path.join(dir, 'in')), before);
});
