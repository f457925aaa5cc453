/**
 * Grad-CAM (Selvaraju et al. 2017) for any layers model: the class score's gradient with respect to a convolutional
 * layer's output, averaged over space, weights that output's channels; their ReLU'd sum is the heatmap. The score is the
 * pre-softmax logit when the model ends in a softmax (lib/train's lossHead finds it), as in the paper. Imports only tfjs
 * and lib/train/loss, so the exported web page computes it with the same code.
 */
import * as tf from '@tensorflow/tfjs';
import { lossHead } from '../train/loss';

type Kwargs = Record<string, unknown>;
type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs) => tf.Tensor | tf.Tensor[];

/** A single-output layer's output shape, or undefined for a layer with several outputs. */
function singleShape(layer: tf.layers.Layer): (number | null)[] | undefined {
  const s = layer.outputShape;
  return Array.isArray(s[0]) ? undefined : (s as (number | null)[]);
}

/** The last layer whose output is an image-like [batch, h, w, channels] map larger than 1x1: the last convolutional stage. */
export function defaultCamLayer(model: tf.LayersModel): tf.layers.Layer {
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const s = singleShape(model.layers[i]);
    if (s && s.length === 4 && (s[1] ?? 0) * (s[2] ?? 0) > 1) return model.layers[i];
  }
  throw new Error(`gradcam: model "${model.name}" has no layer with a [batch, height, width, channels] output`);
}

export interface GradCamOptions {
  /** Layer name; default defaultCamLayer. */
  layer?: string;
  /** Class to explain; default the predicted one. */
  classIndex?: number;
}

export interface GradCam {
  /** height x width values in 0..1 (1 at the strongest evidence), at the input's size, row-major. */
  heatmap: Float32Array;
  height: number;
  width: number;
  classIndex: number;
  layer: string;
}

/** Grad-CAM of one image (`input`: [1, h, w, c], as the model takes it). */
export function gradCam(model: tf.LayersModel, input: tf.Tensor4D, opts: GradCamOptions = {}): GradCam {
  if (input.shape[0] !== 1) throw new Error(`gradcam: one image at a time, got a batch of ${input.shape[0]}`);
  const layer = opts.layer !== undefined ? model.getLayer(opts.layer) : defaultCamLayer(model);
  const shape = singleShape(layer);
  if (!shape || shape.length !== 4)
    throw new Error(
      `gradcam: layer "${layer.name}" has output shape ${JSON.stringify(layer.outputShape)}, not [batch, height, width, channels]`,
    );
  const classIndex =
    opts.classIndex ?? tf.tidy(() => tf.argMax((model.predict(input) as tf.Tensor2D).squeeze([0])).dataSync()[0]);
  const [, h, w] = input.shape;

  // The layer's output is captured, and a zero tensor added to it, by wrapping its call for this one pass: the gradient
  // with respect to that zero tensor is the gradient with respect to the layer's output, whatever the graph around it.
  const holder = layer as unknown as { call: CallFn };
  const own = Object.prototype.hasOwnProperty.call(holder, 'call');
  const original = holder.call;
  let activation: tf.Tensor | undefined;
  let delta: tf.Tensor | undefined;
  holder.call = (inputs, kwargs) => {
    const out = original.call(layer, inputs, kwargs) as tf.Tensor;
    activation?.dispose();
    activation = tf.keep(out);
    return delta ? tf.add(out, delta) : out;
  };
  let grads: tf.Tensor;
  try {
    const head = lossHead(model);
    const zero = tf.zeros([1, ...(shape.slice(1) as number[])]);
    grads = tf.grad((d: tf.Tensor) => {
      delta = d;
      const scores = head.forward(input, false) as tf.Tensor2D;
      return tf.sum(tf.slice(scores, [0, classIndex], [1, 1]));
    })(zero);
    zero.dispose();
  } finally {
    if (own) holder.call = original;
    else delete (holder as Partial<typeof holder>).call;
  }
  const a = activation!;
  const heat = tf.tidy(() => {
    const weights = tf.mean(grads, [1, 2], true);
    const cam = tf.relu(tf.sum(tf.mul(a, weights), -1, true)) as tf.Tensor4D;
    const up = tf.image.resizeBilinear(cam, [h, w]);
    const max = tf.max(up);
    return tf.div(up, tf.maximum(max, 1e-12)).reshape([h * w]);
  });
  const heatmap = heat.dataSync() as Float32Array;
  tf.dispose([heat, grads, a]);
  return { heatmap: Float32Array.from(heatmap), height: h, width: w, classIndex, layer: layer.name };
}

/** The jet colour map at v in 0..1, as RGB 0..255. */
function jet(v: number): [number, number, number] {
  const c = (x: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - x))));
  return [c(3), c(2), c(1)];
}

/** `rgb` (h x w x 3) blended with the heatmap in the jet colour map; `alpha` is the heatmap's weight. */
export function overlayHeatmap(rgb: Uint8Array, heatmap: Float32Array, alpha = 0.45): Uint8Array {
  if (rgb.length !== heatmap.length * 3)
    throw new Error(`gradcam: image has ${rgb.length / 3} pixels, heatmap ${heatmap.length}`);
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < heatmap.length; i++) {
    const col = jet(heatmap[i]);
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round((1 - alpha) * rgb[i * 3 + c] + alpha * col[c]);
  }
  return out;
}

/** The share of the heatmap's total mass inside `region` (pixel rectangle of the heatmap's grid). */
export function massInside(
  cam: Pick<GradCam, 'heatmap' | 'width' | 'height'>,
  region: { x: number; y: number; width: number; height: number },
): number {
  let inside = 0;
  let total = 0;
  for (let y = 0; y < cam.height; y++) {
    for (let x = 0; x < cam.width; x++) {
      const v = cam.heatmap[y * cam.width + x];
      total += v;
      if (x >= region.x && x < region.x + region.width && y >= region.y && y < region.y + region.height) inside += v;
    }
  }
  return total > 0 ? inside / total : 0;
}
