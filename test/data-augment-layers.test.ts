import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  applyStudyAugmentation,
  reflectCoordinate,
  rotationRow,
  transformImage,
  translationRow,
  zoomRow,
} from '../lib/data/augment-layers';
import { makeRng } from '../lib/random';
import { initBackend } from '../lib/backend';

const identity = [1, 0, 0, 0, 1, 0, 0, 0];
const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) < 1e-9);

test('transform rows: zero rotation, unit zoom and zero shift are the identity; a half turn maps corners to corners', () => {
  assert.ok(close(rotationRow(0, 5, 7), identity));
  assert.ok(close(zoomRow(1, 1, 5, 7), identity));
  assert.ok(close(translationRow(0, 0), identity));
  // Output (0, 0) of a 180-degree rotation samples input (w-1, h-1).
  const [a0, a1, a2, b0, b1, b2] = rotationRow(Math.PI, 5, 7);
  assert.ok(close([a0 * 0 + a1 * 0 + a2, b0 * 0 + b1 * 0 + b2], [6, 4]));
  assert.deepEqual(translationRow(2, -1), [1, 0, -2, 0, 1, 1, 0, 0]);
});

test('augmentation is seeded, keeps the shape, and with zero factors only flips', async () => {
  await tf.setBackend('cpu');
  const xs = tf.tensor4d(
    Array.from({ length: 4 * 3 * 5 * 2 }, (_, i) => i),
    [4, 3, 5, 2],
  );
  const none = { flip: 'horizontal' as const, rotation: 0, zoom: 0, translation: [0, 0] as [number, number] };
  const out = applyStudyAugmentation(xs, none, makeRng(1));
  assert.deepEqual(out.shape, xs.shape);
  const flipped = tf.reverse(xs, 2);
  let flips = 0;
  for (let i = 0; i < 4; i++) {
    const o = await out.slice(i, 1).data();
    const asIs = (await xs.slice(i, 1).data()).every((v, k) => Math.abs(v - o[k]) < 1e-4);
    const mirrored = (await flipped.slice(i, 1).data()).every((v, k) => Math.abs(v - o[k]) < 1e-4);
    assert.ok(asIs || mirrored, `image ${i} is neither itself nor its mirror`);
    if (mirrored && !asIs) flips++;
  }
  assert.ok(flips > 0 && flips < 4, `expected some but not all images flipped with this seed, got ${flips}`);
  const study = {
    flip: 'horizontal' as const,
    rotation: 0.1,
    zoom: 0.15,
    translation: [0.15, 0.15] as [number, number],
  };
  const a = await applyStudyAugmentation(xs, study, makeRng(7)).data();
  const b = await applyStudyAugmentation(xs, study, makeRng(7)).data();
  const c = await applyStudyAugmentation(xs, study, makeRng(8)).data();
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test("interpolation 'nearest' shifts by whole pixels; the default bilinear blends neighbours", async () => {
  await tf.setBackend('cpu');
  // Distinct integer pixels, so a whole-pixel shift keeps every value an input value and a blend does not.
  const xs = tf.tensor4d(
    Array.from({ length: 6 * 8 * 8 }, (_, i) => i),
    [6, 8, 8, 1],
  );
  const pixels = await xs.data();
  const inputs = new Set(pixels);
  const shift = { flip: 'horizontal' as const, rotation: 0, zoom: 0, translation: [0.3, 0.3] as [number, number] };
  const nearest = await applyStudyAugmentation(xs, { ...shift, interpolation: 'nearest' }, makeRng(3)).data();
  assert.ok(
    nearest.every((v) => inputs.has(v)),
    'every pixel of a nearest shift is an input pixel',
  );
  assert.ok(
    nearest.some((v, i) => v !== pixels[i]),
    'and the images moved',
  );
  const bilinear = await applyStudyAugmentation(xs, shift, makeRng(3)).data();
  assert.ok(
    bilinear.some((v) => !inputs.has(v)),
    'a bilinear shift by a fraction of a pixel blends pixels',
  );
});

test("transformImage matches tfjs' cpu Transform kernel (a port of TensorFlow's) image by image", async () => {
  await initBackend('cpu');
  const rng = makeRng(11);
  const [h, w, c] = [9, 7, 3];
  const src = Float32Array.from({ length: h * w * c }, () => rng());
  const out = new Float32Array(h * w * c);
  // Rotations, zooms and shifts large enough to sample beyond every edge, composed as Keras' layers draw them.
  for (let k = 0; k < 12; k++) {
    const rows = [
      rotationRow((rng() - 0.5) * 1.5, h, w),
      zoomRow(0.6 + rng() * 0.8, 0.6 + rng() * 0.8, h, w),
      translationRow((rng() - 0.5) * 8, (rng() - 0.5) * 8),
    ];
    for (const row of rows) {
      for (const interpolation of ['bilinear', 'nearest'] as const) {
        transformImage(src, out, [h, w, c], row, interpolation);
        const ref = tf.tidy(() =>
          tf.image.transform(tf.tensor4d(src, [1, h, w, c]), tf.tensor2d([row]), interpolation, 'reflect').dataSync(),
        );
        out.forEach((v, i) => assert.ok(Math.abs(v - ref[i]) < 1e-5, `${interpolation} ${row.join(',')} at ${i}`));
      }
    }
  }
});

test("reflectCoordinate mirrors about the edges as Keras's 'reflect' fill does ([dcba|abcd|dcba])", () => {
  // len 4: -1 -> 0, -4 -> 3, -5 -> 3 (the next copy), 4 -> 3, 7 -> 0, 8 -> 0; fractions mirror too; inside unchanged.
  assert.deepEqual(
    [-1, -4, -5, 4, 7, 8, -1.5, 4.5, 2.25].map((v) => reflectCoordinate(v, 4)),
    [0, 3, 3, 3, 0, 0, 0.5, 2.5, 2.25],
  );
  // Within half a pixel of the edge the mirror lands outside, and is clamped to the edge pixel.
  assert.equal(reflectCoordinate(-0.25, 4), 0);
  assert.equal(reflectCoordinate(-3, 1), 0);
});

test('transformImage: a shift left of the image reflects its first columns, nearest and bilinear', () => {
  // A 4x4 image 0..15 moved 1.5 pixels right and 1 up: output (x, y) samples input (x - 1.5, y + 1).
  const src = Float32Array.from({ length: 16 }, (_, i) => i);
  const out = new Float32Array(16);
  const row = translationRow(1.5, -1);
  transformImage(src, out, [4, 4, 1], row, 'nearest');
  // Row 0 samples input row 1 (4 5 6 7) at x - 1.5 = -1.5, -0.5, 0.5, 1.5: reflected to 0.5, -0.5 -> 0 (clamped),
  // 0.5, 1.5, rounded half away from zero to 1, 0, 1, 2. The last row samples row 4, reflected to row 3.
  assert.deepEqual(Array.from(out), [5, 4, 5, 6, 9, 8, 9, 10, 13, 12, 13, 14, 13, 12, 13, 14]);
  transformImage(src, out, [4, 4, 1], row, 'bilinear');
  assert.deepEqual(Array.from(out.subarray(0, 4)), [4.5, 4, 4.5, 5.5]);
});
