/**
 * Splits and tf.data pipelines over an ImageSource.
 *
 * What the model receives: like Keras's image_dataset_from_directory, images are float32 in 0..255 (no scaling here);
 * a model built with normalize=true rescales them itself (Rescaling(1/255)). Images are decoded and resized on the fly,
 * a few batches ahead, so memory is bounded by (prefetch + 1) batches whatever the dataset size: the 109,536-image set
 * streams. Labels are sparse class indices, float32 by default (what tfjs's sparseCategoricalCrossentropy accepts).
 */
import * as tf from '@tensorflow/tfjs';
import { makeRng, shuffled } from '../random';
import { sizeHW } from './image';
import { mapLimit } from './scan';
import { checkIndex, type ImageSource } from './source';

export interface ValidationSplitOptions {
  /** Fraction held out for validation, in (0, 1). Keras's validation_split; the study used 0.2. */
  fraction: number;
  /** Shuffle seed; the study used 27. */
  seed: number | string;
}

/**
 * Keras's validation_split: shuffle every index with the seed, keep the last int(fraction * n) for validation and the
 * rest for training (29,217 -> 23,374 + 5,843 at 0.2). The same n, fraction and seed always give the same split.
 * (Keras shuffles with NumPy's RNG, so the members differ from Keras's; the sizes and the rule match.)
 */
export function validationSplit(
  nOrLabels: number | ArrayLike<number>,
  opts: ValidationSplitOptions,
): { train: number[]; validation: number[] } {
  const n = typeof nOrLabels === 'number' ? nOrLabels : nOrLabels.length;
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`validationSplit: the number of images must be a non-negative integer, got ${n}`);
  if (!(opts.fraction > 0 && opts.fraction < 1))
    throw new Error(`validationSplit: fraction must be between 0 and 1 (exclusive), got ${opts.fraction}`);
  const nVal = Math.floor(opts.fraction * n);
  if (nVal === 0 || nVal === n)
    throw new Error(
      `validationSplit: fraction ${opts.fraction} of ${n} images leaves an empty ${nVal === 0 ? 'validation' : 'training'} set`,
    );
  const order = shuffled(
    makeRng(opts.seed),
    Array.from({ length: n }, (_, i) => i),
  );
  return { train: order.slice(0, n - nVal), validation: order.slice(n - nVal) };
}

export interface ImageDatasetOptions {
  /** Model input size, square side or [h, w]. Default 96 (the study's). */
  imageSize?: number | [number, number];
  /** Default 32 (Keras's). The last batch may be smaller. */
  batchSize?: number;
  /** Reshuffle the indices every epoch (seeded). Default false: evaluation and test data must keep their order. */
  shuffle?: boolean;
  /** Seed of the per-epoch shuffles. Default 0. */
  seed?: number | string;
  /** Batches decoded ahead of the consumer. Default 2. */
  prefetch?: number;
  /** Images decoded at once (sharp runs them on libuv worker threads). Default 4. */
  concurrency?: number;
  /** dtype of xs: 'float32' (Keras's, default) or 'int32'. tfjs has no uint8 tensors; raw uint8 batches come from readBatches. */
  dtype?: 'float32' | 'int32';
  /** dtype of ys. Default 'float32': tfjs's sparseCategoricalCrossentropy floors its labels and accepts only float32. */
  labelDtype?: 'float32' | 'int32';
}

/** One decoded batch, as plain arrays (no tensors). */
export interface RawBatch {
  /** b x h x w x 3 uint8, row-major. */
  images: Uint8Array;
  labels: Int32Array;
  shape: [number, number, number, number];
}

function checkIndices(source: ImageSource, indices: readonly number[]): void {
  for (const i of indices) checkIndex(i, source.size, source.describe);
}

async function readBatch(
  source: ImageSource,
  batch: readonly number[],
  hw: [number, number],
  concurrency: number,
): Promise<RawBatch> {
  const per = hw[0] * hw[1] * 3;
  const images = new Uint8Array(batch.length * per);
  await mapLimit(batch, concurrency, async (idx, k) => {
    images.set(await source.read(idx, hw), k * per);
  });
  return { images, labels: Int32Array.from(batch, (i) => source.labels[i]), shape: [batch.length, hw[0], hw[1], 3] };
}

/**
 * Decoded uint8 batches of `indices` in order (one epoch), decoding up to `prefetch` batches ahead of the consumer.
 * `order` is used as given: shuffle it first for training.
 */
export async function* readBatches(
  source: ImageSource,
  order: readonly number[],
  opts: { imageSize?: number | [number, number]; batchSize?: number; prefetch?: number; concurrency?: number } = {},
): AsyncGenerator<RawBatch> {
  const hw = sizeHW(opts.imageSize ?? 96);
  const bs = opts.batchSize ?? 32;
  if (!Number.isInteger(bs) || bs < 1) throw new Error(`batchSize must be a positive integer, got ${bs}`);
  checkIndices(source, order);
  const ahead = Math.max(0, opts.prefetch ?? 2);
  const conc = Math.max(1, opts.concurrency ?? 4);
  const starts: number[] = [];
  for (let s = 0; s < order.length; s += bs) starts.push(s);
  const pending: Promise<RawBatch>[] = [];
  const launch = (k: number) => {
    const p = readBatch(source, order.slice(starts[k], starts[k] + bs), hw, conc);
    p.catch(() => undefined); // rejections surface when awaited below; this stops an unawaited one crashing the process
    pending.push(p);
  };
  let launched = 0;
  for (let k = 0; k < starts.length; k++) {
    while (launched < starts.length && launched <= k + ahead) launch(launched++);
    yield await pending.shift()!;
  }
}

/**
 * A tf.data dataset of `{ xs: [b, h, w, 3], ys: [b] }` over `indices` of `source`, decoded on the fly. With shuffle, each
 * pass (epoch) uses a new seeded order (seed, pass number), so a run is reproducible; without it the order is `indices`'.
 */
export function imageDataset(
  source: ImageSource,
  indices: readonly number[],
  opts: ImageDatasetOptions = {},
): tf.data.Dataset<{ xs: tf.Tensor4D; ys: tf.Tensor1D }> {
  checkIndices(source, indices);
  if (indices.length === 0) throw new Error(`imageDataset: no images selected from ${source.describe}`);
  const seed = opts.seed ?? 0;
  const dtype = opts.dtype ?? 'float32';
  const labelDtype = opts.labelDtype ?? 'float32';
  let pass = 0;
  return tf.data.generator(async function* () {
    const order = opts.shuffle ? shuffled(makeRng(`${seed}/epoch${pass++}`), indices) : indices;
    for await (const b of readBatches(source, order, opts)) {
      yield {
        xs: tf.tensor4d(dtype === 'float32' ? Float32Array.from(b.images) : Int32Array.from(b.images), b.shape, dtype),
        ys: tf.tensor1d(labelDtype === 'float32' ? Float32Array.from(b.labels) : b.labels, labelDtype),
      };
    }
  } as () => AsyncIterator<{ xs: tf.Tensor4D; ys: tf.Tensor1D }>);
}

/** A whole (small) set held in memory as uint8: 4x smaller than float32; make float32 tensors per batch from it. */
export interface LoadedImages {
  /** n x h x w x 3 uint8. */
  images: Uint8Array;
  labels: Int32Array;
  shape: [number, number, number, number];
  classes: string[];
}

/**
 * Decodes `indices` of `source` (default: all) at `size` into one uint8 array. For small sets, where decoding once beats
 * decoding every epoch; refuses more than `maxBytes` (default 2 GiB) so a big set is streamed instead.
 */
export async function loadAll(
  source: ImageSource,
  indices?: readonly number[],
  size: number | [number, number] = 96,
  opts: { concurrency?: number; maxBytes?: number } = {},
): Promise<LoadedImages> {
  const idx = indices ?? Array.from({ length: source.size }, (_, i) => i);
  const hw = sizeHW(size);
  const bytes = idx.length * hw[0] * hw[1] * 3;
  const max = opts.maxBytes ?? 2 ** 31;
  if (bytes > max)
    throw new Error(
      `loadAll: ${idx.length} images at ${hw.join('x')} need ${(bytes / 2 ** 30).toFixed(1)} ` +
        `GiB, over the ${(max / 2 ** 30).toFixed(1)} GiB limit: stream them with imageDataset`,
    );
  checkIndices(source, idx);
  const b = await readBatch(source, idx, hw, Math.max(1, opts.concurrency ?? 4));
  return { images: b.images, labels: b.labels, shape: b.shape, classes: [...source.classes] };
}

/** An ImageSource over images already in memory (from loadAll), so imageDataset can batch and shuffle them without decoding again. */
export function memorySource(loaded: LoadedImages, describe = `${loaded.shape[0]} images in memory`): ImageSource {
  const [n, h, w] = loaded.shape;
  const per = h * w * 3;
  return {
    classes: [...loaded.classes],
    size: n,
    labels: loaded.labels,
    describe,
    async read(index, size) {
      checkIndex(index, n, describe);
      if (size[0] !== h || size[1] !== w)
        throw new Error(`${describe} holds ${h}x${w} images; cannot read them at ${size[0]}x${size[1]}`);
      return loaded.images.subarray(index * per, (index + 1) * per);
    },
  };
}
