/** The majority-class baseline as a model: it ignores the image and scores each class by its share of the training labels. */
import * as tf from '@tensorflow/tfjs';
import { dense } from './common';

export interface MajorityOptions {
  inputShape: [number, number, number];
  /** Training images per class, in label order; the scores are these counts' shares. */
  classCounts: number[];
  name?: string;
}

/**
 * A fixed model (nothing trainable) whose softmax output is the training class frequencies for every image, so it
 * predicts the most frequent training class and its loss is the cross-entropy of those frequencies. The image passes
 * through a zero kernel, which keeps the model an ordinary layers model that saves, loads and evaluates like any other.
 */
export function majorityClassifier(o: MajorityOptions): tf.LayersModel {
  const total = o.classCounts.reduce((a, b) => a + b, 0);
  if (o.classCounts.length < 2 || !o.classCounts.every((c) => Number.isInteger(c) && c >= 0) || total === 0) {
    throw new Error(
      `models: majority needs at least 2 classes and non-negative integer training counts, got [${o.classCounts.join(', ')}]`,
    );
  }
  // A class absent from training gets a tiny score rather than log(0).
  const logPrior = o.classCounts.map((c) => Math.log(Math.max(c, 1e-6) / total));
  const input = tf.input({ shape: o.inputShape });
  const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(input) as tf.SymbolicTensor;
  const prior = dense({
    units: o.classCounts.length,
    kernelInitializer: 'zeros',
    trainable: false,
    name: 'prior',
  });
  const logits = prior.apply(pooled) as tf.SymbolicTensor;
  const output = tf.layers.softmax({ name: 'predictions' }).apply(logits) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output, name: o.name ?? 'majority' });
  const [kernel] = prior.getWeights();
  const bias = tf.tensor1d(logPrior);
  prior.setWeights([kernel, bias]);
  bias.dispose();
  return model;
}
