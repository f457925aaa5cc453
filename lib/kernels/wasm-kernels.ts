/**
 * The table of training kernels registered over the stock wasm backend's, their kernel functions (attribute parsing, then
 * ./native-dispatch.ts or ./wasm-gradients.ts, else the stock kernel), the copy-free Identity/Cast and block-copy Tile,
 * and their registration and its undoing.
 */
import * as tf from '@tensorflow/tfjs';
import {
  BINARY_OPS,
  nativeBatchNormInfo,
  nativeBatchNormTrainingGradInfo,
  nativeBatchNormTrainingInfo,
  nativeBinaryInfo,
  nativeConv2DInfo,
  nativeMatMulInfo,
  nativeMaxPoolInfo,
  nativeReduceInfo,
  nativeReluInfo,
  nativeSameShapeInfo,
  nativeSqrtInfo,
} from './native-dispatch';
import { ADD_RELU, RELU_GRAD, addRelu, registerReluGradient, restoreReluGradient } from './relu';
import {
  BATCH_NORM_TRAINING,
  BATCH_NORM_TRAINING_GRAD,
  batchNormTraining,
  type BatchNormTrainingAttrs,
} from './batch-norm';
import { setAddReluOp, setBatchNormTrainingOp, setConstantRelease } from '../models/common';
import { conv2DBackpropFilterInfo, conv2DBackpropInputInfo, maxPoolGradInfo } from './wasm-gradients';
import type { WasmBackendLike } from './wasm-memory';
import { forgetNativeFilter } from './native';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

/**
 * How each kernel registered here is computed: `native` = by the native addon when it is built (else by the
 * stock kernel or this module's fallback), `wasm` = by wasm's compiled kernels, `js` = by JS loops (slower),
 * `none` = no arithmetic.
 */
export interface TrainingKernel {
  name: string;
  /** Where the arithmetic runs. */
  compute: 'native' | 'wasm' | 'js' | 'none';
  /** Whether it replaces a stock wasm kernel (rather than adding a missing one). */
  replaces: boolean;
  why: string;
}

export const WASM_TRAINING_KERNELS: readonly TrainingKernel[] = [
  {
    name: 'Conv2D',
    compute: 'native',
    replaces: true,
    why: 'native oneDNN or im2col is ~3x faster than XNNPACK here; stock kernel without the addon',
  },
  {
    name: 'FusedConv2D',
    compute: 'native',
    replaces: true,
    why: 'as Conv2D, for bias and linear/ReLU activations; stock kernel otherwise',
  },
  {
    name: 'Conv2DBackpropFilter',
    compute: 'native',
    replaces: false,
    why: 'missing in wasm: native, else the filter gradient as a valid wasm convolution',
  },
  {
    name: 'Conv2DBackpropInput',
    compute: 'native',
    replaces: true,
    why: 'stock kernel is slow: native, else valid wasm convolutions (polyphase for strides > 1)',
  },
  {
    name: 'BatchMatMul',
    compute: 'native',
    replaces: true,
    why:
      'stock kernel is single-threaded and ~1 GFLOP/s with a transposed first operand (dense ' +
      'weight gradients); stock kernel for int32 and batch broadcasts other than against a batch ' +
      'of 1',
  },
  {
    name: '_FusedMatMul',
    compute: 'native',
    replaces: true,
    why: 'as BatchMatMul, for a bias along the columns and linear/ReLU activations; stock kernel otherwise',
  },
  {
    name: 'Sum',
    compute: 'native',
    replaces: true,
    why: 'stock kernel transposes first when reducing leading axes (bias and batch-norm gradients)',
  },
  { name: 'Mean', compute: 'native', replaces: true, why: 'as Sum (batch-norm moments)' },
  ...(['Add', 'Sub', 'Multiply', 'RealDiv'] as const).map((name) => ({
    name,
    compute: 'native' as const,
    replaces: true,
    why:
      'stock kernel computes an index per element when one side is broadcast along the channels (batch norm) and ' +
      "runs on one thread (large same-shape operands: the residual blocks' adds and their gradients)",
  })),
  {
    name: 'FusedBatchNorm',
    compute: 'native',
    replaces: true,
    why: 'the stock kernel is single-threaded beside the addon; native is ~5x faster',
  },
  {
    name: BATCH_NORM_TRAINING,
    compute: 'native',
    replaces: false,
    why:
      "batch norm in training as one kernel (moments and normalisation) instead of tfjs's ~10 elementwise ones; " +
      'run by lib/kernels/batch-norm.ts only while the addon is in use',
  },
  {
    name: BATCH_NORM_TRAINING_GRAD,
    compute: 'native',
    replaces: false,
    why: 'its gradient in two passes over x and dy instead of ~15 elementwise kernels recorded by autograd',
  },
  {
    name: RELU_GRAD,
    compute: 'native',
    replaces: false,
    why: "ReLU's gradient in one pass instead of tfjs' Step and Multiply; run by lib/kernels/relu.ts only with the addon",
  },
  {
    name: ADD_RELU,
    compute: 'native',
    replaces: false,
    why:
      "a residual join's Add and the ReLU after it in one pass (the zoo's ResNets); run by foldedApply through " +
      'lib/kernels/relu.ts only with the addon',
  },
  {
    name: 'MaxPool',
    compute: 'native',
    replaces: true,
    why: "stock (XNNPACK) kernel runs on wasm's one thread beside the addon: native on the addon's threads",
  },
  {
    name: 'MaxPoolGrad',
    compute: 'native',
    replaces: true,
    why: 'stock kernel misroutes windows whose maximum is <= 0: native, else JS loops',
  },
  {
    name: 'Relu',
    compute: 'native',
    replaces: true,
    why: "stock (XNNPACK) kernel runs on wasm's one thread beside the addon: the ReLU layers after batch norm and residual adds",
  },
  {
    name: 'Sqrt',
    compute: 'native',
    replaces: true,
    why: "stock kernel is not vectorised: ~1 ns per element, 3-5x the other elementwise kernels (Adam's update)",
  },
  {
    name: 'Identity',
    compute: 'none',
    replaces: true,
    why: 'stock kernel copies; sharing the buffer (as Reshape does) is what the cpu backend does',
  },
  {
    name: 'Cast',
    compute: 'none',
    replaces: true,
    why:
      'as Identity for a cast to the dtype a tensor has (ReLU gradients); to bool the stock ' +
      'kernel truncates to a byte (-2 gives 254): a JS loop; stock kernel otherwise',
  },
  {
    name: 'Reverse',
    compute: 'js',
    replaces: true,
    why:
      "stock kernel computes an index per element (~20 ns each): reversing the last axis alone (caffe preprocessing's " +
      'RGB to BGR) is a loop over rows; stock kernel for other axes',
  },
  {
    name: 'PadV2',
    compute: 'js',
    replaces: true,
    why:
      "stock kernel computes an index per element: 9 ms for a batch of 64 96-px RGB images (ResNet-50's stem padding); " +
      'block copies of the contiguous runs take 1.7 ms, and writing the value only into the gaps between them took ' +
      "ResNet-50's max-pool padding (64x48x48x64) from 7.0 to 5.5 ms",
  },
  {
    name: 'Tile',
    compute: 'js',
    replaces: true,
    why: 'stock kernel computes an index per element; block copies are memory-bound (batch-norm gradient)',
  },
];

/** Tile by block copies: each axis's block is built once, then doubled with copyWithin. Any dtype. */
export function tileInfo(backend: WasmBackendLike, x: tf.TensorInfo, reps: number[]): tf.TensorInfo {
  const rank = x.shape.length;
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  const xv = backend.typedArrayFromHeap(x);
  const ov = backend.typedArrayFromHeap(out);
  const xStride = x.shape.map((_, i) => tf.util.sizeFromShape(x.shape.slice(i + 1)));
  const outBlock = outShape.map((_, i) => tf.util.sizeFromShape(outShape.slice(i + 1)));
  // Writes x's sub-block at axis d (starting at src) tiled, at dst; returns its length.
  const fill = (d: number, src: number, dst: number): number => {
    const n = x.shape[d];
    if (d === rank - 1) ov.set(xv.subarray(src, src + n), dst);
    else for (let i = 0; i < n; i++) fill(d + 1, src + i * xStride[d], dst + i * outBlock[d]);
    const len = d === rank - 1 ? n : n * outBlock[d];
    let filled = len;
    while (filled < len * reps[d]) {
      const chunk = Math.min(filled, len * reps[d] - filled);
      ov.copyWithin(dst + filled, dst, dst + chunk);
      filled += chunk;
    }
    return len * reps[d];
  };
  if (rank === 0) ov[0] = xv[0];
  else fill(0, 0, 0);
  return out;
}

/** x with its last axis reversed (rows of x.shape's last size, each reversed). Any dtype but string. */
function reverseLastAxisInfo(backend: WasmBackendLike, x: tf.TensorInfo): tf.TensorInfo {
  const out = backend.makeOutput(x.shape, x.dtype);
  const n = x.shape[x.shape.length - 1] ?? 1;
  const xv = backend.typedArrayFromHeap(x);
  const ov = backend.typedArrayFromHeap(out);
  if (n === 3) {
    // RGB to BGR, unrolled: 2.4x faster than the loop below for a batch of 64 96-px images.
    for (let row = 0; row < xv.length; row += 3) {
      ov[row] = xv[row + 2];
      ov[row + 1] = xv[row + 1];
      ov[row + 2] = xv[row];
    }
    return out;
  }
  for (let row = 0; row < xv.length; row += n) {
    for (let i = 0; i < n; i++) ov[row + i] = xv[row + n - 1 - i];
  }
  return out;
}

/**
 * x padded with `value` by `paddings` ([before, after] per axis), any dtype but string: x is copied in as blocks that
 * are contiguous on both sides, each from the last padded axis inwards, in output order, and only the gaps between
 * them are filled with the value (each output element written once).
 */
export function padInfo(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  paddings: [number, number][],
  value: number,
): tf.TensorInfo {
  const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
  const out = backend.makeOutput(outShape, x.dtype);
  const xv = backend.typedArrayFromHeap(x);
  const ov = backend.typedArrayFromHeap(out);
  const last = paddings.map(([b, a]) => b + a > 0).lastIndexOf(true);
  if (last < 0 || xv.length === 0) {
    if (xv.length === 0) ov.fill(value);
    else ov.set(xv);
    return out;
  }
  // Below the last padded axis nothing is padded: a block is x's extent along it times everything inside.
  const inner = tf.util.sizeFromShape(x.shape.slice(last + 1));
  const block = x.shape[last] * inner;
  const strides = outShape.map((_, i) => tf.util.sizeFromShape(outShape.slice(i + 1)));
  const index = new Array<number>(last).fill(0);
  let written = 0;
  for (let from = 0; from < xv.length; from += block) {
    let to = paddings[last][0] * inner;
    for (let a = 0; a < last; a++) to += (index[a] + paddings[a][0]) * strides[a];
    ov.fill(value, written, to);
    ov.set(xv.subarray(from, from + block), to);
    written = to + block;
    for (let a = last - 1; a >= 0 && ++index[a] === x.shape[a]; a--) index[a] = 0;
  }
  ov.fill(value, written);
  return out;
}

/** x's own buffer as a new tensor (one more reference to it), as the cpu backend's Identity does. */
function shareBuffer(backend: unknown, x: tf.TensorInfo): tf.TensorInfo {
  (backend as { incRef(id: tf.DataId): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

function asBackend(b: unknown): WasmBackendLike {
  return b as WasmBackendLike;
}

type Shape4D = [number, number, number, number];

/** A max pool's geometry (MaxPool and MaxPoolGrad share their attributes). */
function maxPoolInfo(
  shape: Shape4D,
  a: Pick<tf.MaxPoolAttrs, 'filterSize' | 'strides' | 'pad' | 'dimRoundingMode'>,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(shape, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
}

/** Conv geometry for the gradient kernels, which implement the NHWC layout only (the one tfjs-layers uses). */
function nhwcConvInfo(
  kernel: string,
  inputShape: Shape4D,
  filterShape: Shape4D,
  a: Pick<tf.Conv2DBackpropInputAttrs, 'strides' | 'pad' | 'dimRoundingMode' | 'dataFormat'>,
): tf.backend_util.Conv2DInfo {
  const c = tf.backend_util.computeConv2DInfo(
    inputShape,
    filterShape,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(a.dataFormat),
  );
  if (c.dataFormat !== 'channelsLast') throw new Error(`affect-lab: wasm ${kernel} supports NHWC only`);
  return c;
}

/** Conv geometry of a forward convolution, in whichever data format its attributes name. */
function forwardConvInfo(x: tf.TensorInfo, filter: tf.TensorInfo, a: tf.Conv2DAttrs): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    x.shape as Shape4D,
    filter.shape as Shape4D,
    a.strides,
    a.dilations,
    a.pad,
    a.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(a.dataFormat),
  );
}

/** The stock kernels that our native replacements fall back to, captured when ours are registered. */
const stock = new Map<string, tf.KernelFunc>();
/** What each of our registrations replaced: the stock kernel's whole config, or null where wasm had none. */
const replaced = new Map<string, tf.KernelConfig | null>();
const fallbacks = new Map<string, number>();

function runStock(name: string, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] {
  const f = stock.get(name);
  if (!f) throw new Error(`affect-lab: no stock wasm ${name} kernel to fall back to`);
  fallbacks.set(name, (fallbacks.get(name) ?? 0) + 1);
  return f(args);
}

/**
 * For our kernels with no stock fallback (batch norm in training, ReLU's gradient): their callers check that the addon
 * is in use and the inputs fit first, so this means a caller skipped that.
 */
function notCovered(inputs: tf.NamedTensorInfoMap): never {
  const shapes = Object.entries(inputs).map(([k, t]) => `${k} ${t ? `${t.dtype} ${JSON.stringify(t.shape)}` : '-'}`);
  throw new Error(`affect-lab: this kernel runs natively only (the addon in use, float32), got ${shapes.join(', ')}`);
}

/**
 * How many calls each of our kernels has handed to its stock kernel since the last call of this function: the bench
 * and tests tell from it which kernels of a training step left the native path.
 */
export function takeStockFallbacks(): Map<string, number> {
  const taken = new Map(fallbacks);
  fallbacks.clear();
  return taken;
}

const kernelFuncs: Record<string, tf.KernelFunc> = {
  Conv2D: (args) => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const c = forwardConvInfo(x, filter, args.attrs as unknown as tf.Conv2DAttrs);
    return nativeConv2DInfo(asBackend(args.backend), x, filter, c) ?? runStock('Conv2D', args);
  },
  FusedConv2D: (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const a = args.attrs as unknown as tf.FusedConv2DAttrs;
    if (!x || !filter || preluActivationWeights) return runStock('FusedConv2D', args);
    const c = forwardConvInfo(x, filter, a);
    return (
      nativeConv2DInfo(asBackend(args.backend), x, filter, c, { bias, activation: a.activation }) ??
      runStock('FusedConv2D', args)
    );
  },
  BatchMatMul: (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    return nativeMatMulInfo(asBackend(args.backend), a, b, transposeA, transposeB) ?? runStock('BatchMatMul', args);
  },
  _FusedMatMul: (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const { transposeA, transposeB, activation } = args.attrs as unknown as tf._FusedMatMulAttrs;
    if (!a || !b || preluActivationWeights) return runStock('_FusedMatMul', args);
    return (
      nativeMatMulInfo(asBackend(args.backend), a, b, transposeA, transposeB, { bias, activation }) ??
      runStock('_FusedMatMul', args)
    );
  },
  ...Object.fromEntries(
    (Object.keys(BINARY_OPS) as (keyof typeof BINARY_OPS)[]).map((op) => [
      op,
      (args: Parameters<tf.KernelFunc>[0]) => {
        const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
        return nativeBinaryInfo(asBackend(args.backend), op, a, b) ?? runStock(op, args);
      },
    ]),
  ),
  FusedBatchNorm: (args) => {
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    if (!x || !mean || !variance) return runStock('FusedBatchNorm', args);
    const { varianceEpsilon } = args.attrs as unknown as tf.FusedBatchNormAttrs;
    return (
      nativeBatchNormInfo(asBackend(args.backend), x, { mean, variance, offset, scale }, varianceEpsilon) ??
      runStock('FusedBatchNorm', args)
    );
  },
  [BATCH_NORM_TRAINING]: ({ inputs, attrs, backend }) => {
    const { x, scale, offset } = inputs as Record<string, tf.TensorInfo>;
    const { varianceEpsilon, relu } = attrs as unknown as BatchNormTrainingAttrs;
    return (
      nativeBatchNormTrainingInfo(asBackend(backend), x, scale, offset, varianceEpsilon, relu) ?? notCovered(inputs)
    );
  },
  [BATCH_NORM_TRAINING_GRAD]: ({ inputs, attrs, backend }) => {
    const { dy, x, scale, offset, mean, variance } = inputs as Record<string, tf.TensorInfo>;
    const { varianceEpsilon, relu } = attrs as unknown as BatchNormTrainingAttrs;
    const saved = { x, scale, mean, variance, ...(relu ? { reluOffset: offset } : {}) };
    return nativeBatchNormTrainingGradInfo(asBackend(backend), dy, saved, varianceEpsilon) ?? notCovered(inputs);
  },
  [RELU_GRAD]: ({ inputs, backend }) => {
    const { dy, x } = inputs as Record<string, tf.TensorInfo>;
    return nativeSameShapeInfo(asBackend(backend), 'reluGrad', dy, x) ?? notCovered(inputs);
  },
  [ADD_RELU]: ({ inputs, backend }) => {
    const { a, b } = inputs as Record<string, tf.TensorInfo>;
    return nativeSameShapeInfo(asBackend(backend), 'addRelu', a, b) ?? notCovered(inputs);
  },
  Sum: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const a = args.attrs as unknown as tf.SumAttrs;
    return nativeReduceInfo(asBackend(args.backend), x, a.axis, a.keepDims, false) ?? runStock('Sum', args);
  },
  Mean: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const a = args.attrs as unknown as tf.MeanAttrs;
    return nativeReduceInfo(asBackend(args.backend), x, a.axis, a.keepDims, true) ?? runStock('Mean', args);
  },
  Conv2DBackpropFilter: ({ inputs, attrs, backend }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const c = nhwcConvInfo('Conv2DBackpropFilter', x.shape as Shape4D, a.filterShape, a);
    return conv2DBackpropFilterInfo(asBackend(backend), x, dy, c);
  },
  Conv2DBackpropInput: ({ inputs, attrs, backend }) => {
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const c = nhwcConvInfo('Conv2DBackpropInput', a.inputShape, filter.shape as Shape4D, a);
    return conv2DBackpropInputInfo(asBackend(backend), dy, filter, c);
  },
  MaxPool: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const a = args.attrs as unknown as tf.MaxPoolAttrs;
    return (
      nativeMaxPoolInfo(asBackend(args.backend), x, maxPoolInfo(x.shape as Shape4D, a)) ?? runStock('MaxPool', args)
    );
  },
  MaxPoolGrad: ({ inputs, attrs, backend }) => {
    const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const a = attrs as unknown as tf.MaxPoolGradAttrs;
    return maxPoolGradInfo(asBackend(backend), dy, input, maxPoolInfo(input.shape as Shape4D, a));
  },
  Relu: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    return nativeReluInfo(asBackend(args.backend), x) ?? runStock('Relu', args);
  },
  Sqrt: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    return nativeSqrtInfo(asBackend(args.backend), x) ?? runStock('Sqrt', args);
  },
  Identity: ({ inputs, backend }) => shareBuffer(backend, inputs.x as tf.TensorInfo),
  Cast: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { dtype } = args.attrs as unknown as tf.CastAttrs;
    if (x.dtype === dtype) return shareBuffer(args.backend, x);
    if (dtype !== 'bool') return runStock('Cast', args);
    const backend = asBackend(args.backend);
    const out = backend.makeOutput(x.shape, 'bool');
    const xv = backend.typedArrayFromHeap(x);
    const ov = backend.typedArrayFromHeap(out);
    for (let i = 0; i < xv.length; i++) ov[i] = xv[i] !== 0 ? 1 : 0;
    return out;
  },
  Reverse: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const axes = tf.util.parseAxisParam((args.attrs as unknown as tf.ReverseAttrs).dims, x.shape);
    const last = x.shape.length - 1;
    if (x.dtype === 'string' || axes.length !== 1 || axes[0] !== last) return runStock('Reverse', args);
    return reverseLastAxisInfo(asBackend(args.backend), x);
  },
  PadV2: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { paddings, constantValue } = args.attrs as unknown as tf.PadV2Attrs;
    if (x.dtype === 'string') return runStock('PadV2', args);
    return padInfo(asBackend(args.backend), x, paddings, constantValue);
  },
  Tile: ({ inputs, attrs, backend }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') throw new Error('affect-lab: wasm Tile does not support strings');
    return tileInfo(asBackend(backend), x, (attrs as unknown as tf.TileAttrs).reps);
  },
};

/**
 * Registers the training kernels wasm lacks or gets wrong, Relu's gradient that uses one of them (./relu.ts), the
 * models' batch-norm training and add-ReLU ops (./batch-norm.ts, ./relu.ts) and the release of kept filters; returns
 * the kernels' names. Safe to call more than once. A replaced kernel keeps the stock `setupFunc`: the backend runs every
 * registered kernel's set-up when it initialises, and other code paths rely on what the stock set-up binds.
 */
export function registerWasmTrainingKernels(): string[] {
  // Load the stock kernels first, so that ours are registered over them and not the other way round.
  require('@tensorflow/tfjs-backend-wasm');
  for (const k of WASM_TRAINING_KERNELS) {
    const kernelFunc = kernelFuncs[k.name];
    const old = tf.getKernel(k.name, 'wasm');
    if (old?.kernelFunc === kernelFunc) continue;
    if (!replaced.has(k.name)) replaced.set(k.name, old ?? null);
    if (old) stock.set(k.name, old.kernelFunc);
    if (old) tf.unregisterKernel(k.name, 'wasm');
    tf.registerKernel({ kernelName: k.name, backendName: 'wasm', kernelFunc, setupFunc: old?.setupFunc });
  }
  registerReluGradient();
  setBatchNormTrainingOp(batchNormTraining);
  setAddReluOp(addRelu);
  setConstantRelease(forgetNativeFilter);
  return WASM_TRAINING_KERNELS.map((k) => k.name);
}

/**
 * Undoes registerWasmTrainingKernels: each stock kernel it replaced is registered again (the same config object), and
 * each kernel it added is removed; a kernel someone registered over ours since is left alone. A wasm backend that is
 * already running looks kernels up per call, so it runs the stock ones from then on. tfjs' Relu gradient is put back and
 * the batch-norm training and add-ReLU ops and the release of kept filters removed.
 */
export function restoreStockWasmKernels(): void {
  for (const [name, original] of replaced) {
    if (tf.getKernel(name, 'wasm')?.kernelFunc !== kernelFuncs[name]) continue;
    tf.unregisterKernel(name, 'wasm');
    if (original) tf.registerKernel(original);
  }
  replaced.clear();
  stock.clear();
  restoreReluGradient();
  setBatchNormTrainingOp(undefined);
  setAddReluOp(undefined);
  setConstantRelease(undefined);
}
