/** The study's five experiments and the FER projects' as data, looked up by name or number, and resolved into one run's configuration. */
import { adamSweep } from './adam-sweep';
import { baseline } from './baseline';
import { faceMask } from './face-mask';
import { ferLr } from './fer-lr';
import { ferResnet } from './fer-resnet';
import { ferSmallCnn } from './fer-small-cnn';
import { ferTransfer } from './fer-transfer';
import { pretrained } from './pretrained';
import { smallDataVariance } from './small-data-variance';
import { vggTop } from './vgg-top';
import { ConfigError } from '../errors';
import { smokeScale } from './common';
import { SCALES, type Experiment, type RunConfig, type Scale, type Trial } from './types';

export * from './types';
export { STUDY_AUGMENT_LAYERS } from './pretrained';
export { describeModel } from './common';

/** The study's in its order (1 baseline, 2 adam-sweep, 3 vgg-top, 4 pretrained, 5 face-mask), then the FER projects'. */
export const EXPERIMENTS: readonly Experiment[] = [
  baseline,
  adamSweep,
  vggTop,
  pretrained,
  faceMask,
  ferSmallCnn,
  ferLr,
  ferTransfer,
  ferResnet,
  smallDataVariance,
];

/** Accepted experiment names: each name and, for the study's, its number ('1'..'5'). */
export function experimentNames(): string[] {
  return EXPERIMENTS.flatMap((e) => (e.number === undefined ? [e.name] : [e.name, String(e.number)]));
}

/** Every experiment for a usage line: '1 baseline, ..., 5 face-mask, fer-small-cnn, ...'. */
export function experimentChoices(): string {
  return EXPERIMENTS.map((e) => (e.number === undefined ? e.name : `${e.number} ${e.name}`)).join(', ');
}

/** How an experiment is named in titles: 'experiment 5 (face-mask)' for the study's, 'experiment fer-lr' for the others. */
export function experimentLabel(e: Experiment, capital = false): string {
  const word = capital ? 'Experiment' : 'experiment';
  return e.number === undefined ? `${word} ${e.name}` : `${word} ${e.number} (${e.name})`;
}

/** An experiment by name or number; an unknown one is an error listing the accepted names. */
export function getExperiment(nameOrNumber: string | number): Experiment {
  const key = String(nameOrNumber).trim().toLowerCase();
  const found = EXPERIMENTS.find((e) => e.name === key || (e.number !== undefined && String(e.number) === key));
  if (!found) {
    const names = EXPERIMENTS.map((e) => (e.number === undefined ? e.name : `${e.name} (${e.number})`)).join(', ');
    throw new ConfigError(`unknown experiment "${nameOrNumber}"; accepted: ${names}`);
  }
  return found;
}

/** A trial of an experiment (its default trial when `trial` is omitted); an unknown one is an error listing the experiment's trials. */
export function getTrial(
  experiment: string | number | Experiment,
  trial?: string,
): { experiment: Experiment; trial: Trial } {
  const exp = typeof experiment === 'object' ? experiment : getExperiment(experiment);
  const name = trial ?? exp.defaultTrial;
  const found = exp.trials.find((t) => t.name === name);
  if (!found)
    throw new ConfigError(
      `experiment ${exp.name} has no trial "${name}"; accepted trials: ${exp.trials.map((t) => t.name).join(', ')}`,
    );
  return { experiment: exp, trial: found };
}

/** Command-line or API overrides of a trial's settings. */
export interface TrialOverrides {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  imageSize?: number;
  /** Images per class from train (0: all). */
  trainPerClass?: number;
  testPerClass?: number;
}

/**
 * One run's configuration: the trial at `scale` (full: as published; quick: its ScaleSettings, a learning-rate change
 * and its reason included; smoke: the published set-up on a handful of tiny images), then `overrides`, then validated.
 * Errors are ConfigErrors naming the option and the accepted values.
 */
export function resolveTrial(
  experiment: string | number,
  trial: string | undefined,
  scale: Scale,
  seed: number,
  overrides: TrialOverrides = {},
): RunConfig {
  if (!SCALES.includes(scale)) throw new ConfigError(`unknown scale "${scale}"; accepted: ${SCALES.join(', ')}`);
  const { experiment: exp, trial: t } = getTrial(experiment, trial);
  const q = scale === 'quick' ? t.quick : scale === 'smoke' ? smokeScale(t) : undefined;
  // An lr given by the caller replaces the scale's, and with it the reason.
  const lr = overrides.lr === undefined ? q?.lr : undefined;
  const cfg: RunConfig = {
    experiment: exp.name,
    trial: t.name,
    scale,
    description: q ? `${t.description}; ${q.description}` : t.description,
    model: { ...t.model },
    ...(lr ? { note: `lr ${lr.value} instead of the published ${t.optimizer.lr}: ${lr.reason}` } : {}),
    optimizer: { ...t.optimizer, ...(lr ? { lr: lr.value } : {}) },
    batchSize: q?.batchSize ?? t.batchSize,
    // A trial with nothing to train (0 epochs) keeps 0 at every scale.
    epochs: t.epochs === 0 ? 0 : (q?.epochs ?? t.epochs),
    imageSize: q?.imageSize ?? t.imageSize,
    callbacks: structuredClone(t.callbacks),
    data: structuredClone(t.data),
    ...(t.snapshots
      ? {
          snapshots: {
            ...(q?.snapshots ??
              (scale === 'smoke' ? { ...t.snapshots, every: 1, unit: 'iteration' as const } : t.snapshots)),
          },
        }
      : {}),
    ...(q?.trainPerClass ? { trainPerClass: q.trainPerClass } : {}),
    ...(q?.testPerClass ? { testPerClass: q.testPerClass } : {}),
    seed,
  };
  if (q?.restarts && cfg.callbacks.cosineDecayRestarts)
    cfg.callbacks.cosineDecayRestarts = { ...cfg.callbacks.cosineDecayRestarts, ...q.restarts };
  if (overrides.epochs !== undefined) cfg.epochs = overrides.epochs;
  if (overrides.batchSize !== undefined) cfg.batchSize = overrides.batchSize;
  if (overrides.lr !== undefined) cfg.optimizer.lr = overrides.lr;
  if (overrides.imageSize !== undefined) cfg.imageSize = overrides.imageSize;
  for (const k of ['trainPerClass', 'testPerClass'] as const) {
    const v = overrides[k];
    if (v === undefined) continue;
    if (v === 0) delete cfg[k];
    else cfg[k] = v;
  }
  validateRunConfig(cfg);
  return cfg;
}

const isPosInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;

function validRegExp(source: unknown): boolean {
  if (typeof source !== 'string' || source === '') return false;
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

/** Throws a ConfigError on the first invalid field of a run configuration, naming it (as the option that sets it), its value and what is accepted. */
export function validateRunConfig(cfg: RunConfig): void {
  const bad = (field: string, value: unknown, accepted: string): never => {
    throw new ConfigError(`invalid ${field}: ${JSON.stringify(value)}; ${accepted}`);
  };
  // 0 epochs: evaluate the model as built (Keras' fit(epochs=0)); the majority baseline has nothing to train.
  if (!(Number.isInteger(cfg.epochs) && cfg.epochs >= 0)) bad('epochs', cfg.epochs, 'must be an integer >= 0');
  if (!isPosInt(cfg.batchSize)) bad('batchSize', cfg.batchSize, 'must be a positive integer');
  if (!isPosInt(cfg.imageSize) || cfg.imageSize < 8)
    bad('imageSize', cfg.imageSize, 'must be an integer of at least 8 pixels');
  if (!Number.isInteger(cfg.seed)) bad('seed', cfg.seed, 'must be an integer');
  const o = cfg.optimizer;
  if (!['sgd', 'adam', 'adamw'].includes(o.kind)) bad('optimizer.kind', o.kind, 'accepted: sgd, adam, adamw');
  if (!(Number.isFinite(o.lr) && o.lr > 0)) bad('lr', o.lr, 'must be a number > 0');
  if (o.momentum !== undefined && !(o.momentum >= 0 && o.momentum < 1))
    bad('optimizer.momentum', o.momentum, 'must be in [0, 1)');
  for (const k of ['beta1', 'beta2'] as const) {
    const v = o[k];
    if (v !== undefined && !(v >= 0 && v < 1)) bad(`optimizer.${k}`, v, 'must be in [0, 1)');
  }
  if (o.weightDecay !== undefined && !(o.weightDecay >= 0)) bad('optimizer.weightDecay', o.weightDecay, 'must be >= 0');
  if (cfg.model.l2 !== undefined && !(cfg.model.l2 >= 0)) bad('model.l2', cfg.model.l2, 'must be >= 0');
  if (cfg.model.dropoutRate !== undefined && !(cfg.model.dropoutRate >= 0 && cfg.model.dropoutRate < 1))
    bad('model.dropoutRate', cfg.model.dropoutRate, 'must be in [0, 1)');
  for (const k of ['validationFraction', 'testFraction'] as const)
    if (!(cfg.data[k] > 0 && cfg.data[k] < 1)) bad(`data.${k}`, cfg.data[k], 'must be between 0 and 1 (exclusive)');
  for (const k of ['trainPerClass', 'testPerClass'] as const)
    if (cfg[k] !== undefined && !isPosInt(cfg[k]))
      bad(k, cfg[k], 'must be a positive integer (as an option, 0 means all images)');
  const es = cfg.callbacks.earlyStopping;
  if (es && !(Number.isInteger(es.patience) && es.patience >= 0))
    bad('callbacks.earlyStopping.patience', es.patience, 'must be an integer >= 0');
  const rl = cfg.callbacks.reduceLROnPlateau;
  if (rl && !(rl.factor > 0 && rl.factor < 1))
    bad('callbacks.reduceLROnPlateau.factor', rl.factor, 'must be in (0, 1)');
  const sd = cfg.callbacks.stepDecay;
  if (sd && !(sd.factor > 0 && sd.factor < 1)) bad('callbacks.stepDecay.factor', sd.factor, 'must be in (0, 1)');
  if (sd && !(Array.isArray(sd.epochs) && sd.epochs.every((e) => Number.isInteger(e) && e >= 0)))
    bad('callbacks.stepDecay.epochs', sd.epochs, 'must be a list of epochs (integers >= 0, 0-based)');
  const cr = cfg.callbacks.cosineDecayRestarts;
  if (cr && !(Number.isInteger(cr.start) && cr.start >= 0))
    bad('callbacks.cosineDecayRestarts.start', cr.start, 'must be an integer >= 0 (iterations)');
  if (cr && !isPosInt(cr.firstDecaySteps))
    bad('callbacks.cosineDecayRestarts.firstDecaySteps', cr.firstDecaySteps, 'must be a positive integer (iterations)');
  if (cr && !(cr.tMul >= 1 && Number.isFinite(cr.tMul)))
    bad('callbacks.cosineDecayRestarts.tMul', cr.tMul, 'must be a finite number >= 1');
  if (
    cr &&
    cr.initialLearningRate !== undefined &&
    !(cr.initialLearningRate > 0 && Number.isFinite(cr.initialLearningRate))
  )
    bad('callbacks.cosineDecayRestarts.initialLearningRate', cr.initialLearningRate, 'must be a finite number > 0');
  if (cr && cr.unit !== undefined && cr.unit !== 'iteration' && cr.unit !== 'epoch')
    bad('callbacks.cosineDecayRestarts.unit', cr.unit, 'must be iteration or epoch');
  if (cr && (sd || rl))
    bad(
      'callbacks.cosineDecayRestarts',
      cr,
      `sets the rate every iteration, so it cannot be combined with ${[sd && 'stepDecay', rl && 'reduceLROnPlateau'].filter(Boolean).join(' or ')}`,
    );
  const interpolation = cfg.data.augment?.interpolation;
  if (interpolation !== undefined && !['bilinear', 'nearest'].includes(interpolation))
    bad('data.augment.interpolation', interpolation, 'must be bilinear or nearest');
  const sn = cfg.snapshots;
  if (sn && !(isPosInt(sn.every) && isPosInt(sn.keep) && ['iteration', 'epoch'].includes(sn.unit)))
    bad('snapshots', sn, 'every and keep must be positive integers, unit iteration or epoch');
  if (cfg.data.drop && !(Array.isArray(cfg.data.drop) && cfg.data.drop.every((c) => typeof c === 'string' && c !== '')))
    bad('data.drop', cfg.data.drop, 'must be a list of class names');
  const { group, binary, splitSeed } = cfg.data;
  if (group !== undefined && !validRegExp(group))
    bad('data.group', group, 'must be a regular expression (source text) with a capture group naming the group');
  const className = (c: unknown) => typeof c === 'string' && c !== '';
  if (
    binary !== undefined &&
    !(
      className(binary.positive) &&
      (binary.negative === 'rest' ||
        (Array.isArray(binary.negative) && binary.negative.length > 0 && binary.negative.every(className)))
    )
  ) {
    bad('data.binary', binary, "must be { positive: a class, negative: 'rest' or a list of classes }");
  }
  if (splitSeed !== undefined && !Number.isInteger(splitSeed)) bad('data.splitSeed', splitSeed, 'must be an integer');
}
