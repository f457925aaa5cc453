/**
 * A run's data: find the splits of a dataset folder (or the synthetic set), cap them per class, and serve seeded batches
 * (small sets decoded once into memory, big ones streamed; grayscale and on-the-fly augmentation applied per batch).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  ensureSyntheticSet,
  findManifest,
  findSplits,
  folderSource,
  imageDataset,
  isSynthetic,
  loadAll,
  memorySource,
  scanImageFolder,
  validationSplit,
  type DatasetManifest,
  type ImageSource,
  type ScanResult,
} from '../data';
import { applyStudyAugmentation } from '../data/augment-layers';
import type { RunConfig } from '../experiments';
import { makeRng, shuffled } from '../random';
import { shuffleSeed, type Batch } from '../train';
import type { DataKind } from '../viz';
import { makeRunLog, type RunLog } from './log';
import { datasetFingerprint } from './record';

/** One split of the data: an image source and the indices of it in use. */
interface Split {
  source: ImageSource;
  indices: number[];
}

export interface ResolvedData {
  root: string;
  kind: DataKind;
  classes: string[];
  train: Split;
  validation: Split;
  test: Split;
  /** How the splits were made, for the log and config.json. */
  layout: string;
  fingerprint: string;
  counts: { train: number; validation: number; test: number };
}

/** Decode every image once when the whole run's data fits in this many bytes; stream (decode per epoch) above it. */
const IN_MEMORY_BYTES = 512 * 2 ** 20;
/**
 * Synthetic images per class. mask: Train per class (its Validation and Test get 8% and 9.92% of it, as in Face Mask
 * 12K), so 400 gives 32 validation and 40 test images per class; affect: one folder per class, split 75/25 then 80/20.
 * 300 affect images per class: with 120 a ResNet trained from scratch memorised its 72 training images per class
 * (test accuracy 0.22 to 0.45) instead of learning the expressions (0.82 with 180).
 */
const SYNTHETIC_PER_CLASS = { mask: 400, affect: 300 } as const;

/** Seeded subset of at most `k` indices per class, keeping the given order. */
export function capPerClass(indices: readonly number[], labels: ArrayLike<number>, k: number | undefined, seed: string): number[] {
  if (k === undefined) return [...indices];
  const byClass = new Map<number, number[]>();
  for (const i of indices) {
    const members = byClass.get(labels[i]);
    if (members) members.push(i);
    else byClass.set(labels[i], [i]);
  }
  const keep = new Set<number>();
  for (const [label, members] of byClass) for (const i of shuffled(makeRng(`${seed}/class-${label}`), members).slice(0, k)) keep.add(i);
  return indices.filter((i) => keep.has(i));
}

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

function tryManifest(name: string): DatasetManifest | undefined {
  try {
    return findManifest(name);
  } catch {
    return undefined;
  }
}

/**
 * Finds the data's splits: Train/Validation/Test folders (case-insensitive; train/test without a validation folder
 * carve validation from train), or one folder of class folders split seeded into test and train (then validation).
 */
export async function resolveData(cfg: RunConfig, opts: { data?: string; synthetic?: boolean }, log: RunLog = makeRunLog(true)): Promise<ResolvedData> {
  let root: string;
  if (opts.synthetic) {
    const task = cfg.experiment === 'face-mask' ? 'mask' : 'affect';
    root = await ensureSyntheticSet(task, { perClass: SYNTHETIC_PER_CLASS[task], seed: cfg.seed });
  } else {
    root = path.resolve(opts.data!);
    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`data folder ${root} does not exist or is not a folder`);
  }
  const manifest = tryManifest(cfg.data.dataset);
  if (manifest?.root) root = findSplits(root, [manifest.root])[manifest.root] ?? root;
  const splits = findSplits(root, ['Train', 'Validation', 'Test']);
  const seed = cfg.seed;
  const scans: ScanResult[] = [];
  const scan = async (dir: string, classes?: string[]) => {
    const s = await scanImageFolder(dir, classes ? { classes } : {});
    if (s.bad.length) log(`  skipped ${s.bad.length} unreadable file(s) in ${dir}`);
    scans.push(s);
    return s;
  };
  let train: { scan: ScanResult; indices: number[] };
  let validation: { scan: ScanResult; indices: number[] } | undefined;
  let test: { scan: ScanResult; indices: number[] };
  let layout: string;
  if (splits.Train || splits.Test) {
    if (!splits.Train || !splits.Test) throw new Error(`data folder ${root} has a ${splits.Train ? 'Train' : 'Test'} folder but no ${splits.Train ? 'Test' : 'Train'} folder`);
    const tr = await scan(splits.Train);
    train = { scan: tr, indices: all(tr.entries.length) };
    const te = await scan(splits.Test, tr.classes);
    test = { scan: te, indices: all(te.entries.length) };
    if (splits.Validation) {
      const va = await scan(splits.Validation, tr.classes);
      validation = { scan: va, indices: all(va.entries.length) };
    }
    layout = `Train/${splits.Validation ? 'Validation/' : ''}Test folders`;
  } else {
    const whole = await scan(root);
    const s = validationSplit(whole.entries.length, { fraction: cfg.data.testFraction, seed: `${seed}/test` });
    train = { scan: whole, indices: s.train };
    test = { scan: whole, indices: [...s.validation].sort((a, b) => a - b) };
    layout = `one folder of class folders, seeded ${Math.round(100 * (1 - cfg.data.testFraction))}/${Math.round(100 * cfg.data.testFraction)} train/test split`;
  }
  const labels = (x: { scan: ScanResult }) => Int32Array.from(x.scan.entries, (e) => e.label);
  train.indices = capPerClass(train.indices, labels(train), cfg.trainPerClass, `${seed}/subset/train`);
  test.indices = capPerClass(test.indices, labels(test), cfg.testPerClass, `${seed}/subset/test`);
  if (validation) {
    validation.indices = capPerClass(validation.indices, labels(validation), cfg.testPerClass, `${seed}/subset/validation`);
  } else {
    const v = validationSplit(train.indices.length, { fraction: cfg.data.validationFraction, seed });
    validation = { scan: train.scan, indices: v.validation.map((k) => train.indices[k]).sort((a, b) => a - b) };
    train.indices = v.train.map((k) => train.indices[k]);
    layout += `, validation ${cfg.data.validationFraction} of train (seed ${seed})`;
  }
  if (cfg.trainPerClass || cfg.testPerClass) layout += `, at most ${cfg.trainPerClass ?? 'all'} train / ${cfg.testPerClass ?? 'all'} test images per class`;

  const files = scans.flatMap((s) => s.entries.map((e) => ({ relPath: path.relative(root, e.path).split(path.sep).join('/'), size: fs.statSync(e.path).size })));
  const capped = cfg.trainPerClass !== undefined || cfg.testPerClass !== undefined;
  const fullSet = manifest !== undefined && !capped && manifest.splits.every((sp) => sp.total === undefined || scans.some((s) => s.entries.length === sp.total));
  const kind: DataKind = opts.synthetic || isSynthetic(root) ? 'synthetic' : fullSet ? 'full Kaggle set' : 'real sample';
  const split = (x: { scan: ScanResult; indices: number[] }): Split => ({ source: folderSource(x.scan), indices: x.indices });
  return {
    root,
    kind,
    classes: train.scan.classes,
    train: split(train),
    validation: split(validation),
    test: split(test),
    layout,
    fingerprint: datasetFingerprint(files),
    counts: { train: train.indices.length, validation: validation.indices.length, test: test.indices.length },
  };
}

export type BatchFn = (epoch: number) => tf.data.Dataset<Batch>;

/** tf.image.rgbToGrayscale's luma weights, applied without its einsum, which the wasm backend has no kernel for. */
const LUMA = [0.2989, 0.587, 0.114];
const toGrayscale = (xs: tf.Tensor4D): tf.Tensor4D => tf.sum(tf.mul(xs, tf.tensor1d(LUMA)), -1, true);

/** Train, validation and test batch sources: small sets decoded once into memory, big ones streamed; only train is shuffled (per epoch, seeded). */
export async function loadSplits(data: ResolvedData, cfg: RunConfig): Promise<{ train: BatchFn; validation: BatchFn; test: BatchFn }> {
  const size = cfg.imageSize;
  const total = data.counts.train + data.counts.validation + data.counts.test;
  const inMemory = total * size * size * 3 <= IN_MEMORY_BYTES;
  const prepare = async (s: Split): Promise<Split> => (inMemory ? { source: memorySource(await loadAll(s.source, s.indices, size), s.source.describe), indices: all(s.indices.length) } : s);
  const [train, validation, test] = [await prepare(data.train), await prepare(data.validation), await prepare(data.test)];
  const gray = cfg.data.grayscale;
  const make = (s: Split, shuffle: boolean, augment: boolean): BatchFn => (epoch) => {
    const order = shuffle ? shuffled(makeRng(shuffleSeed(cfg.seed, epoch)), s.indices) : s.indices;
    const ds = imageDataset(s.source, order, { imageSize: size, batchSize: cfg.batchSize }) as tf.data.Dataset<Batch>;
    if (!gray && !augment) return ds;
    const rng = makeRng(`${cfg.seed}/augment/epoch-${epoch}`);
    return ds.map((b: Batch) => {
      let xs = b.xs as tf.Tensor4D;
      if (augment) xs = applyStudyAugmentation(xs, cfg.data.augment!, rng);
      if (gray) xs = toGrayscale(xs);
      return { xs, ys: b.ys };
    });
  };
  return { train: make(train, true, !!cfg.data.augment), validation: make(validation, false, false), test: make(test, false, false) };
}

