/**
 * The optional native convolution addon (native/, built by `npm run build` where a C++ toolchain and OpenBLAS are
 * installed): Conv2D and both of its gradients on oneDNN where it was built in (libdnnl-dev), else as im2col and a
 * matrix product (`AFFECT_CONV=onednn|im2col` chooses as the addon loads), batched matrix products (dense layers) on
 * oneDNN's matmul or OpenBLAS's sgemm (native/src/gemm.cc), plus the channel-broadcast arithmetic, batch norm,
 * leading-axes reduction, max pooling and its gradient and square root that training needs next, computed in place on
 * wasm memory, and the optimizers' fused updates (lib/kernels/optimizer.ts).
 * wasm's XNNPACK convolutions reach ~30 GFLOP/s per thread here; these are several times faster (npm run bench).
 * Everything works without it: lib/kernels/native-dispatch.ts uses it when `nativeConv()` returns one, else the wasm kernels.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { repoRoot } from '../paths';

/** The addon's functions. Arrays are NHWC / [KH,KW,Ci,Co] Float32Arrays whose lengths must match the geometry. */
export interface NativeConvAddon {
  /**
   * y = conv(x, filter) + bias. A filterId > 0 (lib/models' constantId) promises the filter never changes under that
   * id: oneDNN keeps its reordered copy until forgetFilter(filterId) (at most 256 MB, least recently used out first).
   * 0 or undefined promises nothing.
   */
  conv2d(
    x: Float32Array,
    filter: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    geometry: Int32Array,
    filterId?: number,
  ): void;
  /** Frees what conv2d keeps under `filterId` on this thread. */
  forgetFilter(filterId: number): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geometry: Int32Array): void;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  /**
   * out = full (op) small, small repeated along full's rows (small (op) full when smallFirst);
   * op: 0 add, 1 sub, 2 mul, 3 div.
   */
  binaryRows(op: number, full: Float32Array, small: Float32Array, out: Float32Array, smallFirst: boolean): void;
  /** Batch norm along the last axis: out = (x - mean) * factor + offset, the three vectors repeated along x's rows. */
  normalizeRows(
    x: Float32Array,
    mean: Float32Array,
    factor: Float32Array,
    offset: Float32Array,
    out: Float32Array,
  ): void;
  /**
   * out = a * b per batch (each transposed as `geometry` says, a batch size of 1 shared), + bias per column when
   * not null, then ReLU when asked; `geometry` from `matMulGeometry`.
   */
  matMul(a: Float32Array, b: Float32Array, bias: Float32Array | null, out: Float32Array, geometry: Int32Array): void;
  /** Max-pool: each window's maximum per channel (padding never wins); `geometry` from `poolGeometry`. */
  maxPool(x: Float32Array, y: Float32Array, geometry: Int32Array): void;
  /** Max-pool gradient routed to each window's first maximum; `geometry` from `poolGeometry`. */
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  /** out[c] = scale * sum over r of x[r, c], with x read as [x.length / out.length, out.length]. */
  sumRows(x: Float32Array, out: Float32Array, scale: number): void;
  /**
   * Batch norm in training along the last axis of x ([rows, C]): the batch's mean and biased variance per channel
   * into `mean`, `variance`, and y = (x - mean) * scale / sqrt(variance + epsilon) + offset, then max(y, 0) (NaN
   * kept) when `relu`.
   */
  batchNormTraining(
    x: Float32Array,
    scale: Float32Array,
    offset: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    epsilon: number,
    relu: boolean,
  ): void;
  /**
   * batchNormTraining's gradients for output gradient dy (the batch statistics as functions of x); `reluOffset` is the
   * forward's offset when it ran with relu (dy then passes through the ReLU's gradient first), else null.
   */
  batchNormTrainingGrad(
    dy: Float32Array,
    x: Float32Array,
    scale: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    dx: Float32Array,
    dscale: Float32Array,
    doffset: Float32Array,
    epsilon: number,
    reluOffset: Float32Array | null,
  ): void;
  /** out[i] = sqrt(x[i]); the arrays have one length. */
  sqrt(x: Float32Array, out: Float32Array): void;
  /** out[i] = max(x[i], 0), NaN kept and -0 as 0 (tfjs' relu); the arrays have one length and may be one array. */
  relu(x: Float32Array, out: Float32Array): void;
  /** dx[i] = dy[i] * step(x[i]) (tfjs' step: 1 above 0, NaN for NaN, else 0); the arrays have one length. */
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  /** out[i] = max(a[i] + b[i], 0) as relu takes it (a residual join and its ReLU); the arrays have one length. */
  addRelu(a: Float32Array, b: Float32Array, out: Float32Array): void;
  /**
   * Keras SGD in place, in one pass, with coefficients [lr, momentum, l2Gradient]: `v = momentum*v - lr*g; w += v`
   * (Nesterov `w += momentum*v - lr*g`), or `w -= lr*g` when `velocity` is null; g is `g + l2Gradient*w` (the
   * gradient of Keras' L2 penalty l2 * sum w² is 2 * l2 * w; 0 without one). Returns sum w² before the update, read
   * in the same pass (0 without L2). The arrays have one length and do not overlap.
   */
  sgdUpdate(
    w: Float32Array,
    g: Float32Array,
    velocity: Float32Array | null,
    coefficients: Float32Array,
    nesterov: boolean,
  ): number;
  /**
   * Keras Adam in place, in one pass, with coefficients [decay, 1 - beta1, 1 - beta2, alpha, epsilon, l2Gradient]:
   * g is `g + l2Gradient*w` as in sgdUpdate, then `w -= decay*w` (AdamW; skipped when 0), `m += (g - m)(1 - beta1)`,
   * `v += (g² - v)(1 - beta2)`, `w -= alpha*m/(√v + epsilon)`. Returns sgdUpdate's sum. The arrays have one length
   * and do not overlap.
   */
  adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, coefficients: Float32Array): number;
  /**
   * `blas`: OpenBLAS's configuration; `gemm`: what runs the matrix products, "oneDNN 2.6.3 matmul" where the addon
   * is built with oneDNN and the CPU has AVX-512, else "OpenBLAS"; `convolutions`: what runs them, "oneDNN 2.6.3" or
   * "im2col + " and `gemm`; `instructions`: what the addon's own loops were compiled for, "AVX2" or "baseline";
   * `threads`: the addon's (matrix products, convolutions and its own kernels).
   */
  info(): { blas: string; gemm: string; convolutions: string; instructions: string; threads: number };
  /** The addon's thread count. */
  setThreads(n: number): void;
}

export type NativeStatus =
  | {
      available: true;
      path: string;
      blas: string;
      gemm: string;
      convolutions: string;
      /** What the addon's own loops were compiled for: 'AVX2' (where the building CPU has it) or 'baseline'. */
      instructions: string;
      threads: number;
    }
  /** `setting`: the environment variable whose value kept the addon out (initBackend refuses to start then). */
  | { available: false; path: string; reason: string; setting?: 'AFFECT_NATIVE_THREADS' | 'AFFECT_CONV' };

/** Where `npm run build` puts the addon. */
export const NATIVE_ADDON_PATH = path.join(repoRoot, 'native', 'build', 'Release', 'affect_native.node');

let loaded: { addon?: NativeConvAddon; status: NativeStatus } | undefined;
let enabled = true;
let matMulEnabled = true;
let optimizerEnabled = true;

/**
 * Loads the addon once. `AFFECT_NATIVE=0` turns it off; `AFFECT_NATIVE_THREADS` sets the addon's threads (default:
 * OpenBLAS's own choice, every core); the addon reads `AFFECT_CONV` (onednn or im2col) as it loads.
 * The status says why it is not in use when it is not: never built, a bad setting, or a stale build that lacks a
 * function this version calls.
 */
export function loadNativeConv(): NativeStatus {
  if (loaded) return loaded.status;
  const p = NATIVE_ADDON_PATH;
  // Empty is unset, as for the other variables.
  const threads = process.env.AFFECT_NATIVE_THREADS || undefined;
  const n = Number(threads);
  if (process.env.AFFECT_NATIVE === '0') {
    loaded = { status: { available: false, path: p, reason: 'turned off by AFFECT_NATIVE=0' } };
  } else if (threads !== undefined && (!Number.isInteger(n) || n < 1)) {
    loaded = {
      status: {
        available: false,
        path: p,
        reason: `AFFECT_NATIVE_THREADS must be a positive integer, got "${threads}"`,
        setting: 'AFFECT_NATIVE_THREADS',
      },
    };
  } else if (!fs.existsSync(p)) {
    loaded = {
      status: { available: false, path: p, reason: 'not built (npm run build needs g++ and libopenblas-dev)' },
    };
  } else if (nativeBuildStamp()?.avx2 && !cpuFlags().has('avx2')) {
    // Loading it would stop the process on the first AVX2 instruction.
    loaded = {
      status: {
        available: false,
        path: p,
        reason:
          'built for AVX2, which this CPU lacks: run npm run build on this machine (AFFECT_NATIVE_PORTABLE=1 npm run build makes an addon for any x86-64)',
      },
    };
  } else {
    try {
      const addon = requireWithCoreType(p);
      const missing = ADDON_FUNCTIONS.filter((f) => typeof addon[f] !== 'function');
      if (missing.length > 0) throw new Error(`stale build without ${missing.join(', ')}: run npm run build`);
      if (threads !== undefined) addon.setThreads(n);
      const { blas, gemm, convolutions, instructions, threads: t } = addon.info();
      loaded = { addon, status: { available: true, path: p, blas, gemm, convolutions, instructions, threads: t } };
    } catch (e) {
      const reason = (e as Error).message.split('\n')[0];
      loaded = {
        status: { available: false, path: p, reason, ...(/AFFECT_CONV/.test(reason) && { setting: 'AFFECT_CONV' }) },
      };
    }
  }
  return loaded.status;
}

const ADDON_FUNCTIONS: readonly (keyof NativeConvAddon)[] = [
  'conv2d',
  'forgetFilter',
  'conv2dBackpropFilter',
  'conv2dBackpropInput',
  'matMul',
  'binaryRows',
  'normalizeRows',
  'maxPool',
  'maxPoolGrad',
  'sumRows',
  'batchNormTraining',
  'batchNormTrainingGrad',
  'sqrt',
  'relu',
  'reluGrad',
  'addRelu',
  'sgdUpdate',
  'adamUpdate',
  'info',
  'setThreads',
];

/**
 * Loads the addon. OpenBLAS 0.3.21 (Debian 12) picks its AVX2 (Haswell) kernels on AVX-512 AMD CPUs; its SkylakeX
 * kernels ran ResNet-18 training ~8% faster here. OpenBLAS reads OPENBLAS_CORETYPE once, as it loads, so the
 * variable is set only around the load (child processes keep the user's environment); a user's setting wins.
 */
function requireWithCoreType(file: string): NativeConvAddon {
  if (process.env.OPENBLAS_CORETYPE !== undefined || !hasAvx512()) return require(file) as NativeConvAddon;
  process.env.OPENBLAS_CORETYPE = 'SkylakeX';
  try {
    return require(file) as NativeConvAddon;
  } finally {
    delete process.env.OPENBLAS_CORETYPE;
  }
}

function hasAvx512(): boolean {
  const flags = cpuFlags();
  return ['avx512f', 'avx512bw', 'avx512vl', 'avx512dq'].every((f) => flags.has(f));
}

/** The CPU's feature flags from Linux's /proc/cpuinfo (empty elsewhere). */
export function cpuFlags(): Set<string> {
  try {
    const line = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
    return new Set(line.trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

/** What scripts/build-native.js recorded of the addon's build next to it, or undefined (built by hand, or not yet). */
export function nativeBuildStamp(): { avx2?: boolean } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(path.dirname(NATIVE_ADDON_PATH), '..', 'libraries.json'), 'utf8')) as {
      avx2?: boolean;
    };
  } catch {
    return undefined;
  }
}

/** The addon when it is loaded and enabled, else undefined (the wasm kernels run). */
export function nativeConv(): NativeConvAddon | undefined {
  if (!enabled) return undefined;
  loadNativeConv();
  return loaded?.addon;
}

/**
 * Frees what the addon keeps of the constant filter `id` (conv2d's filterId), if it is loaded, whether or not it is
 * enabled now: the copies outlive a switch.
 */
export function forgetNativeFilter(id: number): void {
  loaded?.addon?.forgetFilter(id);
}

/** Switches the native path on or off at run time (tests and the bench compare both); returns the previous setting. */
export function setNativeConvEnabled(on: boolean): boolean {
  const before = enabled;
  enabled = on;
  return before;
}

/** The addon for matrix products: as `nativeConv()`, unless they alone are switched off. */
export function nativeMatMul(): NativeConvAddon | undefined {
  return matMulEnabled ? nativeConv() : undefined;
}

/**
 * Switches the native matrix products alone on or off (the bench measures dense layers on wasm's own kernels beside
 * native convolutions); returns the previous setting.
 */
export function setNativeMatMulEnabled(on: boolean): boolean {
  const before = matMulEnabled;
  matMulEnabled = on;
  return before;
}

/** The addon for the optimizers' fused updates: as `nativeConv()`, unless they alone are switched off. */
export function nativeOptimizer(): NativeConvAddon | undefined {
  return optimizerEnabled ? nativeConv() : undefined;
}

/**
 * Switches the fused optimizer updates alone on or off (tests and the measurement compare them with the optimizers'
 * tfjs update beside the other native kernels); returns the previous setting.
 */
export function setNativeOptimizerEnabled(on: boolean): boolean {
  const before = optimizerEnabled;
  optimizerEnabled = on;
  return before;
}

/** Runs fn with the native path switched on or off, restoring the previous setting afterwards. */
export async function withNativeConv<T>(on: boolean, fn: () => Promise<T> | T): Promise<T> {
  const before = setNativeConvEnabled(on);
  try {
    return await fn();
  } finally {
    setNativeConvEnabled(before);
  }
}

/** The addon's geometry vector: [B,H,W,Ci, OH,OW,Co, KH,KW, sh,sw, dh,dw, top,left] of an NHWC convolution. */
export function convGeometry(c: tf.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.outChannels,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.dilationHeight,
    c.dilationWidth,
    c.padInfo.top,
    c.padInfo.left,
  ]);
}

/** The addon's matrix-product geometry: [batchA, batchB, M, K, N, transposeA, transposeB, relu] (flags as 0/1). */
export function matMulGeometry(g: {
  batchA: number;
  batchB: number;
  M: number;
  K: number;
  N: number;
  transposeA: boolean;
  transposeB: boolean;
  relu: boolean;
}): Int32Array {
  return Int32Array.from([g.batchA, g.batchB, g.M, g.K, g.N, +g.transposeA, +g.transposeB, +g.relu]);
}

/** The addon's max-pool geometry: [B,H,W,C, OH,OW, FH,FW (effective), sh,sw, dh,dw, top,left]. */
export function poolGeometry(c: tf.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.effectiveFilterHeight,
    c.effectiveFilterWidth,
    c.strideHeight,
    c.strideWidth,
    c.dilationHeight,
    c.dilationWidth,
    c.padInfo.top,
    c.padInfo.left,
  ]);
}
