/**
 * Pieces every model builder shares: Keras-faithful batch normalisation, Keras' "caffe" preprocessing, the input stem
 * (rescaling, `afterInput`), freezing. Every custom layer class of the zoo is defined and registered here.
 */
import * as tf from '@tensorflow/tfjs';

type BatchNormArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;
type Kwargs = Record<string, unknown>;
/** A kernel regularizer, e.g. `tf.regularizers.l2({ l2: 1e-4 })`. */
export type Regularizer = ReturnType<typeof tf.regularizers.l2>;

// tfjs exports only the factory, not the class: take the class from an instance (cheap: nothing is built).
const TfjsBatchNormalization = tf.layers.batchNormalization({}).constructor as new (args?: BatchNormArgs) => tf.layers.Layer;

/**
 * BatchNormalization that, like Keras (TF 2), runs in inference mode whenever the layer is frozen
 * (`layer.trainable = false`): tfjs' own layer normalises with batch statistics and updates its moving
 * mean and variance during `fit`/`trainOnBatch` even when frozen, which silently changes a frozen backbone.
 * It registers under tfjs' class name, so saved models read like Keras' and load back into this class.
 */
export class BatchNormalization extends TfjsBatchNormalization {
  static className = 'BatchNormalization';
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return super.call(inputs, this.trainable ? kwargs : { ...kwargs, training: false });
  }
}
// The cast: tfjs' constructor type does not see through the runtime-derived base class.
tf.serialization.registerClass(BatchNormalization as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

export function batchNorm(args: BatchNormArgs): BatchNormalization {
  return new BatchNormalization(args);
}

/** Keras' "caffe" channel means (ImageNet), in BGR order. */
export const CAFFE_MEAN_BGR: readonly [number, number, number] = [103.939, 116.779, 123.68];

/** Keras' `preprocess_input` in "caffe" mode: RGB -> BGR, subtract the ImageNet means; no scaling (inputs 0..255). */
export function preprocessInput(images: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.reverse(tf.cast(images, 'float32'), -1), tf.tensor1d([...CAFFE_MEAN_BGR])));
}

/** `preprocessInput` as a layer, so a saved model carries its preprocessing. */
export class CaffePreprocess extends tf.layers.Layer {
  static className = 'CaffePreprocess';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return preprocessInput(Array.isArray(inputs) ? inputs[0] : inputs);
  }
}
tf.serialization.registerClass(CaffePreprocess);

/** What may follow the input (after the optional rescaling): one layer (or a Sequential model), a list of layers, or a function of the tensor. */
export type AfterInput = tf.layers.Layer | tf.layers.Layer[] | ((x: tf.SymbolicTensor) => tf.SymbolicTensor);

/** Options every builder in the zoo accepts for its input. */
export interface InputOptions {
  /** Image shape `[height, width, channels]`. */
  inputShape: [number, number, number];
  /** Prepend Rescaling(1/255) (the study's `normalize`). Default false. */
  normalize?: boolean;
  /** Applied after the optional rescaling (the study's `after_input`). Default none. */
  afterInput?: AfterInput;
}

/** Creates the model input and applies the optional Rescaling(1/255) then `afterInput`; returns both ends. */
export function inputStem(opts: InputOptions, inputName = 'input'): { input: tf.SymbolicTensor; x: tf.SymbolicTensor } {
  const [h, w, c] = opts.inputShape ?? [];
  if (![h, w, c].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`models: inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(opts.inputShape)}`);
  }
  const input = tf.input({ shape: [h, w, c], name: inputName });
  let x = input;
  if (opts.normalize) x = tf.layers.rescaling({ scale: 1 / 255, name: 'rescaling' }).apply(x) as tf.SymbolicTensor;
  const after = opts.afterInput;
  if (typeof after === 'function') x = after(x);
  else if (Array.isArray(after)) for (const layer of after) x = layer.apply(x) as tf.SymbolicTensor;
  else if (after) x = after.apply(x) as tf.SymbolicTensor;
  return { input, x };
}

/** Applies `layer` to `x` (typed shorthand for the builders' long chains). */
export function apply(layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor {
  return layer.apply(x) as tf.SymbolicTensor;
}

/**
 * Freezes (or unfreezes) every layer of `model`, as Keras' `model.trainable = false` does: no weight of it is
 * trained and its batch-norm layers run in inference mode. Call before `compile` (tfjs collects the trainable
 * weights when compiling). tfjs' own `LayersModel.trainable` setter leaves the layers' flags alone, hence this.
 */
export function setTrainable(model: tf.LayersModel, trainable: boolean): void {
  for (const layer of model.layers) {
    if (layer instanceof tf.LayersModel) setTrainable(layer, trainable);
    layer.trainable = trainable;
  }
  model.trainable = trainable;
}
