/**
 * Batch norm in training as two native kernels on wasm: the forward pass (the batch's moments, then normalisation)
 * and its gradient (dx, dscale, doffset in two passes over x and dy). tfjs-layers records ~25 elementwise kernels per
 * layer for the same (moments, normalisation and their autograd), which cost ResNet-18 about a fifth of its step.
 * A ReLU that follows may run inside both (attribute `relu`): one pass over the activations fewer each way.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeConv } from './native';
import { ownBuffer, type WasmBackendLike } from './wasm-memory';
import type { BatchNormTrainingResult, MovingStatistics } from '../models/common';

export const BATCH_NORM_TRAINING = 'AffectBatchNormTraining';
export const BATCH_NORM_TRAINING_GRAD = 'AffectBatchNormTrainingGrad';

/** The attributes of both kernels: the gradient gets the forward's. */
export interface BatchNormTrainingAttrs {
  varianceEpsilon: number;
  /** max(y, 0) after the normalisation (and the ReLU's gradient before its own). */
  relu: boolean;
}

tf.registerGradient({
  kernelName: BATCH_NORM_TRAINING,
  // The offset recomputes the fused ReLU's output in the gradient; a per-channel vector, cheap to keep.
  inputsToSave: ['x', 'scale', 'offset'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [x, scale, offset, mean, variance] = saved;
    const dy = Array.isArray(dys) ? dys[0] : dys;
    // One kernel computes all three; a gradient nobody asks for (x when it is the model's input) is freed with the
    // rest of the backward pass's intermediates.
    const [dx, dscale, doffset] = tf
      .engine()
      .runKernel<tf.Tensor[]>(BATCH_NORM_TRAINING_GRAD, { dy, x, scale, offset, mean, variance }, attrs);
    return { x: () => dx, scale: () => dscale, offset: () => doffset };
  },
});

/**
 * y = (x - mean) * scale / sqrt(variance + epsilon) + offset along x's last axis with the batch's own moments, then
 * max(y, 0) when `relu`, as one differentiable kernel; with `moving`, its statistics move towards the batch's in place
 * (`moving -= (moving - batch) * decay`, tfjs' float32 arithmetic), off the gradient tape. Undefined (the caller
 * composes it from tfjs ops) unless the backend is wasm with the native addon in use, x is float32 of rank >= 2 and not
 * empty, and scale, offset and the moving statistics are float32 with one value per channel.
 */
export function batchNormTraining(
  x: tf.Tensor,
  scale: tf.Tensor,
  offset: tf.Tensor,
  epsilon: number,
  relu = false,
  moving?: MovingStatistics,
): BatchNormTrainingResult | undefined {
  if (tf.getBackend() !== 'wasm' || !nativeConv() || !tf.getKernel(BATCH_NORM_TRAINING, 'wasm')) return undefined;
  const channels = x.shape[x.rank - 1];
  const vectors = [scale, offset, ...(moving ? [moving.mean, moving.variance] : [])];
  if (x.dtype !== 'float32' || x.rank < 2 || x.size === 0) return undefined;
  if (vectors.some((v) => v.size !== channels || v.dtype !== 'float32')) return undefined;
  const attrs: BatchNormTrainingAttrs = { varianceEpsilon: epsilon, relu };
  const [y, mean, variance] = tf
    .engine()
    .runKernel<tf.Tensor[]>(BATCH_NORM_TRAINING, { x, scale, offset }, { ...attrs });
  if (moving) {
    moveTowards(moving.mean, mean, moving.decay);
    moveTowards(moving.variance, variance, moving.decay);
  }
  return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}

/**
 * `stat -= (stat - batch) * decay` in place, one float32 rounding per operation as tfjs' ops round: a few hundred
 * values, where the ops would be three kernels, each allocating its output (six per layer and step).
 */
function moveTowards(stat: tf.Variable, batch: tf.Tensor, decay: number): void {
  const backend = tf.backend() as unknown as WasmBackendLike;
  ownBuffer(backend, stat);
  // Views after ownBuffer's allocation: growing unshared wasm memory detaches earlier ones.
  const s = backend.typedArrayFromHeap(stat) as Float32Array;
  const b = backend.typedArrayFromHeap(batch) as Float32Array;
  const d = Math.fround(decay);
  for (let i = 0; i < s.length; i++) s[i] = s[i] - Math.fround(Math.fround(s[i] - b[i]) * d);
}
