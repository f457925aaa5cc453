/**
 * A run's data: find the splits of a dataset folder (or the synthetic set), cap them per class, and serve seeded batches
 * (small sets decoded once into memory, big ones streamed; grayscale and on-the-fly augmentation applied per batch).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  dropClasses,
  binaryClasses,
  binaryClassNames,
  ensureSyntheticSet,
  findManifest,
  findSplits,
  groupOf,
  groupSplit,
  folderSource,
  imageDataset,
  isSynthetic,
  loadAll,
  memorySource,
  readFer2013,
  scanImageFolder,
  validationSplit,
  type DatasetManifest,
  type ImageSource,
  type ScanResult,
} from '../data';
import { applyStudyAugmentation } from '../data/augment-layers';
import { INCOMPLETE_MARKER, isIncomplete } from '../data/outdir';
import { classFolders } from '../data/scan';
import { ConfigError, DataError } from '../errors';
import type { RunConfig } from '../experiments';
import { makeRng, shuffled } from '../random';
import { shuffleSeed, type Batch } from '../train';
import type { DataKind } from '../viz';
import { makeRunLog, type RunLog } from './log';
import { datasetFingerprint } from './record';

/** One split of the data: an image source and the indices of it in use. */
export interface Split {
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
  /** The classes the trial's dataset has (its manifest's, less `data.drop`), where the manifest names them. */
  expectedClasses?: string[];
  /** True when the data's classes differ from expectedClasses and `anyClasses` accepted them: no comparison with the study applies. */
  classesDiffer?: boolean;
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
export function capPerClass(
  indices: readonly number[],
  labels: ArrayLike<number>,
  k: number | undefined,
  seed: string,
): number[] {
  if (k === undefined) return [...indices];
  const byClass = new Map<number, number[]>();
  for (const i of indices) {
    const members = byClass.get(labels[i]);
    if (members) members.push(i);
    else byClass.set(labels[i], [i]);
  }
  const keep = new Set<number>();
  for (const [label, members] of byClass)
    for (const i of shuffled(makeRng(`${seed}/class-${label}`), members).slice(0, k)) keep.add(i);
  return indices.filter((i) => keep.has(i));
}

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

/** validationSplit over a scan's `indices` (positions into them); with a `group` pattern, whole groups, stratified by class. */
function holdOut(
  group: string | undefined,
  scan: ScanResult,
  indices: readonly number[],
  fraction: number,
  seed: number | string,
): { train: number[]; validation: number[] } {
  if (!group) return validationSplit(indices.length, { fraction, seed });
  const groups = indices.map((i) => groupOf(scan.entries[i].path, group));
  return groupSplit(groups, { fraction, seed, labels: indices.map((i) => scan.entries[i].label) });
}

/** Refuses a folder that an interrupted data tool (split, relabel, synth) has not finished: its `.incomplete` marker is in it or its parent. */
function checkFinished(root: string): void {
  for (const dir of [root, path.dirname(root)]) {
    if (isIncomplete(dir))
      throw new DataError(
        `data folder ${root}: ${dir} holds an unfinished data tool's output ` +
          `(${INCOMPLETE_MARKER}); rerun the command that made it to finish it, then run again`,
      );
  }
}

/** Every split must have the Train split's classes (less those dropped): a class only in Test could never be predicted. */
function checkSplitClasses(train: ScanResult, dirs: (string | undefined)[], drop: readonly string[]): void {
  for (const dir of dirs) {
    if (!dir) continue;
    const extra = classFolders(dir).filter((c) => !train.classes.includes(c) && !drop.includes(c));
    if (extra.length)
      throw new DataError(
        `${dir} has the class folder(s) ${extra.join(', ')}, which ${train.root} lacks: every ` +
          `split needs the same classes (${train.root}: ${train.classes.join(', ')}; ${dir}: ` +
          `${classFolders(dir).join(', ')})`,
      );
  }
}

/**
 * The data's classes (Train's, less `data.drop`) against the classes the trial's dataset has (its manifest's, less
 * `data.drop`): fewer than 2 is an error; a different set is a ConfigError listing both, unless `anyClasses`, when the
 * run goes on and is marked as not comparable with the study. Synthetic sets are not checked against a manifest.
 */
function checkClassSet(
  cfg: RunConfig,
  manifest: DatasetManifest | undefined,
  train: Pick<ScanResult, 'root' | 'classes'>,
  anyClasses: boolean,
  synthetic: boolean,
): Pick<ResolvedData, 'expectedClasses' | 'classesDiffer'> {
  const drop = cfg.data.drop ?? [];
  const found = train.classes.filter((c) => !drop.includes(c));
  if (found.length < 2)
    throw new DataError(
      `data folder ${train.root} has ` +
        `${found.length === 0 ? 'no class' : `one class (${found[0]})`}${drop.length ? ` once ${drop.join(', ')} is dropped` : ''}; ` +
        `a classifier needs at least 2 classes`,
    );
  // The synthetic sets imitate a task, not a dataset, and are never compared with the study.
  if (!manifest || synthetic) return {};
  const expected = manifest.classes.filter((c) => !drop.includes(c));
  const same = expected.length === found.length && expected.every((c) => found.includes(c));
  if (same) return { expectedClasses: expected };
  if (!anyClasses) {
    throw new ConfigError(
      `the data's classes do not match trial ${cfg.experiment}/${cfg.trial}: it expects ` +
        `${expected.length} (${expected.join(', ')}; dataset ` +
        `${manifest.name}${drop.length ? `, without ${drop.join(', ')}` : ''}), ${train.root} has ` +
        `${found.length} (${found.join(', ')}). Give the trial's dataset, or accept this class set ` +
        `with anyClasses (--any-classes): the run then trains on these classes and is not compared ` +
        `with the study`,
    );
  }
  return { expectedClasses: expected, classesDiffer: true };
}

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
export async function resolveData(
  cfg: RunConfig,
  opts: { data?: string; synthetic?: boolean; anyClasses?: boolean },
  log: RunLog = makeRunLog(true),
): Promise<ResolvedData> {
  let root: string;
  if (opts.synthetic) {
    const task = cfg.experiment === 'face-mask' ? 'mask' : 'affect';
    root = await ensureSyntheticSet(task, { perClass: SYNTHETIC_PER_CLASS[task], seed: cfg.seed });
  } else {
    root = path.resolve(opts.data!);
    if (/\.csv$/i.test(root) && fs.existsSync(root) && fs.statSync(root).isFile())
      return resolveFer2013Csv(cfg, root, opts.anyClasses ?? false);
    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory())
      throw new Error(`data folder ${root} does not exist or is not a folder (or a FER2013 .csv file)`);
    checkFinished(root);
  }
  const manifest = tryManifest(cfg.data.dataset);
  if (manifest?.root) root = findSplits(root, [manifest.root])[manifest.root] ?? root;
  const splits = findSplits(root, ['Train', 'Validation', 'Test']);
  const seed = cfg.data.splitSeed ?? cfg.seed;
  const synthetic = opts.synthetic === true || isSynthetic(root);
  // Generated images belong to no subject: a trial that splits by groups splits them image by image.
  const group = synthetic ? undefined : cfg.data.group;
  // Whole folders, before the trial's class subset: the data's identity (fingerprint, full set or sample) is theirs.
  const scans: ScanResult[] = [];
  const scan = async (dir: string, classes?: string[]) => {
    const s = await scanImageFolder(dir, classes ? { classes } : {});
    if (s.bad.length) log(`  skipped ${s.bad.length} unreadable file(s) in ${dir}`);
    scans.push(s);
    const kept = dropClasses(s, cfg.data.drop ?? []);
    return cfg.data.binary ? binaryClasses(kept, cfg.data.binary) : kept;
  };
  let train: { scan: ScanResult; indices: number[] };
  let validation: { scan: ScanResult; indices: number[] } | undefined;
  let test: { scan: ScanResult; indices: number[] };
  let layout: string;
  // Checked on the first scan, before anything is split: a wrong class set is refused as such.
  let classCheck: Pick<ResolvedData, 'expectedClasses' | 'classesDiffer'>;
  if (splits.Train || splits.Test) {
    if (!splits.Train || !splits.Test)
      throw new Error(
        `data folder ${root} has a ${splits.Train ? 'Train' : 'Test'} folder but no ${splits.Train ? 'Test' : 'Train'} folder`,
      );
    const tr = await scan(splits.Train);
    classCheck = checkClassSet(cfg, manifest, scans[0], opts.anyClasses ?? false, synthetic);
    train = { scan: tr, indices: all(tr.entries.length) };
    const te = await scan(splits.Test, scans[0].classes);
    test = { scan: te, indices: all(te.entries.length) };
    if (splits.Validation) {
      const va = await scan(splits.Validation, scans[0].classes);
      validation = { scan: va, indices: all(va.entries.length) };
    }
    checkSplitClasses(scans[0], [splits.Test, splits.Validation], cfg.data.drop ?? []);
    layout = `Train/${splits.Validation ? 'Validation/' : ''}Test folders`;
  } else {
    const whole = await scan(root);
    classCheck = checkClassSet(cfg, manifest, scans[0], opts.anyClasses ?? false, synthetic);
    const s = holdOut(group, whole, all(whole.entries.length), cfg.data.testFraction, `${seed}/test`);
    train = { scan: whole, indices: s.train };
    test = { scan: whole, indices: [...s.validation].sort((a, b) => a - b) };
    layout =
      `one folder of class folders, seeded ` +
      `${Math.round(100 * (1 - cfg.data.testFraction))}/${Math.round(100 * cfg.data.testFraction)} ` +
      `train/test split`;
  }
  const labels = (x: { scan: ScanResult }) => Int32Array.from(x.scan.entries, (e) => e.label);
  train.indices = capPerClass(train.indices, labels(train), cfg.trainPerClass, `${seed}/subset/train`);
  test.indices = capPerClass(test.indices, labels(test), cfg.testPerClass, `${seed}/subset/test`);
  if (validation) {
    validation.indices = capPerClass(
      validation.indices,
      labels(validation),
      cfg.testPerClass,
      `${seed}/subset/validation`,
    );
  } else {
    const v = holdOut(group, train.scan, train.indices, cfg.data.validationFraction, seed);
    validation = { scan: train.scan, indices: v.validation.map((k) => train.indices[k]).sort((a, b) => a - b) };
    train.indices = v.train.map((k) => train.indices[k]);
    layout += `, validation ${cfg.data.validationFraction} of train (seed ${seed})`;
  }
  if (cfg.data.drop?.length) layout += `, without ${cfg.data.drop.join(', ')}`;
  if (group) layout += `, held-out parts by whole groups of /${group}/`;
  else if (cfg.data.group)
    layout += `, held-out parts image by image (synthetic images have no /${cfg.data.group}/ groups)`;
  if (cfg.data.binary) layout += `, relabelled ${binaryClassNames(cfg.data.binary).join(' vs ')}`;
  if (cfg.trainPerClass || cfg.testPerClass)
    layout += `, at most ${cfg.trainPerClass ?? 'all'} train / ${cfg.testPerClass ?? 'all'} test images per class`;

  const files = scans.flatMap((s) =>
    s.entries.map((e) => ({
      relPath: path.relative(root, e.path).split(path.sep).join('/'),
      size: fs.statSync(e.rawPath ?? e.path).size,
    })),
  );
  const capped = cfg.trainPerClass !== undefined || cfg.testPerClass !== undefined;
  const fullSet =
    manifest !== undefined &&
    !capped &&
    manifest.splits.every((sp) => sp.total === undefined || scans.some((s) => s.entries.length === sp.total));
  const kind: DataKind = synthetic ? 'synthetic' : fullSet ? 'full Kaggle set' : 'real sample';
  const split = (x: { scan: ScanResult; indices: number[] }): Split => ({
    source: folderSource(x.scan),
    indices: x.indices,
  });
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
    ...classCheck,
  };
}

/**
 * A FER2013 CSV (`emotion,pixels` and optionally `Usage`, as Kaggle serves fer2013.csv) as a run's data, split as the
 * folder layout is: Training rows are train (validation carved from them, seeded) and PublicTest rows test; PrivateTest
 * rows are left out, as the final test set. Without a Usage column the rows are one pool, split seeded into train and
 * test. Classes are numbered in sorted order, as a folder layout's are, so CSV and folder runs agree on labels.
 */
async function resolveFer2013Csv(cfg: RunConfig, file: string, anyClasses: boolean): Promise<ResolvedData> {
  if (cfg.data.group || cfg.data.binary)
    throw new ConfigError(
      `trial ${cfg.experiment}/${cfg.trial} ${cfg.data.group ? 'groups images by file name' : 'relabels class folders'}, ` +
        `which a CSV cannot give: convert ${file} to folders first (affect data fer2013 ${file} DIR --to-folders)`,
    );
  const csv = await readFer2013(file);
  const drop = cfg.data.drop ?? [];
  const unknown = drop.filter((c) => !csv.classes.includes(c));
  if (unknown.length)
    throw new ConfigError(`cannot drop ${unknown.join(', ')}: ${file} has the classes ${csv.classes.join(', ')}`);
  const manifest = tryManifest(cfg.data.dataset);
  const classCheck = checkClassSet(cfg, manifest, { root: file, classes: [...csv.classes].sort() }, anyClasses, false);
  const classes = csv.classes.filter((c) => !drop.includes(c)).sort();
  const relabel = csv.classes.map((c) => classes.indexOf(c));
  const labels = Int32Array.from(csv.labels, (l) => relabel[l]);
  const source: ImageSource = {
    classes,
    size: csv.size,
    labels,
    describe: csv.describe,
    read: (index, size) => csv.read(index, size),
  };
  const seed = cfg.data.splitSeed ?? cfg.seed;
  const rows = (usage?: string) =>
    all(csv.size).filter((i) => labels[i] >= 0 && (usage === undefined || csv.usages[i] === usage));
  const counted = (usage: string) => csv.usages.filter((u) => u === usage).length;
  let train: number[];
  let test: number[];
  let layout: string;
  if (csv.usages.some((u) => u !== '')) {
    train = rows('Training');
    test = rows('PublicTest');
    if (train.length === 0 || test.length === 0)
      throw new DataError(
        `FER2013 CSV ${file} has ${train.length} Training and ${test.length} PublicTest rows${drop.length ? ` once ${drop.join(', ')} is dropped` : ''}: a run needs both`,
      );
    layout = `FER2013 CSV, Training rows train, PublicTest rows test (${counted('PrivateTest')} PrivateTest rows left out)`;
  } else {
    const pool = rows();
    const s = validationSplit(pool.length, { fraction: cfg.data.testFraction, seed: `${seed}/test` });
    train = s.train.map((k) => pool[k]);
    test = s.validation.map((k) => pool[k]).sort((a, b) => a - b);
    layout = `FER2013 CSV without Usage, seeded ${Math.round(100 * (1 - cfg.data.testFraction))}/${Math.round(100 * cfg.data.testFraction)} train/test split`;
  }
  train = capPerClass(train, labels, cfg.trainPerClass, `${seed}/subset/train`);
  test = capPerClass(test, labels, cfg.testPerClass, `${seed}/subset/test`);
  const v = validationSplit(train.length, { fraction: cfg.data.validationFraction, seed });
  const validation = v.validation.map((k) => train[k]).sort((a, b) => a - b);
  train = v.train.map((k) => train[k]);
  layout += `, validation ${cfg.data.validationFraction} of train (seed ${seed})`;
  if (drop.length) layout += `, without ${drop.join(', ')}`;
  const capped = cfg.trainPerClass !== undefined || cfg.testPerClass !== undefined;
  if (capped)
    layout += `, at most ${cfg.trainPerClass ?? 'all'} train / ${cfg.testPerClass ?? 'all'} test images per class`;
  // The full set: Kaggle's row counts per usage, as the manifest gives them for train/ (Training) and test/ (PublicTest).
  const totals = manifest?.splits.map((sp) => sp.total);
  const fullSet =
    manifest?.name === 'fer2013' &&
    !capped &&
    totals?.[0] === counted('Training') &&
    totals[1] === counted('PublicTest');
  return {
    root: file,
    kind: fullSet ? 'full Kaggle set' : 'real sample',
    classes,
    train: { source, indices: train },
    validation: { source, indices: validation },
    test: { source, indices: test },
    layout,
    fingerprint: datasetFingerprint([{ relPath: path.basename(file), size: fs.statSync(file).size }]),
    counts: { train: train.length, validation: validation.length, test: test.length },
    ...classCheck,
  };
}

/** Images per class of a split, in label order (`classes` long, zeros included). */
export function classCounts(split: Split, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const i of split.indices) counts[split.source.labels[i]]++;
  return counts;
}

export type BatchFn = (epoch: number) => tf.data.Dataset<Batch>;

/** tf.image.rgbToGrayscale's luma weights, applied without its einsum, which the wasm backend has no kernel for. */
const LUMA = [0.2989, 0.587, 0.114];
const toGrayscale = (xs: tf.Tensor4D): tf.Tensor4D => tf.sum(tf.mul(xs, tf.tensor1d(LUMA)), -1, true);

/** A run's batch sources; `trainInOrder` is train unshuffled and unaugmented (for computing features once). */
export interface SplitInputs {
  train: BatchFn;
  trainInOrder: BatchFn;
  validation: BatchFn;
  test: BatchFn;
}

/** Train, validation and test batch sources: small sets decoded once into memory, big ones streamed; only train is shuffled (per epoch, seeded). */
export async function loadSplits(data: ResolvedData, cfg: RunConfig): Promise<SplitInputs> {
  const size = cfg.imageSize;
  const total = data.counts.train + data.counts.validation + data.counts.test;
  const inMemory = total * size * size * 3 <= IN_MEMORY_BYTES;
  const prepare = async (s: Split): Promise<Split> =>
    inMemory
      ? {
          source: memorySource(await loadAll(s.source, s.indices, size), s.source.describe),
          indices: all(s.indices.length),
        }
      : s;
  const [train, validation, test] = [
    await prepare(data.train),
    await prepare(data.validation),
    await prepare(data.test),
  ];
  const gray = cfg.data.grayscale;
  const make =
    (s: Split, shuffle: boolean, augment: boolean): BatchFn =>
    (epoch) => {
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
  return {
    train: make(train, true, !!cfg.data.augment),
    trainInOrder: make(train, false, false),
    validation: make(validation, false, false),
    test: make(test, false, false),
  };
}
