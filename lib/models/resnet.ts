/**
 * The study's ResNets (its `resnets.py`) built from data by one stage/block builder, with Keras-style layer names.
 * `variant: 'study'` (default) keeps the study's quirks; `variant: 'paper'` gives He et al.'s layout as Keras lays it out.
 */
import * as tf from '@tensorflow/tfjs';
import { InputOptions, Regularizer, apply, batchNorm, conv2d, dense, inputStem } from './common';

export type ResNetDepth = 18 | 34 | 50 | 101 | 152;
export type BlockKind = 'basic' | 'bottleneck';
export type ResNetVariant = 'study' | 'paper';
export type InitializerLike = Parameters<typeof tf.layers.conv2d>[0]['kernelInitializer'];

export interface ResNetArchitecture {
  /** Blocks per stage (stages conv2..conv5). */
  blocks: readonly number[];
  kind: BlockKind;
}

export const RESNET_DEPTHS: readonly ResNetDepth[] = [18, 34, 50, 101, 152];

export const RESNET_ARCHITECTURES: Readonly<Record<ResNetDepth, ResNetArchitecture>> = {
  18: { blocks: [2, 2, 2, 2], kind: 'basic' },
  34: { blocks: [3, 4, 6, 3], kind: 'basic' },
  50: { blocks: [3, 4, 6, 3], kind: 'bottleneck' },
  101: { blocks: [3, 4, 23, 3], kind: 'bottleneck' },
  152: { blocks: [3, 8, 36, 3], kind: 'bottleneck' },
};

/** Base filters per stage; bottleneck blocks expand to 4x on their last conv. */
export const STAGE_FILTERS: readonly number[] = [64, 128, 256, 512];

/** What the convolutional body needs to know besides the depth. */
export interface FeatureOptions {
  variant?: ResNetVariant;
  kernelRegularizer?: Regularizer;
  kernelInitializer?: InitializerLike;
  /** BatchNormalization epsilon: Keras' default 1e-3 (the study); Keras' applications ResNet uses 1.001e-5. */
  bnEpsilon?: number;
}

export interface ResNetOptions extends InputOptions, FeatureOptions {
  /** Units of the final Dense layer when `includeTop`. Default 1000. */
  outputUnits?: number;
  /** Add Dense(outputUnits) + Softmax after the pooling. Default true. */
  includeTop?: boolean;
  /** Flatten the last feature map instead of global average pooling. Default false. */
  flatten?: boolean;
  /** Dropout after the pooling/flatten when > 0. Default 0. */
  dropoutRate?: number;
  /** Model name; default `resnet<depth>`. */
  name?: string;
}

/** Where the study and the paper differ, as data. */
interface VariantRules {
  padStem: boolean;
  firstStride(kind: BlockKind, stage: number): number;
  reluBeforeAdd: boolean;
}

const VARIANTS: Record<ResNetVariant, VariantRules> = {
  // The study: valid stem and pool, stride 2 in every first bottleneck block, ReLU before the add in basic blocks.
  study: {
    padStem: false,
    firstStride: (kind, stage) => (kind === 'bottleneck' || stage > 0 ? 2 : 1),
    reluBeforeAdd: true,
  },
  paper: { padStem: true, firstStride: (_kind, stage) => (stage > 0 ? 2 : 1), reluBeforeAdd: false },
};

interface ConvSpec {
  filters: number;
  kernel: number;
  strides?: number;
  name: string;
}

/**
 * The convolutional body of a ResNet (stem and four stages), applied to `x`. Returns the last feature map.
 * Shared by the study's ResNets and the ImageNet ResNet-50.
 */
export function resnetFeatures(
  x: tf.SymbolicTensor,
  arch: ResNetArchitecture,
  opts: FeatureOptions = {},
): tf.SymbolicTensor {
  const rules = VARIANTS[opts.variant ?? 'study'];
  if (!rules)
    throw new Error(`models: unknown ResNet variant "${opts.variant}"; accepted: ${Object.keys(VARIANTS).join(', ')}`);
  const epsilon = opts.bnEpsilon ?? 1e-3;
  const conv = (t: tf.SymbolicTensor, c: ConvSpec) =>
    apply(
      conv2d({
        filters: c.filters,
        kernelSize: c.kernel,
        strides: c.strides ?? 1,
        // 3x3 convs keep the size; 1x1 and the stem are valid (Keras' default), as in the study and in Keras.
        padding: c.kernel === 3 ? 'same' : 'valid',
        useBias: true,
        kernelInitializer: opts.kernelInitializer ?? 'heUniform',
        kernelRegularizer: opts.kernelRegularizer,
        name: c.name,
      }),
      t,
    );
  const bn = (t: tf.SymbolicTensor, name: string) => apply(batchNorm({ axis: 3, epsilon, name }), t);
  const relu = (t: tf.SymbolicTensor, name: string) => apply(tf.layers.activation({ activation: 'relu', name }), t);
  const convBn = (t: tf.SymbolicTensor, c: ConvSpec) => bn(conv(t, c), c.name.replace(/_conv$/, '_bn'));

  if (rules.padStem) x = apply(tf.layers.zeroPadding2d({ padding: 3, name: 'conv1_pad' }), x);
  x = relu(convBn(x, { filters: 64, kernel: 7, strides: 2, name: 'conv1_conv' }), 'conv1_relu');
  if (rules.padStem) x = apply(tf.layers.zeroPadding2d({ padding: 1, name: 'pool1_pad' }), x);
  x = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: 'pool1_pool' }), x);

  arch.blocks.forEach((count, stage) => {
    const f = STAGE_FILTERS[stage];
    for (let b = 0; b < count; b++) {
      const name = `conv${stage + 2}_block${b + 1}`;
      const first = b === 0;
      const s = first ? rules.firstStride(arch.kind, stage) : 1;
      // A 1x1 projection where the shape changes: first bottleneck blocks always, first basic blocks of stages 2-4.
      const project = first && (arch.kind === 'bottleneck' || stage > 0);
      const shortcut = project
        ? convBn(x, { filters: arch.kind === 'bottleneck' ? 4 * f : f, kernel: 1, strides: s, name: `${name}_0_conv` })
        : x;
      let y: tf.SymbolicTensor;
      if (arch.kind === 'basic') {
        y = relu(convBn(x, { filters: f, kernel: 3, strides: s, name: `${name}_1_conv` }), `${name}_1_relu`);
        y = convBn(y, { filters: f, kernel: 3, name: `${name}_2_conv` });
        if (rules.reluBeforeAdd) y = relu(y, `${name}_2_relu`);
      } else {
        // Stride on the first 1x1 conv, as in the study and in Keras' ResNet (v1).
        y = relu(convBn(x, { filters: f, kernel: 1, strides: s, name: `${name}_1_conv` }), `${name}_1_relu`);
        y = relu(convBn(y, { filters: f, kernel: 3, name: `${name}_2_conv` }), `${name}_2_relu`);
        y = convBn(y, { filters: 4 * f, kernel: 1, name: `${name}_3_conv` });
      }
      x = relu(apply(tf.layers.add({ name: `${name}_add` }), [shortcut, y]), `${name}_out`);
    }
  });
  return x;
}

/** The study's `ResNetN(...)`: input stem, ResNet body, pooling or flatten, optional dropout, optional Dense + Softmax. */
export function resnet(depth: ResNetDepth, options: ResNetOptions): tf.LayersModel {
  const arch = RESNET_ARCHITECTURES[depth];
  if (!arch) throw new Error(`models: no ResNet of depth ${depth}; accepted: ${RESNET_DEPTHS.join(', ')}`);
  const o = { outputUnits: 1000, includeTop: true, flatten: false, dropoutRate: 0, ...options };
  if (!(o.dropoutRate >= 0 && o.dropoutRate < 1))
    throw new Error(`models: dropoutRate must be in [0, 1), got ${o.dropoutRate}`);
  if (o.includeTop && !(Number.isInteger(o.outputUnits) && o.outputUnits > 0)) {
    throw new Error(`models: outputUnits must be a positive integer, got ${o.outputUnits}`);
  }
  const { input, x: start } = inputStem(o, 'input_1');
  let x = resnetFeatures(start, arch, o);
  x = apply(
    o.flatten ? tf.layers.flatten({ name: 'flatten' }) : tf.layers.globalAveragePooling2d({ name: 'avg_pool' }),
    x,
  );
  if (o.dropoutRate > 0) x = apply(tf.layers.dropout({ rate: o.dropoutRate, name: 'dropout' }), x);
  if (o.includeTop) {
    x = apply(
      dense({
        units: o.outputUnits,
        kernelInitializer: o.kernelInitializer ?? 'heUniform',
        kernelRegularizer: o.kernelRegularizer,
        name: 'predictions',
      }),
      x,
    );
    x = apply(tf.layers.softmax({ name: 'softmax' }), x);
  }
  return tf.model({ inputs: input, outputs: x, name: o.name ?? `resnet${depth}` });
}

export const resnet18 = (options: ResNetOptions): tf.LayersModel => resnet(18, options);
export const resnet34 = (options: ResNetOptions): tf.LayersModel => resnet(34, options);
export const resnet50 = (options: ResNetOptions): tf.LayersModel => resnet(50, options);
export const resnet101 = (options: ResNetOptions): tf.LayersModel => resnet(101, options);
export const resnet152 = (options: ResNetOptions): tf.LayersModel => resnet(152, options);
