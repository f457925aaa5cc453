/** The model zoo: the study's ResNets, tops, the ImageNet ResNet-50, small CNNs, summaries, saving and loading. */
import type * as tf from '@tensorflow/tfjs';
import { InputOptions, Regularizer, setTrainable } from './common';
import { InitializerLike, ResNetDepth, resnet } from './resnet';
import { cnn4, cnn5 } from './small-cnn';
import { loadImagenetResNet50 } from './imagenet';
import { pretrainedTop, withTop } from './tops';

export * from './common';
export * from './resnet';
export * from './tops';
export * from './summary';
export * from './small-cnn';
export * from './imagenet';
export * from './io';
export * from './h5';

/** The options every entry of MODEL_BUILDERS accepts (each builder ignores what does not apply to it). */
export interface ZooOptions extends InputOptions {
  /** Classes of the softmax output. */
  outputUnits: number;
  /** The builder's own classifier (Dense + Softmax; for resnet50-imagenet the study's pretrained top). Default true. */
  includeTop?: boolean;
  kernelRegularizer?: Regularizer;
  kernelInitializer?: InitializerLike;
  flatten?: boolean;
  dropoutRate?: number;
  /** Freeze the backbone (resnet50-imagenet: default true, as in experiment 4). */
  frozen?: boolean;
}

export type ModelBuilder = (options: ZooOptions) => Promise<tf.LayersModel>;

const resnetBuilder = (depth: ResNetDepth): ModelBuilder => async (o) => {
  const model = resnet(depth, o);
  if (o.frozen) setTrainable(model, false);
  return model;
};

/** Builders by the names experiment configs use. resnet50-imagenet needs the cached weights (`affect weights fetch resnet50-imagenet`). */
export const MODEL_BUILDERS: Readonly<Record<string, ModelBuilder>> = {
  resnet18: resnetBuilder(18),
  resnet34: resnetBuilder(34),
  resnet50: resnetBuilder(50),
  resnet101: resnetBuilder(101),
  resnet152: resnetBuilder(152),
  // Experiment 4: caffe preprocessing inside the model, frozen ImageNet ResNet-50 with average pooling, then the pretrained top.
  'resnet50-imagenet': async (o) => {
    const backbone = await loadImagenetResNet50({ ...o, includeTop: false, pooling: 'avg', preprocess: true, trainable: !(o.frozen ?? true) });
    return o.includeTop === false ? backbone : withTop(backbone, pretrainedTop, o.outputUnits);
  },
  cnn4: async (o) => cnn4(o),
  cnn5: async (o) => cnn5(o),
};

/** Builds a model by registry name; an unknown name is an error listing the known ones. */
export async function buildModel(name: string, options: ZooOptions): Promise<tf.LayersModel> {
  const builder = MODEL_BUILDERS[name];
  if (!builder) throw new Error(`models: unknown model "${name}"; known: ${Object.keys(MODEL_BUILDERS).join(', ')}`);
  return builder(options);
}
