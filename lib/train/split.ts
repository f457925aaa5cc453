/**
 * Where a model splits into a backbone and a top: the feature cache trains the top on the backbone's cached output,
 * and trainStep runs a frozen backbone off the gradient tape. Imports only tfjs (lib/train/loss uses it, and the
 * exported web page runs that).
 */
import * as tf from '@tensorflow/tfjs';

export interface SplitModel {
  /** From the model's input to the split layer's output; shares the original layers (and weights). */
  backbone: tf.LayersModel;
  /** The layers after the split, as a model taking the backbone's output; shares the original layers. */
  top: tf.LayersModel;
}

/** Layer classes that end a feature extractor: the top is everything after the last of them. */
const FEATURE_ENDS = new Set(['GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'Flatten']);

/**
 * Where `model` splits into backbone and top: the index of the backbone's last layer. `at` names that layer; default:
 * the last global pooling or Flatten layer. The layers after it must form a single chain (Dropout, Dense, Activation,
 * ...). Builds nothing, so asking costs no layer a reference.
 */
export function topSplitIndex(model: tf.LayersModel, at?: string): number {
  const layers = model.layers;
  const index =
    at === undefined
      ? layers.map((l) => FEATURE_ENDS.has(l.getClassName())).lastIndexOf(true)
      : layers.findIndex((l) => l.name === at);
  if (index < 0) {
    throw new Error(
      at === undefined
        ? `splitAtTop: model "${model.name}" has no global pooling or Flatten layer; name the split layer with \`at\``
        : `splitAtTop: model "${model.name}" has no layer named "${at}"`,
    );
  }
  if (index === layers.length - 1)
    throw new Error(`splitAtTop: layer "${layers[index].name}" is the model's last layer: no top left`);
  for (let i = index + 1; i < layers.length; i++) {
    const inbound = layers[i].inboundNodes[0]?.inboundLayers ?? [];
    if (inbound.length !== 1 || inbound[0] !== layers[i - 1]) {
      throw new Error(
        `splitAtTop: layer "${layers[i].name}" after the split does not simply follow "${layers[i - 1].name}"; the top must be a chain`,
      );
    }
  }
  return index;
}

/**
 * Splits `model` into backbone and top at topSplitIndex(model, at). The top applies the model's own top layers again,
 * which tfjs counts as a reference to each: dispose the top before the model, or the model keeps their weights.
 */
export function splitAtTop(model: tf.LayersModel, at?: string): SplitModel {
  const layers = model.layers;
  const index = topSplitIndex(model, at);
  const features = layers[index].output as tf.SymbolicTensor;
  const backbone = tf.model({ inputs: model.inputs, outputs: features, name: `${model.name}_backbone` });
  const topInput = tf.input({ shape: features.shape.slice(1) });
  let y = topInput;
  for (let i = index + 1; i < layers.length; i++) y = layers[i].apply(y) as tf.SymbolicTensor;
  return { backbone, top: tf.model({ inputs: topInput, outputs: y, name: `${model.name}_top` }) };
}
