import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { makeRng, normal } from '../lib/random';
import { WASM_TRAINING_KERNELS, takeStockFallbacks } from '../lib/kernels/wasm';
import { nativeConv, setNativeMatMulEnabled } from '../lib/kernels/native';
import { resnet18, vggTop, withTop } from '../lib/models';
import { nativeModes, withNative } from './native-modes';

type Layer = tf.layers.Layer;
const apply = (l: Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => l.apply(x) as tf.SymbolicTensor;

/** ResNet-18-style pieces: valid stem, BN, max pool, an identity block, a stride-2 block with a 1x1 shortcut, GAP. */
function tinyResNet(dropout: number): tf.LayersModel {
  const input = tf.input({ shape: [20, 20, 3] });
  const convBn = (x: tf.SymbolicTensor, filters: number, k: number, s: number, padding: 'same' | 'valid') =>
    apply(
      tf.layers.batchNormalization(),
      apply(tf.layers.conv2d({ filters, kernelSize: k, strides: s, padding, useBias: false }), x),
    );
  const relu = (x: tf.SymbolicTensor) => apply(tf.layers.activation({ activation: 'relu' }), x);
  let x = relu(convBn(input, 8, 7, 2, 'valid'));
  x = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), x);
  const a = convBn(relu(convBn(x, 8, 3, 1, 'same')), 8, 3, 1, 'same');
  x = relu(apply(tf.layers.add(), [x, a]));
  const b = convBn(relu(convBn(x, 16, 3, 2, 'same')), 16, 3, 1, 'same');
  x = relu(apply(tf.layers.add(), [convBn(x, 16, 1, 2, 'valid'), b]));
  x = apply(tf.layers.globalAveragePooling2d({}), x);
  x = apply(tf.layers.dropout({ rate: dropout }), x);
  return tf.model({ inputs: input, outputs: apply(tf.layers.dense({ units: 3, activation: 'softmax' }), x) });
}

/** The study's small CNN pattern: 5x5 convolutions with max pooling, inputs that can be negative. */
function tinyCnn(dropout: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [20, 20, 3], filters: 6, kernelSize: 5, padding: 'same', activation: 'tanh' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 8, kernelSize: 5, padding: 'valid' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dropout({ rate: dropout }),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

const MODELS: [string, (dropout: number) => tf.LayersModel][] = [
  ['tiny ResNet', tinyResNet],
  ['tiny CNN', tinyCnn],
];

/** The face-mask trial's VGG top, small: Dense ReLU layers with dropout on a flattened feature map. */
function tinyVggTop(dropout: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [20, 20, 3], filters: 4, kernelSize: 3, strides: 2, activation: 'relu' }),
      tf.layers.flatten(),
      ...[33, 17].flatMap((units) => [
        tf.layers.dense({ units, activation: 'relu' }),
        tf.layers.dropout({ rate: dropout }),
      ]),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

function batch(seed: string): { xs: Float32Array; labels: number[] } {
  const rng = makeRng(seed);
  return { xs: Float32Array.from({ length: 4 * 20 * 20 * 3 }, () => normal(rng)), labels: [0, 1, 2, 1] };
}

/** Gradients of the training-mode loss for every trainable weight, in weight order. */
function gradients(model: tf.LayersModel, xs: Float32Array, labels: number[]): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(xs, [labels.length, 20, 20, 3]);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 3);
    const { grads } = tf.variableGrads(() =>
      tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor).mean<tf.Scalar>(),
    );
    return model.trainableWeights.map(
      (w) => (grads[(w.read() as tf.Variable).name]?.dataSync() as Float32Array) ?? new Float32Array(0),
    );
  });
}

/** Asserts that one model's training-mode gradients on wasm (native convolutions on or off) match cpu's. */
async function compareWithCpu(
  name: string,
  build: (dropout: number) => tf.LayersModel,
  native: boolean,
): Promise<void> {
  await initBackend('wasm');
  const model = build(0);
  const { xs, labels } = batch(name);
  const onWasm = await withNative(native, () => gradients(model, xs, labels));
  await initBackend('cpu');
  const onCpu = gradients(model, xs, labels);
  assert.equal(onWasm.length, model.trainableWeights.length);
  onWasm.forEach((g, i) => {
    const ref = onCpu[i];
    assert.ok(g.length > 0 && g.length === ref.length, `${name}: no gradient for ${model.trainableWeights[i].name}`);
    let diff = 0;
    let scale = 0;
    for (let j = 0; j < g.length; j++) {
      diff = Math.max(diff, Math.abs(g[j] - ref[j]));
      scale = Math.max(scale, Math.abs(ref[j]));
    }
    // Whole-model gradients accumulate float32 rounding over many layers: 1e-3 of the largest entry.
    assert.ok(diff <= 1e-3 * scale, `${name} ${model.trainableWeights[i].name}: max diff ${diff}, scale ${scale}`);
  });
  model.dispose();
}

test('training-mode gradients of small models agree between wasm and cpu (native and wasm-only convolutions)', async () => {
  for (const { native, label } of nativeModes()) {
    for (const [name, build] of [...MODELS, ['tiny VGG top', tinyVggTop] as const])
      await compareWithCpu(`${name} (${label})`, build, native);
  }
});

test('small models with dropout train on wasm (loss falls on a fixed batch)', async () => {
  await initBackend('wasm');
  for (const [name, build] of MODELS) {
    const model = build(0.2);
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const { xs, labels } = batch(`${name} fit`);
    const x = tf.tensor4d(xs, [labels.length, 20, 20, 3]);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 3);
    const losses: number[] = [];
    for (let i = 0; i < 15; i++) losses.push((await model.trainOnBatch(x, y)) as number);
    assert.ok(losses.every(Number.isFinite), `${name}: non-finite loss ${losses.join(',')}`);
    assert.ok(
      losses[losses.length - 1] < 0.5 * losses[0],
      `${name}: loss did not fall: ${losses.map((l) => l.toFixed(3)).join(',')}`,
    );
    tf.dispose([x, y]);
    model.dispose();
  }
});

/** The names of the kernels `fn` runs on the current backend (outermost calls), by wrapping the registry's kernelFuncs. */
async function kernelsRun(fn: () => Promise<unknown>): Promise<Set<string>> {
  const names = new Set<string>();
  const originals = new Map<tf.KernelConfig, tf.KernelFunc>();
  try {
    for (const k of tf.getKernelsForBackend(tf.getBackend())) {
      const f = k.kernelFunc;
      originals.set(k, f);
      k.kernelFunc = (args) => {
        names.add(k.kernelName);
        return f(args);
      };
    }
    await fn();
  } finally {
    for (const [k, f] of originals) k.kernelFunc = f;
  }
  return names;
}

/**
 * Kernels whose stock kernel is the intended path for some shapes (same-shape and scalar arithmetic and ReLU below
 * NATIVE_SAME_SHAPE_MIN elements, other reduction axes).
 */
const STOCK_BY_SHAPE = new Set(['Add', 'Sub', 'Multiply', 'RealDiv', 'Sum', 'Mean', 'Relu']);

test('a training step of ResNet-18 + the VGG top keeps every native kernel on the native path', async (t) => {
  if (!nativeConv()) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  await initBackend('wasm');
  const model = withTop(
    resnet18({ inputShape: [32, 32, 3], includeTop: false, flatten: true, dropoutRate: 0.2 }),
    vggTop,
    2,
  );
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 3);
  const y = tf.oneHot(tf.tensor1d([0, 1], 'int32'), 2);
  takeStockFallbacks();
  const ran = await kernelsRun(() => model.trainOnBatch(x, y));
  const fallbacks = takeStockFallbacks();
  for (const name of [
    'BatchMatMul',
    '_FusedMatMul',
    'FusedConv2D',
    'Conv2DBackpropFilter',
    'Conv2DBackpropInput',
    'AffectBatchNormTraining',
    'AffectBatchNormTrainingGrad',
    'MaxPool',
    'MaxPoolGrad',
    'Sqrt',
    'Relu',
  ]) {
    assert.ok(ran.has(name), `${name} did not run: ${[...ran].sort().join(', ')}`);
  }
  const left = WASM_TRAINING_KERNELS.filter(
    (k) => k.compute === 'native' && !STOCK_BY_SHAPE.has(k.name) && fallbacks.has(k.name),
  );
  assert.deepEqual(
    left.map((k) => `${k.name} x${fallbacks.get(k.name)}`),
    [],
    'kernels that left the native path',
  );

  // The matrix products alone can be switched back to the stock kernels (the bench's comparison).
  const before = setNativeMatMulEnabled(false);
  let predicted: Set<string>;
  try {
    predicted = await kernelsRun(async () => tf.dispose(model.predict(x)));
  } finally {
    setNativeMatMulEnabled(before);
  }
  assert.ok((takeStockFallbacks().get('_FusedMatMul') ?? 0) > 0);
  // Inference normalises with the moving statistics.
  assert.ok(predicted.has('FusedBatchNorm'));
  tf.dispose([x, y]);
  model.optimizer.dispose();
  model.dispose();
});
