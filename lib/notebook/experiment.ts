/**
 * The short calls an experiment notebook is made of: run a trial from the parameters cell's values, show a run (the
 * same figures report.html draws), run several trials as a sweep and show them side by side, run one trial over many
 * seeds and show the spread, say what a run means.
 * They take any experiment and trial of the registry (lib/experiments), so a new experiment's notebook needs no new code.
 */
import * as path from 'node:path';
import { describeBackend, initBackend } from '../backend';
import { SCALES, type Scale } from '../experiments';
import { repoRoot } from '../paths';
import { readRun, runExperiment, runFigures, type RunResult, type RunView } from '../runner';
import { notebookProgress } from '../train';
import * as sweep from '../sweep';
import type { SeedSweepResult, SweepRun } from '../sweep';
import { show, sweepCurves, type Figure, type History } from '../viz';
import { trialsTable } from './trials';

/** Shows an experiment's trials with the study's published figures, the row of `trial` (the one the notebook runs) shaded. */
export function showTrials(experiment: string, trial?: string): void {
  show(trialsTable(experiment, trial ? { highlight: trial } : {}));
}

/** A parameters cell's values, as notebooks declare them: '' and 'auto' mean "the default", 0 means "the scale's". */
export interface TrialParams {
  /** A trial of the experiment; '' or absent: its default trial. */
  trial?: string;
  /** A dataset folder; '' or absent: the generated synthetic set. */
  dataDir?: string;
  /** 'smoke', 'quick' or 'full'; default 'quick'. */
  scale?: string;
  /** Default 27 (the study's). */
  seed?: number;
  /** 'tensorflow', 'wasm' or 'cpu'; 'auto', '' or absent: lib/backend's choice. */
  backend?: string;
  /** Epochs; 0 or absent: the scale's. */
  epochs?: number;
  /** Training images per class; 0 or absent: the scale's. */
  trainPerClass?: number;
  /** Folder for the run folders; default <repository>/runs. */
  outDir?: string;
  /** No console lines or progress display (run.log is still written). Default false. */
  quiet?: boolean;
}

const backendOf = (backend: string | undefined) => (!backend || backend === 'auto' ? undefined : backend);

/**
 * Starts the backend a parameters cell names ('auto' or '' = lib/backend's choice) and prints which one it got. It returns
 * nothing, so that a cell ending with it shows only that line (affect.backendReport() gives the details).
 */
export async function useBackend(backend?: string): Promise<void> {
  console.log(describeBackend(await initBackend(backendOf(backend))));
}

function checkScale(scale: string | undefined): Scale {
  const s = scale || 'quick';
  if (!SCALES.includes(s as Scale)) throw new Error(`scale must be one of ${SCALES.join(', ')}; got "${scale}"`);
  return s as Scale;
}

/** What data a run used, in words: the synthetic set is named as such, since its numbers say nothing about the study. */
export function dataUsed(run: { metrics: Pick<RunView['metrics'], 'dataKind'> }, dataDir?: string): string {
  const kind = run.metrics.dataKind;
  return kind === 'synthetic'
    ? "SYNTHETIC DATA (generated drawings, not the study's images)"
    : `${kind}${dataDir ? `: ${dataDir}` : ''}`;
}

/**
 * Runs one trial of `experiment` from a parameters cell's values (see TrialParams): training progress is shown in place,
 * the run folder goes under runs/, and the data used is printed last. Bad values are errors naming them.
 * Example: `const run = await affect.notebook.runTrial('baseline', { trial, dataDir, scale, seed, backend });`
 */
export async function runTrial(experiment: string, params: TrialParams = {}): Promise<RunResult> {
  const run = await runExperiment({
    experiment,
    trial: params.trial || undefined,
    scale: checkScale(params.scale),
    seed: params.seed ?? 27,
    ...(params.dataDir ? { data: params.dataDir } : { synthetic: true }),
    backend: backendOf(params.backend),
    outDir: params.outDir ?? path.join(repoRoot, 'runs'),
    ...(params.epochs ? { epochs: params.epochs } : {}),
    ...(params.trainPerClass ? { trainPerClass: params.trainPerClass } : {}),
    ...(params.quiet ? { quiet: true } : { progress: notebookProgress() }),
  });
  if (!params.quiet) console.log(`Data used: ${dataUsed(run, params.dataDir)}`);
  return run;
}

/** The parts of a run showRun can show; 'all' is every part in one output. */
export type RunPart = 'all' | 'curves' | 'learning-rate' | 'confusion' | 'study';

/** The figures of `part` of a run, as showRun shows them (report.html draws the same ones). */
export function runPartFigures(run: RunView, part: RunPart = 'all'): Figure[] {
  const f = runFigures(run);
  const parts: Record<Exclude<RunPart, 'all'>, Figure[]> = {
    curves: f.curves,
    'learning-rate': f.learningRate ? [f.learningRate] : [],
    confusion: f.confusion,
    study: [f.comparison],
  };
  if (part === 'all') return [...parts.curves, ...parts['learning-rate'], ...parts.confusion, ...parts.study];
  if (!(part in parts))
    throw new Error(`showRun: unknown part "${part}"; accepted: all, ${Object.keys(parts).join(', ')}`);
  return parts[part];
}

/**
 * Shows a run inline (a runTrial result, or a run folder read back with runner.readRun), as one output: the parts asked
 * for, in order: 'curves' (loss and accuracy per epoch, best epoch marked), 'learning-rate', 'confusion' (this run's test
 * set, and the study's where published), 'study' (this run's figures beside the study's), or 'all' (the default).
 * A part the run lacks (a learning rate it did not log, curves of a run of 0 epochs) prints why instead.
 * Example: `nb.showRun(run, 'curves', 'learning-rate')`.
 */
export function showRun(run: RunView, ...parts: RunPart[]): void {
  const asked = parts.length ? parts : (['all'] as RunPart[]);
  const figures: Figure[] = [];
  for (const part of asked) {
    const f = runPartFigures(run, part);
    if (f.length === 0)
      console.log(
        `${run.config.trial}: no ${part} to show (${part === 'learning-rate' ? 'the history has no lr log' : 'the run trained 0 epochs'})`,
      );
    figures.push(...f);
  }
  if (figures.length) show(...figures);
}

/** One line that sums a run up: test accuracy beside the study's and chance, the last epoch's losses, the note, the data used, the folder. */
export function summarizeRun(run: RunView & { runDir?: string }, dataDir?: string): string {
  const m = run.metrics;
  const f = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(4));
  const lines = [
    `${run.config.trial} at the ${run.config.scale} scale: test accuracy ${f(m.testAccuracy)} ` +
      `(study ${m.published.testAccuracy ?? 'not published'}; chance ${f(1 / run.classes.length)}); ` +
      `last epoch loss ${f(m.final.loss)} / val ${f(m.final.val_loss)}; ${m.epochsRun} epochs`,
    `data used: ${dataUsed(run, dataDir)}`,
  ];
  if (run.config.note) lines.push(`NOTE: ${run.config.note}`);
  if (run.runDir) lines.push(`run folder: ${run.runDir}`);
  return lines.join('\n');
}

/** runSweep's parameters: a trial's, and the queue a parameters cell may name. */
export interface SweepParams extends TrialParams {
  /** A redis:// URL: the trials run as jobs for `affect worker` processes sharing the run store; '' or absent: here, one after the other. */
  queue?: string;
}

/**
 * Runs several trials of `experiment` (an array or a comma-separated string) with the same parameters-cell values as a
 * sweep (lib/sweep's runSweep: here, or through `queue`), recorded in the run store's sweeps/ folder: running the cell
 * again reads finished trials instead of training them again. Prints a line per trial and the sweep report's path.
 */
export async function runSweep(
  experiment: string,
  trials: string | string[],
  params: SweepParams = {},
): Promise<SweepRun> {
  const names = (Array.isArray(trials) ? trials : trials.split(',')).map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new Error('runSweep: no trials given');
  const backend = backendOf(params.backend);
  const swept = await sweep.runSweep(
    {
      experiment,
      trials: names,
      scale: checkScale(params.scale),
      seed: params.seed ?? 27,
      ...(params.dataDir ? { data: params.dataDir } : { synthetic: true }),
      ...(backend ? { backend } : {}),
      ...(params.epochs ? { epochs: params.epochs } : {}),
      ...(params.trainPerClass ? { trainPerClass: params.trainPerClass } : {}),
    },
    {
      out: params.outDir ?? path.join(repoRoot, 'runs'),
      ...(params.queue ? { queue: params.queue } : {}),
      ...(params.quiet ? { log: () => undefined } : {}),
    },
  );
  if (!params.quiet) {
    const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));
    for (const t of swept.trials)
      console.log(
        `${t.trial}: ${t.state}; final loss ${f(t.result?.finalLoss)} / val ${f(t.result?.finalValLoss)}; test accuracy ${f(t.result?.testAccuracy)}`,
      );
    console.log(`sweep report: ${swept.report}`);
  }
  return swept;
}

/** Shows a sweep's curves side by side, one panel per trial (train vs validation of `metric`, default loss). */
export function showSweep(
  swept: { trials: { trial: string; history: History }[] },
  opts: { metric?: string; columns?: number; title?: string } = {},
): void {
  const histories = Object.fromEntries(
    swept.trials.filter((t) => t.history.epochs.length).map((t) => [t.trial, t.history]),
  );
  if (Object.keys(histories).length === 0) throw new Error('showSweep: no trial has finished an epoch');
  const metric = opts.metric ?? 'loss';
  show(sweepCurves(histories, { metric, columns: opts.columns ?? 3, title: opts.title ?? `${metric} per trial` }));
}

/** runSeeds' parameters: a trial's (`seed` is the first seed), and how many seeds. */
export interface SeedParams extends TrialParams {
  /** How many consecutive seeds from `seed` on; default 5. */
  seeds?: number;
}

/** A seed sweep as runSeeds returns it: lib/sweep's result and the run store holding its runs. */
export type SeedsRun = SeedSweepResult & { out: string };

/**
 * Runs one trial of `experiment` once per seed (`seeds` of them from `seed`; lib/sweep's runSeedSweep: each seed a
 * resumable sweep in the run store, read back when already finished) and prints the spread of the test and validation
 * accuracy: mean, standard deviation, min and max with the worst and best seed.
 */
export async function runSeeds(experiment: string, params: SeedParams = {}): Promise<SeedsRun> {
  const out = params.outDir ?? path.join(repoRoot, 'runs');
  const backend = backendOf(params.backend);
  const r = await sweep.runSeedSweep(
    {
      experiment,
      ...(params.trial ? { trial: params.trial } : {}),
      seeds: sweep.seedList(params.seed ?? 27, params.seeds ?? 5),
      scale: checkScale(params.scale),
      ...(params.dataDir ? { data: params.dataDir } : { synthetic: true }),
      ...(backend ? { backend } : {}),
      ...(params.epochs ? { epochs: params.epochs } : {}),
      ...(params.trainPerClass ? { trainPerClass: params.trainPerClass } : {}),
    },
    { out, ...(params.quiet ? { log: () => undefined } : {}) },
  );
  if (!params.quiet) console.log(`${r.experiment} / ${r.trial} over ${r.seeds.length} seeds\n${sweep.formatSpread(r)}`);
  return { ...r, out };
}

/**
 * A seed sweep's figures: each seed's test and last-epoch validation accuracy with their means and one-sd bands (the
 * published figure dashed), then the accuracy curves of the worst and the best seed side by side.
 */
export async function seedFigures(r: SeedsRun): Promise<Figure[]> {
  const histories: Record<string, History> = {};
  for (const [label, seed] of [
    ['worst', r.test.worstSeed],
    ['best', r.test.bestSeed],
  ] as const) {
    const runDir = r.seeds.find((s) => s.seed === seed)?.runDir;
    if (runDir) histories[`${label} test accuracy: seed ${seed}`] = (await readRun(path.join(r.out, runDir))).history;
  }
  if (Object.keys(histories).length === 0) throw new Error(`seed sweep ${r.id} has no run folder to show`);
  return [
    sweep.spreadFigure(r),
    sweepCurves(histories, { metric: 'acc', columns: 2, title: 'Accuracy of the worst and the best seed' }),
  ];
}

/** Shows seedFigures(r) in one output. */
export async function showSeeds(r: SeedsRun): Promise<void> {
  show(...(await seedFigures(r)));
}
