/**
 * Sparse categorical cross-entropy with TF Keras' semantics. Keras notices when a model's output is a softmax and
 * computes the loss from the pre-softmax logits (log-softmax); tfjs computes it from clipped probabilities, whose
 * gradient is exactly zero once a wrong prediction saturates (the loss then sticks at -ln(1e-7) = 16.12 per sample
 * and training dies). The model keeps returning probabilities from predict(); only the loss sees the logits.
 */
import * as tf from '@tensorflow/tfjs';
import { l2Coefficient } from '../models/common';
import { disposeFoldCache, foldedApply, type FoldCache } from '../models/fold';
// Types only: this module is bundled into the web page, where the optimizers' native kernels cannot load.
import type { KerasOptimizer, L2Coefficients } from './optimizers';
import { topSplitIndex } from './split';

/** How the loss reads a model's output: from logits (the output is a softmax) or from probabilities. */
export interface LossHead {
  /** True when the loss is computed from the logits feeding the model's softmax. */
  fromLogits: boolean;
  /**
   * The tensor the loss reads: logits when fromLogits, else the model's output. Training a model with one input and
   * one output, through foldedApply (batch norm fused with its ReLU, frozen batch norm folded); else the layers' own
   * calls, which Grad-CAM wraps. Folded weights of frozen layers are taken from and added to `cache` when given.
   */
  forward(xs: tf.Tensor, training: boolean, cache?: FoldCache): tf.Tensor;
  /**
   * forward(xs, false) with batch norm folded into the convolutions before it (foldedApply, reusing `cache`): equal up
   * to float rounding and faster, for predictions; not for gradients or with a layer's call wrapped (Grad-CAM).
   */
  infer(xs: tf.Tensor, cache?: FoldCache): tf.Tensor;
  /**
   * forward's result from `h`, the output of the model's layer `index`, after which the layers form a single chain
   * (topSplitIndex): they are applied to it one by one.
   */
  forwardFrom(index: number, h: tf.Tensor, training: boolean): tf.Tensor;
  /** Per-sample loss of `out` (from forward) against integer labels, shape [batch]. */
  perSample(labels: tf.Tensor, out: tf.Tensor): tf.Tensor1D;
}

/**
 * Per-sample sparse categorical cross-entropy of probabilities as Keras computes it for an output that is not a
 * softmax: clip to [1e-7, 1 - 1e-7], renormalise, -log.
 */
export function sparseCrossentropy(labels: tf.Tensor, probs: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const p = tf.clipByValue(probs, 1e-7, 1 - 1e-7);
    const logP = tf.sub(tf.log(p), tf.log(tf.sum(p, -1, true)));
    return pickNegative(oneHotLabels(labels, logP), logP);
  });
}

/**
 * Per-sample sparse categorical cross-entropy of logits: logsumexp(z) - z[label], computed stably. It is one op on the
 * gradient tape, whose gradient (softmax(z) - onehot) * dloss reads the saved log-probabilities and one-hot labels:
 * taping it op by op would record 14 more gradient kernels and a saved reference to every tensor they read, each an
 * Identity kernel and a tape node (about 0.2 ms of a small net's 5 ms training step).
 */
export function sparseCrossentropyFromLogits(labels: tf.Tensor, logits: tf.Tensor): tf.Tensor1D {
  const loss = tf.customGrad((...args) => {
    const [z, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const logP = tf.logSoftmax(z);
    const oneHot = oneHotLabels(labels, logP);
    save([logP, oneHot]);
    return {
      value: pickNegative(oneHot, logP),
      gradFunc: (dy, [savedLogP, savedOneHot]) => tf.mul(tf.sub(tf.exp(savedLogP), savedOneHot), tf.expandDims(dy, -1)),
    };
  });
  return loss(logits) as tf.Tensor1D;
}

/** float32 (as logP): an int32 one-hot would be cast at every use. */
function oneHotLabels(labels: tf.Tensor, logP: tf.Tensor): tf.Tensor {
  return tf.cast(tf.oneHot(tf.cast(tf.reshape(labels, [-1]), 'int32'), logP.shape[logP.rank - 1]), 'float32');
}

function pickNegative(oneHot: tf.Tensor, logP: tf.Tensor): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(oneHot, logP), -1)) as tf.Tensor1D;
}

interface LayerLike {
  getClassName(): string;
  getConfig(): tf.serialization.ConfigDict;
  input: tf.SymbolicTensor | tf.SymbolicTensor[];
  weights: tf.LayerVariable[];
}

/** 'layer' for a Softmax/Activation('softmax') layer, 'dense' for a Dense with a softmax activation, else undefined. */
function softmaxKind(layer: LayerLike, rank: number): 'layer' | 'dense' | undefined {
  const name = layer.getClassName();
  const cfg = layer.getConfig();
  if (name === 'Softmax') {
    // tfjs' Softmax layer defaults to axis 1 (Keras' to -1): both are the class axis of a [batch, classes] output.
    const axes = ([] as unknown[]).concat(cfg.axis ?? -1);
    return axes.length === 1 && (axes[0] === -1 || axes[0] === rank - 1) ? 'layer' : undefined;
  }
  if (name === 'Activation' && cfg.activation === 'softmax') return 'layer';
  if (name === 'Dense' && cfg.activation === 'softmax') return 'dense';
  return undefined;
}

const heads = new WeakMap<tf.LayersModel, LossHead>();

/**
 * The loss head of `model` (cached per model). A model with one output whose last layer is a softmax (a Softmax or
 * Activation('softmax') layer, or a Dense with a softmax activation, at the last axis) gets a head that runs the
 * model up to the logits and computes the loss from them; any other model gets the probability form.
 */
export function lossHead(model: tf.LayersModel): LossHead {
  const cached = heads.get(model);
  if (cached) return cached;
  const head = makeHead(model);
  heads.set(model, head);
  return head;
}

/** Applies the model's layers after `index` up to (not including) layer `end`, one by one. */
function applyChain(model: tf.LayersModel, index: number, end: number, h: tf.Tensor, training: boolean): tf.Tensor {
  let y = h;
  for (let i = index + 1; i < end; i++) y = model.layers[i].apply(y, { training }) as tf.Tensor;
  return y;
}

function makeHead(model: tf.LayersModel): LossHead {
  const layers = model.layers.length;
  // foldedApply computes one tensor from one input.
  const foldable = model.inputs.length === 1 && model.outputs.length === 1;
  const probabilityHead: LossHead = {
    fromLogits: false,
    forward: (xs, training, cache) =>
      foldable && training ? foldedApply(model, xs, { training, cache }) : (model.apply(xs, { training }) as tf.Tensor),
    infer: (xs, cache) => (foldable ? foldedApply(model, xs, { cache }) : (model.apply(xs) as tf.Tensor)),
    forwardFrom: (index, h, training) => tf.tidy(() => applyChain(model, index, layers, h, training)),
    perSample: sparseCrossentropy,
  };
  if (model.outputs.length !== 1) return probabilityHead;
  const last = model.outputs[0].sourceLayer as unknown as LayerLike;
  const kind = softmaxKind(last, model.outputs[0].shape.length);
  if (!kind) return probabilityHead;
  let below: tf.SymbolicTensor;
  try {
    const input = last.input;
    if (Array.isArray(input)) return probabilityHead;
    below = input;
  } catch {
    // A layer called more than once has no single input: use the probabilities.
    return probabilityHead;
  }
  // Shares every layer (and so every weight) with `model`.
  const trunk = tf.model({ inputs: model.inputs, outputs: below });
  // The logits from the softmax layer's input: that input itself, or the Dense layer's product without its softmax.
  let logits: (h: tf.Tensor) => tf.Tensor;
  if (kind === 'layer') {
    logits = (h) => h;
  } else {
    const cfg = last.getConfig();
    const [kernel, bias] = last.weights;
    if (below.shape.length !== 2 || !kernel || (cfg.useBias !== false && !bias)) return probabilityHead;
    logits = (h) => {
      const z = tf.matMul(h, kernel.read());
      return cfg.useBias === false ? z : tf.add(z, bias.read());
    };
  }
  return {
    fromLogits: true,
    forward: (xs, training, cache) =>
      tf.tidy(() =>
        logits(
          foldable && training
            ? foldedApply(model, xs, { output: below, training, cache })
            : (trunk.apply(xs, { training }) as tf.Tensor),
        ),
      ),
    infer: (xs, cache) =>
      tf.tidy(() =>
        logits(foldable ? foldedApply(model, xs, { output: below, cache }) : (trunk.apply(xs) as tf.Tensor)),
      ),
    // The softmax layer is the model's last: the chain stops before it.
    forwardFrom: (index, h, training) => tf.tidy(() => logits(applyChain(model, index, layers - 1, h, training))),
    perSample: sparseCrossentropyFromLogits,
  };
}

/**
 * The index of the last layer of `model`'s frozen backbone when nothing up to it trains now: the backbone ends at the
 * last global pooling or Flatten layer (topSplitIndex) and no layer up to it has trainable weights. Undefined
 * otherwise, or when the layers after it are not a single chain.
 */
export function frozenBackboneEnd(model: tf.LayersModel): number | undefined {
  let index: number;
  try {
    index = topSplitIndex(model);
  } catch {
    return undefined;
  }
  return model.layers.slice(0, index + 1).every((l) => l.trainableWeights.length === 0) ? index : undefined;
}

/**
 * The folded weights of the frozen layers (a frozen backbone, or frozen stages in a model that trains) of the model
 * trainStep ran last: they stay valid across steps, each folded again when its weights change (FoldCache).
 */
let stepFolds: { model: tf.LayersModel; cache: FoldCache } | undefined;

/** The fold cache of `model`'s steps, new when trainStep trains another model. */
function stepFoldCache(model: tf.LayersModel): FoldCache {
  if (stepFolds?.model !== model) {
    if (stepFolds) disposeFoldCache(stepFolds.cache);
    stepFolds = { model, cache: new Map() };
  }
  return stepFolds.cache;
}

/**
 * Frees the folded weights trainStep keeps for `model`'s frozen layers: fit does when it ends, and other callers of
 * trainStep when they are done with the model.
 */
export function releaseStepFolds(model: tf.LayersModel): void {
  if (stepFolds?.model !== model) return;
  disposeFoldCache(stepFolds.cache);
  stepFolds = undefined;
}

/** Each layer weight a regularizer may hold, by the name of the layer's property holding that regularizer. */
const REGULARIZED_WEIGHTS: [regularizer: string, weight: string][] = [
  ['kernelRegularizer', 'kernel'],
  ['biasRegularizer', 'bias'],
  ['gammaRegularizer', 'gamma'],
  ['betaRegularizer', 'beta'],
  ['depthwiseRegularizer', 'depthwiseKernel'],
  ['pointwiseRegularizer', 'pointwiseKernel'],
  ['embeddingsRegularizer', 'embeddings'],
];

/**
 * The L2 coefficient of each of `model`'s weights with a penalty, by variable name, when every penalty the model's
 * loss counts (model.calculateLosses(): each layer's once per call of it in this model) is a pure L2 on one weight of a
 * layer called once in it (Keras' regularizers.l2), nested models included; undefined for anything else (an L1 term, a
 * loss added by hand, a penalised layer called twice, an unbuilt model), whose gradients the tape computes. Frozen
 * weights are listed too: their penalties count in the loss, without a gradient.
 */
export function l2Coefficients(model: tf.LayersModel): L2Coefficients | undefined {
  // An unbuilt Sequential has no calls yet (compiling or calling it builds it).
  const nodes = (model as unknown as { containerNodes?: Set<string> }).containerNodes;
  if (!model.built || !nodes) return undefined;
  const out = new Map<string, number>();
  for (const layer of model.layers) {
    // Container.nodeKey's format: the calls of `layer` that belong to this model.
    const calls = layer.inboundNodes.filter((_, i) => nodes.has(`${layer.name}_ib-${i}`)).length;
    if (calls === 0) continue;
    if (layer instanceof tf.LayersModel) {
      const inner = l2Coefficients(layer);
      if (!inner || (inner.size > 0 && calls !== 1)) return undefined;
      for (const [name, c] of inner) out.set(name, c);
      continue;
    }
    const losses = (layer as unknown as { losses: unknown[] }).losses.length;
    if (losses === 0) continue;
    if (calls !== 1) return undefined;
    const fields = layer as unknown as Record<string, unknown>;
    let found = 0;
    for (const [regularizer, weight] of REGULARIZED_WEIGHTS) {
      const w = fields[weight] as tf.LayerVariable | null | undefined;
      if (fields[regularizer] == null || w == null) continue;
      const c = l2Coefficient(fields[regularizer]);
      if (c === undefined) return undefined;
      found++;
      out.set((w.read() as tf.Variable).name, c);
    }
    if (found !== losses) return undefined;
  }
  return out;
}

/**
 * One training step as Keras' train_on_batch: forward in training mode, mean loss (+ regularisation penalties),
 * gradients of the trainable weights, the optimizer's update. Returns [loss, accuracy] of the batch. Where every
 * penalty is an L2 (l2Coefficients) and the optimizer is ours, the penalties are computed off the gradient tape and their
 * gradients 2 * l2 * w join the optimizer's update (one pass with it natively), as PyTorch's weight decay does; the
 * tape then holds the data loss alone. The folded weights of frozen layers are kept for the next step
 * (releaseStepFolds frees them).
 */
export async function trainStep(model: tf.LayersModel, xs: tf.Tensor, ys: tf.Tensor): Promise<[number, number]> {
  const optimizer = model.optimizer;
  if (!optimizer) throw new Error('trainStep: the model is not compiled (use compileModel)');
  const head = lossHead(model);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const labels = tf.tidy(() => tf.cast(tf.reshape(ys, [-1]), 'int32'));
  // Ours (lib/train/optimizers) take the L2 penalties into their step.
  const ours = 'applyGradientsWithL2' in optimizer ? (optimizer as KerasOptimizer) : undefined;
  const coefficients = ours && l2Coefficients(model);
  // A frozen backbone runs before the gradient tape starts: taped, its every op would save its inputs for a backward
  // pass that never reaches them (ResNet-50: 559 saved tensors a step, the activations held until the step ends). Its
  // batch norm is in inference mode, so it folds into the convolutions.
  const frozen = frozenBackboneEnd(model);
  let features: tf.Tensor | undefined;
  let out: tf.Tensor | undefined;
  let correct: tf.Tensor | undefined;
  let penalty: tf.Scalar | undefined;
  let cost: tf.Scalar | null = null;
  try {
    const folds = stepFoldCache(model);
    if (frozen !== undefined) {
      const output = model.layers[frozen].output as tf.SymbolicTensor;
      features = foldedApply(model, xs, { output, training: true, cache: folds });
    }
    const loss = (): tf.Scalar => {
      out = tf.keep(
        features && frozen !== undefined ? head.forwardFrom(frozen, features, true) : head.forward(xs, true, folds),
      );
      let value: tf.Scalar = tf.mean(head.perSample(labels, out));
      if (!coefficients) for (const p of model.calculateLosses()) value = tf.add(value, p);
      return value;
    };
    if (ours && coefficients) {
      const { value, grads } = ours.computeGradients(loss, vars);
      try {
        // A trainable weight the data loss does not reach still decays with its penalty's gradient.
        for (const v of vars) if (coefficients.has(v.name) && !grads[v.name]) grads[v.name] = tf.zerosLike(v);
        // The penalties at the weights the gradients are taken at, read by the update itself.
        penalty = ours.applyGradientsWithL2(grads, coefficients);
        cost = tf.add<tf.Scalar>(value, penalty);
      } finally {
        tf.dispose([value, ...Object.values(grads)]);
      }
    } else {
      cost = optimizer.minimize(loss, true, vars);
    }
    // Off the gradient tape, which would record these kernels and save a reference to each tensor they read.
    const predicted = out as unknown as tf.Tensor;
    correct = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(predicted, -1), labels), 'float32')));
    const [lossValue, acc] = await Promise.all([(cost as tf.Scalar).data(), correct.data()]);
    return [lossValue[0], acc[0]];
  } finally {
    tf.dispose([cost as tf.Scalar, correct, out, labels, features, penalty]);
  }
}
