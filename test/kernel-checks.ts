/**
 * What the kernel tests share: random inputs and weights, a relative error, dilated filters for the cpu gradient
 * kernels, and a count of one wasm kernel's calls.
 */
import * as tf from '@tensorflow/tfjs';
import { makeRng, normal, type Rng } from '../lib/random';

export type Shape4 = [number, number, number, number];
export type Pad = 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];

/** A convolution to check: input shape, square kernel size, output channels, stride, padding, dilation. */
export interface ConvCase {
  x: Shape4;
  k: number;
  co: number;
  s: number;
  pad: Pad;
  d: number;
}

export function randomArray(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => normal(rng));
}

/**
 * max |a - b| / max |b| (element-wise relative error is meaningless where the reference is ~0); Infinity when the
 * lengths differ.
 */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

/** The filter with d-1 zeros between its taps: a dilated convolution is an undilated one with this filter. */
export function dilateFilter(
  f: Float32Array,
  [kh, kw, ci, co]: Shape4,
  d: number,
): { values: Float32Array; shape: Shape4 } {
  const eh = (kh - 1) * d + 1;
  const ew = (kw - 1) * d + 1;
  const out = new Float32Array(eh * ew * ci * co);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      out.set(f.subarray((i * kw + j) * ci * co, (i * kw + j + 1) * ci * co), (i * d * ew + j * d) * ci * co);
    }
  }
  return { values: out, shape: [eh, ew, ci, co] };
}

/** The taps of a zero-inserted filter's gradient that belong to the dilated filter. */
export function undilateGrad(g: Float32Array, [kh, kw, ci, co]: Shape4, d: number): Float32Array {
  const ew = (kw - 1) * d + 1;
  const out = new Float32Array(kh * kw * ci * co);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      out.set(g.subarray((i * d * ew + j * d) * ci * co, (i * d * ew + j * d + 1) * ci * co), (i * kw + j) * ci * co);
    }
  }
  return out;
}

/** fn's result and how many times it ran the wasm kernel `name` (which must be registered). */
export async function countingCalls<T>(name: string, fn: () => T | Promise<T>): Promise<[T, number]> {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`${name} is not registered for wasm`);
  const f = k.kernelFunc;
  let calls = 0;
  k.kernelFunc = (args) => {
    calls++;
    return f(args);
  };
  try {
    const result = await fn();
    return [result, calls];
  } finally {
    k.kernelFunc = f;
  }
}

/**
 * Normal weights from `seed`, `scale` times the standard ones (moving variances made positive: 0.2 + |v|), far from
 * any identity.
 */
export function setRandomWeights(model: tf.LayersModel, seed: string, scale = 1): void {
  const rng = makeRng(seed);
  const weights = model.weights.map((w) => {
    const values = randomArray(rng, tf.util.sizeFromShape(w.shape as number[])).map((v) => v * scale);
    if (w.name.includes('moving_variance')) values.forEach((v, i) => (values[i] = 0.2 + Math.abs(v)));
    return tf.tensor(values, w.shape as number[]);
  });
  model.setWeights(weights);
  tf.dispose(weights);
}
