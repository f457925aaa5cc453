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

/** Applies the four layers to `xs` ([b, h, w, c], float) with per-image draws from `rng`; returns a new tensor. */
export function applyStudyAugmentation(xs: tf.Tensor4D, aug: StudyAugmentation, rng: Rng): tf.Tensor4D {
  const [b, h, w] = xs.shape;
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
  const c = xs.shape[3];
  // Read once: the wasm backend's Slice kernel copies its whole input for every slice, a batch's worth per image.
  const pixels = xs.dataSync();
  return tf.tidy(() => {
    // One image at a time: tfjs 4.22's cpu Transform kernel returns after the first image of a batch (the rest stay 0).
    const images = Array.from({ length: b }, (_, i) => {
      let x: tf.Tensor4D = tf.tensor4d(pixels.subarray(i * h * w * c, (i + 1) * h * w * c), [1, h, w, c], xs.dtype);
      if (flips[i]) x = tf.reverse(x, 2);
      // A factor of 0 draws its (identity) transform all the same, so the draws do not depend on the factors.
      const rows = [aug.rotation > 0 && rot[i], aug.zoom > 0 && zoom[i], shift[i]];
      for (const row of rows) if (row) x = tf.image.transform(x, tf.tensor2d([row]), interpolation, 'reflect');
      return x;
    });
    return tf.concat(images, 0);
  });
}
