/**
 * A model's forward pass with batch normalisation folded into the convolutions. In inference mode a batch-norm layer
 * is a per-channel affine map, so a Conv2D followed only by it (and by a ReLU) is one convolution with scaled filters,
 * a bias and the ReLU fused: one kernel where there were three, and two fewer passes over the activations. A frozen
 * ResNet-50 spends about a fifth of its forward kernel time in batch norm and ReLU. In training, a batch norm on
 * batch statistics between such a convolution and ReLU runs with the ReLU as one op
 * (BatchNormalization.callTrainingWithRelu), one pass fewer each way. A residual join (an Add of two tensors read only
 * by a ReLU) runs with its ReLU as one op where one is installed (addRelu), in training and inference alike. Zero
 * padding read only by a folded convolution or a max pool becomes their own padding: one pass fewer over the stem.
 * Imports only tfjs and the zoo's layer classes, as lib/train/loss (which runs training steps through this) must.
 */
import * as tf from '@tensorflow/tfjs';
import {
  BatchNormalization,
  addRelu,
  fusedConv2dAttrs,
  inPlaceWrites,
  markConstant,
  releaseConstant,
  isBatchNorm,
  isConv2D,
  type BatchNormWeights,
  type Conv2DWeights,
} from './common';

/** The parts of tfjs' layer graph this walks (tfjs types them as internal). */
interface GraphNode {
  id: number;
  outboundLayer: tf.layers.Layer;
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

/**
 * (zero padding ->) conv -> batch norm (-> ReLU), each the only reader of the one before: run as one convolution where
 * it may, the padding as the convolution's own.
 */
interface Fold {
  pad?: GraphNode;
  conv: GraphNode;
  norm: GraphNode;
  relu?: GraphNode;
}

/**
 * Zero padding of a ReLU's output read only by a max pool without padding of its own (Keras' ResNet and DenseNet stems):
 * one pool with that padding (poolPaddable). Equal because the values are >= 0: a window's zeros never exceed its
 * maximum, and a gradient that reaches a tie at 0 ends at the ReLU, which passes none for its zeros.
 */
interface PaddedPool {
  pad: GraphNode;
  pool: GraphNode;
}

/** An Add of two tensors whose only reader is a ReLU (a residual join): run as one op where it may. */
interface Join {
  add: GraphNode;
  relu: GraphNode;
}

/** The nodes up to one output, in an order that computes every input first, with folds and joins standing for theirs. */
type Step = GraphNode | Fold | Join | PaddedPool;

interface Plan {
  steps: Step[];
  /** How many steps (and the output itself) read each symbolic tensor: its value is freed after the last. */
  reads: Map<number, number>;
}

const plans = new WeakMap<tf.SymbolicTensor, Plan>();

function layerNode(t: tf.SymbolicTensor): GraphNode {
  return (t.sourceLayer as unknown as { inboundNodes: GraphNode[] }).inboundNodes[t.nodeIndex];
}

function isRelu(layer: tf.layers.Layer): boolean {
  const cfg = layer.getConfig();
  if (layer.getClassName() === 'Activation') return cfg.activation === 'relu';
  return layer.getClassName() === 'ReLU' && cfg.maxValue == null;
}

/** A channels-last Conv2D without its own activation, whose output can take a per-channel scale and shift. */
function isFoldableConv(layer: tf.layers.Layer): boolean {
  if (!isConv2D(layer)) return false;
  const c = layer as unknown as Conv2DWeights;
  return c.dataFormat === 'channelsLast' && c.padding !== 'causal' && c.activation.getClassName() === 'linear';
}

/** A channels-last ZeroPadding2D layer's padding as [[top, bottom], [left, right]], or undefined for another layer. */
function zeroPadding(layer: tf.layers.Layer): [[number, number], [number, number]] | undefined {
  if (layer.getClassName() !== 'ZeroPadding2D') return undefined;
  const l = layer as unknown as { dataFormat: string; padding: [[number, number], [number, number]] };
  return l.dataFormat === 'channelsLast' ? l.padding : undefined;
}

/**
 * Whether `pad` is zero padding that `pool`, a channels-last max pool without padding of its own, can take as its own:
 * each side narrower than the window, so that every window holds a value (a window of padding alone is 0 after
 * ZeroPadding2D, and -inf as the pool's padding).
 */
function poolPaddable(pad: tf.layers.Layer, pool: tf.layers.Layer): boolean {
  const sides = zeroPadding(pad);
  const cfg = pool.getConfig() as { padding: string; dataFormat: string; poolSize: [number, number] };
  if (!sides || pool.getClassName() !== 'MaxPooling2D' || cfg.padding !== 'valid') return false;
  return cfg.dataFormat === 'channelsLast' && sides.every((pair, i) => pair.every((p) => p < cfg.poolSize[i]));
}

function isLastAxisNorm(layer: tf.layers.Layer, rank: number): boolean {
  if (!isBatchNorm(layer)) return false;
  const axis = (layer as unknown as BatchNormWeights).axis;
  return axis === -1 || axis === rank - 1;
}

function makePlan(model: tf.LayersModel, output: tf.SymbolicTensor): Plan {
  const inputs = new Set(model.inputs.map((t) => t.id));
  const nodes: GraphNode[] = [];
  const seen = new Set<number>();
  const visit = (t: tf.SymbolicTensor) => {
    if (inputs.has(t.id)) return;
    const node = layerNode(t);
    if (seen.has(node.id)) return;
    seen.add(node.id);
    if (node.inputTensors.length === 0 || node.inputTensors.some((i) => i.id === t.id))
      throw new Error(`foldedApply: "${t.sourceLayer.name}" is an input outside model "${model.name}"'s inputs`);
    node.inputTensors.forEach(visit);
    nodes.push(node);
  };
  visit(output);
  const reads = new Map<number, number>([[output.id, 1]]);
  const reader = new Map<number, GraphNode>();
  for (const node of nodes)
    for (const t of node.inputTensors) {
      reads.set(t.id, (reads.get(t.id) ?? 0) + 1);
      reader.set(t.id, node);
    }
  // The node reading `node`'s only output, when nothing else reads it.
  const onlyReader = (node: GraphNode): GraphNode | undefined =>
    node.outputTensors.length === 1 && reads.get(node.outputTensors[0].id) === 1
      ? reader.get(node.outputTensors[0].id)
      : undefined;
  // A conv and the batch norm reading it alone, when they fold.
  const foldingNorm = (conv: GraphNode): GraphNode | undefined => {
    const norm = isFoldableConv(conv.outboundLayer) ? onlyReader(conv) : undefined;
    return norm && isLastAxisNorm(norm.outboundLayer, conv.outputTensors[0].rank) ? norm : undefined;
  };
  // The zero padding read only by `conv` (which pads nothing itself and folds), to run as its padding.
  const padOf = (conv: GraphNode): GraphNode | undefined => {
    const t = conv.inputTensors[0];
    if (inputs.has(t.id) || (conv.outboundLayer as unknown as Conv2DWeights).padding !== 'valid') return undefined;
    const pad = layerNode(t);
    return zeroPadding(pad.outboundLayer) && onlyReader(pad) === conv ? pad : undefined;
  };
  const absorbed = new Set<GraphNode>();
  const steps: Step[] = [];
  for (const node of nodes) {
    if (absorbed.has(node)) continue;
    const next = onlyReader(node);
    const from = node.inputTensors[0];
    if (
      next &&
      poolPaddable(node.outboundLayer, next.outboundLayer) &&
      !inputs.has(from.id) &&
      isRelu(layerNode(from).outboundLayer)
    ) {
      absorbed.add(next);
      steps.push({ pad: node, pool: next });
      continue;
    }
    // A padding its convolution runs as its own (padOf).
    if (next && padOf(next) === node && foldingNorm(next)) continue;
    const joined = node.outboundLayer.getClassName() === 'Add' && node.inputTensors.length === 2;
    if (joined && next && isRelu(next.outboundLayer)) {
      absorbed.add(next);
      steps.push({ add: node, relu: next });
      continue;
    }
    const norm = foldingNorm(node);
    if (!norm) {
      steps.push(node);
      continue;
    }
    const after = onlyReader(norm);
    const relu = after && isRelu(after.outboundLayer) ? after : undefined;
    const pad = padOf(node);
    absorbed.add(norm);
    if (relu) absorbed.add(relu);
    steps.push({ ...(pad ? { pad } : {}), conv: node, norm, ...(relu ? { relu } : {}) });
  }
  return { steps, reads };
}

/** The folded filter and bias of one convolution and batch norm, with the weights they were computed from. */
interface FoldedWeights {
  from: unknown[];
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
}

/**
 * Folded filters and biases kept between foldedApply calls, per convolution and batch-norm pair, each folded again
 * when a weight behind it has changed (a new value from `assign`, as loading weights gives, or a native update in
 * place). Its owner frees it with disposeFoldCache.
 */
export type FoldCache = Map<string, FoldedWeights>;

/**
 * The buffers behind `conv` and `norm`'s weights now and how often each was written in place: an assignment (loading
 * weights) replaces a buffer, a native update writes into it (inPlaceWrites).
 */
function sources(conv: Conv2DWeights, norm: BatchNormWeights): unknown[] {
  const vars = [conv.kernel, conv.bias, norm.gamma, norm.beta, norm.movingMean, norm.movingVariance];
  return [norm.epsilon, ...vars.flatMap((v) => (v ? [v.read().dataId, inPlaceWrites(v.read())] : [null]))];
}

function foldWeights(f: Fold, cache: FoldCache): FoldedWeights {
  const conv = f.conv.outboundLayer as unknown as Conv2DWeights;
  const norm = f.norm.outboundLayer as unknown as BatchNormWeights;
  const key = `${f.conv.outboundLayer.id}/${f.norm.outboundLayer.id}`;
  const from = sources(conv, norm);
  const cached = cache.get(key);
  if (cached && cached.from.every((d, i) => d === from[i])) return cached;
  if (cached) disposeFold(cached);
  const [filter, bias] = tf.tidy((): tf.Tensor[] => {
    const inv = tf.rsqrt(tf.add(norm.movingVariance.read(), norm.epsilon));
    const scale = norm.gamma ? tf.mul(inv, norm.gamma.read()) : inv;
    const shifted = tf.sub(conv.bias ? conv.bias.read() : tf.zerosLike(scale), norm.movingMean.read());
    const b = tf.mul(shifted, scale);
    return [tf.mul(conv.kernel.read(), scale), norm.beta ? tf.add(b, norm.beta.read()) : b];
  });
  // Kept: the first use may be inside a caller's tidy.
  const entry = { from, filter: tf.keep(filter as tf.Tensor4D), bias: tf.keep(bias as tf.Tensor1D) };
  // A new fold is a new tensor, so the native convolution may keep this one's reordered copy (markConstant).
  markConstant(entry.filter);
  cache.set(key, entry);
  return entry;
}

function disposeFold(f: FoldedWeights): void {
  releaseConstant(f.filter);
  tf.dispose([f.filter, f.bias]);
}

/** Frees every folded filter and bias in `cache` (and what the addon kept of the filters) and empties it. */
export function disposeFoldCache(cache: FoldCache): void {
  for (const f of cache.values()) disposeFold(f);
  cache.clear();
}

/** Whether batch norm `layer` normalises with its moving statistics in this call. */
function inInference(layer: tf.layers.Layer, training: boolean): boolean {
  // The zoo's layer runs frozen in inference mode (Keras' semantics); tfjs' own uses batch statistics when training.
  return !training || (layer instanceof BatchNormalization && !layer.trainable);
}

/**
 * Whether `f` may run as one folded convolution in this call: its folded weights are constants to a gradient, so not
 * while its convolution trains (a batch norm in inference mode while training is frozen).
 */
function foldsNow(f: Fold, training: boolean): boolean {
  return inInference(f.norm.outboundLayer, training) && !(training && f.conv.outboundLayer.trainableWeights.length > 0);
}

/** A ZeroPadding2D node's padding as a 4-d kernel's explicit padding (NHWC). */
function explicitPadding(pad: GraphNode): tf.backend_util.ExplicitPadding {
  const [rows, cols] = zeroPadding(pad.outboundLayer) as [[number, number], [number, number]];
  return [[0, 0], rows, cols, [0, 0]];
}

/** `f` as one convolution of `x` (the padding's input where `f` has one). */
function runFold(f: Fold, x: tf.Tensor, cache: FoldCache): tf.Tensor {
  const { filter, bias } = foldWeights(f, cache);
  const attrs = fusedConv2dAttrs(f.conv.outboundLayer as unknown as Conv2DWeights, f.relu ? 'relu' : 'linear');
  if (f.pad) attrs.pad = explicitPadding(f.pad);
  return tf.engine().runKernel<tf.Tensor>('FusedConv2D', { x, filter, bias }, attrs);
}

function runPaddedPool(p: PaddedPool, x: tf.Tensor4D): tf.Tensor {
  const cfg = p.pool.outboundLayer.getConfig() as { poolSize: [number, number]; strides: [number, number] };
  return tf.maxPool(x, cfg.poolSize, cfg.strides, explicitPadding(p.pad));
}

function runNode(node: GraphNode, inputs: tf.Tensor[], training: boolean): tf.Tensor[] {
  return tf.tidy(() => {
    const out = node.outboundLayer.apply(inputs.length === 1 ? inputs[0] : inputs, { training });
    return ([] as tf.Tensor[]).concat(out as tf.Tensor | tf.Tensor[]);
  });
}

export interface FoldedApplyOptions {
  /** The tensor of `model`'s graph to compute; default: the model's only output. */
  output?: tf.SymbolicTensor;
  /** Training-mode call (dropout on, trainable batch norm on batch statistics); default false. */
  training?: boolean;
  /** Folded weights to reuse and add to (see FoldCache); default: computed for this call and freed after it. */
  cache?: FoldCache;
}

/**
 * `model.apply(x, { training })` up to `output`, with every Conv2D whose only reader is a batch-norm layer in inference
 * mode (and that layer's only reader a ReLU) run as one convolution, unless training and the convolution trains
 * (frozen zoo batch norm is in inference mode even when training); and, when training, a zoo batch norm on batch
 * statistics between such a Conv2D and ReLU run with the ReLU as one op; an Add of two tensors read only by a ReLU runs
 * with it as one op (addRelu) where that runs. Equal to the plain forward pass up to float rounding, gradients included.
 * Not for wrapping a layer's call (the fused layers' calls do not run).
 */
export function foldedApply(model: tf.LayersModel, x: tf.Tensor, opts: FoldedApplyOptions = {}): tf.Tensor {
  if (model.inputs.length !== 1)
    throw new Error(`foldedApply: model "${model.name}" has ${model.inputs.length} inputs`);
  let output = opts.output;
  if (!output) {
    if (model.outputs.length !== 1)
      throw new Error(`foldedApply: model "${model.name}" has ${model.outputs.length} outputs; name one as \`output\``);
    output = model.outputs[0];
  }
  const training = opts.training ?? false;
  let plan = plans.get(output);
  if (!plan) {
    plan = makePlan(model, output);
    plans.set(output, plan);
  }
  const cache: FoldCache = opts.cache ?? new Map<string, FoldedWeights>();
  const values = new Map<number, tf.Tensor>([[model.inputs[0].id, x]]);
  const left = new Map(plan.reads);
  const read = (t: tf.SymbolicTensor) => values.get(t.id) as tf.Tensor;
  // Frees a value after its last reader, unless it is the caller's input or also another live value (a layer may
  // return its input).
  const release = (t: tf.SymbolicTensor) => {
    const n = (left.get(t.id) ?? 0) - 1;
    left.set(t.id, n);
    if (n > 0) return;
    const v = values.get(t.id) as tf.Tensor;
    values.delete(t.id);
    if (v !== x && ![...values.values()].includes(v)) v.dispose();
  };
  // Outputs nobody reads (a multi-output layer's others) are freed at once.
  const setOutputs = (node: GraphNode, out: tf.Tensor[]) =>
    node.outputTensors.forEach((t, i) => {
      values.set(t.id, out[i]);
      if (!left.has(t.id)) release(t);
    });
  // The nodes' layers one by one, each freeing its inputs after it.
  const runNodes = (nodes: GraphNode[]) => {
    for (const node of nodes) {
      setOutputs(node, runNode(node, node.inputTensors.map(read), training));
      node.inputTensors.forEach(release);
    }
  };
  try {
    for (const step of plan.steps) {
      if ('add' in step) {
        const [a, b] = step.add.inputTensors;
        const joined = addRelu(read(a), read(b));
        if (!joined) {
          runNodes([step.add, step.relu]);
          continue;
        }
        setOutputs(step.relu, [joined]);
        step.add.inputTensors.forEach(release);
        continue;
      }
      if ('pool' in step) {
        const input = step.pad.inputTensors[0];
        setOutputs(step.pool, [tf.tidy(() => runPaddedPool(step, read(input) as tf.Tensor4D))]);
        release(input);
        continue;
      }
      if ('conv' in step) {
        const first = step.pad ?? step.conv;
        const input = first.inputTensors[0];
        if (foldsNow(step, training)) {
          const last = step.relu ?? step.norm;
          setOutputs(last, [tf.tidy(() => runFold(step, read(input), cache))]);
          release(input);
          continue;
        }
        if (step.pad) runNodes([step.pad]);
        const convIn = step.conv.inputTensors[0];
        setOutputs(step.conv, runNode(step.conv, [read(convIn)], training));
        release(convIn);
        // A batch norm on batch statistics with its ReLU in one op where it can; else the layers one by one.
        const normIn = step.norm.inputTensors[0];
        const norm = step.norm.outboundLayer;
        const fused =
          step.relu && training && norm instanceof BatchNormalization
            ? norm.callTrainingWithRelu(read(normIn))
            : undefined;
        if (fused && step.relu) {
          setOutputs(step.relu, [fused]);
          release(normIn);
          continue;
        }
        runNodes([step.norm, ...(step.relu ? [step.relu] : [])]);
        continue;
      }
      runNodes([step]);
    }
  } catch (e) {
    for (const v of new Set(values.values())) if (v !== x) v.dispose();
    throw e;
  } finally {
    if (!opts.cache) disposeFoldCache(cache);
  }
  const y = read(output);
  // The caller disposes the result: never its own input.
  return y === x ? x.clone() : y;
}
