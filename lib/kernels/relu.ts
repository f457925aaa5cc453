/**
 * ReLU's gradient as one native kernel on wasm (dy * step(x) in one pass) instead of tfjs' Step and Multiply, for every
 * Relu kernel (ReLU layers such as the ResNets'; a convolution or dense layer with a fused ReLU has its own gradient).
 * tfjs keeps gradients in one global registry, so registerReluGradient
 * replaces Relu's with one that takes the native kernel where it runs and tfjs' own gradient everywhere else, and
 * restoreReluGradient puts tfjs' back.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeConv } from './native';

export const RELU_GRAD = 'AffectReluGrad';

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
