import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AugmentPool,
  STUDY_AUGMENT_PIPELINE,
  brightnessContrast,
  compileAugmentation,
  gaussNoise,
  gaussianBlur,
  hflip,
  loadAugmentation,
  motionBlur,
  pixelDropout,
  rotate,
} from '../lib/data/augment';
import type { RgbImage } from '../lib/data/image';
import { makeRng } from '../lib/random';
import { repoRoot } from '../lib/paths';
import { tempDir } from './data-fixtures';

const W = 48;
const H = 40;
const make = (f: (x: number, y: number, c: number) => number): RgbImage => {
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) data[(y * W + x) * 3 + c] = f(x, y, c);
  return { data, width: W, height: H };
};
const gradientImg = () => make((x, y, c) => 100 + x + y + c * 10);
const noiseImg = () => {
  const rng = makeRng('noise');
  return make(() => Math.floor(rng() * 256));
};
const mean = (img: RgbImage) => img.data.reduce((a, v) => a + v, 0) / img.data.length;
const variance = (img: RgbImage) => {
  const m = mean(img);
  return img.data.reduce((a, v) => a + (v - m) ** 2, 0) / img.data.length;
};
const at = (img: RgbImage, x: number, y: number, c = 0) => img.data[(y * img.width + x) * 3 + c];

test('hflip mirrors each row, and twice is the identity', () => {
  const img = gradientImg();
  const f = hflip(img);
  for (const [x, y] of [
    [0, 0],
    [5, 7],
    [W - 1, H - 1],
  ])
    for (let c = 0; c < 3; c++) assert.equal(at(f, W - 1 - x, y, c), at(img, x, y, c));
  assert.notDeepEqual(f.data, img.data);
  assert.deepEqual(hflip(f).data, img.data);
});

test('brightness shifts the mean by beta * 255; contrast scales values', () => {
  const img = make(() => 100);
  assert.equal(mean(brightnessContrast(img, 1, 0.1)), 125); // floor(100 + 25.5)
  assert.equal(mean(brightnessContrast(img, 1, -0.2)), 49);
  assert.equal(mean(brightnessContrast(img, 1.2, 0)), 120);
  // As a pipeline step with fixed limits.
  const aug = compileAugmentation([
    { op: 'RandomBrightnessContrast', p: 1, brightness_limit: [0.1, 0.1], contrast_limit: 0 },
  ]);
  assert.equal(mean(aug.apply(img, makeRng(1))), 125);
});

test('rotation keeps a constant image constant and changes a gradient; 0 degrees is the identity', () => {
  const flat = make(() => 77);
  for (const deg of [-20, 7.5, 20]) assert.ok(rotate(flat, deg, 'replicate').data.every((v) => v === 77));
  const g = gradientImg();
  assert.notDeepEqual(rotate(g, 15).data, g.data);
  assert.deepEqual(rotate(g, 0).data, g.data);
  // A 90-degree turn of a square image about its centre moves pixels exactly (counter-clockwise, as OpenCV).
  const sq: RgbImage = { data: new Uint8Array(4 * 4 * 3), width: 4, height: 4 };
  sq.data[(0 * 4 + 3) * 3] = 255; // top-right
  const r = rotate(sq, 90, 'constant');
  assert.equal(r.data[(0 * 4 + 0) * 3], 255); // counter-clockwise: top-right goes to top-left
});

test('replicate border leaves no black corners; constant border does', () => {
  const g = gradientImg(); // every value >= 100
  const rep = rotate(g, 20, 'replicate');
  assert.ok(Math.min(...rep.data) >= 100, 'replicate: no dark pixels');
  const con = rotate(g, 20, 'constant');
  assert.equal(at(con, 0, 0), 0, 'constant: the corner is the border value');
});

test('pixel dropout zeros about dropout_prob of the pixels', () => {
  const img = make(() => 200);
  const big: RgbImage = { data: new Uint8Array(96 * 96 * 3).fill(200), width: 96, height: 96 };
  const out = pixelDropout(big, makeRng(3), 0.1);
  let zeros = 0;
  for (let i = 0; i < out.data.length; i += 3)
    if (out.data[i] === 0 && out.data[i + 1] === 0 && out.data[i + 2] === 0) zeros++;
  // 9216 pixels x 0.1 = 921.6, standard deviation 28.8: allow 3 sigma.
  assert.ok(Math.abs(zeros - 921.6) < 87, `zeros ${zeros}`);
  assert.ok(out.data.every((v) => v === 0 || v === 200));
  assert.deepEqual(pixelDropout(img, makeRng(3), 0).data, img.data);
});

test('Gaussian and motion blur reduce variance; Gaussian noise adds it', () => {
  const n = noiseImg();
  assert.ok(variance(gaussianBlur(n, 5, 1.1)) < variance(n) / 3);
  assert.ok(variance(motionBlur(n, 7, 0.4)) < variance(n) / 2);
  const flat = make(() => 128);
  const v = variance(gaussNoise(flat, makeRng(5), 0, 5));
  assert.ok(v > 20 && v < 30, `noise variance ${v} (sigma 5 -> 25)`);
  assert.equal(variance(flat), 0);
});

test("OneOf applies exactly one child, chosen by the children's p", () => {
  const img = gradientImg();
  const aug = compileAugmentation([
    {
      op: 'OneOf',
      p: 1,
      ops: [
        { op: 'HorizontalFlip', p: 1 },
        { op: 'PixelDropout', p: 0 },
      ],
    },
  ]);
  assert.deepEqual(aug.apply(img, makeRng(9)).data, hflip(img).data);
});

test('the study pipeline: same seed gives identical bytes, another seed differs; the input is not modified', () => {
  const aug = compileAugmentation(STUDY_AUGMENT_PIPELINE);
  const img = gradientImg();
  const before = img.data.slice();
  const a = aug.apply(img, makeRng('27:0'));
  const b = aug.apply(img, makeRng('27:0'));
  const c = aug.apply(img, makeRng('27:1'));
  assert.deepEqual(a.data, b.data);
  assert.notDeepEqual(a.data, c.data);
  assert.deepEqual(img.data, before);
  const file: unknown = JSON.parse(fs.readFileSync(path.join(repoRoot, 'lib/data/augment-study.json'), 'utf8'));
  assert.deepEqual(file, STUDY_AUGMENT_PIPELINE);
  assert.deepEqual(
    file.map((s: { op: string }) => s.op),
    ['HorizontalFlip', 'RandomBrightnessContrast', 'OneOf', 'PixelDropout', 'Rotate'],
  );
});

test('invalid pipelines: errors name the file and the entry', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'pipe.json');
    const bad = (spec: unknown, re: RegExp) => {
      fs.writeFileSync(file, JSON.stringify(spec));
      assert.throws(
        () => loadAugmentation(file),
        (e: Error) => e.message.startsWith(file) && re.test(e.message),
      );
    };
    bad([{ op: 'HorizontalFlip' }, { op: 'Blurr' }], /entry \[1\].*unknown op "Blurr"; known ops: HorizontalFlip/);
    bad([{ op: 'Rotate', p: 2 }], /entry \[0\] \(Rotate\): "p" must be a number in \[0, 1\]/);
    bad([{ op: 'Rotate', limt: 20 }], /unknown parameter "limt"/);
    bad([{ op: 'Rotate', border_mode: 'wrap' }], /"border_mode" must be one of/);
    bad(
      [{ op: 'OneOf', ops: [{ op: 'GaussianBlur', blur_limit: 4 }] }],
      /entry \[0\] \(OneOf\) > ops\[0\] \(GaussianBlur\): "blur_limit" must be an odd integer/,
    );
    bad([{ op: 'OneOf', ops: [] }], /"ops" must be a non-empty list/);
    bad({ op: 'Rotate' }, /expected a JSON list/);
    fs.writeFileSync(file, '[{ "op": ');
    assert.throws(
      () => loadAugmentation(file),
      (e: Error) => e.message.startsWith(`${file}: not valid JSON`),
    );
    assert.throws(() => loadAugmentation(path.join(dir, 'none.json')), /none\.json cannot be read: ENOENT/);
    fs.writeFileSync(file, JSON.stringify([{ op: 'Rotate', limit: [-5, 5], border_mode: 'replicate' }]));
    assert.equal(loadAugmentation(file).spec.length, 1);
  } finally {
    cleanup();
  }
});

test('AugmentPool on worker threads gives the same bytes as inline, whatever the scheduling', async () => {
  const img = gradientImg();
  const seeds = Array.from({ length: 12 }, (_, i) => `s${i}`);
  const inline = new AugmentPool(STUDY_AUGMENT_PIPELINE, { threads: 0 });
  const pool = new AugmentPool(STUDY_AUGMENT_PIPELINE, { threads: 2 });
  try {
    const want = await Promise.all(seeds.map((s) => inline.augment(img, s)));
    const got = await Promise.all(seeds.map((s) => pool.augment(img, s)));
    for (let i = 0; i < seeds.length; i++) assert.deepEqual(got[i].data, want[i].data);
  } finally {
    await pool.close();
  }
  assert.throws(() => new AugmentPool([{ op: 'Nope' }] as never, { threads: 0 }), /unknown op "Nope"/);
});
