/** Classifier tops that go on any backbone whose output is a feature vector (built with `includeTop: false`). */
import * as tf from '@tensorflow/tfjs';
import { apply, dense } from './common';

/** A top: the layers to stack on a feature vector for `classes` classes (fresh layers on every call). */
export interface Top {
  name: string;
  layers(classes: number): tf.layers.Layer[];
}

function denseStack(name: string, hidden: { units: number; dropout: number }[]): Top {
  return {
    name,
    layers: (classes) => [
      ...hidden.flatMap((h, i) => [
        dense({ units: h.units, activation: 'relu', name: `fc${i + 1}` }),
        tf.layers.dropout({ rate: h.dropout, name: `fc${i + 1}_dropout` }),
      ]),
      dense({ units: classes, activation: 'softmax', name: 'predictions' }),
    ],
  };
}

/**
 * The study's VGG-like top: Dense 4096 relu, Dropout 0.5, Dense 4096 relu, Dropout 0.5, Dense softmax (Flatten +
 * Dropout 0.2 come from the backbone's options).
 */
export const vggTop: Top = denseStack('vgg', [
  { units: 4096, dropout: 0.5 },
  { units: 4096, dropout: 0.5 },
]);

/** The study's top for the frozen ImageNet ResNet-50 (experiment 4): Dense 2048 relu, Dropout 0.5, Dense 512 relu, Dropout 0.2, Dense softmax. */
export const pretrainedTop: Top = denseStack('pretrained', [
  { units: 2048, dropout: 0.5 },
  { units: 512, dropout: 0.2 },
]);

/** One model: `backbone`'s layers followed by `top` (the backbone's layers are shared, not copied, so frozen flags carry over). */
export function withTop(
  backbone: tf.LayersModel,
  top: Top,
  classes: number,
  name = `${backbone.name}_${top.name}`,
): tf.LayersModel {
  if (!(Number.isInteger(classes) && classes > 0))
    throw new Error(`models: classes must be a positive integer, got ${classes}`);
  const features = backbone.outputs[0];
  if (backbone.outputs.length !== 1 || features.shape.length !== 2) {
    throw new Error(
      `models: withTop needs a backbone with one feature-vector output, got ${JSON.stringify(backbone.outputs.map((o) => o.shape))}; ` +
        'build it with includeTop: false (and flatten or pooling)',
    );
  }
  const layers = top.layers(classes);
  const clash = layers.filter((l) => backbone.layers.some((b) => b.name === l.name)).map((l) => l.name);
  if (clash.length) {
    throw new Error(
      `models: backbone "${backbone.name}" already has layers named ${clash.join(', ')}; build it with includeTop: false`,
    );
  }
  const x = layers.reduce((t, layer) => apply(layer, t), features);
  return tf.model({ inputs: backbone.inputs, outputs: x, name });
}
