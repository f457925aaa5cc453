/** The study's experiments as data: what each trial trains, on what, and what the study published for it. */
import type { StudyAugmentation } from '../data/augment-layers';

export type OptimizerKind = 'sgd' | 'adam' | 'adamw';

/** Mirrors lib/train's makeOptimizer options; omitted fields take Keras's defaults there. */
export interface OptimizerConfig {
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
}

/** Which head goes on the backbone: the builder's own Dense+Softmax, the study's VGG-like top, or experiment 4's top. */
export type TopKind = 'dense' | 'vgg' | 'pretrained';

export interface ModelConfig {
  /** A key of lib/models' MODEL_BUILDERS ('resnet18'..'resnet152', 'resnet50-imagenet', 'cnn4', 'cnn5'). */
  name: string;
  top: TopKind;
  /** Rescaling(1/255) inside the model. */
  normalize: boolean;
  /** L2 factor on every kernel (Keras `regularizers.l2`), or none. */
  l2?: number;
  /** Flatten instead of global average pooling before the top. */
  flatten?: boolean;
  /** Dropout after the pooling/flatten (the builder's dropout_rate). */
  dropoutRate?: number;
  /** Backbone weights not trained (experiment 4). */
  frozen?: boolean;
}

/** On-the-fly augmentation as Keras preprocessing layers (factors as in Keras); applied by lib/data/augment-layers. */
export type AugmentConfig = StudyAugmentation;

export interface DataConfig {
  /** Dataset variant: a manifest name in data-manifests/ (e.g. 'face-mask-12k'). */
  dataset: string;
  /** Feed the model grayscale images replicated to 3 channels. */
  grayscale?: boolean;
  augment?: AugmentConfig;
  /** Fraction of train held out for validation when the data has no validation folder (Keras validation_split). */
  validationFraction: number;
  /** Fraction held out for test when the data is a single class folder with no Train/Test split. */
  testFraction: number;
}

/** What the study published for a trial; every field optional because the notebooks report different things. */
export interface PublishedResult {
  testAccuracy?: number;
  testLoss?: number;
  epochsRun?: number;
  bestEpoch?: number;
  /** Final (or quoted-epoch) training and validation figures. */
  loss?: number;
  valLoss?: number;
  acc?: number;
  valAcc?: number;
  /** Rows true class, columns predicted, in `confusionClasses` order. */
  confusion?: number[][];
  confusionClasses?: string[];
  perClass?: Record<string, { precision: number; recall: number }>;
  /** The study's own words where its figures are qualitative ("overfit after 14 epochs"). */
  notes?: string;
}

/** How a scale deviates from the trial's published settings. */
export interface ScaleSettings {
  imageSize: number;
  epochs: number;
  batchSize: number;
  /** A learning rate used instead of the trial's (the small CNN at a tiny published rate would not move in a few epochs). */
  lr?: number;
  /** Use at most this many images per class from train / test (validation is carved from the train subset). */
  trainPerClass?: number;
  testPerClass?: number;
  /** A smaller model used instead of the published one; `reason` is printed and recorded. */
  model?: ModelConfig & { reason: string };
  /** One line saying what this scale does, shown by `affect run --help` and in the run record. */
  description: string;
}

export type Scale = 'quick' | 'full';
export const SCALES: readonly Scale[] = ['quick', 'full'];

/** What a trial trains with; shared by the documented trial and the config resolved for one run. */
export interface TrainingSettings {
  model: ModelConfig;
  optimizer: OptimizerConfig;
  batchSize: number;
  /** Upper bound on epochs (EarlyStopping usually ends sooner). */
  epochs: number;
  imageSize: number;
  callbacks: CallbackConfig;
  data: DataConfig;
}

export interface Trial extends TrainingSettings {
  name: string;
  description: string;
  published: PublishedResult;
  quick: ScaleSettings;
}

export interface Experiment {
  name: string;
  /** 1..5, as in the study; also accepted as an alias. */
  number: number;
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
  /** Set when the scale replaced the published model: says which and why. */
  substitution?: string;
  trainPerClass?: number;
  testPerClass?: number;
  seed: number;
}
