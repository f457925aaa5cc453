/** The study's experiments as data: what each trial trains, on what, and what the study published for it. */
import type { StudyAugmentation } from '../data/augment-layers';
import type { BinaryLabels } from '../data/groups';
import type { ModelOptions, TopKind } from '../models/registry';

export type { TopKind };

export type OptimizerKind = 'sgd' | 'adam' | 'adamw';

/** A trial's optimizer as declared; lib/train's OptimizerConfig takes it as is, and omitted fields take Keras's defaults there. */
export interface TrialOptimizer {
  kind: OptimizerKind;
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}

export interface CallbackConfig {
  /** EarlyStopping(monitor, patience, restore_best_weights). */
  earlyStopping?: { monitor: 'val_loss'; patience: number; restoreBestWeights: boolean };
  /** ReduceLROnPlateau(monitor, factor, patience). */
  reduceLROnPlateau?: { monitor: 'val_loss'; factor: number; patience: number };
  /** LearningRateScheduler with a step schedule: the optimizer's lr times `factor` from each of `epochs` (0-based) on. */
  stepDecay?: { factor: number; epochs: number[] };
  /**
   * The optimizer's lr for `start` iterations, then CosineDecayRestarts(initialLearningRate, firstDecaySteps, t_mul =
   * tMul): the rate falls to 0 along half a cosine in each cycle and restarts, set before every iteration (snapshot
   * ensembles take one snapshot at the end of each cycle). `initialLearningRate` defaults to the optimizer's lr.
   * `start` and `firstDecaySteps` count iterations, or with `unit: 'epoch'` epochs, which the run turns into
   * iterations once it knows its training set (so cycles end with epochs whatever the data's size).
   */
  cosineDecayRestarts?: {
    start: number;
    firstDecaySteps: number;
    tMul: number;
    initialLearningRate?: number;
    unit?: 'iteration' | 'epoch';
  };
}

/** A model of lib/models' registry with its top and options; the registry rejects a top or option the model does not take. */
export interface ModelConfig extends ModelOptions {
  /** A registry name ('resnet18'..'resnet152', 'resnet50-imagenet', 'cnn4', 'cnn5'). */
  name: string;
  top: TopKind;
}

/** On-the-fly augmentation as Keras preprocessing layers (factors as in Keras); applied by lib/data/augment-layers. */
export type AugmentConfig = StudyAugmentation;

export interface DataConfig {
  /** Dataset variant: a manifest name in data-manifests/ (e.g. 'face-mask-12k'). */
  dataset: string;
  /** Feed the model one-channel grayscale images (every image is decoded to RGB first, whatever its file holds). */
  grayscale?: boolean;
  augment?: AugmentConfig;
  /** Classes left out of every split (e.g. FER2013's small 'disgust'); the rest keep their sorted order and are numbered 0..k-1. */
  drop?: string[];
  /**
   * A regular expression on each image's file name whose first capture group names its group (e.g. `'^(S\\d+)_'`, the
   * CK+ subject): validation and test splits carved by the runner then take whole groups, so no subject is in two splits.
   * Default: images are split one by one.
   */
  group?: string;
  /** One class against the others (`{ positive: 'happy', negative: 'rest' }`): the class folders become two classes. */
  binary?: BinaryLabels;
  /** Seed of the train / validation / test split instead of the run's seed, so that runs with different seeds share one split. */
  splitSeed?: number;
  /** Fraction of train held out for validation when the data has no validation folder (Keras validation_split). */
  validationFraction: number;
  /** Fraction held out for test when the data is a single class folder with no Train/Test split. */
  testFraction: number;
}

/** Training and validation figures of one epoch, as Keras logs them (`loss`, `val_loss`, `accuracy`, `val_accuracy`). */
export interface EpochFigures {
  loss?: number;
  valLoss?: number;
  acc?: number;
  valAcc?: number;
}

/**
 * What the study published for a trial; every field optional because the notebooks report different things.
 * Epoch figures come in two sets, so that a run is compared like with like: the flat `loss`/`valLoss`/`acc`/`valAcc`
 * are the last epoch run (`epochsRun`, a run's final history row), and `best` is the epoch EarlyStopping restored
 * (`bestEpoch`, whose weights the test figures were measured with). Epochs count from 1, as Keras prints them.
 */
export interface PublishedResult extends EpochFigures {
  /** Measured with the restored best weights where EarlyStopping restored them. */
  testAccuracy?: number;
  testLoss?: number;
  /** The last epoch run, where the flat epoch figures were logged. */
  epochsRun?: number;
  /** The epoch whose weights were restored (lowest val_loss), where `best` was logged. */
  bestEpoch?: number;
  /** Figures at `bestEpoch`, where the study gives them apart from the last epoch's. */
  best?: EpochFigures;
  /** Rows true class, columns predicted, in `confusionClasses` order. */
  confusion?: number[][];
  confusionClasses?: string[];
  perClass?: Record<string, { precision: number; recall: number }>;
  /** The study's own words where its figures are qualitative ("overfit after 14 epochs"). */
  notes?: string;
  /** The snapshot ensemble's figures, where the trial trains one (`snapshots`). */
  ensemble?: { testAccuracy: number; members: number };
  /** Where the figures come from, for trials of projects other than the study (the study's trials cite its README). */
  source?: string;
}

/**
 * How a scale shrinks a trial; the model, top, optimizer kind, callbacks and data variant are always the trial's
 * (a quick run retimes warm restarts, counted in iterations, to its own length).
 */
export interface ScaleSettings {
  imageSize: number;
  epochs: number;
  batchSize: number;
  /** A learning rate used instead of the trial's, and why (printed, and recorded as the run's `note`). */
  lr?: { value: number; reason: string };
  /** Use at most this many images per class from train / test (validation is carved from the train subset). */
  trainPerClass?: number;
  testPerClass?: number;
  /** Snapshot settings used instead of the trial's (a quick run is too short for the published interval). */
  snapshots?: TrainingSettings['snapshots'];
  /** Warm-restart timing used instead of the trial's cosineDecayRestarts', in step with `snapshots`. */
  restarts?: Required<Pick<NonNullable<CallbackConfig['cosineDecayRestarts']>, 'start' | 'firstDecaySteps' | 'unit'>>;
  /** One line saying what this scale does, in the run's description. */
  description: string;
}

/** smoke: the published set-up on a handful of tiny images for one epoch; quick: minutes on a CPU; full: as published. */
export type Scale = 'smoke' | 'quick' | 'full';
export const SCALES: readonly Scale[] = ['smoke', 'quick', 'full'];

/** What a trial trains with; shared by the documented trial and the config resolved for one run. */
export interface TrainingSettings {
  model: ModelConfig;
  optimizer: TrialOptimizer;
  batchSize: number;
  /** Upper bound on epochs (EarlyStopping usually ends sooner). */
  epochs: number;
  imageSize: number;
  callbacks: CallbackConfig;
  data: DataConfig;
  /** Snapshot ensemble: copy the weights every `every` iterations (or epochs) and also evaluate the mean softmax of the last `keep`. */
  snapshots?: { every: number; unit: 'iteration' | 'epoch'; keep: number };
}

export interface Trial extends TrainingSettings {
  name: string;
  description: string;
  published: PublishedResult;
  quick: ScaleSettings;
}

export interface Experiment {
  name: string;
  /** 1..5 for the study's experiments, as it numbers them; also accepted as an alias. The other projects' experiments have none. */
  number?: number;
  title: string;
  description: string;
  trials: Trial[];
  /** The trial `affect run <experiment>` runs without --trial. */
  defaultTrial: string;
}

/** A trial resolved for one run: scale applied, command-line overrides applied, seed fixed. Saved as config.json's `run`. */
export interface RunConfig extends TrainingSettings {
  experiment: string;
  trial: string;
  scale: Scale;
  description: string;
  /** Set when the scale changed the learning rate: says which and why (console, config.json and report print it as NOTE). */
  note?: string;
  trainPerClass?: number;
  testPerClass?: number;
  seed: number;
}
