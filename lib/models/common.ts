/**
 * Pieces every model builder shares: Keras-faithful batch normalisation (with the hook for a fused training op), the L2
 * kernel regularizer, Keras' "caffe" preprocessing, the input stem (rescaling, `afterInput`), freezing. Every custom
 * layer and regularizer class of the zoo is defined and registered here.
 */
import * as tf from '@tensorflow/tfjs';

type BatchNormArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;
type Kwargs = Record<string, unknown>;
/** A kernel regularizer, e.g. `tf.regularizers.l2({ l2: 1e-4 })`. */
export type Regularizer = ReturnType<typeof tf.regularizers.l2>;

/**
 * Registers one of the zoo's subclasses of a tfjs class under the class name it inherits, so saved models load into it.
 * The cast: tfjs' constructor type does not see through a base class taken from an instance.
 */
function registerZooClass(cls: { className: string }): void {
  tf.serialization.registerClass(
    cls as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
  );
}

// tfjs exports only the factory, not the class: take the class from an instance (cheap: nothing is built).
const TfjsBatchNormalization = tf.layers.batchNormalization({}).constructor as new (
  args?: BatchNormArgs,
) => tf.layers.Layer;

/**
 * BatchNormalization that, like Keras (TF 2), runs in inference mode whenever the layer is frozen
 * (`layer.trainable = false`): tfjs' own layer normalises with batch statistics and updates its moving
 * mean and variance during `fit`/`trainOnBatch` even when frozen, which silently changes a frozen backbone.
 * It registers under tfjs' class name, so saved models read like Keras' and load back into this class.
 */
export class BatchNormalization extends TfjsBatchNormalization {
  static className = 'BatchNormalization';
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    if (this.trainable && kwargs.training === true) {
      const fused = this.callFusedTraining(Array.isArray(inputs) ? inputs[0] : inputs, false);
      if (fused) return fused;
    }
    return super.call(inputs, this.trainable ? kwargs : { ...kwargs, training: false });
  }

  /**
   * ReLU of this layer's training-mode call, as one op with the normalisation where the installed BatchNormTrainingOp
   * runs (a trainable layer); undefined elsewhere. foldedApply runs a batch norm between a convolution and a ReLU layer
   * (each the only reader of the one before) this way when training.
   */
  callTrainingWithRelu(x: tf.Tensor): tf.Tensor | undefined {
    return this.trainable ? this.callFusedTraining(x, true) : undefined;
  }

  /**
   * Training mode through the installed BatchNormTrainingOp where it runs: the same normalisation and the same
   * moving-average updates as tfjs' layer (biased batch variance, `moving -= (moving - batch) * (1 - momentum)`);
   * undefined elsewhere, and the layer composes it from tfjs ops.
   */
  private callFusedTraining(x: tf.Tensor, relu: boolean): tf.Tensor | undefined {
    const self = this as unknown as BatchNormWeights;
    const axis = self.axis < 0 ? self.axis + x.rank : self.axis;
    const { gamma, beta } = self;
    if (!batchNormTrainingOp || axis !== x.rank - 1 || !gamma || !beta) return undefined;
    const op = batchNormTrainingOp;
    const moving = {
      mean: self.movingMean.read() as tf.Variable,
      variance: self.movingVariance.read() as tf.Variable,
      decay: 1 - self.momentum,
    };
    return tf.tidy(() => op(x, gamma.read(), beta.read(), self.epsilon, relu, moving)?.y);
  }
}

/** The normalised batch and the batch's moments (mean and biased variance per channel, as tf.moments gives them). */
export interface BatchNormTrainingResult {
  y: tf.Tensor;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** A batch-norm layer's moving statistics, which each training step moves by `decay` (1 - momentum) towards the batch's. */
export interface MovingStatistics {
  mean: tf.Variable;
  variance: tf.Variable;
  decay: number;
}

/**
 * Batch norm in training along x's last axis as one differentiable op, y passed through max(., 0) when `relu`, the
 * moving statistics updated (`moving -= (moving - batch) * decay`, as tfjs' layer does), or undefined where it does not
 * run (the layer then composes tfjs ops and updates them itself). lib/kernels installs its native one with the wasm
 * training kernels: the models themselves load in browsers, where nothing is installed.
 */
export type BatchNormTrainingOp = (
  x: tf.Tensor,
  scale: tf.Tensor,
  offset: tf.Tensor,
  epsilon: number,
  relu: boolean,
  moving: MovingStatistics,
) => BatchNormTrainingResult | undefined;

let batchNormTrainingOp: BatchNormTrainingOp | undefined;

/** Installs the op BatchNormalization trains with; undefined removes it. */
export function setBatchNormTrainingOp(op: BatchNormTrainingOp | undefined): void {
  batchNormTrainingOp = op;
}

/**
 * How many times each tensor buffer (a dataId) has been written in place (lib/kernels' native optimizer steps and
 * moving statistics): such a write keeps the buffer, so copies derived from a weight (folded filters) compare this
 * count with the one they were made at. An assignment (loading weights) gives the weight a new buffer instead.
 */
const inPlaceWriteCounts = new WeakMap<object, number>();

/** Counts one write in place of `t`'s buffer. */
export function countInPlaceWrite(t: tf.Tensor): void {
  inPlaceWriteCounts.set(t.dataId, (inPlaceWriteCounts.get(t.dataId) ?? 0) + 1);
}

/** How many writes in place countInPlaceWrite has counted for `t`'s buffer. */
export function inPlaceWrites(t: tf.Tensor): number {
  return inPlaceWriteCounts.get(t.dataId) ?? 0;
}

/**
 * Ids of tensor buffers that never change (folded filters): the native convolution keeps such a filter in the layout
 * it computes with under its id, instead of reordering it on every call. The addon is one per process, so the count is
 * too (on globalThis: a second copy of this module must not give an id again).
 */
const constantIds = new WeakMap<object, number>();
const ID_COUNTER = Symbol.for('affect-lab.lastConstantId');
const counter = globalThis as unknown as Record<symbol, number | undefined>;

/** Declares that nothing will write `t`'s buffer again, in place or otherwise, and gives it an id (constantId). */
export function markConstant(t: tf.Tensor): void {
  if (constantIds.has(t.dataId)) return;
  const id = (counter[ID_COUNTER] ?? 0) + 1;
  counter[ID_COUNTER] = id;
  constantIds.set(t.dataId, id);
}

/** The id markConstant gave the buffer `dataId`, or 0 for one it did not mark or that was written in place anyway. */
export function constantId(dataId: object): number {
  return inPlaceWriteCounts.has(dataId) ? 0 : (constantIds.get(dataId) ?? 0);
}

let constantRelease: ((id: number) => void) | undefined;

/**
 * Installs what frees a constant's copies when its tensor goes (lib/kernels: the addon's kept filters); undefined
 * removes it.
 */
export function setConstantRelease(release: ((id: number) => void) | undefined): void {
  constantRelease = release;
}

/** Called before disposing a tensor markConstant marked: its id is dropped and what was kept under it freed. */
export function releaseConstant(t: tf.Tensor): void {
  const id = constantIds.get(t.dataId);
  if (id === undefined) return;
  constantIds.delete(t.dataId);
  constantRelease?.(id);
}

/**
 * max(a + b, 0) as one differentiable op (a residual join and the ReLU after it), or undefined where it does not run
 * (foldedApply then runs the Add and ReLU layers). lib/kernels installs its native one with the wasm training kernels.
 */
export type AddReluOp = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor | undefined;

let addReluOp: AddReluOp | undefined;

/** Installs the op foldedApply joins an Add and its ReLU with; undefined removes it. */
export function setAddReluOp(op: AddReluOp | undefined): void {
  addReluOp = op;
}

/** max(a + b, 0) through the installed AddReluOp; undefined where none is installed or it does not run. */
export function addRelu(a: tf.Tensor, b: tf.Tensor): tf.Tensor | undefined {
  return addReluOp?.(a, b);
}

/** The parts of tfjs' BatchNormalization layer the fused paths read (tfjs does not type them); gamma and beta are
 * null without `scale` or `center`. */
export interface BatchNormWeights {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: tf.LayerVariable | null;
  beta: tf.LayerVariable | null;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}
registerZooClass(BatchNormalization);

/** Whether `layer` is a batch-norm layer whose call is the zoo's or tfjs' own (not a subclass with its own call). */
export function isBatchNorm(layer: tf.layers.Layer): boolean {
  return layer.constructor === BatchNormalization || layer.constructor === TfjsBatchNormalization;
}

type L1L2Args = NonNullable<Parameters<typeof tf.regularizers.l1l2>[0]>;
/** tfjs' L1L2 as a concrete class (the typings export only its abstract base). */
interface TfjsL1L2 extends Regularizer {
  apply(x: tf.Tensor): tf.Scalar;
  getConfig(): tf.serialization.ConfigDict;
}
const TfjsL1L2 = tf.regularizers.l1l2({}).constructor as new (args?: L1L2Args) => TfjsL1L2;

/**
 * Keras' L1L2 kernel regularizer (penalty l1 * sum |w| + l2 * sum w²). The pure L2 case, the one the trials use, runs
 * as two kernels instead of tfjs' seven full passes over the weight: the penalty as the product w·w, its gradient as
 * 2 * l2 * dy * w. It registers under tfjs' class name, so saved models read like Keras' and load back into this class.
 */
export class L1L2 extends TfjsL1L2 {
  static className = 'L1L2';
  override apply(x: tf.Tensor): tf.Scalar {
    const { l1, l2 } = this as unknown as { l1: number; l2: number };
    return l1 !== 0 || l2 === 0 ? super.apply(x) : l2Penalty(x, l2);
  }
}
registerZooClass(L1L2);

/** The coefficient of a pure L2 regularizer (tfjs' or the zoo's L1L2 with l1 0); undefined for any other. */
export function l2Coefficient(regularizer: unknown): number | undefined {
  if (!(regularizer instanceof TfjsL1L2)) return undefined;
  const { l1, l2 } = regularizer as unknown as { l1: number; l2: number };
  return l1 === 0 ? l2 : undefined;
}

/** Keras' `regularizers.l2(l2)`: l2 * the sum of the squared weights. */
export function l2Regularizer(l2: number): L1L2 {
  return new L1L2({ l1: 0, l2 });
}

/** sum w² as the product w·w: one kernel (the addon's dot product on wasm). */
export function sumOfSquares(w: tf.Tensor): tf.Scalar {
  const flat = tf.reshape(w, [1, -1]);
  return tf.reshape(tf.matMul(flat, flat, false, true), []);
}

function l2Penalty(x: tf.Tensor, l2: number): tf.Scalar {
  const penalty = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [w, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([w]);
    return {
      value: tf.mul(sumOfSquares(w), l2),
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => tf.mul(saved, tf.mul(dy, 2 * l2)),
    };
  });
  return penalty(x) as tf.Scalar;
}

/** The activations FusedConv2D and _FusedMatMul run under the gradients below. */
const FUSED_ACTIVATIONS = new Set(['linear', 'relu']);

type Conv2DArgs = NonNullable<Parameters<typeof tf.layers.conv2d>[0]>;
const TfjsConv2D = tf.layers.conv2d({ filters: 1, kernelSize: 1 }).constructor as new (
  args: Conv2DArgs,
) => tf.layers.Layer;

/** The parts of tfjs' Conv2D layer the lazy-gradient and folded paths read (tfjs does not type them). */
export interface Conv2DWeights {
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  strides: number[];
  padding: 'valid' | 'same' | 'causal';
  dataFormat: 'channelsFirst' | 'channelsLast';
  dilationRate: number | number[];
  activation: { getClassName(): string };
}

/**
 * Conv2D whose backward pass computes only the gradients backpropagation asks for. tfjs' layer trains through its fused
 * convolution, whose gradient computes the input's gradient eagerly with the filter's: a stem, or the first trainable
 * convolution after frozen stages, pays for a whole backward convolution nobody reads (7% of a ResNet-18 step at 96 px).
 * Here the same FusedConv2D kernel runs under FUSED_CONV2D_GRADIENT, whose parts are computed on demand. Channels-last,
 * undilated convolutions with a linear or ReLU activation take this path, everything else tfjs' own.
 * It registers under tfjs' class name, so saved models read like Keras' and load back into this class.
 */
export class Conv2D extends TfjsConv2D {
  static className = 'Conv2D';
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as Conv2DWeights;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const activation = self.activation.getClassName();
    const dilations = typeof self.dilationRate === 'number' ? [self.dilationRate] : self.dilationRate;
    if (
      x.rank !== 4 ||
      self.dataFormat !== 'channelsLast' ||
      self.padding === 'causal' ||
      dilations.some((d) => d !== 1) ||
      !FUSED_ACTIVATIONS.has(activation)
    ) {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      const inputs: tf.NamedTensorMap = { x, filter: self.kernel.read() };
      if (self.bias) inputs.bias = self.bias.read();
      return tf.engine().runKernel<tf.Tensor>('FusedConv2D', inputs, fusedConv2dAttrs(self, activation));
    });
  }
}
registerZooClass(Conv2D);

/** The FusedConv2D kernel's attributes for channels-last `layer` with `activation` ('linear' or 'relu'). */
export function fusedConv2dAttrs(layer: Conv2DWeights, activation: string): tf.NamedAttrMap {
  const d = layer.dilationRate;
  return {
    strides: layer.strides,
    pad: layer.padding,
    dataFormat: 'NHWC',
    dilations: typeof d === 'number' ? [d, d] : d,
    activation,
  };
}

/** Whether `layer` is a Conv2D whose call is the zoo's or tfjs' own (not a subclass with its own call). */
export function isConv2D(layer: tf.layers.Layer): boolean {
  return layer.constructor === Conv2D || layer.constructor === TfjsConv2D;
}

/**
 * The gradient of the FusedConv2D kernel when Conv2D runs it directly (tfjs' own fused op records its kernel under
 * customGrad, which this does not touch): the activation's gradient once, then the input's, the filter's and the
 * bias's gradients each only when asked for. ReLU's through the Relu gradient registered at the time (native on wasm).
 */
export const FUSED_CONV2D_GRADIENT: tf.GradConfig = {
  kernelName: 'FusedConv2D',
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved as tf.Tensor4D[];
    const { strides, pad, activation, dilations, dataFormat } = attrs as unknown as {
      strides: [number, number];
      // Explicit where foldedApply runs a zero padding as the convolution's.
      pad: 'valid' | 'same' | tf.backend_util.ExplicitPadding;
      activation: string;
      dilations?: number | number[];
      dataFormat?: string;
    };
    // Conv2D runs the kernel only undilated and channels-last; anyone else calling it directly gets an error, not a
    // wrong gradient.
    if ([dilations ?? 1].flat().some((d) => d !== 1) || (dataFormat ?? 'NHWC') !== 'NHWC')
      throw new Error(
        `FusedConv2D's gradient: only undilated NHWC convolutions (dilations ${JSON.stringify(dilations)}, ${dataFormat})`,
      );
    const dz = activationGradient(dy, y, activation) as tf.Tensor4D;
    return {
      x: () => tf.conv2dTranspose(dz, filter, x.shape, strides, pad),
      filter: () =>
        tf.engine().runKernel<tf.Tensor>(
          'Conv2DBackpropFilter',
          { x, dy: dz },
          {
            strides,
            pad,
            dataFormat: 'NHWC',
            filterShape: filter.shape,
          },
        ),
      bias: () => tf.sum(dz, [0, 1, 2]),
    };
  },
};
tf.registerGradient(FUSED_CONV2D_GRADIENT);

/** A Conv2D layer (this module's, with the lazy gradient); the arguments are tfjs' `tf.layers.conv2d`'s. */
export function conv2d(args: Conv2DArgs): Conv2D {
  return new Conv2D(args);
}

type DenseArgs = NonNullable<Parameters<typeof tf.layers.dense>[0]>;
const TfjsDense = tf.layers.dense({ units: 1 }).constructor as new (args: DenseArgs) => tf.layers.Layer;

/**
 * Dense with the same lazy gradient as Conv2D, for the same reason: tfjs' fused matrix product computes the input's
 * gradient eagerly, a full-size product for a top trained on frozen or cached features. Rank-2 inputs with a linear or
 * ReLU activation run the _FusedMatMul kernel under FUSED_MAT_MUL_GRADIENT; everything else (softmax outputs
 * included) takes tfjs' path. It registers under tfjs' class name.
 */
export class Dense extends TfjsDense {
  static className = 'Dense';
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as DenseWeights;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const activation = self.activation.getClassName();
    if (x.rank !== 2 || !FUSED_ACTIVATIONS.has(activation)) return super.call(inputs, kwargs);
    self.invokeCallHook(inputs, kwargs);
    return tf.tidy(() => {
      const [m, k] = x.shape;
      const inputs: tf.NamedTensorMap = { a: tf.reshape(x, [1, m, k]), b: tf.expandDims(self.kernel.read(), 0) };
      if (self.bias) inputs.bias = self.bias.read();
      const attrs = { transposeA: false, transposeB: false, activation } as unknown as tf.NamedAttrMap;
      const y = tf.engine().runKernel<tf.Tensor>('_FusedMatMul', inputs, attrs);
      return tf.reshape(y, [m, y.shape[2]!]);
    });
  }
}
interface DenseWeights {
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  activation: { getClassName(): string };
  invokeCallHook(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): void;
}
registerZooClass(Dense);

/** The gradient of the _FusedMatMul kernel when Dense runs it directly (untransposed), lazily per input as FUSED_CONV2D_GRADIENT. */
export const FUSED_MAT_MUL_GRADIENT: tf.GradConfig = {
  kernelName: '_FusedMatMul',
  inputsToSave: ['a', 'b'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [a, b, y] = saved;
    const { transposeA, transposeB, activation } = attrs as unknown as {
      transposeA: boolean;
      transposeB: boolean;
      activation: string;
    };
    // Dense runs the kernel untransposed; anyone else calling it directly gets an error, not a wrong gradient.
    if (transposeA || transposeB) throw new Error("_FusedMatMul's gradient: only untransposed products");
    const dz = activationGradient(dy, y, activation);
    return {
      a: () => tf.matMul(dz, b, false, true),
      b: () => tf.matMul(a, dz, true, false),
      bias: () => tf.sum(dz, [0, 1]),
    };
  },
};
tf.registerGradient(FUSED_MAT_MUL_GRADIENT);

/** A Dense layer (this module's, with the lazy gradient); the arguments are tfjs' `tf.layers.dense`'s. */
export function dense(args: DenseArgs): Dense {
  return new Dense(args);
}

/** dy through a fused kernel's activation (linear or ReLU, given its output y): ReLU's by the Relu gradient registered now. */
function activationGradient(dy: tf.Tensor | tf.Tensor[], y: tf.Tensor, activation: string): tf.Tensor {
  const g = Array.isArray(dy) ? dy[0] : dy;
  if (!FUSED_ACTIVATIONS.has(activation))
    throw new Error(`the fused kernels' gradient: activation ${activation} is not supported`);
  return activation === 'relu' ? tf.getGradient('Relu').gradFunc(g, [y], {}).x() : g;
}

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

/** Keras' "torch" channel means and standard deviations (ImageNet, RGB, on 0..1 values). */
export const TORCH_MEAN_RGB: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const TORCH_STD_RGB: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** Keras' `preprocess_input` in "torch" mode (DenseNet): scale 0..255 to 0..1, subtract the ImageNet means, divide by the standard deviations. */
export function torchPreprocessInput(images: tf.Tensor): tf.Tensor {
  return tf.tidy(() =>
    tf.div(
      tf.sub(tf.div(tf.cast(images, 'float32'), 255), tf.tensor1d([...TORCH_MEAN_RGB])),
      tf.tensor1d([...TORCH_STD_RGB]),
    ),
  );
}

/** `torchPreprocessInput` as a layer, so a saved model carries its preprocessing. */
export class TorchPreprocess extends tf.layers.Layer {
  static className = 'TorchPreprocess';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return torchPreprocessInput(Array.isArray(inputs) ? inputs[0] : inputs);
  }
}
tf.serialization.registerClass(TorchPreprocess);

/**
 * tf.image.per_image_standardization: each image less its mean, divided by its standard deviation (at least
 * 1 / sqrt(its number of values), so a flat image stays finite), over all its pixels and channels.
 */
export function perImageStandardization(images: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const axes = images.shape.slice(1).map((_, i) => i + 1);
    const values = images.shape.slice(1).reduce((a, b) => a * b, 1);
    const { mean, variance } = tf.moments(images, axes, true);
    return tf.div(tf.sub(images, mean), tf.maximum(tf.sqrt(variance), 1 / Math.sqrt(values)));
  });
}

/** `perImageStandardization` as a layer, so a saved model carries it. */
export class PerImageStandardization extends tf.layers.Layer {
  static className = 'PerImageStandardization';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return perImageStandardization(Array.isArray(inputs) ? inputs[0] : inputs);
  }
}
tf.serialization.registerClass(PerImageStandardization);

/** What may follow the input (after the optional rescaling): one layer (or a Sequential model), a list of layers, or a function of the tensor. */
export type AfterInput = tf.layers.Layer | tf.layers.Layer[] | ((x: tf.SymbolicTensor) => tf.SymbolicTensor);

/** Options every builder in the zoo accepts for its input. */
export interface InputOptions {
  /** Image shape `[height, width, channels]`. */
  inputShape: [number, number, number];
  /** Prepend Rescaling(1/255) (the study's `normalize`). Default false. */
  normalize?: boolean;
  /** Then standardize each image on its own (`perImageStandardization`). Default false. */
  standardize?: boolean;
  /** Applied after the optional rescaling and standardization (the study's `after_input`). Default none. */
  afterInput?: AfterInput;
}

/** Creates the model input and applies the optional Rescaling(1/255), standardization, then `afterInput`; returns both ends. */
export function inputStem(opts: InputOptions, inputName = 'input'): { input: tf.SymbolicTensor; x: tf.SymbolicTensor } {
  const [h, w, c] = opts.inputShape ?? [];
  if (![h, w, c].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(
      `models: inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(opts.inputShape)}`,
    );
  }
  const input = tf.input({ shape: [h, w, c], name: inputName });
  let x = input;
  if (opts.normalize) x = tf.layers.rescaling({ scale: 1 / 255, name: 'rescaling' }).apply(x) as tf.SymbolicTensor;
  if (opts.standardize) x = new PerImageStandardization({ name: 'standardization' }).apply(x) as tf.SymbolicTensor;
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

/** Stages of the Keras ImageNet backbones (ResNet, DenseNet): 1..4 are conv2..conv5; 0 is the stem (conv1, pool1). */
export const KERAS_STAGES = 4;

/**
 * The stage of a Keras ImageNet backbone layer by its name: 0 for the stem (`conv1_conv`, `conv1/bn`, `pool1`),
 * k for `conv<k+1>_*` and for DenseNet's transition `pool<k+1>_*` after it, 4 for DenseNet's final `bn` and `relu`;
 * undefined for any other layer (input, preprocessing, pooling, a top).
 */
export function kerasStage(layerName: string): number | undefined {
  const m = /^(conv|pool)([1-5])(?:[_/]|$)/.exec(layerName);
  if (m) return Number(m[2]) - 1;
  return layerName === 'bn' || layerName === 'relu' ? KERAS_STAGES : undefined;
}

/**
 * Partial unfreezing by stage: freezes the stem and stages 1..`upTo` of a Keras ImageNet backbone (see `kerasStage`)
 * and makes every other layer trainable. Frozen batch-norm layers run in inference mode (BatchNormalization above), so
 * their moving statistics stay as loaded, as with Keras' `trainable = False`. Call before compiling.
 */
export function freezeStages(model: tf.LayersModel, upTo: number): void {
  if (!(Number.isInteger(upTo) && upTo >= 0 && upTo <= KERAS_STAGES))
    throw new Error(`models: freezeUpTo must be an integer 0..${KERAS_STAGES} (0: the stem only), got ${upTo}`);
  setTrainable(model, true);
  for (const layer of model.layers) {
    const stage = kerasStage(layer.name);
    if (stage !== undefined && stage <= upTo) layer.trainable = false;
  }
}

/** Parameters per stage of a Keras ImageNet backbone and its top, trainable and frozen: what `freezeStages` left to train. */
export function stageParams(model: tf.LayersModel): { stage: string; trainable: number; frozen: number }[] {
  const label = (s: number | undefined) =>
    s === undefined ? 'other (input, pooling, top)' : s === 0 ? 'stem (conv1, pool1)' : `stage ${s} (conv${s + 1})`;
  const rows = new Map<string, { stage: string; trainable: number; frozen: number; order: number }>();
  for (const layer of model.layers) {
    const s = kerasStage(layer.name);
    const row = rows.get(label(s)) ?? { stage: label(s), trainable: 0, frozen: 0, order: s ?? KERAS_STAGES + 1 };
    for (const w of layer.weights) {
      const n = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
      // Moving statistics are not trained in any layer: they count as frozen, as in Keras' non-trainable parameters.
      if (layer.trainable && w.trainable && model.trainable) row.trainable += n;
      else row.frozen += n;
    }
    rows.set(row.stage, row);
  }
  return [...rows.values()]
    .sort((a, b) => a.order - b.order)
    .map(({ stage, trainable, frozen }) => ({ stage, trainable, frozen }));
}

/**
 * Keras applications' head: with `includeTop`, global average pooling and a softmax Dense of `classes` named
 * 'predictions'; without it, `pooling` 'avg' or 'max' (a feature vector) or none (the last feature map).
 */
export function applicationHead(
  x: tf.SymbolicTensor,
  o: { includeTop?: boolean; classes?: number; pooling?: 'avg' | 'max' },
): tf.SymbolicTensor {
  if (o.includeTop) {
    if (!(Number.isInteger(o.classes) && o.classes! > 0))
      throw new Error(`models: includeTop needs a positive integer number of classes, got ${o.classes}`);
    const pooled = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    return apply(dense({ units: o.classes!, activation: 'softmax', name: 'predictions' }), pooled);
  }
  if (o.pooling === 'avg') return apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
  if (o.pooling === 'max') return apply(tf.layers.globalMaxPooling2d({ name: 'max_pool' }), x);
  if (o.pooling !== undefined) throw new Error(`models: pooling must be 'avg', 'max' or undefined, got "${o.pooling}"`);
  return x;
}
