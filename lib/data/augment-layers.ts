/**
 * On-the-fly augmentation with the semantics of Keras's preprocessing layers RandomFlip('horizontal'), RandomRotation,
 * RandomZoom and RandomTranslation (tfjs 4.22 has none of them), applied to a batch in that order, seeded through
 * lib/random so a run is reproducible. Each image gets its own draw; transforms sample bilinearly by default (Keras's
 * default) and fill with Keras's default mode 'reflect'.
 */
import * as tf from '@tensorflow/tfjs';
import { uniform, type Rng } from '../random';

export interface StudyAugmentation {
  flip: 'horizontal';
  /** RandomRotation factor: angles uniform in [-factor, factor] x 2 pi. */
  rotation: number;
  /** RandomZoom height factor: zoom uniform in [1 - f, 1 + f], same for width (aspect kept). */
  zoom: number;
  /** RandomTranslation [height, width] factors: shifts uniform in [-f, f] x size. */
  translation: [number, number];
  /**
   * Sampling of the transformed image, Keras's `interpolation` argument: 'bilinear' (default) or 'nearest'. A bilinear
   * shift by a fraction of a pixel blurs the image, which on 48-pixel faces costs accuracy; 'nearest' makes every
   * translation a whole-pixel shift.
   */
  interpolation?: 'bilinear' | 'nearest';
}

type Row = [number, number, number, number, number, number, number, number];

/** Keras's rotation matrix about the image centre (maps output points to input points). */
export function rotationRow(angle: number, h: number, w: number): Row {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const xOff = (w - 1 - (c * (w - 1) - s * (h - 1))) / 2;
  const yOff = (h - 1 - (s * (w - 1) + c * (h - 1))) / 2;
  return [c, -s, xOff, s, c, yOff, 0, 0];
}

/** Keras's zoom matrix about the centre: factor > 1 shows a larger area (zooms out), < 1 zooms in. */
export function zoomRow(zx: number, zy: number, h: number, w: number): Row {
  return [zx, 0, ((w - 1) / 2) * (1 - zx), 0, zy, ((h - 1) / 2) * (1 - zy), 0, 0];
}

/** Keras's translation matrix: the image content moves by (dx, dy) pixels. */
export function translationRow(dx: number, dy: number): Row {
  return [1, 0, -dx, 0, 1, -dy, 0, 0];
}

/**
 * A coordinate outside [0, len - 1] mapped back in as Keras's fill mode 'reflect' does ([dcba|abcd|dcba]: the edge
 * pixel repeated once, then the image mirrored), then clamped to the edge pixels as TensorFlow's kernel clamps it.
 */
export function reflectCoordinate(v: number, len: number): number {
  if (len <= 1) return 0;
  if (v >= 0 && v <= len - 1) return v;
  const period = 2 * len;
  let u = ((v % period) + period) % period;
  if (u >= len) u = period - u - 1;
  return Math.min(Math.max(u, 0), len - 1);
}

/**
 * TensorFlow's ImageProjectiveTransformV3 (fill 'reflect', fill value 0) of one [h, w, c] image `src` into `dst`:
 * each output pixel samples the input at the point `row` maps it to. Written here because tfjs 4.22's kernels get it
 * wrong: the cpu kernel stops after the first image of a batch, and the wasm kernel maps every point left of or above
 * the image to the far edge (an unsigned -len in its reflect), not to its mirror image. `src` and `dst` are distinct
 * arrays of h x w x c values. Coordinates are computed in double precision (TensorFlow: float32), so a nearest sample
 * exactly halfway between two pixels may round the other way.
 */
export function transformImage(
  src: Float32Array,
  dst: Float32Array,
  [h, w, c]: [number, number, number],
  row: readonly number[],
  interpolation: 'bilinear' | 'nearest',
): void {
  const [a0, a1, a2, b0, b1, b2, c0, c1] = row;
  const at = (y: number, x: number, ch: number) => (y >= 0 && y < h && x >= 0 && x < w ? src[(y * w + x) * c + ch] : 0);
  for (let oy = 0; oy < h; oy++) {
    for (let ox = 0; ox < w; ox++) {
      const o = (oy * w + ox) * c;
      const projection = c0 * ox + c1 * oy + 1;
      if (projection === 0) {
        dst.fill(0, o, o + c);
        continue;
      }
      const x = reflectCoordinate((a0 * ox + a1 * oy + a2) / projection, w);
      const y = reflectCoordinate((b0 * ox + b1 * oy + b2) / projection, h);
      if (interpolation === 'nearest') {
        // Both are >= 0 here, where Math.round agrees with TensorFlow's round (half away from zero).
        const ny = Math.round(y);
        const nx = Math.round(x);
        for (let ch = 0; ch < c; ch++) dst[o + ch] = at(ny, nx, ch);
        continue;
      }
      const y0 = Math.floor(y);
      const x0 = Math.floor(x);
      const fy = y - y0;
      const fx = x - x0;
      for (let ch = 0; ch < c; ch++) {
        const top = (1 - fx) * at(y0, x0, ch) + fx * at(y0, x0 + 1, ch);
        const bottom = (1 - fx) * at(y0 + 1, x0, ch) + fx * at(y0 + 1, x0 + 1, ch);
        dst[o + ch] = (1 - fy) * top + fy * bottom;
      }
    }
  }
}

/** Applies the four layers to `xs` ([b, h, w, c], float) with per-image draws from `rng`; returns a new tensor. */
export function applyStudyAugmentation(xs: tf.Tensor4D, aug: StudyAugmentation, rng: Rng): tf.Tensor4D {
  const [b, h, w, c] = xs.shape;
  const interpolation = aug.interpolation ?? 'bilinear';
  const flips = Array.from({ length: b }, () => rng() < 0.5);
  const rot = Array.from({ length: b }, () =>
    rotationRow(uniform(rng, -aug.rotation, aug.rotation) * 2 * Math.PI, h, w),
  );
  const zoom = Array.from({ length: b }, () => {
    const z = 1 + uniform(rng, -aug.zoom, aug.zoom);
    return zoomRow(z, z, h, w);
  });
  const shift = Array.from({ length: b }, () =>
    translationRow(
      uniform(rng, -aug.translation[1], aug.translation[1]) * w,
      uniform(rng, -aug.translation[0], aug.translation[0]) * h,
    ),
  );
  const size = h * w * c;
  const pixels = Float32Array.from(xs.dataSync());
  let image = new Float32Array(size);
  let next = new Float32Array(size);
  for (let i = 0; i < b; i++) {
    const own = pixels.subarray(i * size, (i + 1) * size);
    if (flips[i]) {
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          for (let ch = 0; ch < c; ch++) image[(y * w + w - 1 - x) * c + ch] = own[(y * w + x) * c + ch];
    } else image.set(own);
    // A factor of 0 draws its (identity) transform all the same, so the draws do not depend on the factors.
    for (const row of [aug.rotation > 0 && rot[i], aug.zoom > 0 && zoom[i], shift[i]]) {
      if (!row) continue;
      transformImage(image, next, [h, w, c], row, interpolation);
      [image, next] = [next, image];
    }
    own.set(image);
  }
  return tf.tensor4d(pixels, [b, h, w, c], 'float32');
}
