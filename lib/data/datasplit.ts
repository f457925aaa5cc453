/**
 * The study's datasplit, made safe and reproducible: a seeded per-class train/test split, optional balancing by
 * augmentation, `train.csv`/`test.csv`. Unlike the original it never touches the input (unless `inPlace`, which moves
 * test files as the original did), never loses a file to a name collision, is seeded end to end, and is interrupt-safe
 * (see outdir.ts: a rerun of the same command resumes).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import {
  AugmentPool,
  type AugmentSpec,
  STUDY_AUGMENT_PIPELINE,
  compileAugmentation,
  loadAugmentation,
} from './augment';
import { toCsv } from './csv';
import { type RgbImage, decodeRgb } from './image';
import { ConfigError } from '../errors';
import { checkOutputOutside, checkWritable, fileInside } from '../fs';
import { checkDiskRoom, checkOutputCount } from './limits';
import {
  type OutputIO,
  beginOutput,
  copyFileAtomic,
  defaultIO,
  finishOutput,
  runUntilFailure,
  writeFileAtomic,
  writeUnlessDone,
} from './outdir';
import { type ProgressOptions, progressBar } from './progress';
import { type BadImage, type ImageEntry, type OnBadImage, mapLimit, scanImageFolder } from './scan';
import { SYNTHETIC_MARKER } from './synth';
import { makeRng, sampleWithReplacement, shuffled } from '../random';

export interface PlanOptions {
  /** Fraction of each class for train, > 0.5 and < 1. Default 0.8. */
  trainSplit?: number;
  balanceTrain?: boolean;
  balanceTest?: boolean;
  /** Scales the balancing targets; ignored unless balancing. Default 1. */
  globalMultiplier?: number;
}

/** Images of one class in each part: originals and augmented copies. */
export interface SplitCounts {
  train: number;
  test: number;
  trainAug: number;
  testAug: number;
}

/** Python's round(): to nearest, ties to even (pandas `sample(frac=...)` uses it). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

function checkPlanOptions(o: PlanOptions): Required<PlanOptions> {
  const trainSplit = o.trainSplit ?? 0.8;
  const globalMultiplier = o.globalMultiplier ?? 1;
  if (!(trainSplit > 0.5 && trainSplit < 1))
    throw new ConfigError(`--train-split: train split must be > 0.5 and < 1, got ${trainSplit}`);
  if (!(globalMultiplier >= 1 && Number.isFinite(globalMultiplier)))
    throw new ConfigError(`--global-multiplier: global multiplier must be >= 1, got ${globalMultiplier}`);
  return { trainSplit, globalMultiplier, balanceTrain: o.balanceTrain ?? false, balanceTest: o.balanceTest ?? false };
}

/**
 * How many images each class gets, with the original's arithmetic (floating point included): train = round(split * n);
 * balancing target for train = ceil(largest * split), for test = largest - that; class multiplier
 * m = global * target / count, and when m > 1 the class gets ceil(m * count) - count augmented copies.
 * An empty part gets no copies (there is nothing to sample from).
 */
export function planSplit(
  countsPerClass: Record<string, number>,
  options: PlanOptions = {},
): Record<string, SplitCounts> {
  const o = checkPlanOptions(options);
  const sizes = Object.values(countsPerClass);
  const largest = Math.max(0, ...sizes);
  const largestTrain = Math.ceil(largest * o.trainSplit);
  const largestTest = largest - largestTrain;
  const extra = (balance: boolean, target: number, n: number) => {
    if (!balance || n === 0) return 0;
    const m = (o.globalMultiplier * target) / n;
    return m > 1 ? Math.ceil(m * n) - n : 0;
  };
  const out: Record<string, SplitCounts> = {};
  for (const [c, n] of Object.entries(countsPerClass)) {
    const train = roundHalfEven(o.trainSplit * n);
    const test = n - train;
    out[c] = {
      train,
      test,
      trainAug: extra(o.balanceTrain, largestTrain, train),
      testAug: extra(o.balanceTest, largestTest, test),
    };
  }
  return out;
}

/** The folder holding the class folders: `<input>/train` when it exists (the original's layout), else `<input>`. */
export function findImageRoot(input: string): string {
  const train = path.join(input, 'train');
  return fs.existsSync(train) && fs.statSync(train).isDirectory() ? train : input;
}

export interface DatasplitOptions extends PlanOptions {
  /** `<input>/train/<class>/...` or `<input>/<class>/...`. */
  input: string;
  /** New or empty folder; required unless `inPlace`. */
  output?: string;
  /** Default 27 (the study's). */
  seed?: number | string;
  /** Pipeline file (JSON) or spec. Default: the study's (augment-study.json). */
  augment?: string | AugmentSpec;
  /** Defaults train.csv, test.csv, label, filename. */
  trainCsv?: string;
  testCsv?: string;
  labelColumn?: string;
  filenameColumn?: string;
  /** Default 'skip' (reported in the result). */
  onBadImage?: OnBadImage;
  /** Split inside `<input>` (must hold `train/`): moves test files to `<input>/test/`, writes augmented files and CSVs there. */
  inPlace?: boolean;
  /** Augmentation worker threads. Default: one per core. */
  threads?: number;
  /** Progress line on stderr. Default off. */
  progress?: boolean | ProgressOptions;
  /** Output writer (tests inject failures here). */
  io?: OutputIO;
}

export interface ClassSummary extends SplitCounts {
  className: string;
  source: number;
}

export interface DatasplitResult {
  output: string;
  /** True when an interrupted run was finished. */
  resumed: boolean;
  classes: ClassSummary[];
  bad: BadImage[];
}

interface Job {
  op: 'copy' | 'move' | 'augment';
  /** Absolute for copy/move; for augment, relative to the output (the original, already in place). */
  src: string;
  /** The source's name as bytes (base64), when it is not valid UTF-8. */
  rawSrc?: string;
  /** Relative to the output. */
  dest: string;
  seed?: string;
}

interface SplitPlan {
  classes: ClassSummary[];
  bad: BadImage[];
  /** Copies and moves first, then augmentations (which read the originals from the output). */
  jobs: Job[][];
  csv: { train: string[][]; test: string[][] };
}

/** Splits (and optionally balances) an image folder; see DatasplitOptions. Returns per-class counts. */
export async function datasplit(options: DatasplitOptions): Promise<DatasplitResult> {
  const plan = checkPlanOptions(options);
  const input = path.resolve(options.input);
  const seed = String(options.seed ?? 27);
  const inPlace = options.inPlace ?? false;
  const root = findImageRoot(input);
  if (inPlace && root === input)
    throw new Error(`--in-place needs the original layout ${input}/train/<class>/...; ${input}/train does not exist`);
  if (!inPlace && !options.output) throw new ConfigError('datasplit needs an output folder (or in-place mode)');
  const output = inPlace ? input : path.resolve(options.output!);
  if (!inPlace) checkOutputOutside({ path: output, what: 'output' }, [{ path: input, what: 'input' }]);
  const augSource = typeof options.augment === 'string' ? path.resolve(options.augment) : 'augmentation pipeline';
  const spec =
    typeof options.augment === 'string'
      ? loadAugmentation(augSource).spec
      : compileAugmentation(options.augment ?? STUDY_AUGMENT_PIPELINE).spec;
  const csvNames = { train: options.trainCsv ?? 'train.csv', test: options.testCsv ?? 'test.csv' };
  const columns = [options.labelColumn ?? 'label', options.filenameColumn ?? 'filename'];
  if (columns[0] === columns[1])
    throw new ConfigError(`--label-column and --filename-column must differ, both are "${columns[0]}"`);
  if (csvNames.train === csvNames.test)
    throw new ConfigError(`--train-csv and --test-csv must differ, both are "${csvNames.train}"`);
  for (const [part, flag] of [
    ['train', '--train-csv'],
    ['test', '--test-csv'],
  ] as const) {
    const name = csvNames[part];
    // A name with a folder could land in a class folder (or, through `..` or a link, anywhere): only plain names.
    if (name !== path.basename(name) || name === '.' || name === '..' || name === '')
      throw new ConfigError(`${flag} "${name}" must be a plain file name, written in the output folder ${output}`);
    fileInside(output, name, flag);
  }
  checkWritable(output, 'output folder');
  const balancing = plan.balanceTrain || plan.balanceTest;
  const fingerprint = {
    input,
    output,
    seed,
    inPlace,
    ...plan,
    globalMultiplier: balancing ? plan.globalMultiplier : 1,
    augment: balancing ? spec : null,
    csvNames,
    columns,
    onBadImage: options.onBadImage ?? 'skip',
  };

  const { plan: p, resumed } = await beginOutput<SplitPlan>(
    output,
    'datasplit',
    fingerprint,
    async () => {
      if (inPlace) {
        for (const f of ['test', csvNames.train, csvNames.test]) {
          if (fs.existsSync(path.join(input, f)))
            throw new Error(`in-place split: ${path.join(input, f)} already exists; it would be overwritten`);
        }
      }
      const onBad = options.onBadImage ?? 'skip';
      const scan = await scanImageFolder(root, { onBadImage: onBad });
      // Before decoding anything: an output that cannot fit (memory for the plan, or the disk) is refused now.
      checkPlanSize(output, scan.entries, planSplit(scan.counts, plan));
      const entries = await keepDecodable(scan.entries, scan.bad, onBad);
      return makePlan(scan.classes, entries, scan.bad, { ...plan, seed, inPlace });
    },
    { allowNonEmpty: inPlace },
  );

  const io = options.io ?? defaultIO;
  const total = p.jobs.reduce((a, j) => a + j.length, 0);
  const bar = progressBar('datasplit', total, options.progress);
  const pool = p.jobs[1].length ? new AugmentPool(spec, { threads: options.threads, source: augSource }) : undefined;
  try {
    const [copies, augs] = p.jobs;
    await runUntilFailure(copies, 8, (job) =>
      writeUnlessDone(path.join(output, job.dest), (dest) => copyOrMove(job, dest, io)).then(() => bar?.tick()),
    );
    // Copies of one original run together, so it is decoded once however many copies it gets.
    await runUntilFailure(groupBySource(augs), 8, (group) => {
      let original: Promise<RgbImage> | undefined;
      return runUntilFailure(group, group.length, async (job) => {
        await writeUnlessDone(path.join(output, job.dest), async (dest) => {
          original ??= decodeRgb(path.join(output, job.src));
          const img = await pool!.augment(await original, job.seed!);
          const png = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
            .png()
            .toBuffer();
          await writeFileAtomic(dest, png, io);
        });
        bar?.tick();
      });
    });
    for (const part of ['train', 'test'] as const) {
      await writeFileAtomic(path.join(output, csvNames[part]), toCsv(columns, p.csv[part]), io);
    }
    // A split of a synthetic set is synthetic too: keep the marker that says so.
    const marker = path.join(input, SYNTHETIC_MARKER);
    if (!inPlace && fs.existsSync(marker)) await copyFileAtomic(marker, path.join(output, SYNTHETIC_MARKER), io);
  } catch (e) {
    throw new Error(
      `datasplit: ${(e as Error).message}. The output ${output} is incomplete (it holds .incomplete); rerun the same command to resume, or delete it`,
    );
  } finally {
    await pool?.close();
  }
  bar?.finish();
  finishOutput(output);
  return { output, resumed, classes: p.classes, bad: p.bad };
}

/** Refuses a plan whose files the plan itself (held in memory and in the marker) or the disk could not hold. */
function checkPlanSize(output: string, entries: readonly ImageEntry[], counts: Record<string, SplitCounts>): void {
  let copies = 0;
  let augmented = 0;
  for (const c of Object.values(counts)) {
    copies += c.train + c.test;
    augmented += c.trainAug + c.testAug;
  }
  checkOutputCount(copies + augmented, '--global-multiplier (with --balance-train/--balance-test)');
  // Augmented copies are PNGs of decoded originals: count them at a few times an average input file.
  const sample = entries.filter((_, i) => i % Math.max(1, Math.floor(entries.length / 200)) === 0);
  const mean =
    sample.reduce((a, e) => a + (fs.statSync(e.rawPath ?? e.path, { throwIfNoEntry: false })?.size ?? 0), 0) /
    Math.max(1, sample.length);
  checkDiskRoom(output, mean * (copies + 3 * augmented), `${copies} copies and ${augmented} augmented images`);
}

/**
 * The scan reads only each file's first bytes: decode every image once, before anything is written, so that a truncated
 * or oversized one is skipped (added to `bad`) or fails here, naming the input file, rather than half-way through a run.
 */
async function keepDecodable(entries: ImageEntry[], bad: BadImage[], onBad: OnBadImage): Promise<ImageEntry[]> {
  const read = async (e: ImageEntry) =>
    e.rawPath ? decodeRgb(await fs.promises.readFile(e.rawPath), { name: e.path }) : decodeRgb(e.path);
  const errors = await mapLimit(entries, 4, (e) =>
    read(e).then(
      () => undefined,
      (err: Error) => err.message,
    ),
  );
  const first = errors.findIndex((m) => m !== undefined);
  if (first >= 0 && onBad === 'fail') throw new Error(`bad image ${entries[first].path}: ${errors[first]}`);
  entries.forEach((e, i) => {
    const reason = errors[i];
    if (reason !== undefined) bad.push({ path: e.path, reason });
  });
  return entries.filter((_, i) => errors[i] === undefined);
}

function makePlan(
  classes: string[],
  entries: ImageEntry[],
  bad: BadImage[],
  o: Required<PlanOptions> & { seed: string; inPlace: boolean },
): SplitPlan {
  const byClass = new Map(classes.map((c) => [c, entries.filter((e) => e.className === c)]));
  const counts = planSplit(Object.fromEntries(classes.map((c) => [c, byClass.get(c)!.length])), o);
  const copies: Job[] = [];
  const augs: Job[] = [];
  const csv: SplitPlan['csv'] = { train: [], test: [] };
  const summary: ClassSummary[] = [];
  for (const c of classes) {
    const files = byClass.get(c)!;
    const n = counts[c];
    summary.push({ className: c, source: files.length, ...n });
    const order = shuffled(makeRng(`${o.seed}:split:${c}`), files);
    const byRel = (a: ImageEntry, b: ImageEntry) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0);
    const parts = { train: order.slice(0, n.train).sort(byRel), test: order.slice(n.train).sort(byRel) };
    for (const part of ['train', 'test'] as const) {
      // Within the class folder; nested subfolders are kept, so originals never collide.
      const inClass = (e: ImageEntry) => e.relPath.slice(c.length + 1);
      const taken = new Set<string>();
      for (const e of parts[part]) {
        const dest = `${part}/${c}/${inClass(e)}`;
        taken.add(inClass(e));
        csv[part].push([c, inClass(e)]);
        if (o.inPlace && part === 'train') continue;
        copies.push({
          op: o.inPlace ? 'move' : 'copy',
          src: e.path,
          ...(e.rawPath ? { rawSrc: e.rawPath.toString('base64') } : {}),
          dest,
        });
      }
      const k = part === 'train' ? n.trainAug : n.testAug;
      const sources = sampleWithReplacement(makeRng(`${o.seed}:augment-sources:${part}:${c}`), parts[part], k);
      sources.forEach((e, i) => {
        const stem = path.basename(e.relPath, path.extname(e.relPath));
        let name = `aug_${String(i).padStart(6, '0')}_${stem}.png`;
        for (let j = 1; taken.has(name); j++) name = `aug_${String(i).padStart(6, '0')}_${stem}_${j}.png`;
        taken.add(name);
        csv[part].push([c, name]);
        augs.push({
          op: 'augment',
          src: `${part}/${c}/${inClass(e)}`,
          dest: `${part}/${c}/${name}`,
          seed: `${o.seed}:augment:${part}:${c}:${i}`,
        });
      });
    }
  }
  return { classes: summary, bad, jobs: [copies, augs], csv };
}

async function copyOrMove(job: Job, dest: string, io: OutputIO): Promise<void> {
  // A source name that is not valid UTF-8 opens only by its bytes.
  const src = job.rawSrc ? Buffer.from(job.rawSrc, 'base64') : job.src;
  if (job.op === 'copy') return copyFileAtomic(src, dest, io);
  await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  await fs.promises.rename(src, dest);
}

/** Jobs grouped by `src`, in order of first appearance. */
function groupBySource(jobs: Job[]): Job[][] {
  const groups = new Map<string, Job[]>();
  for (const j of jobs) {
    const group = groups.get(j.src);
    if (group) group.push(j);
    else groups.set(j.src, [j]);
  }
  return [...groups.values()];
}

/** The end-of-run table: per class, source images, train and test originals and augmented copies, and totals. */
export function formatSplitSummary(r: DatasplitResult): string {
  const head = ['class', 'source', 'train', 'train aug', 'test', 'test aug'];
  const rows = r.classes.map((c) => [c.className, c.source, c.train, c.trainAug, c.test, c.testAug].map(String));
  const sum = (k: keyof SplitCounts | 'source') => String(r.classes.reduce((a, c) => a + c[k], 0));
  rows.push(['total', sum('source'), sum('train'), sum('trainAug'), sum('test'), sum('testAug')]);
  const widths = head.map((h, j) => Math.max(h.length, ...rows.map((row) => row[j].length)));
  const fmt = (row: string[]) => row.map((v, j) => (j === 0 ? v.padEnd(widths[j]) : v.padStart(widths[j]))).join('  ');
  const lines = [`${r.output}${r.resumed ? ' (resumed an interrupted run)' : ''}`, fmt(head), ...rows.map(fmt)];
  if (r.bad.length)
    lines.push(`${r.bad.length} unreadable file(s) skipped:`, ...r.bad.map((b) => `  ${b.path}: ${b.reason}`));
  return lines.join('\n');
}
