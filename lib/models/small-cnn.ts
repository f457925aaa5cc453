/** Small CNNs of other facial-expression projects, for fast CPU runs; any input size, grayscale or RGB. */
import * as tf from '@tensorflow/tfjs';
import { InputOptions, Regularizer, apply, batchNorm, conv2d, dense, inputStem } from './common';
import type { InitializerLike } from './resnet';

export interface SmallCnnOptions extends InputOptions {
  /** Classes of the softmax output. */
  outputUnits: number;
  kernelRegularizer?: Regularizer;
  /** Default 'glorotUniform' (Keras' default). */
  kernelInitializer?: InitializerLike;
  name?: string;
}

interface SmallCnnSpec {
  convFilters: number[];
  dropoutRate: number;
}

function smallCnn(spec: SmallCnnSpec, o: SmallCnnOptions, defaultName: string): tf.LayersModel {
  if (!(Number.isInteger(o.outputUnits) && o.outputUnits > 0))
    throw new Error(`models: outputUnits must be a positive integer, got ${o.outputUnits}`);
  const { input, x: start } = inputStem(o);
  const kernel = { kernelInitializer: o.kernelInitializer ?? 'glorotUniform', kernelRegularizer: o.kernelRegularizer };
  let x = start;
  spec.convFilters.forEach((filters, i) => {
    x = apply(
      conv2d({
        filters,
        kernelSize: 5,
        padding: 'same',
        activation: 'relu',
        name: `conv${i + 1}`,
        ...kernel,
      }),
      x,
    );
    x = apply(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: `pool${i + 1}` }), x);
  });
  x = apply(tf.layers.flatten({ name: 'flatten' }), x);
  if (spec.dropoutRate > 0) x = apply(tf.layers.dropout({ rate: spec.dropoutRate, name: 'dropout' }), x);
  x = apply(dense({ units: 128, activation: 'relu', name: 'fc1', ...kernel }), x);
  x = apply(dense({ units: o.outputUnits, activation: 'softmax', name: 'predictions', ...kernel }), x);
  return tf.model({ inputs: input, outputs: x, name: o.name ?? defaultName });
}

/** conv 5x5x16 + maxpool/2, conv 5x5x36 + maxpool/2, flatten, dense 128 relu, dense softmax. */
export function cnn4(options: SmallCnnOptions): tf.LayersModel {
  return smallCnn({ convFilters: [16, 36], dropoutRate: 0 }, options, 'cnn4');
}

/** conv 5x5 32, 64, 64, each + maxpool/2, flatten, 30% dropout, dense 128 relu, dense softmax. */
export function cnn5(options: SmallCnnOptions): tf.LayersModel {
  return smallCnn({ convFilters: [32, 64, 64], dropoutRate: 0.3 }, options, 'cnn5');
}

/**
 * The small net of a JAFFE "neutral vs the rest" project: BatchNormalization on the raw input (instead of a rescaling),
 * then four conv 3x3 + max-pool 2 blocks of 8, 16, 32 and 64 channels with ReLU, flatten, dense softmax. Padding is
 * 'same', so any input from 16 px up keeps a spatial map through the four pools.
 */
export function smallBnCnn(o: SmallCnnOptions): tf.LayersModel {
  if (!(Number.isInteger(o.outputUnits) && o.outputUnits > 0))
    throw new Error(`models: outputUnits must be a positive integer, got ${o.outputUnits}`);
  const { input, x: start } = inputStem(o);
  const kernel = { kernelInitializer: o.kernelInitializer ?? 'glorotUniform', kernelRegularizer: o.kernelRegularizer };
  let x = apply(batchNorm({ name: 'input_bn' }), start);
  [8, 16, 32, 64].forEach((filters, i) => {
    x = apply(
      conv2d({
        filters,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        name: `conv${i + 1}`,
        ...kernel,
      }),
      x,
    );
    x = apply(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: `pool${i + 1}` }), x);
  });
  x = apply(tf.layers.flatten({ name: 'flatten' }), x);
  x = apply(dense({ units: o.outputUnits, activation: 'softmax', name: 'predictions', ...kernel }), x);
  return tf.model({ inputs: input, outputs: x, name: o.name ?? 'small-bn-cnn' });
}
