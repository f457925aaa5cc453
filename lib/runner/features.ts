/**
 * Training on cached features: when a run's backbone is frozen and its images are not augmented on the fly, the
 * backbone maps every image to the same features each epoch, so they are computed once per split (inference mode, as
 * Keras runs frozen layers) and only the top trains on them. Small sets keep their features in memory; large ones in a
 * file of float32 rows in the run folder, read a batch at a time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { RunConfig } from '../experiments';
import { makeRng, shuffled } from '../random';
import {
  cacheFeatures,
  epochBatches,
  shuffleSeed,
  splitAtTop,
  topSplitIndex,
  type Batch,
  type FeatureCache,
} from '../train';
import type { BatchFn, SplitInputs } from './data';
import type { RunLog } from './log';

/** Keep features in memory up to this many bytes (all splits together); above it, files in the run folder. */
const IN_MEMORY_BYTES = 512 * 2 ** 20;

/** What the run record keeps of the cache. */
export interface FeatureCacheRecord {
  /** The layer after which the top begins. */
  splitAt: string;
  /** Feature values per image. */
  features: number;
  images: { train: number; validation: number; test: number };
  location: 'memory' | 'file';
  /** Time spent computing the features (once, before the first epoch; again on a resumed run). */
  seconds: number;
}

/** Batches of cached features for one epoch (fit, evaluate and the ensemble take these as they take image batches). */
export type FeatureBatches = (epoch: number) => Iterable<Batch>;

export interface CachedInputs {
  /** The model's top as a model of its own; its layers (and weights) are the full model's. */
  top: tf.LayersModel;
  train: FeatureBatches;
  validation: FeatureBatches;
  test: FeatureBatches;
  record: FeatureCacheRecord;
  /** Frees the features held in memory, deletes the feature files and releases `top` (call it before disposing the model). */
  dispose(): void;
}

/**
 * Whether `model` trains on cached features under `cfg`: no on-the-fly augmentation, and a backbone (everything up to
 * its last pooling or Flatten layer) with nothing trainable. The reason is returned either way, for the run log.
 */
export function featureCachePlan(model: tf.LayersModel, cfg: RunConfig): { use: boolean; why: string } {
  if (cfg.data.augment) return { use: false, why: 'images are augmented on the fly, so features change every epoch' };
  let index;
  try {
    index = topSplitIndex(model);
  } catch (e) {
    return { use: false, why: `no backbone/top split (${(e as Error).message})` };
  }
  // The backbone's layers come first in the model's (topologically sorted) layers: no sub-model is built to ask.
  const trainable = model.layers.slice(0, index + 1).reduce((n, l) => n + l.trainableWeights.length, 0);
  return trainable === 0
    ? { use: true, why: 'frozen backbone, no on-the-fly augmentation' }
    : { use: false, why: `the backbone has ${trainable} trainable weights` };
}

/** Features and labels of one split, computed by `backbone` over `source`'s unshuffled batches. */
async function cacheSplit(
  backbone: tf.LayersModel,
  source: BatchFn,
  batchSize: number,
  file?: string,
): Promise<{ cache: FeatureCache; labels: Int32Array }> {
  const labels: number[] = [];
  async function* images(): AsyncGenerator<tf.Tensor> {
    for await (const b of epochBatches(source, 0)) {
      labels.push(...(await b.ys.data()));
      b.ys.dispose();
      yield b.xs;
      b.xs.dispose();
    }
  }
  const cache = await cacheFeatures(backbone, images(), { batchSize, ...(file ? { file } : {}) });
  return { cache, labels: Int32Array.from(labels) };
}

/** Batches of cached features: shuffled per epoch from the run's seed (as image batches are), or in order. */
function featureBatches(
  split: { cache: FeatureCache; labels: Int32Array },
  batchSize: number,
  seed: number | undefined,
): FeatureBatches {
  const n = split.cache.count;
  const inOrder = Array.from({ length: n }, (_, i) => i);
  return function* (epoch: number): Generator<Batch> {
    const order = seed === undefined ? inOrder : shuffled(makeRng(shuffleSeed(seed, epoch)), inOrder);
    for (let i = 0; i < n; i += batchSize) {
      const idx = order.slice(i, i + batchSize);
      yield {
        xs: split.cache.rows(idx),
        ys: tf.tensor1d(
          idx.map((j) => split.labels[j]),
          'int32',
        ),
      };
    }
  };
}

/**
 * Computes the backbone's features of every split once (`counts`: the splits' image counts; features of more than
 * `maxMemoryBytes` go to files) and returns the top with batch sources over them.
 */
export async function cachedInputs(
  model: tf.LayersModel,
  inputs: SplitInputs,
  counts: { train: number; validation: number; test: number },
  cfg: RunConfig,
  runDir: string,
  log: RunLog,
  maxMemoryBytes = IN_MEMORY_BYTES,
): Promise<CachedInputs> {
  const { backbone, top } = splitAtTop(model);
  const features = (backbone.outputs[0].shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
  const started = Date.now();
  const dir = path.join(runDir, 'features');
  const location: 'memory' | 'file' =
    (counts.train + counts.validation + counts.test) * features * 4 > maxMemoryBytes ? 'file' : 'memory';
  if (location === 'file') fs.mkdirSync(dir, { recursive: true });
  const file = (name: string) => (location === 'file' ? path.join(dir, `${name}.f32`) : undefined);
  const done: { cache: FeatureCache }[] = [];
  const cached = async (source: BatchFn, name: string) => {
    const s = await cacheSplit(backbone, source, cfg.batchSize, file(name));
    done.push(s);
    return s;
  };
  type Cached = Awaited<ReturnType<typeof cacheSplit>>;
  let splits: { train: Cached; validation: Cached; test: Cached };
  try {
    splits = {
      train: await cached(inputs.trainInOrder, 'train'),
      validation: await cached(inputs.validation, 'validation'),
      test: await cached(inputs.test, 'test'),
    };
  } catch (e) {
    // A split that failed leaves nothing behind: neither the splits cached before it nor their files.
    for (const s of done) s.cache.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
    top.dispose();
    throw e;
  }
  const images = (c: { cache: FeatureCache }) => c.cache.count;
  const record: FeatureCacheRecord = {
    splitAt: backbone.layers[backbone.layers.length - 1].name,
    features,
    images: { train: images(splits.train), validation: images(splits.validation), test: images(splits.test) },
    location,
    seconds: (Date.now() - started) / 1000,
  };
  log(
    `  feature cache: the frozen backbone's ${features} features of ` +
      `${record.images.train + record.images.validation + record.images.test} images computed ` +
      `once (${record.seconds.toFixed(0)} s, ${location}); only the top trains`,
  );
  return {
    top,
    train: featureBatches(splits.train, cfg.batchSize, cfg.seed),
    validation: featureBatches(splits.validation, cfg.batchSize, undefined),
    test: featureBatches(splits.test, cfg.batchSize, undefined),
    record,
    dispose() {
      for (const s of Object.values(splits)) s.cache.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
      // The top applied the model's top layers again; disposing it drops that reference, so the model's own dispose
      // frees their weights.
      top.dispose();
    },
  };
}
