/**
 * Frozen-backbone feature cache: with a frozen backbone and no on-the-fly augmentation the backbone maps each image
 * to the same features every epoch, so compute them once (batched, inference mode) and train only the top on them.
 * Small sets stay in memory as float32; large ones go to a file of float32 rows (written atomically). The backbone and
 * top come from ./split.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { disposeFoldCache, foldedApply, type FoldCache } from '../models/fold';

export interface FeatureCache {
  /** Shape of one sample's features (without the batch axis). */
  shape: number[];
  /** Number of cached samples. */
  count: number;
  /** Where the features live: 'memory' or the file path. */
  location: string;
  /** Features of samples [start, start + size) as a new tensor (the caller disposes it). */
  batch(start: number, size: number): tf.Tensor;
  /** Features of the samples at `indices`, in that order (a shuffled batch), as a new tensor (the caller disposes it). */
  rows(indices: readonly number[]): tf.Tensor;
  /** Frees the memory, or closes a file store (which keeps its file: delete it yourself when done). */
  dispose(): void;
}

export interface CacheOptions {
  /** Batch size for slicing a tensor of images. Default 32. */
  batchSize?: number;
  /** Store the features in this file (float32 rows) instead of memory: for sets too large to keep. */
  file?: string;
}

async function* batchesOf(
  xs: tf.Tensor | Iterable<tf.Tensor> | AsyncIterable<tf.Tensor>,
  batchSize: number,
): AsyncGenerator<{ x: tf.Tensor; owned: boolean }> {
  if (xs instanceof tf.Tensor) {
    for (let i = 0; i < xs.shape[0]; i += batchSize)
      yield { x: xs.slice(i, Math.min(batchSize, xs.shape[0] - i)), owned: true };
    return;
  }
  for await (const x of xs as AsyncIterable<tf.Tensor>) yield { x, owned: false };
}

/**
 * Runs `backbone` once over every image (in inference mode: batch norm uses its moving statistics, folded into the
 * convolutions; dropout is off) and keeps the features. `xs` is a tensor of images (sliced by `batchSize`) or batches
 * of images, which stay the caller's to dispose.
 */
export async function cacheFeatures(
  backbone: tf.LayersModel,
  xs: tf.Tensor | Iterable<tf.Tensor> | AsyncIterable<tf.Tensor>,
  opts: CacheOptions = {},
): Promise<FeatureCache> {
  const batchSize = opts.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`cacheFeatures: batchSize must be a positive integer, got ${batchSize}`);
  const parts: Float32Array[] = [];
  let shape: number[] | undefined;
  let count = 0;
  const tmp = opts.file ? `${opts.file}.${process.pid}.tmp` : undefined;
  const fd = tmp ? (fs.mkdirSync(path.dirname(tmp), { recursive: true }), fs.openSync(tmp, 'w')) : undefined;
  // The backbone's weights do not change during the pass: fold them once.
  const folds: FoldCache = new Map();
  try {
    for await (const { x, owned } of batchesOf(xs, batchSize)) {
      const f = foldedApply(backbone, x, { cache: folds });
      if (owned) x.dispose();
      const values = (await f.data()) as Float32Array;
      shape ??= f.shape.slice(1);
      count += f.shape[0];
      f.dispose();
      if (fd !== undefined) fs.writeSync(fd, values);
      else parts.push(values);
    }
  } catch (e) {
    // A half-written store must not be mistaken for a complete one.
    if (tmp) fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    disposeFoldCache(folds);
  }
  if (shape === undefined) throw new Error('cacheFeatures: no images given');
  const row = shape.reduce((a, b) => a * b, 1);
  const sampleShape = shape;
  const check = (start: number, size: number) => {
    if (start < 0 || size < 1 || start + size > count)
      throw new Error(`FeatureCache.batch: samples [${start}, ${start + size}) outside [0, ${count})`);
  };
  const checkRows = (indices: readonly number[]) => {
    if (indices.length === 0) throw new Error('FeatureCache.rows: no indices');
    const bad = indices.find((i) => !Number.isInteger(i) || i < 0 || i >= count);
    if (bad !== undefined) throw new Error(`FeatureCache.rows: sample ${bad} outside [0, ${count})`);
  };
  if (tmp && opts.file) {
    fs.renameSync(tmp, opts.file);
    const file = opts.file;
    // Opened once: training reads a batch of rows from it every step.
    let rfd: number | undefined;
    const fd = () => (rfd ??= fs.openSync(file, 'r'));
    return {
      shape: sampleShape,
      count,
      location: file,
      batch(start, size) {
        check(start, size);
        const buf = new Float32Array(size * row);
        fs.readSync(fd(), buf, 0, buf.byteLength, start * row * 4);
        return tf.tensor(buf, [size, ...sampleShape]);
      },
      rows(indices) {
        checkRows(indices);
        const buf = new Float32Array(indices.length * row);
        indices.forEach((i, k) => fs.readSync(fd(), buf, k * row * 4, row * 4, i * row * 4));
        return tf.tensor(buf, [indices.length, ...sampleShape]);
      },
      dispose() {
        if (rfd !== undefined) fs.closeSync(rfd);
        rfd = undefined;
      },
    };
  }
  let all: Float32Array | undefined = new Float32Array(count * row);
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return {
    shape: sampleShape,
    count,
    location: 'memory',
    batch(start, size) {
      check(start, size);
      if (!all) throw new Error('FeatureCache.batch: the cache was disposed');
      return tf.tensor(all.subarray(start * row, (start + size) * row), [size, ...sampleShape]);
    },
    rows(indices) {
      checkRows(indices);
      if (!all) throw new Error('FeatureCache.rows: the cache was disposed');
      const buf = new Float32Array(indices.length * row);
      indices.forEach((i, k) => buf.set(all!.subarray(i * row, (i + 1) * row), k * row));
      return tf.tensor(buf, [indices.length, ...sampleShape]);
    },
    dispose() {
      all = undefined;
    },
  };
}
