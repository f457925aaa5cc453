/**
 * Gradient kernels the stock wasm backend lacks or gets wrong, and its thread set-up.
 * Owned by the training-speed work (issue 6); lib/backend.ts calls both set-up functions before wasm initialises.
 *
 * With the native addon (lib/kernels/native.ts) the NHWC convolutions (linear or ReLU, channel bias) and both their
 * gradients run natively on wasm memory, and so do the matrix products, batch norm and the other kernels marked
 * `native` below. Without it, the gradients are rewritten as ordinary (valid) convolutions and run by wasm's own
 * XNNPACK `Conv2D` kernel; only the cheap re-layouts (pad, transpose, zero-insertion, filter flip) are JS loops over
 * wasm memory. Kernels call other kernels' `kernelFunc`s, never `tf.*` ops (which would corrupt reference counts inside
 * a kernel), and free their intermediates with `backend.disposeData`.
 */
// A plain require (not a namespace copy): the thread set-up patches the module object the backend reads.
import os = require('node:os');
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type * as wasmBackend from '@tensorflow/tfjs-backend-wasm';
import { convGeometry, matMulGeometry, nativeConv, nativeMatMul, poolGeometry, type NativeConvAddon } from './native';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

/** The part of the wasm backend these kernels use. */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): tf.TypedArray;
  disposeData(dataId: tf.DataId): boolean;
}

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
  { name: 'Conv2D', compute: 'native', replaces: true, why: 'native im2col + OpenBLAS is ~3x faster than XNNPACK here; stock kernel without the addon' },
  { name: 'FusedConv2D', compute: 'native', replaces: true, why: 'as Conv2D, for bias and linear/ReLU activations; stock kernel otherwise' },
  { name: 'Conv2DBackpropFilter', compute: 'native', replaces: false, why: 'missing in wasm: native, else the filter gradient as a valid wasm convolution' },
  { name: 'Conv2DBackpropInput', compute: 'native', replaces: true, why: 'stock kernel is slow: native, else valid wasm convolutions (polyphase for strides > 1)' },
  {
    name: 'BatchMatMul', compute: 'native', replaces: true,
    why: 'stock kernel is single-threaded and ~1 GFLOP/s with a transposed first operand (dense weight gradients); stock kernel for int32 and batch broadcasts other than against a batch of 1',
  },
  { name: '_FusedMatMul', compute: 'native', replaces: true, why: 'as BatchMatMul, for a bias along the columns and linear/ReLU activations; stock kernel otherwise' },
  { name: 'Sum', compute: 'native', replaces: true, why: 'stock kernel transposes first when reducing leading axes (bias and batch-norm gradients)' },
  { name: 'Mean', compute: 'native', replaces: true, why: 'as Sum (batch-norm moments)' },
  ...(['Add', 'Sub', 'Multiply', 'RealDiv'] as const).map((name) => ({
    name, compute: 'native' as const, replaces: true,
    why: 'stock kernel computes an index per element when one side is broadcast along the channels (batch norm)',
  })),
  { name: 'FusedBatchNorm', compute: 'native', replaces: true, why: 'the stock kernel is single-threaded beside the addon; native is ~5x faster' },
  { name: 'MaxPoolGrad', compute: 'native', replaces: true, why: 'stock kernel misroutes windows whose maximum is <= 0: native, else JS loops' },
  { name: 'Sqrt', compute: 'native', replaces: true, why: "stock kernel is not vectorised: ~1 ns per element, 3-5x the other elementwise kernels (Adam's update)" },
  { name: 'Identity', compute: 'none', replaces: true, why: 'stock kernel copies; sharing the buffer (as Reshape does) is what the cpu backend does' },
  {
    name: 'Cast', compute: 'none', replaces: true,
    why: 'as Identity for a cast to the dtype a tensor has (ReLU gradients); to bool the stock kernel truncates to a byte (-2 gives 254): a JS loop; stock kernel otherwise',
  },
  { name: 'Tile', compute: 'js', replaces: true, why: 'stock kernel computes an index per element; block copies are memory-bound (batch-norm gradient)' },
];

function heap(backend: WasmBackendLike, t: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** The addon, when it is in use and `geometry` has no empty size (the addon rejects those; the wasm path takes them). */
function nativeFor(geometry: Int32Array): NativeConvAddon | undefined {
  const addon = nativeConv();
  return addon && geometry.subarray(0, geometry.length - 2).every((v) => v > 0) ? addon : undefined;
}

/** A new float32 output filled by `fill`, freed again if filling throws. */
function nativeOutput(backend: WasmBackendLike, shape: number[], fill: (out: tf.TensorInfo) => void): tf.TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  try {
    // Views of wasm memory are taken inside `fill`, after makeOutput: growing unshared memory detaches earlier ones.
    fill(out);
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  }
  return out;
}

/** Whether `shape` is a vector along the channels: [C] or [1,...,1,C] (what broadcasting along the last axis means). */
function isChannelVector(shape: number[], channels: number): boolean {
  return shape.length > 0 && shape[shape.length - 1] === channels && tf.util.sizeFromShape(shape) === channels;
}

/** Copies one filter tap [Ci, Co] at `src` of `from` to [Co, Ci] at `dst` of `to` (the input gradient's channel swap). */
function swapChannels(from: Float32Array, src: number, to: Float32Array, dst: number, Ci: number, Co: number): void {
  for (let ci = 0; ci < Ci; ci++) {
    for (let co = 0; co < Co; co++) to[dst + co * Ci + ci] = from[src + ci * Co + co];
  }
}

/** wasm's XNNPACK convolution with no padding. */
function validConv(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  strides: [number, number],
  dilations: [number, number],
): tf.TensorInfo {
  const conv = tf.getKernel('Conv2D', 'wasm');
  if (!conv) throw new Error('affect-lab: the wasm Conv2D kernel is not registered');
  const attrs = { strides, dilations, pad: 'valid', dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap;
  return conv.kernelFunc({ inputs: { x, filter }, attrs, backend: backend as unknown as tf.KernelBackend }) as tf.TensorInfo;
}

/**
 * dW[kh,kw,ci,co] = sum over b,oh,ow of xPad[b, oh*s + kh*d, ow*s + kw*d, ci] * dy[b,oh,ow,co]:
 * a valid convolution of xPad laid out as [Ci, H, W, B] with dy laid out as [OH, OW, B, Co] as the filter,
 * stride and dilation swapped. The result [Ci, KH, KW, Co] is transposed to [KH, KW, Ci, Co].
 */
export function conv2DBackpropFilterInfo(backend: WasmBackendLike, x: tf.TensorInfo, dy: tf.TensorInfo, c: Conv2DInfo): tf.TensorInfo {
  const g = convGeometry(c);
  const addon = nativeFor(g);
  if (addon) {
    return nativeOutput(backend, [c.filterHeight, c.filterWidth, c.inChannels, c.outChannels], (out) =>
      addon.conv2dBackpropFilter(heap(backend, x), heap(backend, dy), heap(backend, out), g));
  }
  const [B, H, W, Ci] = x.shape;
  const { outHeight: OH, outWidth: OW, outChannels: Co, filterHeight: KH, filterWidth: KW } = c;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const top = c.padInfo.top;
  const left = c.padInfo.left;
  // Only the rows/columns some output reads: padding beyond H (or unread rows for `valid`) drop out.
  const Hp = (OH - 1) * sh + (KH - 1) * dh + 1;
  const Wp = (OW - 1) * sw + (KW - 1) * dw + 1;

  const xT = backend.makeOutput([Ci, Hp, Wp, B], 'float32');
  const dyT = backend.makeOutput([OH, OW, B, Co], 'float32');
  {
    const xv = heap(backend, x);
    const xt = heap(backend, xT);
    xt.fill(0);
    for (let b = 0; b < B; b++) {
      for (let hp = 0; hp < Hp; hp++) {
        const h = hp - top;
        if (h < 0 || h >= H) continue;
        for (let wp = 0; wp < Wp; wp++) {
          const w = wp - left;
          if (w < 0 || w >= W) continue;
          const src = ((b * H + h) * W + w) * Ci;
          let dst = (hp * Wp + wp) * B + b;
          const step = Hp * Wp * B;
          for (let ci = 0; ci < Ci; ci++, dst += step) xt[dst] = xv[src + ci];
        }
      }
    }
    const dv = heap(backend, dy);
    const dt = heap(backend, dyT);
    const pix = OH * OW;
    for (let b = 0; b < B; b++) {
      for (let p = 0; p < pix; p++) {
        const src = (b * pix + p) * Co;
        dt.set(dv.subarray(src, src + Co), (p * B + b) * Co);
      }
    }
  }
  const r = validConv(backend, xT, dyT, [dh, dw], [sh, sw]);
  backend.disposeData(xT.dataId);
  backend.disposeData(dyT.dataId);
  if (r.shape[1] !== KH || r.shape[2] !== KW) {
    backend.disposeData(r.dataId);
    throw new Error(`affect-lab: Conv2DBackpropFilter produced ${r.shape} for a ${KH}x${KW} filter`);
  }
  const out = backend.makeOutput([KH, KW, Ci, Co], 'float32');
  const rv = heap(backend, r);
  const ov = heap(backend, out);
  for (let ci = 0; ci < Ci; ci++) {
    for (let k = 0; k < KH * KW; k++) {
      const src = (ci * KH * KW + k) * Co;
      ov.set(rv.subarray(src, src + Co), (k * Ci + ci) * Co);
    }
  }
  backend.disposeData(r.dataId);
  return out;
}

/**
 * dX[b,h,w,ci] = sum of dy[b,oh,ow,co] * W[kh,kw,ci,co] over h = oh*s + kh*d - top (same for w).
 * Strided undilated layers (all that tfjs allows) go the polyphase way; otherwise dy, with s-1 zeros inserted
 * between its rows/columns and padded by (K-1)*d - top before, is convolved (valid, stride 1, dilation d) with the
 * filter flipped in both spatial axes and its channel axes swapped.
 */
export function conv2DBackpropInputInfo(backend: WasmBackendLike, dy: tf.TensorInfo, filter: tf.TensorInfo, c: Conv2DInfo): tf.TensorInfo {
  const g = convGeometry(c);
  const addon = nativeFor(g);
  if (addon) {
    return nativeOutput(backend, c.inShape, (out) =>
      addon.conv2dBackpropInput(heap(backend, dy), heap(backend, filter), heap(backend, out), g));
  }
  if ((c.strideHeight > 1 || c.strideWidth > 1) && c.dilationHeight === 1 && c.dilationWidth === 1) {
    return conv2DBackpropInputPolyphase(backend, dy, filter, c);
  }
  const [B, H, W, Ci] = c.inShape;
  const { outHeight: OH, outWidth: OW, outChannels: Co, filterHeight: KH, filterWidth: KW } = c;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const offH = (KH - 1) * dh - c.padInfo.top;
  const offW = (KW - 1) * dw - c.padInfo.left;
  const Hp = H + (KH - 1) * dh;
  const Wp = W + (KW - 1) * dw;

  // A 1x1 stride-1 unpadded layer needs no re-layout of dy.
  const direct = sh === 1 && sw === 1 && offH === 0 && offW === 0 && Hp === OH && Wp === OW;
  const p = direct ? dy : backend.makeOutput([B, Hp, Wp, Co], 'float32');
  const wf = backend.makeOutput([KH, KW, Co, Ci], 'float32');
  if (!direct) {
    const dv = heap(backend, dy);
    const pv = heap(backend, p);
    pv.fill(0);
    for (let b = 0; b < B; b++) {
      for (let oh = 0; oh < OH; oh++) {
        const m = oh * sh + offH;
        if (m < 0 || m >= Hp) continue;
        for (let ow = 0; ow < OW; ow++) {
          const n = ow * sw + offW;
          if (n < 0 || n >= Wp) continue;
          const src = ((b * OH + oh) * OW + ow) * Co;
          pv.set(dv.subarray(src, src + Co), ((b * Hp + m) * Wp + n) * Co);
        }
      }
    }
  }
  {
    const fv = heap(backend, filter);
    const wv = heap(backend, wf);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const src = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * Ci * Co;
        const dst = (kh * KW + kw) * Co * Ci;
        swapChannels(fv, src, wv, dst, Ci, Co);
      }
    }
  }
  const out = validConv(backend, p, wf, [1, 1], [dh, dw]);
  if (!direct) backend.disposeData(p.dataId);
  backend.disposeData(wf.dataId);
  return out;
}

/**
 * The native forward convolution, with the bias added and a linear or ReLU activation; undefined (the caller runs
 * the stock kernel) when the addon is not in use or the call is one it does not cover.
 */
export function nativeConv2DInfo(
  backend: WasmBackendLike, x: tf.TensorInfo, filter: tf.TensorInfo, c: Conv2DInfo,
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
    addon.conv2d(heap(backend, x), heap(backend, filter), bias ? heap(backend, bias) : null, y, g);
    if (activation === 'relu') for (let i = 0; i < y.length; i++) if (y[i] < 0) y[i] = 0;
  });
}

/**
 * Sum (scale 1) or mean (scale 1/n) of float32 `x` over its leading axes, natively; undefined (the caller runs the
 * stock kernel) without the addon or for other axes, which wasm reduces without a transpose anyway.
 */
export function nativeReduceLeadingInfo(
  backend: WasmBackendLike, x: tf.TensorInfo, axis: number | number[], keepDims: boolean, mean: boolean,
): tf.TensorInfo | undefined {
  const addon = nativeConv();
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  if (!addon || x.dtype !== 'float32' || axes.length === 0 || axes.some((a, i) => a !== i)) return undefined;
  if (tf.util.sizeFromShape(x.shape) === 0) return undefined;
  const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
  const rest = x.shape.slice(axes.length);
  return nativeOutput(backend, keepDims ? [...axes.map(() => 1), ...rest] : rest, (out) =>
    addon.sumRows(heap(backend, x), heap(backend, out), mean ? 1 / rows : 1));
}

/**
 * a * b (either transposed), plus a bias along the columns and a linear or ReLU activation, natively; undefined (the
 * caller runs the stock kernel) without the addon, for other dtypes, activations or biases, empty or mismatched
 * operands (the stock kernel says what is wrong), and batch broadcasts other than against a batch of 1.
 */
export function nativeMatMulInfo(
  backend: WasmBackendLike, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean,
  fused: { bias?: tf.TensorInfo; activation?: string } = {},
): tf.TensorInfo | undefined {
  const addon = nativeMatMul();
  const { bias, activation = 'linear' } = fused;
  if (!addon || (activation !== 'linear' && activation !== 'relu')) return undefined;
  if ([a, b, bias].some((t) => t && t.dtype !== 'float32') || a.shape.length < 2 || b.shape.length < 2) return undefined;
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
    addon.matMul(heap(backend, a), heap(backend, b), bias ? heap(backend, bias) : null, heap(backend, out), g));
}

const BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 } as const;

/**
 * `a (op) b` natively where one side is a full float32 tensor and the other a vector broadcast along its last
 * axis (shape [C] or [1,...,1,C]); undefined (the caller runs the stock kernel) otherwise.
 */
export function nativeBinaryInfo(
  backend: WasmBackendLike, op: keyof typeof BINARY_OPS, a: tf.TensorInfo, b: tf.TensorInfo,
): tf.TensorInfo | undefined {
  const addon = nativeConv();
  if (!addon || a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  const smallFirst = tf.util.sizeFromShape(a.shape) < tf.util.sizeFromShape(b.shape);
  const [full, small] = smallFirst ? [b, a] : [a, b];
  const channels = full.shape[full.shape.length - 1];
  const vector = small.shape.length <= full.shape.length && isChannelVector(small.shape, channels);
  // Same-shape and scalar operands are fast in the stock kernel.
  if (!vector || channels < 2 || tf.util.sizeFromShape(full.shape) === channels) return undefined;
  return nativeOutput(backend, full.shape, (out) =>
    addon.binaryRows(BINARY_OPS[op], heap(backend, full), heap(backend, small), heap(backend, out), smallFirst));
}

/**
 * Batch norm of float32 `x` along its last axis, natively, with mean/variance/offset/scale vectors of that length
 * (offset 0 and scale 1 when absent); undefined (the caller runs the stock kernel) otherwise.
 */
export function nativeBatchNormInfo(
  backend: WasmBackendLike, x: tf.TensorInfo, stats: { mean: tf.TensorInfo; variance: tf.TensorInfo; offset?: tf.TensorInfo; scale?: tf.TensorInfo },
  epsilon: number,
): tf.TensorInfo | undefined {
  const addon = nativeConv();
  const channels = x.shape[x.shape.length - 1];
  const vectors = [stats.mean, stats.variance, stats.offset, stats.scale].filter((t): t is tf.TensorInfo => t !== undefined);
  if (!addon || x.dtype !== 'float32' || x.shape.length === 0 || tf.util.sizeFromShape(x.shape) === 0) return undefined;
  if (vectors.some((t) => t.dtype !== 'float32' || tf.util.sizeFromShape(t.shape) !== channels)) return undefined;
  return nativeOutput(backend, x.shape, (out) => {
    const variance = heap(backend, stats.variance);
    const scale = stats.scale ? heap(backend, stats.scale) : undefined;
    const factor = Float32Array.from(variance, (v, c) => (scale ? scale[c] : 1) / Math.sqrt(v + epsilon));
    const offset = stats.offset ? heap(backend, stats.offset) : new Float32Array(channels);
    addon.normalizeRows(heap(backend, x), heap(backend, stats.mean), factor, offset, heap(backend, out));
  });
}

/** sqrt(x) of float32 `x` natively; undefined (the caller runs the stock kernel) without the addon or for other dtypes. */
export function nativeSqrtInfo(backend: WasmBackendLike, x: tf.TensorInfo): tf.TensorInfo | undefined {
  const addon = nativeConv();
  if (!addon || x.dtype !== 'float32') return undefined;
  return nativeOutput(backend, x.shape, (out) => addon.sqrt(heap(backend, x), heap(backend, out)));
}

/** One axis of the polyphase split: output positions h = s*(u0 + m) + q - pad for m < count, and the taps feeding them. */
interface Phase {
  q: number;
  u0: number;
  count: number;
  /** Taps kh = q + s*t for t < taps. */
  taps: number;
}

function phases(size: number, k: number, s: number, pad: number): Phase[] {
  const out: Phase[] = [];
  for (let q = 0; q < s; q++) {
    const u0 = Math.ceil((pad - q) / s);
    const u1 = Math.floor((size - 1 + pad - q) / s);
    out.push({ q, u0, count: Math.max(0, u1 - u0 + 1), taps: q < k ? Math.ceil((k - q) / s) : 0 });
  }
  return out;
}

/**
 * Input gradient of a strided, undilated layer without zero-insertion: output rows with h + top = s*u + q receive
 * only taps kh = q + s*t, from dy[u - t]. Each of the s*s phases is a stride-1 valid convolution of dy (padded by
 * taps-1 before) with its flipped sub-filter, scattered into every s-th row and column of dX: a quarter of the
 * arithmetic of the zero-inserted form for stride 2.
 */
function conv2DBackpropInputPolyphase(backend: WasmBackendLike, dy: tf.TensorInfo, filter: tf.TensorInfo, c: Conv2DInfo): tf.TensorInfo {
  const [B, H, W, Ci] = c.inShape;
  const { outHeight: OH, outWidth: OW, outChannels: Co, filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = c;
  const dx = backend.makeOutput([B, H, W, Ci], 'float32');
  heap(backend, dx).fill(0);
  for (const ph of phases(H, KH, sh, c.padInfo.top)) {
    for (const pw of phases(W, KW, sw, c.padInfo.left)) {
      if (ph.count === 0 || pw.count === 0 || ph.taps === 0 || pw.taps === 0) continue;
      const Ph = ph.count + ph.taps - 1;
      const Pw = pw.count + pw.taps - 1;
      const p = backend.makeOutput([B, Ph, Pw, Co], 'float32');
      const wf = backend.makeOutput([ph.taps, pw.taps, Co, Ci], 'float32');
      {
        const dv = heap(backend, dy);
        const pv = heap(backend, p);
        pv.fill(0);
        for (let b = 0; b < B; b++) {
          for (let m = 0; m < Ph; m++) {
            const oh = m + ph.u0 - (ph.taps - 1);
            if (oh < 0 || oh >= OH) continue;
            // Columns n map to ow = n + shift: copy the in-range run in one go.
            const shift = pw.u0 - (pw.taps - 1);
            const n0 = Math.max(0, -shift);
            const n1 = Math.min(Pw, OW - shift);
            if (n1 <= n0) continue;
            const src = ((b * OH + oh) * OW + n0 + shift) * Co;
            pv.set(dv.subarray(src, src + (n1 - n0) * Co), ((b * Ph + m) * Pw + n0) * Co);
          }
        }
        const fv = heap(backend, filter);
        const wv = heap(backend, wf);
        for (let th = 0; th < ph.taps; th++) {
          const kh = ph.q + sh * (ph.taps - 1 - th);
          for (let tw = 0; tw < pw.taps; tw++) {
            const kw = pw.q + sw * (pw.taps - 1 - tw);
            const src = (kh * KW + kw) * Ci * Co;
            const dst = (th * pw.taps + tw) * Co * Ci;
            swapChannels(fv, src, wv, dst, Ci, Co);
          }
        }
      }
      const r = validConv(backend, p, wf, [1, 1], [1, 1]);
      backend.disposeData(p.dataId);
      backend.disposeData(wf.dataId);
      const rv = heap(backend, r);
      const ov = heap(backend, dx);
      for (let b = 0; b < B; b++) {
        for (let m = 0; m < ph.count; m++) {
          const h = sh * (ph.u0 + m) + ph.q - c.padInfo.top;
          for (let n = 0; n < pw.count; n++) {
            const w = sw * (pw.u0 + n) + pw.q - c.padInfo.left;
            const src = ((b * ph.count + m) * pw.count + n) * Ci;
            ov.set(rv.subarray(src, src + Ci), ((b * H + h) * W + w) * Ci);
          }
        }
      }
      backend.disposeData(r.dataId);
    }
  }
  return dx;
}

/** Max-pool gradient routed to the first maximum of each window, as the `cpu` kernel does (padding never wins). */
export function maxPoolGradInfo(backend: WasmBackendLike, dy: tf.TensorInfo, x: tf.TensorInfo, c: Conv2DInfo): tf.TensorInfo {
  const g = poolGeometry(c);
  const addon = nativeFor(g);
  if (addon) return nativeOutput(backend, x.shape, (out) => addon.maxPoolGrad(heap(backend, dy), heap(backend, x), heap(backend, out), g));
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = c;
  const dx = backend.makeOutput(x.shape, 'float32');
  const xv = heap(backend, x);
  const dv = heap(backend, dy);
  const ov = heap(backend, dx);
  ov.fill(0);
  const best = new Float32Array(C);
  const pos = new Int32Array(C);
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const r0 = oh * sh - c.padInfo.top;
      let rMin = r0;
      while (rMin < 0) rMin += dh;
      const rMax = Math.min(H, r0 + fh);
      for (let ow = 0; ow < OW; ow++) {
        const c0 = ow * sw - c.padInfo.left;
        let cMin = c0;
        while (cMin < 0) cMin += dw;
        const cMax = Math.min(W, c0 + fw);
        best.fill(-Infinity);
        pos.fill(-1);
        for (let r = rMin; r < rMax; r += dh) {
          for (let q = cMin; q < cMax; q += dw) {
            const base = ((b * H + r) * W + q) * C;
            for (let ch = 0; ch < C; ch++) {
              const v = xv[base + ch];
              if (v > best[ch]) {
                best[ch] = v;
                pos[ch] = base + ch;
              }
            }
          }
        }
        const g = ((b * OH + oh) * OW + ow) * C;
        for (let ch = 0; ch < C; ch++) if (pos[ch] >= 0) ov[pos[ch]] += dv[g + ch];
      }
    }
  }
  return dx;
}

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

/** x's own buffer as a new tensor (one more reference to it), as the cpu backend's Identity does. */
function shareBuffer(backend: unknown, x: tf.TensorInfo): tf.TensorInfo {
  (backend as { incRef(id: tf.DataId): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

function asBackend(b: unknown): WasmBackendLike {
  return b as WasmBackendLike;
}

type Shape4D = [number, number, number, number];

/** Conv geometry for the gradient kernels, which implement the NHWC layout only (the one tfjs-layers uses). */
function nhwcConvInfo(
  kernel: string, inputShape: Shape4D, filterShape: Shape4D,
  a: Pick<tf.Conv2DBackpropInputAttrs, 'strides' | 'pad' | 'dimRoundingMode' | 'dataFormat'>,
): tf.backend_util.Conv2DInfo {
  const c = tf.backend_util.computeConv2DInfo(
    inputShape, filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, tf.backend_util.convertConv2DDataFormat(a.dataFormat),
  );
  if (c.dataFormat !== 'channelsLast') throw new Error(`affect-lab: wasm ${kernel} supports NHWC only`);
  return c;
}

/** Conv geometry of a forward convolution, in whichever data format its attributes name. */
function forwardConvInfo(x: tf.TensorInfo, filter: tf.TensorInfo, a: tf.Conv2DAttrs): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    x.shape as Shape4D, filter.shape as Shape4D, a.strides, a.dilations, a.pad, a.dimRoundingMode, false,
    tf.backend_util.convertConv2DDataFormat(a.dataFormat),
  );
}

/** The stock kernels that our native replacements fall back to, captured when ours are registered. */
const stock = new Map<string, tf.KernelFunc>();
const fallbacks = new Map<string, number>();

function runStock(name: string, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] {
  const f = stock.get(name);
  if (!f) throw new Error(`affect-lab: no stock wasm ${name} kernel to fall back to`);
  fallbacks.set(name, (fallbacks.get(name) ?? 0) + 1);
  return f(args);
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
    return nativeConv2DInfo(asBackend(args.backend), x, filter, c, { bias, activation: a.activation }) ?? runStock('FusedConv2D', args);
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
    return nativeMatMulInfo(asBackend(args.backend), a, b, transposeA, transposeB, { bias, activation }) ?? runStock('_FusedMatMul', args);
  },
  ...Object.fromEntries((Object.keys(BINARY_OPS) as (keyof typeof BINARY_OPS)[]).map((op) => [op, (args: Parameters<tf.KernelFunc>[0]) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    return nativeBinaryInfo(asBackend(args.backend), op, a, b) ?? runStock(op, args);
  }])),
  FusedBatchNorm: (args) => {
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    if (!x || !mean || !variance) return runStock('FusedBatchNorm', args);
    const { varianceEpsilon } = args.attrs as unknown as tf.FusedBatchNormAttrs;
    return nativeBatchNormInfo(asBackend(args.backend), x, { mean, variance, offset, scale }, varianceEpsilon) ?? runStock('FusedBatchNorm', args);
  },
  Sum: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const a = args.attrs as unknown as tf.SumAttrs;
    return nativeReduceLeadingInfo(asBackend(args.backend), x, a.axis, a.keepDims, false) ?? runStock('Sum', args);
  },
  Mean: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const a = args.attrs as unknown as tf.MeanAttrs;
    return nativeReduceLeadingInfo(asBackend(args.backend), x, a.axis, a.keepDims, true) ?? runStock('Mean', args);
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
  MaxPoolGrad: ({ inputs, attrs, backend }) => {
    const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const a = attrs as unknown as tf.MaxPoolGradAttrs;
    const c = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode,
    );
    return maxPoolGradInfo(asBackend(backend), dy, input, c);
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
  Tile: ({ inputs, attrs, backend }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') throw new Error('affect-lab: wasm Tile does not support strings');
    return tileInfo(asBackend(backend), x, (attrs as unknown as tf.TileAttrs).reps);
  },
};

/**
 * Registers the training kernels wasm lacks or gets wrong; returns their names. Safe to call more than once.
 * A replaced kernel keeps the stock `setupFunc`: the backend runs every registered kernel's set-up when it
 * initialises, and other code paths rely on what the stock set-up binds.
 */
export function registerWasmTrainingKernels(): string[] {
  // Load the stock kernels first, so that ours are registered over them and not the other way round.
  require('@tensorflow/tfjs-backend-wasm');
  for (const k of WASM_TRAINING_KERNELS) {
    const kernelFunc = kernelFuncs[k.name];
    const old = tf.getKernel(k.name, 'wasm');
    if (old?.kernelFunc === kernelFunc) continue;
    if (old) stock.set(k.name, old.kernelFunc);
    if (old) tf.unregisterKernel(k.name, 'wasm');
    tf.registerKernel({ kernelName: k.name, backendName: 'wasm', kernelFunc, setupFunc: old?.setupFunc });
  }
  return WASM_TRAINING_KERNELS.map((k) => k.name);
}

/** Thread set-up to finish once the backend has initialised. */
export interface WasmThreadSetup {
  /** Threads asked for (1 = the single-threaded SIMD build). */
  requested: number;
  /** Undoes the temporary patch used during initialisation and unrefs the pool; call after `tf.setBackend('wasm')` settles. */
  done: () => void;
}

let createObjectURLPatched = false;

/**
 * Chooses the threaded SIMD build with `threads` threads (default: `AFFECT_WASM_THREADS`, else every core).
 * tfjs-backend-wasm disables threads in Node because its pthread workers start from blob: URLs, which Node
 * refuses; here the worker gets a real file (./wasm-thread-worker.js). The backend also caps the pool at half
 * the logical cores, so `os.cpus()` reports enough cores while it initialises. 1 keeps the single-threaded build.
 */
export function configureWasmThreads(wasm: typeof wasmBackend, threads?: number): WasmThreadSetup {
  const fromEnv = process.env.AFFECT_WASM_THREADS;
  const n = threads ?? (fromEnv ? Number(fromEnv) : os.cpus().length);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`affect-lab: AFFECT_WASM_THREADS must be a positive integer, got "${fromEnv}"`);
  }
  if (n === 1 || typeof SharedArrayBuffer === 'undefined') return { requested: 1, done: () => undefined };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(n);
  if (!createObjectURLPatched) {
    // Only the worker script is created as 'application/javascript' (the main script Blob is 'text/javascript').
    const workerFile = path.join(__dirname, 'wasm-thread-worker.js');
    const original = URL.createObjectURL.bind(URL);
    URL.createObjectURL = (obj: Blob | MediaSource) =>
      obj instanceof Blob && obj.type === 'application/javascript' ? workerFile : original(obj);
    createObjectURLPatched = true;
  }
  const cpus = os.cpus;
  os.cpus = () => {
    const real = cpus();
    return Array.from({ length: Math.max(real.length, 2 * n) }, (_, i) => real[i % real.length]);
  };
  return {
    requested: n,
    done: () => {
      os.cpus = cpus;
      // The pool's running workers would keep Node alive after the program's end (idle ones are unref'd already).
      const running = (tf.findBackend('wasm') as unknown as { wasm?: { PThread?: { runningWorkers?: { unref(): void }[] } } })
        ?.wasm?.PThread?.runningWorkers;
      for (const w of running ?? []) w.unref();
    },
  };
}
