/**
 * What a run checks before it writes or trains: that its output stays out of its data and can be written, that a
 * resume keeps the run's own settings and finds the same data, and that one training step fits in memory.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import { getExperiment, type RunConfig } from '../experiments';
import { checkWritable, isInsideReal, realPath } from '../fs';
import { recordText } from './record';

/** What a run's config.json records about its data (see runExperiment). */
export interface SavedData {
  root?: string;
  fingerprint?: string;
  counts?: { train: number; validation: number; test: number };
}

/**
 * Refuses an output folder (`outDir`, or a caller-chosen run folder) that is or lies inside the data folder (symlinks,
 * `..` and case variants included), so a run folder never becomes a class of its data, and a folder where the run
 * folders would go (`runParent`, e.g. `<outDir>/<experiment>/<trial>`) that holds the data; then one that cannot be
 * written (permission denied, read-only), before anything is scanned or trained.
 */
export function checkRunOutput(out: { path: string; what: string }, runParent: string, data: string | undefined): void {
  if (data && isInsideReal(out.path, data)) {
    throw new ConfigError(
      `${out.what} ${out.path} is inside the data folder ` +
        `${data}${realPath(out.path) !== path.resolve(out.path) ? ` (real path ${realPath(out.path)})` : ''}: ` +
        `its run folders would become part of the data; choose an output outside it`,
    );
  }
  if (data && isInsideReal(data, runParent))
    throw new ConfigError(
      `${out.what} ${out.path}: the run folders would go to ${runParent}, which holds the data folder ${data}; choose another output`,
    );
  checkWritable(out.path, out.what);
}

/** Options a resume takes from the run itself; anything else given with `resume` must agree with what the run saved. */
const RESUME_OWN = new Set(['resume', 'quiet', 'progress', 'signal', 'onRunDir']);

/**
 * The options given alongside `resume` that contradict the run's saved ones, as `name: given X, the run has Y`.
 * `experiment` is compared by experiment (a number or a name), `data` by real path; unset and empty values agree.
 */
export function resumeConflicts(given: Record<string, unknown>, saved: Record<string, unknown>): string[] {
  const out: string[] = [];
  const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
  for (const [key, value] of Object.entries(given)) {
    if (RESUME_OWN.has(key) || value === undefined || value === '') continue;
    const had = saved[key];
    let same: boolean;
    if (key === 'experiment') same = safeName(recordText(value, '')) === safeName(recordText(had, ''));
    else if (key === 'data' || key === 'outDir' || key === 'runDir')
      same = typeof had === 'string' && realPath(recordText(value, '')) === realPath(had);
    else same = JSON.stringify(value) === JSON.stringify(had) || (value === false && had === undefined);
    if (!same) out.push(`${key}: given ${show(value)}, the run has ${show(had)}`);
  }
  return out;
}

const safeName = (e: string) => {
  try {
    return getExperiment(e).name;
  } catch {
    return e;
  }
};

/** Throws a ConfigError naming every option that contradicts the run being resumed. */
export function checkResumeOptions(
  runDir: string,
  given: Record<string, unknown>,
  saved: Record<string, unknown>,
): void {
  const conflicts = resumeConflicts(given, saved);
  if (conflicts.length) {
    throw new ConfigError(
      `cannot resume ${runDir} with other settings (${conflicts.join('; ')}): a resume continues ` +
        `the run with the settings it started with; leave these options out, or start a new run`,
    );
  }
}

/**
 * What changed between the data a run started with (config.json's `data`) and the data found now, or undefined when
 * nothing did: the folder, the number of images in each split, or (same counts) the files' names or sizes.
 */
export function dataChanges(
  saved: SavedData,
  now: { root: string; fingerprint: string; counts: { train: number; validation: number; test: number } },
): string | undefined {
  if (!saved.fingerprint || saved.fingerprint === now.fingerprint) return undefined;
  const parts: string[] = [];
  if (saved.root && path.resolve(saved.root) !== path.resolve(now.root))
    parts.push(`the folder was ${saved.root}, now ${now.root}`);
  for (const k of ['train', 'validation', 'test'] as const) {
    const [a, b] = [saved.counts?.[k], now.counts[k]];
    if (a !== undefined && a !== b) parts.push(`${k} had ${a} images, now ${b}`);
  }
  if (parts.length === 0) parts.push('the same number of images, but files were renamed, replaced or changed in size');
  return `${parts.join('; ')} (dataset fingerprint ${saved.fingerprint.slice(0, 12)}... then, ${now.fingerprint.slice(0, 12)}... now)`;
}

/**
 * Rough bytes one training step needs per image: the float32 input times what a ResNet keeps for its backward pass
 * (about a hundred input-sized maps at these depths; ResNet-50 at 224 px keeps about 60 MB an image).
 */
const STEP_BYTES_PER_INPUT_BYTE = 100;
/** tfjs' wasm backend keeps every tensor in one 32-bit wasm memory. */
const WASM_MEMORY = 4 * 2 ** 30;

/**
 * Refuses (ConfigError naming batchSize and imageSize) a run whose training step cannot fit in what the backend can
 * hold (wasm: its 4 GiB memory; cpu and tensorflow: this machine's memory), with the estimate and the limit.
 */
export function checkStepMemory(
  cfg: Pick<RunConfig, 'batchSize' | 'imageSize'>,
  trainImages: number,
  backend: string,
): void {
  const batch = Math.max(1, Math.min(cfg.batchSize, trainImages));
  const need = batch * cfg.imageSize * cfg.imageSize * 3 * 4 * STEP_BYTES_PER_INPUT_BYTE;
  const [limit, where] =
    backend === 'wasm'
      ? [WASM_MEMORY, "the wasm backend's 4 GiB memory"]
      : [os.totalmem(), `this machine's ${gib(os.totalmem())} of memory`];
  if (need > limit) {
    throw new ConfigError(
      `batchSize ${cfg.batchSize} (${batch} in use) at imageSize ${cfg.imageSize} px needs about ` +
        `${gib(need)} for one training step (input and the activations kept for the backward ` +
        `pass), more than ${where}: lower --image-size or --batch-size`,
    );
  }
}

const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
