/**
 * The optimizers' fused updates on the wasm backend: the native addon updates a weight and its moments in
 * one pass over wasm memory, in place, where the tfjs update takes 4-9 elementwise kernels, each a full pass that
 * allocates its output. lib/train/optimizers.ts calls these first and runs its tfjs update when they return undefined
 * (another backend, no addon, or a dtype other than float32).
 */
import * as tf from '@tensorflow/tfjs';
import { nativeOptimizer, type NativeConvAddon } from './native';
import { ownBuffer, type WasmBackendLike } from './wasm-memory';

/** Keras SGD's settings for one step; `l2`: the weight's L2 penalty coefficient (0 without), see KerasOptimizer. */
export interface SgdStep {
  lr: number;
  momentum: number;
  nesterov: boolean;
  l2: number;
}

/**
 * Keras Adam's settings for one step: `decay` = lr * weight decay (AdamW, else 0), `alpha` with the bias corrections,
 * `l2` as in SgdStep.
 */
export interface AdamStep {
  l2: number;
  decay: number;
  beta1: number;
  beta2: number;
  alpha: number;
  epsilon: number;
}

/**
 * Keras SGD on `w` (and its `velocity` slot, absent without momentum) natively: sum w² before the step with an L2 penalty
 * (read in the same pass; 0 without), or undefined when the update is not for the native path.
 */
export function fusedSgdUpdate(
  w: tf.Variable,
  g: tf.Tensor,
  velocity: tf.Variable | undefined,
  s: SgdStep,
): number | undefined {
  // Float32Array rounds each setting as the tfjs update's float32 scalars do.
  const k = Float32Array.of(s.lr, s.momentum, 2 * s.l2);
  return fusedUpdate(velocity ? [w, velocity] : [w], g, (addon, [wv, vv], gv) =>
    addon.sgdUpdate(wv, gv, vv ?? null, k, s.nesterov),
  );
}

/** Keras Adam (AdamW with a decay) on `w` and its moments `m`, `v` natively; the result as fusedSgdUpdate's. */
export function fusedAdamUpdate(
  w: tf.Variable,
  g: tf.Tensor,
  m: tf.Variable,
  v: tf.Variable,
  s: AdamStep,
): number | undefined {
  const k = Float32Array.of(s.decay, 1 - s.beta1, 1 - s.beta2, s.alpha, s.epsilon, 2 * s.l2);
  return fusedUpdate([w, m, v], g, (addon, [wv, mv, vv], gv) => addon.adamUpdate(wv, gv, mv, vv, k));
}

function fusedUpdate(
  targets: tf.Variable[],
  g: tf.Tensor,
  run: (addon: NativeConvAddon, targets: Float32Array[], g: Float32Array) => number,
): number | undefined {
  const addon = nativeOptimizer();
  if (!addon || tf.getBackend() !== 'wasm' || [g, ...targets].some((t) => t.dtype !== 'float32')) return undefined;
  const backend = tf.backend() as unknown as WasmBackendLike;
  for (const t of targets) ownBuffer(backend, t);
  // Views after every allocation (growing unshared wasm memory detaches earlier ones): g's first, as reading data
  // not yet on wasm moves it there; ownBuffer has moved the targets.
  const view = (t: tf.Tensor) => backend.typedArrayFromHeap(t) as Float32Array;
  const gv = view(g);
  return run(addon, targets.map(view), gv);
}
