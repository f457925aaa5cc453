/**
 * Runs one trial of the study end to end: resolve the data (a Kaggle folder or the synthetic set), build the model,
 * train with fit, evaluate on the never-shuffled test set, and write the run folder (see run-record.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend, type BackendReport } from '../backend';
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
import { describeModel, resolveTrial, getTrial, type RunConfig, type Scale, type TrialOverrides } from '../experiments';
import { buildModel, saveModel, vggTop, withTop } from '../models';
import { makeRng, shuffled } from '../random';
import { accuracyCurves, confusionHeatmap, escapeHtml, learningRate, lossCurves, resultsTable, writeHtmlPage, type DataKind, type ResultRow } from '../viz';
import { applyStudyAugmentation } from '../data/augment-layers';
import { csvLogger, earlyStopping, reduceLROnPlateau } from './callbacks';
import type { Evaluation } from './evaluate';
import { evaluate } from './evaluate';
import { compileModel, fit } from './fit';
import { latestCheckpoint } from './checkpoint';
import { consoleProgress } from './progress';
import { confusionCsv, createRunDir, datasetFingerprint, makeRunLog, packageVersions, writeJsonAtomic, type RunLog } from './run-record';
import { seedModelWeights, shuffleSeed } from './seeding';
import type { Batch, Callback, ProgressSink, TrainHistory } from './types';

export interface RunOptions extends TrialOverrides {
  /** Experiment name or number ('face-mask' or '5'). */
  experiment: string;
  /** Default: the experiment's default trial. */
  trial?: string;
  /** A dataset folder: Train/Validation/Test (or train/test) split folders of class folders, or one folder of class folders. */
  data?: string;
  /** Use the generated synthetic set instead of real data (recorded and printed as SYNTHETIC DATA). */
  synthetic?: boolean;
  /** Default 'quick'. */
  scale?: Scale;
  /** Default 27 (the study's). */
  seed?: number;
  /** tensorflow, wasm or cpu; default: lib/backend's choice. */
  backend?: string;
  /** Default 'runs'. */
  outDir?: string;
  /** Continue the interrupted run in this run folder (from its last epoch checkpoint); other options come from its config.json. */
  resume?: string;
  /** No console output (run.log is still written). Default false. */
  quiet?: boolean;
  /** Where training progress is shown (e.g. train.notebookProgress() in a notebook). Default: the console, or nowhere when quiet; run.log gets it either way. */
  progress?: ProgressSink;
}

export interface RunMetrics {
  testAccuracy: number;
  testLoss: number;
  epochsRun: number;
  /** Epoch with the best val_loss, 1-based as the study counts; its weights are the final ones only when EarlyStopping stopped the run. */
  bestEpoch?: number;
  stopReason?: string;
  /** Last epoch's training and validation figures. */
  final: Record<string, number>;
  perClass: Evaluation['perClass'];
  macro: Evaluation['macro'];
  weighted: Evaluation['weighted'];
  dataKind: DataKind;
  trainSeconds: number;
  published: ReturnType<typeof getTrial>['trial']['published'];
}

export interface RunResult {
  runDir: string;
  config: RunConfig;
  /** Class names in label order (the confusion matrix's rows and columns). */
  classes: string[];
  metrics: RunMetrics;
  history: TrainHistory;
  evaluation: Evaluation;
}

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

const DEFAULT_SEED = 27;
/** Decode every image once when the whole run's data fits in this many bytes; stream (decode per epoch) above it. */
const IN_MEMORY_BYTES = 512 * 2 ** 20;
/**
 * Synthetic images per class. mask: Train per class (its Validation and Test get 8% and 9.92% of it, as in Face Mask
 * 12K), so 400 gives 32 validation and 40 test images per class; affect: one folder per class, split 75/25 then 80/20.
 */
const SYNTHETIC_PER_CLASS = { mask: 400, affect: 120 } as const;

/** Runs a trial; see RunOptions. Returns the run folder and what went into it. */
export async function runExperiment(opts: RunOptions): Promise<RunResult> {
  const resumeDir = opts.resume ? path.resolve(opts.resume) : undefined;
  if (resumeDir) opts = { ...readSavedOptions(resumeDir), resume: resumeDir, quiet: opts.quiet, progress: opts.progress };
  const seed = opts.seed ?? DEFAULT_SEED;
  const scale = opts.scale ?? 'quick';
  const cfg = resolveTrial(opts.experiment, opts.trial, scale, seed, opts);
  if (!opts.data && !opts.synthetic) throw new Error('no data given: pass a dataset folder (--data DIR) or use the synthetic set (--synthetic)');
  if (opts.data && opts.synthetic) throw new Error('give either a dataset folder (--data) or --synthetic, not both');

  const log = makeRunLog(opts.quiet);
  const backend = await initBackend(opts.backend);
  const runDir = resumeDir ?? createRunDir(opts.outDir ?? 'runs', cfg.experiment, cfg.trial);
  log.attach(path.join(runDir, 'run.log'));
  const published = getTrial(cfg.experiment, cfg.trial).trial.published;

  log(`affect run ${cfg.experiment} --trial ${cfg.trial} --scale ${cfg.scale} --seed ${seed}${resumeDir ? ' (resumed)' : ''}`);
  log(`  ${cfg.description}`);
  if (cfg.substitution) log(`  NOTE: ${cfg.substitution}`);
  log(`  settings: ${describeSettings(cfg)}`);
  log(`  ${describeBackend(backend)}`);
  const data = await resolveData(cfg, opts, log);
  if (data.kind === 'synthetic') log('  SYNTHETIC DATA: generated images, not the study\'s; accuracies are not comparable with the study');
  log(`  data: ${data.root} (${data.kind}; ${data.layout})`);
  log(`  classes: ${data.classes.join(', ')}; train ${data.counts.train}, validation ${data.counts.validation}, test ${data.counts.test}`);

  const config = {
    created: new Date().toISOString(),
    runDir,
    run: cfg,
    options: { ...opts, resume: undefined, quiet: undefined, progress: undefined },
    backend,
    seed,
    classes: data.classes,
    data: { kind: data.kind, root: data.root, dataset: cfg.data.dataset, layout: data.layout, fingerprint: data.fingerprint, counts: data.counts },
    versions: packageVersions(),
  };
  if (!resumeDir) writeJsonAtomic(path.join(runDir, 'config.json'), config);

  const inputs = await loadSplits(data, cfg);
  const model = await buildRunModel(cfg, data.classes.length);
  compileModel(model, cfg.optimizer);

  const callbacks: Callback[] = [csvLogger(path.join(runDir, 'history.csv'))];
  const es = cfg.callbacks.earlyStopping;
  if (es) callbacks.push(earlyStopping({ monitor: es.monitor, patience: es.patience, restoreBestWeights: es.restoreBestWeights, verbose: 1 }));
  const rl = cfg.callbacks.reduceLROnPlateau;
  if (rl) callbacks.push(reduceLROnPlateau({ monitor: rl.monitor, factor: rl.factor, patience: rl.patience, verbose: 1 }));

  const checkpointDir = path.join(runDir, 'checkpoints');
  // A run killed before its first epoch ended has nothing to resume from: it starts again from its seed.
  const resumeFrom = resumeDir && latestCheckpoint(checkpointDir) ? checkpointDir : undefined;
  if (resumeDir && !resumeFrom) log('  no checkpoint yet (the run stopped in its first epoch): starting from epoch 1');
  const shown = opts.progress ?? (opts.quiet ? undefined : consoleProgress());
  const started = Date.now();
  const history = await fit(model, inputs.train, inputs.validation, {
    epochs: cfg.epochs,
    callbacks,
    seed,
    checkpoint: { dir: checkpointDir },
    ...(resumeFrom ? { resumeFrom } : {}),
    progress: shown ? teeProgress(shown, fileProgress(log)) : fileProgress(log),
  });
  const trainSeconds = (Date.now() - started) / 1000;
  if (history.stopReason) log(`  stopped: ${history.stopReason}`);

  const evaluation = await evaluate(model, inputs.test, data.classes);
  const last = history.epochs.length - 1;
  const metrics: RunMetrics = {
    testAccuracy: evaluation.accuracy,
    testLoss: evaluation.loss,
    epochsRun: history.epochs.length,
    ...(history.bestEpoch !== undefined ? { bestEpoch: history.bestEpoch + 1 } : {}),
    ...(history.stopReason ? { stopReason: history.stopReason } : {}),
    final: Object.fromEntries(Object.entries(history.logs).map(([k, v]) => [k, v[last]])),
    perClass: evaluation.perClass,
    macro: evaluation.macro,
    weighted: evaluation.weighted,
    dataKind: data.kind,
    trainSeconds,
    published,
  };
  writeJsonAtomic(path.join(runDir, 'metrics.json'), metrics);
  fs.writeFileSync(path.join(runDir, 'confusion.csv'), confusionCsv(evaluation.confusion, data.classes));
  await saveModel(model, path.join(runDir, 'model'));
  // The finished run has its model and history; its epoch checkpoints were only for resuming.
  fs.rmSync(checkpointDir, { recursive: true, force: true });
  writeReport(path.join(runDir, 'report.html'), cfg, metrics, history, evaluation, data, backend);
  // compile() was given an optimizer instance, so model.dispose() leaves its slot variables to us.
  model.optimizer.dispose();
  model.dispose();

  log('');
  log(evaluation.reportText);
  const tag = data.kind === 'synthetic' ? ' on SYNTHETIC DATA' : '';
  log(`test accuracy${tag}: ${evaluation.accuracy.toFixed(4)} (test loss ${evaluation.loss.toFixed(4)}; ${metrics.epochsRun} epochs${metrics.bestEpoch ? `, best epoch ${metrics.bestEpoch}` : ''}; study: ${published.testAccuracy ?? 'not published'})`);
  log(`run folder: ${runDir}`);
  log(`report: ${path.join(runDir, 'report.html')}`);
  return { runDir, config: cfg, classes: data.classes, metrics, history, evaluation };
}

/** The settings in force after scale and overrides, in one line. */
export function describeSettings(cfg: RunConfig): string {
  const o = cfg.optimizer;
  const opt = [`${o.kind} lr ${o.lr}`, o.momentum ? `momentum ${o.momentum}` : '', o.nesterov ? 'nesterov' : '', o.weightDecay ? `weight decay ${o.weightDecay}` : ''].filter(Boolean).join(' ');
  const m = cfg.model;
  const model = `${describeModel(m)}${m.normalize ? '' : ' (no rescaling)'}${m.l2 ? `, L2 ${m.l2}` : ''}`;
  const subset = cfg.trainPerClass || cfg.testPerClass ? `, at most ${cfg.trainPerClass ?? 'all'} train / ${cfg.testPerClass ?? 'all'} test images per class` : '';
  const extra = [cfg.data.grayscale ? 'grayscale' : '', cfg.data.augment ? 'on-the-fly augmentation' : ''].filter(Boolean).join(', ');
  return `${model}; ${cfg.imageSize} px; ${opt}; batch ${cfg.batchSize}; up to ${cfg.epochs} epochs${subset}${extra ? `; ${extra}` : ''}`;
}

/** The options a run folder was started with, for --resume. */
function readSavedOptions(runDir: string): RunOptions {
  const file = path.join(runDir, 'config.json');
  let config: { options?: RunOptions };
  try {
    config = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot resume ${runDir}: ${file} is missing or unreadable (${(e as Error).message.split('\n')[0]})`);
  }
  if (!config.options?.experiment) throw new Error(`cannot resume ${runDir}: ${file} has no saved run options`);
  if (fs.existsSync(path.join(runDir, 'metrics.json'))) throw new Error(`cannot resume ${runDir}: the run already finished (metrics.json exists)`);
  return config.options;
}

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
export async function resolveData(cfg: RunConfig, opts: Pick<RunOptions, 'data' | 'synthetic'>, log: RunLog = makeRunLog(true)): Promise<ResolvedData> {
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

type BatchFn = (epoch: number) => tf.data.Dataset<Batch>;

/** Train, validation and test batch sources: small sets decoded once into memory, big ones streamed; only train is shuffled (per epoch, seeded). */
async function loadSplits(data: ResolvedData, cfg: RunConfig): Promise<{ train: BatchFn; validation: BatchFn; test: BatchFn }> {
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
      if (gray) xs = tf.image.rgbToGrayscale(xs);
      return { xs, ys: b.ys };
    });
  };
  return { train: make(train, true, !!cfg.data.augment), validation: make(validation, false, false), test: make(test, false, false) };
}

/** Builds the trial's model (backbone, top, freezing) and seeds its weights from the run's seed (not a pretrained backbone's). */
async function buildRunModel(cfg: RunConfig, classes: number): Promise<tf.LayersModel> {
  const m = cfg.model;
  const channels = cfg.data.grayscale ? 1 : 3;
  let model = await buildModel(m.name, {
    inputShape: [cfg.imageSize, cfg.imageSize, channels],
    outputUnits: classes,
    includeTop: m.top !== 'vgg',
    normalize: m.normalize,
    ...(m.l2 ? { kernelRegularizer: tf.regularizers.l2({ l2: m.l2 }) } : {}),
    ...(m.flatten ? { flatten: true } : {}),
    ...(m.dropoutRate ? { dropoutRate: m.dropoutRate } : {}),
    ...(m.frozen !== undefined ? { frozen: m.frozen } : {}),
  });
  if (m.top === 'vgg') model = withTop(model, vggTop, classes);
  if (m.name !== 'resnet50-imagenet') seedModelWeights(model, cfg.seed);
  return model;
}

/** A progress sink that writes plain lines (no redraws) through the run log. */
function fileProgress(log: RunLog): ProgressSink {
  let pending = '';
  return consoleProgress({
    tty: false,
    intervalSeconds: 60,
    stream: {
      write(s: string) {
        pending += s;
        const lines = pending.split('\n');
        pending = lines.pop()!;
        // The console sink shows these; only the file needs them.
        for (const l of lines) if (log.file) fs.appendFileSync(log.file, l + '\n');
      },
    },
  });
}

/** Sends progress to two sinks (the one shown, console or notebook, and run.log). */
function teeProgress(a: ProgressSink, b: ProgressSink): ProgressSink {
  return {
    trainBegin: (i) => (a.trainBegin?.(i), b.trainBegin?.(i)),
    epochBegin: (e, n, s) => (a.epochBegin?.(e, n, s), b.epochBegin?.(e, n, s)),
    batch: (e, k, s, l) => (a.batch?.(e, k, s, l), b.batch?.(e, k, s, l)),
    epochEnd: (e, l, sec, st) => (a.epochEnd?.(e, l, sec, st), b.epochEnd?.(e, l, sec, st)),
    message: (t) => (a.message(t), b.message(t)),
    trainEnd: () => (a.trainEnd?.(), b.trainEnd?.()),
  };
}

/** report.html: what ran, this run vs the study, the curves, the confusion matrix and the classification report. */
/** This run's figures next to the study's published ones, one row each (test accuracy, loss, epochs, final train/val figures), for viz.resultsTable. */
export function studyComparison(metrics: RunMetrics): ResultRow[] {
  const p = metrics.published;
  const row = (name: string, run: number | undefined, study: number | undefined, note?: string): ResultRow => ({ name, run, study, data: metrics.dataKind, ...(note ? { note } : {}) });
  return [
    row('test accuracy', metrics.testAccuracy, p.testAccuracy),
    row('test loss', metrics.testLoss, p.testLoss),
    row('epochs run', metrics.epochsRun, p.epochsRun, p.notes),
    row('best epoch (val_loss)', metrics.bestEpoch, p.bestEpoch),
    row('final train loss', metrics.final.loss, p.loss),
    row('final val loss', metrics.final.val_loss, p.valLoss),
    row('final train acc', metrics.final.acc, p.acc),
    row('final val acc', metrics.final.val_acc, p.valAcc),
  ];
}

function writeReport(file: string, cfg: RunConfig, metrics: RunMetrics, history: TrainHistory, ev: Evaluation, data: ResolvedData, backend: BackendReport): void {
  const p = metrics.published;
  const rows = studyComparison(metrics);
  const warnings = [
    data.kind === 'synthetic' ? 'SYNTHETIC DATA: generated images, not the study\'s; the numbers below are not comparable with the study.' : '',
    cfg.substitution ? `NOTE: ${cfg.substitution}.` : '',
  ].filter(Boolean);
  const figures = [lossCurves(history), accuracyCurves(history)];
  if (history.logs.lr) figures.push(learningRate(history));
  const confusion = [confusionHeatmap(ev.confusion, data.classes, { title: 'Confusion matrix (this run)' })];
  if (p.confusion && p.confusionClasses) confusion.push(confusionHeatmap(p.confusion, p.confusionClasses, { title: 'Confusion matrix (study)' }));
  writeHtmlPage(file, `${cfg.experiment} / ${cfg.trial} (${cfg.scale})`, [
    {
      heading: 'Run',
      text: [...warnings, cfg.description, `Settings: ${describeSettings(cfg)}.`, `Data: ${data.root} (${data.kind}; ${data.layout}). Classes: ${data.classes.join(', ')}. Train ${data.counts.train}, validation ${data.counts.validation}, test ${data.counts.test}.`, `Seed ${cfg.seed}; ${describeBackend(backend)}; ${metrics.trainSeconds.toFixed(1)} s of training.${metrics.stopReason ? ` ${metrics.stopReason}.` : ''}`].join('\n\n'),
    },
    { heading: 'This run vs the study', figures: [resultsTable(rows)] },
    { heading: 'Training curves', figures },
    { heading: 'Test set', figures: confusion, html: `<pre>${escapeHtml(ev.reportText)}</pre>` },
  ]);
}
