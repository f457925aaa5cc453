/**
 * Runs one trial of the study end to end: resolve the data (a dataset folder or the synthetic set), assemble the model
 * from the registry, train with lib/train's fit, evaluate on the never-shuffled test set, and write the run folder
 * (config.json, history.csv, metrics.json, confusion.csv, the model, run.log, report.html).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeBackend, initBackend } from '../backend';
import { ConfigError, RunFailure } from '../errors';
import { getTrial, resolveTrial, validateRunConfig, type PublishedResult, type RunConfig, type Scale, type TrialOverrides } from '../experiments';
import { saveModel } from '../models';
import { compileModel, consoleProgress, csvLogger, earlyStopping, evaluate, fit, latestCheckpoint, reduceLROnPlateau, type Callback, type Evaluation, type ProgressSink, type TrainHistory } from '../train';
import type { DataKind } from '../viz';
import { loadSplits, resolveData } from './data';
import { fileProgress, makeRunLog, teeProgress } from './log';
import { assembleModel, planModel } from './model';
import { confusionCsv, createRunDir, packageVersions, writeJsonAtomic } from './record';
import { describeSettings, writeReport } from './report';

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
  /** Continue the interrupted run in this run folder (from its last epoch checkpoint) with the settings it started with. */
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
  published: PublishedResult;
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

/**
 * Runs a trial; see RunOptions. Returns the run folder and what went into it. Bad options are a ConfigError (nothing is
 * written); a run whose loss became NaN writes its records and then throws a RunFailure naming the run folder.
 */
export async function runExperiment(opts: RunOptions): Promise<RunResult> {
  const resumeDir = opts.resume ? path.resolve(opts.resume) : undefined;
  let cfg: RunConfig;
  if (resumeDir) {
    const saved = readSavedRun(resumeDir);
    opts = { ...saved.options, resume: resumeDir, quiet: opts.quiet, progress: opts.progress };
    cfg = saved.run;
  } else {
    cfg = resolveTrial(opts.experiment, opts.trial, opts.scale ?? 'quick', opts.seed ?? DEFAULT_SEED, opts);
    if (!opts.data && !opts.synthetic) throw new ConfigError('no data given: set `data` to a dataset folder, or `synthetic` to use the synthetic set');
    if (opts.data && opts.synthetic) throw new ConfigError('give either `data` or `synthetic`, not both');
  }
  const plan = planModel(cfg);
  // A resumed run's saved settings already carry the note.
  if (plan.note && !resumeDir) cfg = { ...cfg, note: [cfg.note, plan.note].filter(Boolean).join('; ') };

  const log = makeRunLog(opts.quiet);
  const backend = await initBackend(opts.backend);
  const runDir = resumeDir ?? createRunDir(opts.outDir ?? 'runs', cfg.experiment, cfg.trial);
  log.attach(path.join(runDir, 'run.log'));
  const published = getTrial(cfg.experiment, cfg.trial).trial.published;

  log(`affect run ${cfg.experiment} --trial ${cfg.trial} --scale ${cfg.scale} --seed ${cfg.seed}${resumeDir ? ' (resumed)' : ''}`);
  log(`  ${cfg.description}`);
  if (cfg.note) log(`  NOTE: ${cfg.note}`);
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
    seed: cfg.seed,
    classes: data.classes,
    data: { kind: data.kind, root: data.root, dataset: cfg.data.dataset, layout: data.layout, fingerprint: data.fingerprint, counts: data.counts },
    versions: packageVersions(),
  };
  if (!resumeDir) writeJsonAtomic(path.join(runDir, 'config.json'), config);

  const inputs = await loadSplits(data, cfg);
  const model = await assembleModel(cfg, data.classes.length, plan);
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
    seed: cfg.seed,
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
  // A non-finite training loss means TerminateOnNaN stopped the run: its test figures come from broken weights.
  if (!Number.isFinite(metrics.final.loss)) {
    throw new RunFailure(`training failed: ${history.stopReason ?? 'the training loss is not finite'}; the run folder ${runDir} records it (metrics.json stopReason)`, runDir);
  }
  const tag = data.kind === 'synthetic' ? ' on SYNTHETIC DATA' : '';
  log(`test accuracy${tag}: ${evaluation.accuracy.toFixed(4)} (test loss ${evaluation.loss.toFixed(4)}; ${metrics.epochsRun} epochs${metrics.bestEpoch ? `, best epoch ${metrics.bestEpoch}` : ''}; study: ${published.testAccuracy ?? 'not published'})`);
  log(`run folder: ${runDir}`);
  log(`report: ${path.join(runDir, 'report.html')}`);
  return { runDir, config: cfg, classes: data.classes, metrics, history, evaluation };
}

/** What config.json keeps for resuming: the options the run was started with and the settings it resolved them to. */
function readSavedRun(runDir: string): { options: RunOptions; run: RunConfig } {
  const file = path.join(runDir, 'config.json');
  let config: { options?: RunOptions; run?: RunConfig };
  try {
    config = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot resume ${runDir}: ${file} is missing or unreadable (${(e as Error).message.split('\n')[0]})`);
  }
  if (!config.options?.experiment || !config.run) throw new ConfigError(`cannot resume ${runDir}: ${file} has no saved run options`);
  if (fs.existsSync(path.join(runDir, 'metrics.json'))) throw new ConfigError(`cannot resume ${runDir}: the run already finished (metrics.json exists)`);
  validateRunConfig(config.run);
  return { options: config.options, run: config.run };
}
