import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { DEFAULT_PIXEL_LIMIT, decodeImage, decodeRgb, resizeBilinear, sizeHW } from '../lib/data/image';
import { scanImageFolder } from '../lib/data/scan';
import { SKIP_SAMPLE, gradient, makeImages, sampleData, tempDir, writeTree } from './data-fixtures';

test('decodeRgb turns every kind of image into 8-bit 3-channel sRGB at native size', async () => {
  const imgs = await makeImages(20, 10);
  const want = gradient(20, 10, 3);
  for (const [kind, buf] of Object.entries(imgs)) {
    const r = await decodeRgb(buf, { name: kind });
    assert.deepEqual([kind, r.height, r.width, r.data.length], [kind, 10, 20, 600]);
    if (kind === 'png' || kind === 'png16' || kind === 'tiff' || kind === 'webp')
      assert.deepEqual(Buffer.from(r.data), want, `${kind} is lossless`);
  }
  // Grayscale is replicated into three equal channels.
  const gray = await decodeRgb(imgs.gray);
  const g = gradient(20, 10, 1);
  for (let i = 0; i < g.length; i++) assert.deepEqual([...gray.data.subarray(i * 3, i * 3 + 3)], [g[i], g[i], g[i]]);
  // RGBA: the alpha channel is dropped and colours kept (TF's decode_image(channels=3)).
  const rgba = await decodeRgb(imgs.rgba);
  const src = gradient(20, 10, 4);
  assert.deepEqual([...rgba.data.subarray(0, 6)], [src[0], src[1], src[2], src[4], src[5], src[6]]);
  // CMYK JPEG comes back as RGB close to the original (lossy both ways).
  const cmyk = await decodeRgb(imgs.cmyk);
  const meanErr = cmyk.data.reduce((s, v, i) => s + Math.abs(v - want[i]), 0) / want.length;
  assert.ok(meanErr < 25, `CMYK round trip mean error ${meanErr}`);
});

test('decodeRgb ignores an embedded ICC profile, as TensorFlow does', async () => {
  const p3 = await sharp(gradient(16, 8, 3), { raw: { width: 16, height: 8, channels: 3 } })
    .withIccProfile('p3')
    .png()
    .toBuffer();
  const stored = await sharp(p3, { ignoreIcc: true }).raw().toBuffer();
  const managed = await sharp(p3).raw().toBuffer();
  assert.notDeepEqual(stored, managed, 'the profile changes colours when applied');
  assert.deepEqual(Buffer.from((await decodeRgb(p3)).data), stored);
});

test('decodeImage resizes to [h, w] and a PNG named .jpg decodes fine', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const imgs = await makeImages(20, 10);
    writeTree(dir, { 'a.jpg': imgs.png });
    const x = await decodeImage(path.join(dir, 'a.jpg'), { size: [6, 8] });
    assert.equal(x.length, 6 * 8 * 3);
    assert.equal((await decodeImage(imgs.jpeg, { size: 4 })).length, 4 * 4 * 3);
  } finally {
    cleanup();
  }
});

test('bad input: zero bytes, truncated JPEG/PNG, text, a missing file and an image over the pixel limit are errors naming the file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const imgs = await makeImages(64, 64);
    const files = {
      'zero.jpg': Buffer.alloc(0),
      'cut.jpg': imgs.jpeg.subarray(0, imgs.jpeg.length >> 1),
      'cut.png': imgs.png.subarray(0, imgs.png.length >> 1),
      'text.jpg': 'this is not an image',
    };
    writeTree(dir, files);
    const expect: Record<string, RegExp> = {
      'zero.jpg': /is empty/,
      'cut.jpg': /truncated or corrupt/,
      'cut.png': /truncated or corrupt/,
      'text.jpg': /is not a supported image/,
    };
    for (const [name, re] of Object.entries(expect)) {
      const file = path.join(dir, name);
      await assert.rejects(
        decodeImage(file, { size: 8 }),
        (e: Error) => e.message.includes(file) && re.test(e.message),
        name,
      );
    }
    await assert.rejects(decodeImage(path.join(dir, 'missing.png'), { size: 8 }), /missing\.png/);
    await assert.rejects(
      decodeRgb(imgs.png, { name: 'bomb.png', pixelLimit: 64 * 64 - 1 }),
      /image bomb\.png is larger than the pixel limit of 4095 pixels/,
    );
    assert.equal((await decodeRgb(imgs.png, { pixelLimit: 64 * 64 })).width, 64);
    assert.ok(DEFAULT_PIXEL_LIMIT >= 4096 * 4096);
  } finally {
    cleanup();
  }
});

test('resizeBilinear matches TensorFlow bilinear (half-pixel centres) up and down, to rounding', async () => {
  await tf.setBackend('cpu');
  for (const [h, w, oh, ow] of [
    [10, 20, 6, 8],
    [7, 5, 13, 11],
    [100, 60, 96, 96],
    [48, 48, 96, 96],
  ]) {
    const data = new Uint8Array(gradient(w, h, 3));
    const ours = resizeBilinear({ data, height: h, width: w }, oh, ow);
    const ref = tf.tidy(() =>
      tf.image.resizeBilinear(tf.tensor3d(data, [h, w, 3], 'float32'), [oh, ow], false, true).dataSync(),
    );
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
    assert.ok(worst <= 0.5 + 1e-3, `${h}x${w} -> ${oh}x${ow}: max difference ${worst}`);
  }
  const same = new Uint8Array(12);
  assert.equal(resizeBilinear({ data: same, height: 2, width: 2 }, 2, 2), same);
});

test('sizeHW accepts a side or [h, w] and rejects nonsense', () => {
  assert.deepEqual(sizeHW(96), [96, 96]);
  assert.deepEqual(sizeHW([48, 64]), [48, 64]);
  assert.throws(() => sizeHW(0), /positive integers/);
  assert.throws(() => sizeHW([3.5, 2]), /positive integers/);
});

test(
  'sample data: ck-plus-48 grayscale becomes 3 equal channels',
  { skip: sampleData() ? false : SKIP_SAMPLE },
  async () => {
    const r = await scanImageFolder(path.join(sampleData()!, 'ck-plus-48'));
    const meta = await sharp(r.entries[0].path).metadata();
    assert.equal(meta.channels, 1, 'the sample is single-channel');
    const x = await decodeImage(r.entries[0].path, { size: 96 });
    assert.equal(x.length, 96 * 96 * 3);
    let varied = false;
    for (let i = 0; i < x.length; i += 3) {
      assert.ok(x[i] === x[i + 1] && x[i] === x[i + 2], `pixel ${i / 3} channels differ`);
      varied ||= x[i] !== x[0];
    }
    assert.ok(varied, 'the image is not flat');
  },
);
