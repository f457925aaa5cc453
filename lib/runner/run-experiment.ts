/**
 * Runs one trial of the study end to end: resolve the data (a dataset folder or the synthetic set), assemble the model
 * from the registry, train with lib/train's fit, evaluate on the never-shuffled test set, and write the run folder
 * (config.json, history.csv, metrics.json, confusion.csv, the model, run.log, report.html).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../backend';
import { ConfigError, DataError, RunAborted, RunFailure } from '../errors';
import {
  getTrial,
  resolveTrial,
  validateRunConfig,
  type CallbackConfig,
  type PublishedResult,
  type RunConfig,
  type Scale,
  type TrialOverrides,
} from '../experiments';
import { saveModel } from '../models';
import {
  compileModel,
  consoleProgress,
  cosineDecayRestarts,
  csvLogger,
  earlyStopping,
  evaluate,
  fit,
  latestCheckpoint,
  learningRateScheduler,
  reduceLROnPlateau,
  snapshotEnsemble,
  stepSchedule,
  stepwiseLearningRate,
  type Callback,
  type Evaluation,
  type ProgressSink,
  type TrainHistory,
} from '../train';
import type { DataKind } from '../viz';
import type { BaselineSummary } from '../predict';
import { runBaseline } from './baseline';
import { classCounts, loadSplits, resolveData } from './data';
import { evaluateRunEnsemble, type EnsembleMetrics } from './ensemble';
import { cachedInputs, featureCachePlan, type FeatureCacheRecord } from './features';
import { fileProgress, makeRunLog, teeProgress } from './log';
import { assembleModel, planModel } from './model';
import { confusionCsv, createRunDir, packageVersions, writeJsonAtomic } from './record';
import { describeSettings, writeReport } from './report';
import { acquireLock, type Lock } from '../fs';
import { checkResumeOptions, checkRunOutput, checkStepMemory, dataChanges, type SavedData } from './guard';
import type { RunLog } from './log';

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
  /**
   * The run folder itself, chosen by the caller (a sweep's trial folder), instead of a new `<outDir>/<experiment>/<trial>/<time>/`.
   * Created if missing; one that already holds a run (config.json) is a ConfigError: continue it with `resume`.
   */
  runDir?: string;
  /** Stops the run at the next batch: it throws RunAborted and leaves its last epoch checkpoint for `resume`. */
  signal?: AbortSignal;
  /**
   * Continue the interrupted run in this run folder (from its last epoch checkpoint) with the settings it started with.
   * Other options given with it must agree with the run's (else a ConfigError names them); data that changed since
   * (dataset fingerprint) is refused too.
   */
  resume?: string;
  /**
   * Train on data whose classes differ from the trial's dataset (its manifest's classes, less `data.drop`). Default
   * false: such data is a ConfigError listing both class sets. The report then leaves out "this run vs the study".
   */
  anyClasses?: boolean;
  /** Called once the run folder is known and locked (e.g. to tell the user how to resume after Ctrl-C). */
  onRunDir?: (runDir: string) => void;
  /** No console output (run.log is still written). Default false. */
  quiet?: boolean;
  /**
   * Where training progress is shown (e.g. train.notebookProgress() in a notebook). Default: the console, or nowhere
   * when quiet; run.log gets it either way.
   */
  progress?: ProgressSink;
  /**
   * Train only the top on features computed once, where the backbone is frozen and images are not augmented on the fly
   * (experiment 4's frozen trials), in a fraction of the time: the backbone runs in inference mode (batch norm on its
   * moving statistics), as Keras runs frozen layers. Default true.
   */
  featureCache?: boolean;
  /**
   * Also evaluate face-api's off-the-shelf expression net on the test split, for the comparison (where the classes are
   * expressions it knows). Default 'auto': on real data, not on the synthetic set.
   */
  baseline?: boolean | 'auto';
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
  published: PublishedResult;
  /** The snapshot ensemble's test figures, for trials that train one. */
  ensemble?: EnsembleMetrics;
  /** Set when only the top trained, on the frozen backbone's features computed once. */
  featureCache?: FeatureCacheRecord;
  /** face-api's off-the-shelf expression net on the same test split (see RunOptions.baseline). */
  baseline?: BaselineSummary;
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

const DEFAULT_SEED = 27;

/** What runTrial leaves for runExperiment to clean up when it throws. */
interface RunContext {
  lock?: Lock;
  log?: RunLog;
  /** A run folder this call created (not a resumed or caller-chosen one). */
  created?: string;
  /** Set once training begins: from then on the folder holds a run to resume. */
  training?: boolean;
}

/**
 * Runs a trial; see RunOptions. Returns the run folder and what went into it. Bad options are a ConfigError (nothing is
 * written: a run folder it had created is removed); a run whose loss became NaN writes its records and then throws a
 * RunFailure naming the run folder. Any other failure is logged at the end of run.log. The run folder is locked
 * (run.lock: pid and host) while the run writes it: a second process on it is refused with a LockedError.
 */
export async function runExperiment(opts: RunOptions): Promise<RunResult> {
  const ctx: RunContext = {};
  try {
    return await runTrial(opts, ctx);
  } catch (e) {
    if (ctx.created && !ctx.training && e instanceof ConfigError)
      fs.rmSync(ctx.created, { recursive: true, force: true });
    else if (ctx.log?.file && fs.existsSync(ctx.log.file) && !(e instanceof RunAborted))
      fs.appendFileSync(ctx.log.file, `failed: ${(e as Error).message}\n`);
    throw e;
  } finally {
    ctx.lock?.release();
  }
}

async function runTrial(opts: RunOptions, ctx: RunContext): Promise<RunResult> {
  const resumeDir = opts.resume ? path.resolve(opts.resume) : undefined;
  let cfg: RunConfig;
  if (resumeDir) {
    const saved = readSavedRun(resumeDir);
    checkResumeOptions(resumeDir, { ...opts }, saved.options as unknown as Record<string, unknown>);
    opts = {
      ...saved.options,
      resume: resumeDir,
      quiet: opts.quiet,
      progress: opts.progress,
      signal: opts.signal,
      onRunDir: opts.onRunDir,
    };
    cfg = saved.run;
  } else {
    cfg = resolveTrial(opts.experiment, opts.trial, opts.scale ?? 'quick', opts.seed ?? DEFAULT_SEED, opts);
    if (!opts.data && !opts.synthetic)
      throw new ConfigError('no data given: set `data` to a dataset folder, or `synthetic` to use the synthetic set');
    if (opts.data && opts.synthetic) throw new ConfigError('give either `data` or `synthetic`, not both');
  }
  const plan = planModel(cfg);
  // A resumed run's saved settings already carry the note.
  if (plan.note && !resumeDir) cfg = { ...cfg, note: [cfg.note, plan.note].filter(Boolean).join('; ') };

  const log = makeRunLog(opts.quiet);
  const backend = await initBackend(opts.backend);
  if (!resumeDir) {
    const out = opts.runDir
      ? { path: opts.runDir, what: 'run folder (runDir)' }
      : { path: opts.outDir ?? 'runs', what: 'output folder (outDir, --out)' };
    checkRunOutput(
      out,
      opts.runDir ?? path.join(out.path, cfg.experiment, cfg.trial),
      opts.synthetic ? undefined : opts.data,
    );
  }
  const runDir =
    resumeDir ??
    (opts.runDir
      ? openRunDir(opts.runDir)
      : (ctx.created = createRunDir(opts.outDir ?? 'runs', cfg.experiment, cfg.trial)));
  ctx.lock = acquireLock(path.join(runDir, RUN_LOCK), { command: resumeDir ? 'affect run --resume' : 'affect run' });
  ctx.log = log;
  log.attach(path.join(runDir, 'run.log'));
  if (ctx.lock.tookOver)
    log(`  took over the lock of a stopped run (pid ${ctx.lock.tookOver.pid} on ${ctx.lock.tookOver.host})`);
  opts.onRunDir?.(runDir);
  const published = getTrial(cfg.experiment, cfg.trial).trial.published;

  log(
    `affect run ${cfg.experiment} --trial ${cfg.trial} --scale ${cfg.scale} --seed ${cfg.seed}${resumeDir ? ' (resumed)' : ''}`,
  );
  log(`  ${cfg.description}`);
  if (cfg.note) log(`  NOTE: ${cfg.note}`);
  log(`  settings: ${describeSettings(cfg)}`);
  log(`  ${describeBackend(backend)}`);
  const options = {
    ...opts,
    resume: undefined,
    quiet: undefined,
    progress: undefined,
    signal: undefined,
    runDir: undefined,
  };
  const base = { created: new Date().toISOString(), runDir, run: cfg, options, backend, seed: cfg.seed };
  // Written before the data is resolved (which may generate a set or scan a big one): a run killed meanwhile can be resumed.
  if (!resumeDir) writeJsonAtomic(path.join(runDir, 'config.json'), { ...base, versions: packageVersions() });
  const data = await resolveData(cfg, opts, log).catch((e: Error) => {
    throw e instanceof ConfigError ||
      e instanceof DataError ||
      TRANSIENT_CODES.has((e as NodeJS.ErrnoException).code ?? '')
      ? e
      : new DataError(e.message);
  });
  aborted(opts.signal, runDir);
  if (data.kind === 'synthetic')
    log("  SYNTHETIC DATA: generated images, not the study's; accuracies are not comparable with the study");
  log(`  data: ${data.root} (${data.kind}; ${data.layout})`);
  log(
    `  classes: ${data.classes.join(', ')}; train ${data.counts.train}, validation ${data.counts.validation}, test ${data.counts.test}`,
  );

  const config = {
    ...base,
    classes: data.classes,
    data: {
      kind: data.kind,
      root: data.root,
      dataset: cfg.data.dataset,
      layout: data.layout,
      fingerprint: data.fingerprint,
      counts: data.counts,
      ...(data.classesDiffer ? { expectedClasses: data.expectedClasses, classesDiffer: true } : {}),
    },
    versions: packageVersions(),
  };
  const saved = resumeDir ? readConfig(runDir) : undefined;
  const changed = saved?.data && dataChanges(saved.data, data);
  if (changed)
    throw new ConfigError(
      `cannot resume ${runDir}: the data changed since the run started: ${changed}. Resume with the same data, or start a new run`,
    );
  if (data.classesDiffer)
    log(
      `  classes differ from the trial's dataset (${data.expectedClasses!.join(', ')}), accepted (anyClasses): no comparison with the study`,
    );
  checkStepMemory(cfg, data.counts.train, backend.name);
  // A resumed run keeps its record, unless it died before the record had its data.
  if (!saved || !('classes' in saved))
    writeJsonAtomic(path.join(runDir, 'config.json'), { ...config, created: saved?.created ?? config.created });

  const inputs = await loadSplits(data, cfg);
  aborted(opts.signal, runDir);
  const model = await assembleModel(cfg, classCounts(data.train, data.classes.length), plan);
  // Whatever ends the run (an error, a stop, success), the model, its optimizer's slots, the feature cache and the
  // snapshots are freed once: a notebook or a sweep process goes on to the next run in the same memory.
  let trained: tf.LayersModel = model;
  let cached: Awaited<ReturnType<typeof cachedInputs>> | undefined;
  let snapshots: ReturnType<typeof snapshotEnsemble> | undefined;
  let cachesFreed = false;
  const freeCaches = () => {
    if (cachesFreed) return;
    cachesFreed = true;
    cached?.dispose();
    snapshots?.dispose();
  };
  try {
    // A frozen backbone without on-the-fly augmentation gives the same features every epoch: compute them once, train the top.
    cached =
      opts.featureCache !== false && featureCachePlan(model, cfg).use
        ? await cachedInputs(model, inputs, data.counts, cfg, runDir, log)
        : undefined;
    trained = cached?.top ?? model;
    const train = cached ?? inputs;
    compileModel(trained, cfg.optimizer);

    const callbacks: Callback[] = [
      ...(opts.signal ? [abortCheck(opts.signal, runDir)] : []),
      csvLogger(path.join(runDir, 'history.csv')),
    ];
    const es = cfg.callbacks.earlyStopping;
    if (es)
      callbacks.push(
        earlyStopping({
          monitor: es.monitor,
          patience: es.patience,
          restoreBestWeights: es.restoreBestWeights,
          verbose: 1,
        }),
      );
    const rl = cfg.callbacks.reduceLROnPlateau;
    if (rl)
      callbacks.push(reduceLROnPlateau({ monitor: rl.monitor, factor: rl.factor, patience: rl.patience, verbose: 1 }));
    const sd = cfg.callbacks.stepDecay;
    if (sd) callbacks.push(learningRateScheduler(stepSchedule(cfg.optimizer.lr, sd.factor, sd.epochs), { verbose: 1 }));
    const cr = cfg.callbacks.cosineDecayRestarts;
    if (cr) {
      const { start, firstDecaySteps } = restartsInIterations(cr, Math.ceil(data.counts.train / cfg.batchSize));
      callbacks.push(
        stepwiseLearningRate(
          cosineDecayRestarts(cr.initialLearningRate ?? cfg.optimizer.lr, firstDecaySteps, {
            tMul: cr.tMul,
            start,
            startRate: cfg.optimizer.lr,
          }),
        ),
      );
    }
    snapshots = cfg.snapshots ? snapshotEnsemble(cfg.snapshots) : undefined;
    if (snapshots) callbacks.push(snapshots);

    const checkpointDir = path.join(runDir, 'checkpoints');
    // A run killed before its first epoch ended has nothing to resume from: it starts again from its seed.
    const resumeFrom = resumeDir && latestCheckpoint(checkpointDir) ? checkpointDir : undefined;
    if (resumeDir && !resumeFrom)
      log('  no checkpoint yet (the run stopped in its first epoch): starting from epoch 1');
    const shown = opts.progress ?? (opts.quiet ? undefined : consoleProgress());
    const started = Date.now();
    ctx.training = true;
    const history = await fit(trained, train.train, train.validation, {
      epochs: cfg.epochs,
      callbacks,
      seed: cfg.seed,
      checkpoint: { dir: checkpointDir },
      ...(resumeFrom ? { resumeFrom } : {}),
      progress: shown ? teeProgress(shown, fileProgress(log)) : fileProgress(log),
    }).catch((e: Error) => {
      if (e instanceof RunAborted) log(`  ${e.message}`);
      throw e;
    });
    const trainSeconds = (Date.now() - started) / 1000;
    // The CSV logger writes at each epoch's end: a run of 0 epochs still leaves its (empty) history.
    if (history.epochs.length === 0) fs.writeFileSync(path.join(runDir, 'history.csv'), 'epoch\n');
    if (history.stopReason) log(`  stopped: ${history.stopReason}`);

    const evaluation = await evaluate(trained, train.test, data.classes);
    const ensemble = snapshots
      ? await evaluateRunEnsemble(trained, snapshots, cfg.snapshots!, train.test, data.classes, runDir, log)
      : undefined;
    freeCaches();
    const baseline = await runBaseline(data, opts.baseline, log);
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
      ...(ensemble ? { ensemble } : {}),
      ...(baseline ? { baseline } : {}),
      ...(cached ? { featureCache: cached.record } : {}),
    };
    writeJsonAtomic(path.join(runDir, 'metrics.json'), metrics);
    fs.writeFileSync(path.join(runDir, 'confusion.csv'), confusionCsv(evaluation.confusion, data.classes));
    await saveModel(model, path.join(runDir, 'model'));
    // The finished run has its model and history; its epoch checkpoints were only for resuming.
    fs.rmSync(checkpointDir, { recursive: true, force: true });
    writeReport(path.join(runDir, 'report.html'), cfg, metrics, history, evaluation, data, backend);

    log('');
    log(evaluation.reportText);
    // A non-finite training loss means TerminateOnNaN stopped the run: its test figures come from broken weights.
    if (metrics.epochsRun > 0 && !Number.isFinite(metrics.final.loss)) {
      throw new RunFailure(
        `training failed: ${history.stopReason ?? 'the training loss is not finite'}; the run folder ${runDir} records it (metrics.json stopReason)`,
        runDir,
      );
    }
    const tag = data.kind === 'synthetic' ? ' on SYNTHETIC DATA' : '';
    log(
      `test accuracy${tag}: ${evaluation.accuracy.toFixed(4)} (test loss ` +
        `${evaluation.loss.toFixed(4)}; ${metrics.epochsRun} ` +
        `epochs${metrics.bestEpoch ? `, best epoch ${metrics.bestEpoch}` : ''}; study: ` +
        `${data.classesDiffer ? 'not comparable (other classes)' : (published.testAccuracy ?? 'not published')})`,
    );
    log(`run folder: ${runDir}`);
    log(`report: ${path.join(runDir, 'report.html')}`);
    return { runDir, config: cfg, classes: data.classes, metrics, history, evaluation };
  } finally {
    freeCaches();
    // compile() was given an optimizer instance, so model.dispose() leaves its slot variables to us.
    (trained.optimizer as tf.Optimizer | undefined)?.dispose();
    model.dispose();
  }
}

/** Errors of the file system that may pass (a busy or full disk, a network share away), so they are not bad data. */
const TRANSIENT_CODES = new Set(['EIO', 'ENOSPC', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'ESTALE', 'ETIMEDOUT']);

/** A caller-chosen run folder: created, or accepted when it holds no run yet (a start that died before config.json). */
function openRunDir(dir: string): string {
  const runDir = path.resolve(dir);
  if (fs.existsSync(path.join(runDir, 'config.json')))
    throw new ConfigError(`run folder ${runDir} already holds a run (config.json); resume it instead`);
  fs.mkdirSync(runDir, { recursive: true });
  return runDir;
}

/** The lock file in a run folder while a process writes it. */
export const RUN_LOCK = 'run.lock';

const readConfig = (runDir: string) =>
  JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { created?: string; data?: SavedData };

function aborted(signal: AbortSignal | undefined, runDir: string): void {
  if (signal?.aborted)
    throw new RunAborted(
      `stopped on request (${String(signal.reason ?? 'aborted')}); resume continues from the last epoch checkpoint`,
      runDir,
    );
}

/**
 * Checks the signal after every batch. Training keeps the event loop busy, so it first yields once: signals and IPC
 * messages that abort the run are handled here rather than only when training ends.
 */
function abortCheck(signal: AbortSignal, runDir: string): Callback {
  return {
    name: 'abort',
    onBatchEnd: async () => {
      await new Promise((r) => setImmediate(r));
      aborted(signal, runDir);
    },
  };
}

/** What config.json keeps for resuming: the options the run was started with and the settings it resolved them to. */
function readSavedRun(runDir: string): { options: RunOptions; run: RunConfig } {
  const file = path.join(runDir, 'config.json');
  let config: { options?: RunOptions; run?: RunConfig };
  try {
    config = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof config;
  } catch (e) {
    throw new ConfigError(
      `cannot resume ${runDir}: ${file} is missing or unreadable (${(e as Error).message.split('\n')[0]})`,
    );
  }
  if (!config.options?.experiment || !config.run)
    throw new ConfigError(`cannot resume ${runDir}: ${file} has no saved run options`);
  if (fs.existsSync(path.join(runDir, 'metrics.json')))
    throw new ConfigError(`cannot resume ${runDir}: the run already finished (metrics.json exists)`);
  validateRunConfig(config.run);
  return { options: config.options, run: config.run };
}

/** A trial's warm-restart timing in iterations: as given, or its epochs times the iterations of one epoch. */
export function restartsInIterations(
  cr: NonNullable<CallbackConfig['cosineDecayRestarts']>,
  iterationsPerEpoch: number,
): { start: number; firstDecaySteps: number } {
  if (cr.unit !== 'epoch') return { start: cr.start, firstDecaySteps: cr.firstDecaySteps };
  return { start: cr.start * iterationsPerEpoch, firstDecaySteps: cr.firstDecaySteps * iterationsPerEpoch };
}
