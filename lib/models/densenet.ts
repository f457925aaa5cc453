/**
 * Keras' `applications.DenseNet121` and `DenseNet169` (its layer names, `include_top`, `pooling`, "torch"
 * preprocessing), loading Keras' ImageNet `.h5` weights by layer name. affect-lab cannot download those files (they are
 * on Google's storage, not on a package registry): a user who has them puts them where `densenetWeightsFile` looks.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { cacheDir } from '../paths';
import {
  InputOptions,
  TorchPreprocess,
  apply,
  applicationHead,
  batchNorm,
  conv2d,
  inputStem,
  setTrainable,
} from './common';
import { loadKerasH5Weights } from './h5';

export type DenseNetDepth = 121 | 169;

/** Dense-block sizes of Keras' DenseNets (stages conv2..conv5). */
export const DENSENET_BLOCKS: Readonly<Record<DenseNetDepth, readonly number[]>> = {
  121: [6, 12, 24, 16],
  169: [6, 12, 32, 32],
};

const GROWTH_RATE = 32;
const BN_EPSILON = 1.001e-5;

export interface DenseNetOptions extends Partial<InputOptions> {
  /** Default [224, 224, 3]. */
  inputShape?: [number, number, number];
  /** avg_pool + Dense(classes, softmax) named `predictions`, as Keras. Default true. */
  includeTop?: boolean;
  /** Without the top: 'avg' or 'max' global pooling, or none (the last feature map). */
  pooling?: 'avg' | 'max';
  /** Default 1000. */
  classes?: number;
  /** Put Keras' "torch" `preprocess_input` inside the model (a TorchPreprocess layer after the input). Default false. */
  preprocess?: boolean;
}

/** The architecture of Keras' `DenseNet121` / `DenseNet169`, with fresh weights and Keras' layer names. */
export function densenet(depth: DenseNetDepth, opts: DenseNetOptions = {}): tf.LayersModel {
  const blocks = DENSENET_BLOCKS[depth];
  if (!blocks)
    throw new Error(`models: no DenseNet of depth ${depth}; accepted: ${Object.keys(DENSENET_BLOCKS).join(', ')}`);
  const o = { inputShape: [224, 224, 3] as [number, number, number], includeTop: true, classes: 1000, ...opts };
  if (o.preprocess && o.afterInput !== undefined)
    throw new Error('models: DenseNet takes preprocess or afterInput, not both');
  const { input, x: start } = inputStem(
    { ...o, afterInput: o.preprocess ? new TorchPreprocess({ name: 'preprocess' }) : o.afterInput },
    'input_1',
  );
  const bn = (t: tf.SymbolicTensor, name: string) => apply(batchNorm({ axis: 3, epsilon: BN_EPSILON, name }), t);
  const relu = (t: tf.SymbolicTensor, name: string) => apply(tf.layers.activation({ activation: 'relu', name }), t);
  const conv = (t: tf.SymbolicTensor, filters: number, kernel: number, name: string, strides = 1) =>
    apply(
      conv2d({
        filters,
        kernelSize: kernel,
        strides,
        padding: kernel === 3 ? 'same' : 'valid',
        useBias: false,
        kernelInitializer: 'glorotUniform',
        name,
      }),
      t,
    );
  const channels = (t: tf.SymbolicTensor) => t.shape[3] as number;

  let x = apply(tf.layers.zeroPadding2d({ padding: 3, name: 'zero_padding2d' }), start);
  x = relu(bn(conv(x, 64, 7, 'conv1/conv', 2), 'conv1/bn'), 'conv1/relu');
  x = apply(tf.layers.zeroPadding2d({ padding: 1, name: 'zero_padding2d_1' }), x);
  x = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1' }), x);
  blocks.forEach((count, stage) => {
    for (let b = 1; b <= count; b++) {
      const name = `conv${stage + 2}_block${b}`;
      let y = relu(bn(x, `${name}_0_bn`), `${name}_0_relu`);
      y = relu(bn(conv(y, 4 * GROWTH_RATE, 1, `${name}_1_conv`), `${name}_1_bn`), `${name}_1_relu`);
      y = conv(y, GROWTH_RATE, 3, `${name}_2_conv`);
      x = apply(tf.layers.concatenate({ axis: 3, name: `${name}_concat` }), [x, y]);
    }
    if (stage < blocks.length - 1) {
      const name = `pool${stage + 2}`;
      x = relu(bn(x, `${name}_bn`), `${name}_relu`);
      x = conv(x, Math.floor(channels(x) * 0.5), 1, `${name}_conv`);
      x = apply(tf.layers.averagePooling2d({ poolSize: 2, strides: 2, name: `${name}_pool` }), x);
    }
  });
  x = relu(bn(x, 'bn'), 'relu');
  x = applicationHead(x, o);
  return tf.model({ inputs: input, outputs: x, name: `densenet${depth}` });
}

/** The name Keras gives its ImageNet weights file without the top (what `DenseNet121(weights="imagenet", include_top=False)` downloads). */
export function densenetWeightsFileName(depth: DenseNetDepth): string {
  return `densenet${depth}_weights_tf_dim_ordering_tf_kernels_notop.h5`;
}

/**
 * Where the DenseNet weights are read from: `<cache>/weights/densenet<depth>-imagenet/<Keras' file name>`, or else
 * Keras' own download folder `~/.keras/models/`, whichever holds the file (the cache path when neither does).
 */
export function densenetWeightsFile(depth: DenseNetDepth): string {
  const name = densenetWeightsFileName(depth);
  const cached = cacheDir('weights', `densenet${depth}-imagenet`, name);
  const keras = path.join(os.homedir(), '.keras', 'models', name);
  return !fs.existsSync(cached) && fs.existsSync(keras) ? keras : cached;
}

export interface LoadDenseNetOptions extends DenseNetOptions {
  /** A Keras `.h5` weights file. Default `densenetWeightsFile(depth)`. */
  h5?: string;
  /** false freezes every layer (batch norm then in inference mode). Default true. */
  trainable?: boolean;
}

/** Keras' `DenseNet<depth>(weights="imagenet", ...)` from a Keras `.h5` weights file, matched by layer name. */
export async function loadImagenetDenseNet(
  depth: DenseNetDepth,
  opts: LoadDenseNetOptions = {},
): Promise<tf.LayersModel> {
  const file = opts.h5 ?? densenetWeightsFile(depth);
  if (!fs.existsSync(file)) {
    throw new Error(
      `models: DenseNet-${depth} ImageNet weights ${file} are missing: affect-lab cannot ` +
        `download them; copy Keras' ${densenetWeightsFileName(depth)} there`,
    );
  }
  const model = densenet(depth, opts);
  try {
    await loadKerasH5Weights(model, file);
  } catch (e) {
    model.dispose();
    throw e;
  }
  if (opts.trainable === false) setTrainable(model, false);
  return model;
}
