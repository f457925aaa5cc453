/**
 * The kernels the native addon (./native.ts) runs on wasm memory. Each returns undefined when the addon is not in use or
 * the call is one it does not cover, and the caller then runs the stock wasm kernel (or its own wasm/JS fallback).
 */
import * as tf from '@tensorflow/tfjs';
import { convGeometry, matMulGeometry, nativeConv, nativeMatMul, poolGeometry, type NativeConvAddon } from './native';
import { heap, nativeOutput, nativeOutputs, type WasmBackendLike } from './wasm-memory';
import { constantId } from '../models/common';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

/** The addon, when it is in use and `geometry` has no empty size (the addon rejects those; the wasm path takes them). */
export function nativeFor(geometry: Int32Array): NativeConvAddon | undefined {
  const addon = nativeConv();
  return addon && geometry.subarray(0, geometry.length - 2).every((v) => v > 0) ? addon : undefined;
}

/** Whether `shape` is a vector along the channels: [C] or [1,...,1,C] (what broadcasting along the last axis means). */
function isChannelVector(shape: number[], channels: number): boolean {
  return shape.length > 0 && shape[shape.length - 1] === channels && tf.util.sizeFromShape(shape) === channels;
}

/**
 * The native forward convolution, with the bias added and a linear or ReLU activation; undefined (the caller runs
 * the stock kernel) when the addon is not in use or the call is one it does not cover.
 */
export function nativeConv2DInfo(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  c: Conv2DInfo,
  fused: { bias?: tf.TensorInfo; activation?: string } = {},
): tf.TensorInfo | undefined {
  const g = convGeometry(c);
  const addon = nativeFor(g);
  const { bias, activation = 'linear' } = fused;
  if (!addon || c.dataFormat !== 'channelsLast' || (activation !== 'linear' && activation !== 'relu')) return undefined;
  if ([x, filter, bias].some((t) => t && t.dtype !== 'float32')) return undefined;
  if (bias && !isChannelVector(bias.shape, c.outChannels)) return undefined;
  return nativeOutput(backend, c.outShape, (out) => {
    const y = heap(backend, out);
    const b = bias ? heap(backend, bias) : null;
    addon.conv2d(heap(backend, x), heap(backend, filter), b, y, g, constantId(filter.dataId));
    // A separate pass: oneDNN's ReLU post-op turns NaN into 0, which tfjs' ReLU keeps.
    if (activation === 'relu') addon.relu(y, y);
  });
}

/**
 * Sum (scale 1) or mean (scale 1/n) of float32 `x` over a run of consecutive axes, natively: x as [outer, rows, cols]
 * summed over its rows, one native call per outer index (a global average pooling: one per image). Undefined (the
 * caller runs the stock kernel) without the addon, for axes that are not one run, and, with more than one outer index,
 * for runs ending at the last axis or leaving too little per call (MIN_REDUCE_CALL): wasm reduces trailing axes without
 * a transpose, but transposes a run in the middle first (a frozen ResNet-50's pooling at batch 64: 4 ms, 0.5 natively).
 */
export function nativeReduceInfo(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  axis: number | number[],
  keepDims: boolean,
  mean: boolean,
): tf.TensorInfo | undefined {
  const addon = nativeConv();
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  if (!addon || x.dtype !== 'float32' || axes.length === 0 || axes.some((a, i) => a !== axes[0] + i)) return undefined;
  if (tf.util.sizeFromShape(x.shape) === 0) return undefined;
  const [first, end] = [axes[0], axes[axes.length - 1] + 1];
  const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
  const rows = tf.util.sizeFromShape(x.shape.slice(first, end));
  const cols = tf.util.sizeFromShape(x.shape.slice(end));
  if (outer > 1 && (end === x.shape.length || rows * cols < MIN_REDUCE_CALL)) return undefined;
  const shape = keepDims
    ? x.shape.map((d, i) => (i >= first && i < end ? 1 : d))
    : x.shape.filter((_, i) => i < first || i >= end);
  return nativeOutput(backend, shape, (out) => {
    const [xs, ys] = [heap(backend, x), heap(backend, out)];
    for (let o = 0; o < outer; o++)
      addon.sumRows(
        xs.subarray(o * rows * cols, (o + 1) * rows * cols),
        ys.subarray(o * cols, (o + 1) * cols),
        mean ? 1 / rows : 1,
      );
  });
}

/** The fewest values one native reduction call of several takes (below it, the calls cost more than they save). */
const MIN_REDUCE_CALL = 1024;

/** Whether every one of `vectors` holds exactly `channels` values. */
function channelVectors(vectors: tf.TensorInfo[], channels: number): boolean {
  return vectors.every((t) => tf.util.sizeFromShape(t.shape) === channels);
}

/**
 * a * b (either transposed), plus a bias along the columns and a linear or ReLU activation, natively; undefined (the
 * caller runs the stock kernel) without the addon, for other dtypes, activations or biases, empty or mismatched
 * operands (the stock kernel says what is wrong), and batch broadcasts other than against a batch of 1.
 */
export function nativeMatMulInfo(
  backend: WasmBackendLike,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  fused: { bias?: tf.TensorInfo; activation?: string } = {},
): tf.TensorInfo | undefined {
  const addon = nativeMatMul();
  const { bias, activation = 'linear' } = fused;
  if (!addon || (activation !== 'linear' && activation !== 'relu')) return undefined;
  if ([a, b, bias].some((t) => t && t.dtype !== 'float32') || a.shape.length < 2 || b.shape.length < 2)
    return undefined;
  const [ra, rb] = [a.shape.length, b.shape.length];
  const [M, K] = transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const [Kb, N] = transposeB ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]];
  const batchDims = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  const batch = tf.util.sizeFromShape(batchDims);
  if (K !== Kb || batch * M * K * N === 0) return undefined;
  if (batch !== Math.max(batchA, batchB) || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return undefined;
  if (bias && !isChannelVector(bias.shape, N)) return undefined;
  const g = matMulGeometry({ batchA, batchB, M, K, N, transposeA, transposeB, relu: activation === 'relu' });
  return nativeOutput(backend, [...batchDims, M, N], (out) =>
    addon.matMul(heap(backend, a), heap(backend, b), bias ? heap(backend, bias) : null, heap(backend, out), g),
  );
}

export const BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 } as const;

/** Same-shape and scalar operands below this many elements stay on the stock kernel (a native call costs more than it saves). */
export const NATIVE_SAME_SHAPE_MIN = 65536;

/**
 * `a (op) b` natively for float32 operands of one shape or a tensor and a scalar (NATIVE_SAME_SHAPE_MIN elements or
 * more; the L2 penalty's gradient, the residual blocks' adds), or where one side is a full tensor and the other a
 * vector broadcast along its last axis (shape [C] or [1,...,1,C]); undefined (the caller runs the stock kernel)
 * otherwise.
 */
export function nativeBinaryInfo(
  backend: WasmBackendLike,
  op: keyof typeof BINARY_OPS,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
): tf.TensorInfo | undefined {
  const addon = nativeConv();
  if (!addon || a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  const size = tf.util.sizeFromShape(a.shape);
  if (tf.util.arraysEqual(a.shape, b.shape)) {
    // The stock kernel is as fast on one thread; the addon's splits large operands over its threads.
    if (size < NATIVE_SAME_SHAPE_MIN) return undefined;
    return nativeOutput(backend, a.shape, (out) =>
      addon.binaryRows(BINARY_OPS[op], heap(backend, a), heap(backend, b), heap(backend, out), false),
    );
  }
  const smallFirst = size < tf.util.sizeFromShape(b.shape);
  const [full, small] = smallFirst ? [b, a] : [a, b];
  const fullSize = tf.util.sizeFromShape(full.shape);
  const channels = full.shape[full.shape.length - 1];
  const scalar = tf.util.sizeFromShape(small.shape) === 1 && fullSize >= NATIVE_SAME_SHAPE_MIN;
  const vector = isChannelVector(small.shape, channels) && channels >= 2 && fullSize !== channels;
  // Small scalar operands are fast in the stock kernel.
  if (small.shape.length > full.shape.length || !(scalar || vector)) return undefined;
  return nativeOutput(backend, full.shape, (out) =>
    addon.binaryRows(BINARY_OPS[op], heap(backend, full), heap(backend, small), heap(backend, out), smallFirst),
  );
}

/**
 * Batch norm of float32 `x` along its last axis, natively, with mean/variance/offset/scale vectors of that length
 * (offset 0 and scale 1 when absent); undefined (the caller runs the stock kernel) otherwise.
 */
export function nativeBatchNormInfo(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  stats: { mean: tf.TensorInfo; variance: tf.TensorInfo; offset?: tf.TensorInfo; scale?: tf.TensorInfo },
  epsilon: number,
): tf.TensorInfo | undefined {
  const addon = nativeConv();
  const channels = x.shape[x.shape.length - 1];
  const vectors = [stats.mean, stats.variance, stats.offset, stats.scale].filter(
    (t): t is tf.TensorInfo => t !== undefined,
  );
  if (!addon || x.dtype !== 'float32' || x.shape.length === 0 || tf.util.sizeFromShape(x.shape) === 0) return undefined;
  if (vectors.some((t) => t.dtype !== 'float32') || !channelVectors(vectors, channels)) return undefined;
  return nativeOutput(backend, x.shape, (out) => {
    const variance = heap(backend, stats.variance);
    const scale = stats.scale ? heap(backend, stats.scale) : undefined;
    const factor = Float32Array.from(variance, (v, c) => (scale ? scale[c] : 1) / Math.sqrt(v + epsilon));
    const offset = stats.offset ? heap(backend, stats.offset) : new Float32Array(channels);
    addon.normalizeRows(heap(backend, x), heap(backend, stats.mean), factor, offset, heap(backend, out));
  });
}

/**
 * Batch norm in training of float32 `x` along its last axis, natively: [y, mean, variance], the batch's moments
 * (variance biased, as tf.moments), y passed through max(., 0) when `relu`. Undefined without the addon or for other
 * dtypes, shapes or empty tensors.
 */
export function nativeBatchNormTrainingInfo(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  scale: tf.TensorInfo,
  offset: tf.TensorInfo,
  epsilon: number,
  relu: boolean,
): tf.TensorInfo[] | undefined {
  const addon = nativeConv();
  const channels = x.shape[x.shape.length - 1];
  if (!addon || x.shape.length < 2 || tf.util.sizeFromShape(x.shape) === 0) return undefined;
  if (![x, scale, offset].every((t) => t.dtype === 'float32') || !channelVectors([scale, offset], channels))
    return undefined;
  return nativeOutputs(backend, [x.shape, [channels], [channels]], ([y, mean, variance]) =>
    addon.batchNormTraining(
      heap(backend, x),
      heap(backend, scale),
      heap(backend, offset),
      heap(backend, y),
      heap(backend, mean),
      heap(backend, variance),
      epsilon,
      relu,
    ),
  );
}

/**
 * The gradients [dx, dscale, doffset] of nativeBatchNormTrainingInfo's y for output gradient `dy`, from its saved
 * input, scale and batch moments, and its offset when it ran with relu (`reluOffset`); undefined where the forward
 * kernel would be.
 */
export function nativeBatchNormTrainingGradInfo(
  backend: WasmBackendLike,
  dy: tf.TensorInfo,
  saved: {
    x: tf.TensorInfo;
    scale: tf.TensorInfo;
    mean: tf.TensorInfo;
    variance: tf.TensorInfo;
    reluOffset?: tf.TensorInfo;
  },
  epsilon: number,
): tf.TensorInfo[] | undefined {
  const addon = nativeConv();
  const { x, scale, mean, variance, reluOffset } = saved;
  const channels = x.shape[x.shape.length - 1];
  const vectors = [scale, mean, variance, ...(reluOffset ? [reluOffset] : [])];
  if (!addon || x.shape.length < 2 || tf.util.sizeFromShape(x.shape) === 0) return undefined;
  if (![dy, x, ...vectors].every((t) => t.dtype === 'float32')) return undefined;
  if (!tf.util.arraysEqual(dy.shape, x.shape) || !channelVectors(vectors, channels)) return undefined;
  return nativeOutputs(backend, [x.shape, [channels], [channels]], ([dx, dscale, doffset]) =>
    addon.batchNormTrainingGrad(
      heap(backend, dy),
      heap(backend, x),
      heap(backend, scale),
      heap(backend, mean),
      heap(backend, variance),
      heap(backend, dx),
      heap(backend, dscale),
      heap(backend, doffset),
      epsilon,
      reluOffset ? heap(backend, reluOffset) : null,
    ),
  );
}

/**
 * Max-pool of float32 NHWC `x` natively; undefined (the caller runs the stock kernel) without the addon, for other
 * dtypes or layouts, or empty sizes.
 */
export function nativeMaxPoolInfo(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  c: Conv2DInfo,
): tf.TensorInfo | undefined {
  const g = poolGeometry(c);
  const addon = nativeFor(g);
  if (!addon || x.dtype !== 'float32' || c.dataFormat !== 'channelsLast') return undefined;
  return nativeOutput(backend, c.outShape, (out) => addon.maxPool(heap(backend, x), heap(backend, out), g));
}

/** sqrt(x) of float32 `x` natively; undefined (the caller runs the stock kernel) without the addon or for other dtypes. */
export function nativeSqrtInfo(backend: WasmBackendLike, x: tf.TensorInfo): tf.TensorInfo | undefined {
  const addon = nativeConv();
  if (!addon || x.dtype !== 'float32') return undefined;
  return nativeOutput(backend, x.shape, (out) => addon.sqrt(heap(backend, x), heap(backend, out)));
}

/**
 * max(x, 0) of a float32 tensor of NATIVE_SAME_SHAPE_MIN elements or more, natively (on the addon's threads);
 * undefined without the addon, for other dtypes or smaller tensors (the call would cost more than it saves).
 */
export function nativeReluInfo(backend: WasmBackendLike, x: tf.TensorInfo): tf.TensorInfo | undefined {
  const addon = nativeConv();
  if (!addon || x.dtype !== 'float32' || tf.util.sizeFromShape(x.shape) < NATIVE_SAME_SHAPE_MIN) return undefined;
  return nativeOutput(backend, x.shape, (out) => addon.relu(heap(backend, x), heap(backend, out)));
}

/**
 * The addon's kernels of two float32 arrays of one length into a third: `reluGrad` (dy * step(x), ReLU's gradient) and
 * `addRelu` (max(a + b, 0), a residual join and its ReLU in one pass).
 */
type SameShapeKernel = 'reluGrad' | 'addRelu';

/** `kernel` of float32 tensors `a` and `b` of one shape, natively; undefined without the addon or otherwise. */
export function nativeSameShapeInfo(
  backend: WasmBackendLike,
  kernel: SameShapeKernel,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
): tf.TensorInfo | undefined {
  const addon = nativeConv();
  if (!addon || a.dtype !== 'float32' || b.dtype !== 'float32' || !tf.util.arraysEqual(a.shape, b.shape))
    return undefined;
  return nativeOutput(backend, a.shape, (out) => addon[kernel](heap(backend, a), heap(backend, b), heap(backend, out)));
}
