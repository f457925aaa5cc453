/**
 * ReLU's gradient as one native kernel on wasm (dy * step(x) in one pass) instead of tfjs' Step and Multiply, for every
 * Relu kernel (ReLU layers such as the ResNets'; a convolution or dense layer with a fused ReLU has its own gradient).
 * tfjs keeps gradients in one global registry, so registerReluGradient
 * replaces Relu's with one that takes the native kernel where it runs and tfjs' own gradient everywhere else, and
 * restoreReluGradient puts tfjs' back. A residual join and the ReLU after it run as one kernel too (addRelu): one pass
 * over the activations fewer forward, and its gradient is that kernel's.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeConv } from './native';
import { NATIVE_SAME_SHAPE_MIN } from './native-dispatch';

export const RELU_GRAD = 'AffectReluGrad';
export const ADD_RELU = 'AffectAddRelu';

tf.registerGradient({
  kernelName: ADD_RELU,
  // step(max(a + b, 0)) is step(a + b), NaN included: the output stands for the sum the ReLU read.
  outputsToSave: [true],
  gradFunc: (dy, saved) => {
    const [y] = saved;
    const g = tf.engine().runKernel<tf.Tensor>(RELU_GRAD, { dy: Array.isArray(dy) ? dy[0] : dy, x: y });
    // Each input gets its own tensor: the tape may add into and dispose one before it reads the other.
    return { a: () => g, b: () => g.clone() };
  },
});

/**
 * max(a + b, 0) as one differentiable kernel, or undefined (the caller adds and clamps with tfjs ops) unless the
 * backend is wasm with the native addon in use and a and b are float32 of one shape, large enough for a native call
 * to pay (NATIVE_SAME_SHAPE_MIN elements).
 */
export function addRelu(a: tf.Tensor, b: tf.Tensor): tf.Tensor | undefined {
  if (tf.getBackend() !== 'wasm' || !nativeConv() || !tf.getKernel(ADD_RELU, 'wasm')) return undefined;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || !tf.util.arraysEqual(a.shape, b.shape)) return undefined;
  if (a.size < NATIVE_SAME_SHAPE_MIN) return undefined;
  return tf.engine().runKernel<tf.Tensor>(ADD_RELU, { a, b });
}

let stock: tf.GradConfig | undefined;

/** Installs the gradient above (once; tfjs' is kept to fall back to and to restore). */
export function registerReluGradient(): void {
  if (stock) return;
  const original = tf.getGradient('Relu');
  stock = original;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const g = Array.isArray(dy) ? dy[0] : dy;
      const native =
        tf.getBackend() === 'wasm' && nativeConv() && tf.getKernel(RELU_GRAD, 'wasm') && g.dtype === 'float32';
      if (!native || x.dtype !== 'float32') return original.gradFunc(dy, saved, attrs);
      return { x: () => tf.engine().runKernel<tf.Tensor>(RELU_GRAD, { dy: g, x }) };
    },
  });
}

/** Puts tfjs' own Relu gradient back; safe to call at any time. */
export function restoreReluGradient(): void {
  if (!stock) return;
  tf.registerGradient(stock);
  stock = undefined;
}
