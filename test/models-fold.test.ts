import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { batchNorm, constantId, conv2d, setConstantRelease } from '../lib/models/common';
import { forgetNativeFilter } from '../lib/kernels/native';
import { disposeFoldCache, foldedApply, type FoldCache } from '../lib/models/fold';
import { makeRng } from '../lib/random';
import { randomArray, relErr, setRandomWeights } from './kernel-checks';
import { nativeModes, withNative } from './native-modes';

/** The summed output weighted by `r`, and its gradient for each of `m`'s trainable weights, in order. */
function outputAndGrads(m: tf.LayersModel, f: () => tf.Tensor, r: tf.Tensor): tf.Tensor[] {
  const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(), r)), vars);
  return [value, ...vars.map((v) => grads[v.name])];
}

/**
 * A training-mode call of `plain` (its layers) and of `fused` (foldedApply), two copies of one model: their outputs
 * and gradients (outputAndGrads) agree within 1e-4 (relative); returns plain's (the caller frees them) and the kernel
 * counts of fused's call.
 */
async function compareTraining(
  plain: tf.LayersModel,
  fused: tf.LayersModel,
  x: tf.Tensor,
  r: tf.Tensor,
  label: string,
): Promise<{ want: tf.Tensor[]; counts: Map<string, number> }> {
  const want = outputAndGrads(plain, () => plain.apply(x, { training: true }) as tf.Tensor, r);
  const counts = await kernelCounts(() => {
    const got = outputAndGrads(fused, () => foldedApply(fused, x, { training: true }), r);
    for (const [i, g] of got.entries()) {
      const name = i === 0 ? 'output' : fused.trainableWeights[i - 1].name;
      const [a, b] = [g.dataSync(), want[i].dataSync()];
      // A convolution's bias before batch norm on batch statistics has no effect: its gradient is 0 up to rounding
      // on both sides, and a relative error between two roundings says nothing.
      const scale = Math.max(...Array.from(b, Math.abs));
      if (scale < 1e-5) assert.ok(Math.max(...Array.from(a, Math.abs)) < 1e-5, `${label}: ${name} is not ~0`);
      else assert.ok(relErr(a, b) < 1e-4, `${label}: ${name} ${relErr(a, b)}`);
    }
    tf.dispose(got.slice(1));
    return got[0];
  });
  return { want, counts };
}

/**
 * Every pattern the folding meets: conv -> BN -> ReLU layer (folds with the ReLU), conv -> BN read by an Add (folds
 * alone), a strided conv with bias -> BN without scale or centre read by a ReLU and a pooling (folds alone), a dilated
 * conv -> BN, and a conv read by two layers (does not fold). Batch norm's moving statistics, scale and offset are far
 * from the identity.
 */
function buildModel(): { model: tf.LayersModel; mid: tf.SymbolicTensor } {
  const input = tf.input({ shape: [11, 10, 3] });
  const a = conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false }).apply(input) as tf.SymbolicTensor;
  const aBn = batchNorm({ epsilon: 1e-3 }).apply(a) as tf.SymbolicTensor;
  const aRelu = tf.layers.reLU().apply(aBn) as tf.SymbolicTensor;
  const b = conv2d({ filters: 6, kernelSize: 1, useBias: false }).apply(aRelu) as tf.SymbolicTensor;
  const bBn = batchNorm({}).apply(b) as tf.SymbolicTensor;
  const sum = tf.layers.add().apply([bBn, aRelu]) as tf.SymbolicTensor;
  const mid = tf.layers.activation({ activation: 'relu' }).apply(sum) as tf.SymbolicTensor;
  const c = conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same' }).apply(mid) as tf.SymbolicTensor;
  const cBn = batchNorm({ scale: false, center: false }).apply(c) as tf.SymbolicTensor;
  const cRelu = tf.layers.activation({ activation: 'relu' }).apply(cBn) as tf.SymbolicTensor;
  const cPool = tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }).apply(cBn) as tf.SymbolicTensor;
  const d = conv2d({ filters: 4, kernelSize: 3, padding: 'same', dilationRate: 2 }).apply(cRelu) as tf.SymbolicTensor;
  const dBn = batchNorm({}).apply(d) as tf.SymbolicTensor;
  const dPool = tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' }).apply(dBn) as tf.SymbolicTensor;
  // Read twice: the convolution's output is not the batch norm's alone, so it stays as it is.
  const e = conv2d({ filters: 5, kernelSize: 1 }).apply(cRelu) as tf.SymbolicTensor;
  const eBn = batchNorm({}).apply(e) as tf.SymbolicTensor;
  const eSkip = tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }).apply(e) as tf.SymbolicTensor;
  const joined = tf.layers
    .concatenate()
    .apply([
      dPool,
      tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }).apply(eBn) as tf.SymbolicTensor,
      eSkip,
      cPool,
    ]) as tf.SymbolicTensor;
  // Linear: a saturated softmax would hide differences.
  const out = tf.layers.dense({ units: 3 }).apply(tf.layers.flatten().apply(joined)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  setRandomWeights(model, 'models-fold');
  return { model, mid };
}

const input = () => tf.tensor4d(randomArray(makeRng('models-fold-x'), 2 * 11 * 10 * 3), [2, 11, 10, 3]);

async function kernelCounts(fn: () => tf.Tensor): Promise<Map<string, number>> {
  const info = await tf.profile(() => {
    tf.dispose(fn());
  });
  const counts = new Map<string, number>();
  for (const k of info.kernels) counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
  return counts;
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`foldedApply on ${backend} equals the model's forward pass, with the batch norms it folds gone`, async () => {
    await initBackend(backend);
    for (const mode of backend === 'wasm' ? nativeModes() : [{ native: false, label: 'cpu' }]) {
      await withNative(mode.native, async () => {
        const { model, mid } = buildModel();
        const x = input();
        const want = model.apply(x) as tf.Tensor;
        const got = foldedApply(model, x);
        assert.ok(relErr(await got.data(), await want.data()) < 1e-5, `${mode.label}: the output`);
        const midModel = tf.model({ inputs: model.inputs, outputs: mid });
        const midWant = midModel.apply(x) as tf.Tensor;
        const midGot = foldedApply(model, x, { output: mid });
        assert.deepEqual(midGot.shape, midWant.shape);
        assert.ok(relErr(await midGot.data(), await midWant.data()) < 1e-5, `${mode.label}: an inner tensor`);
        // Four of the five batch norms fold (the one after a convolution read twice runs), and one ReLU with them.
        const plain = await kernelCounts(() => model.apply(x) as tf.Tensor);
        const folded = await kernelCounts(() => foldedApply(model, x));
        assert.equal(plain.get('FusedBatchNorm'), 5, `${mode.label}: batch norms in the plain pass`);
        assert.equal(folded.get('FusedBatchNorm'), 1, `${mode.label}: batch norms left`);
        assert.equal(folded.get('Relu') ?? 0, (plain.get('Relu') ?? 0) - 1, `${mode.label}: ReLUs fused`);
        tf.dispose([x, want, got, midWant, midGot]);
        model.dispose();
      });
    }
  });
}

test('foldedApply in training mode folds frozen batch norm only', async () => {
  await initBackend('cpu');
  const { model } = buildModel();
  const x = input();
  const close = async (a: tf.Tensor, b: tf.Tensor, what: string) => {
    assert.ok(relErr(await a.data(), await b.data()) < 1e-5, what);
    tf.dispose([a, b]);
  };
  // Trainable batch norm normalises with the batch's statistics when training, and must not fold (the moving
  // statistics are far from the batch's). tfjs' layer cannot train without scale and centre: that one stays frozen.
  for (const l of model.layers) if (l.getConfig().scale === false) l.trainable = false;
  await close(
    foldedApply(model, x, { training: true }),
    model.apply(x, { training: true }) as tf.Tensor,
    'trainable, training',
  );
  // Frozen, the zoo's batch norm is in inference mode (Keras), and folds.
  for (const l of model.layers) l.trainable = false;
  const frozen = await kernelCounts(() => foldedApply(model, x, { training: true }));
  assert.equal(frozen.get('FusedBatchNorm'), 1, 'frozen: only the unfoldable one runs');
  await close(foldedApply(model, x, { training: true }), model.apply(x, { training: true }) as tf.Tensor, 'frozen');
  x.dispose();
  model.dispose();
});

/**
 * conv -> batch norm -> ReLU (the batch norm runs with its ReLU when training), conv -> frozen batch norm -> ReLU (the
 * convolution trains, so nothing folds), frozen conv -> frozen batch norm -> ReLU (folds, and the gradient reaches the
 * layers before it through the folded convolution), conv -> batch norm read by an Add, then ReLU, flatten, dense.
 */
function buildTrainingModel(): tf.LayersModel {
  const input = tf.input({ shape: [7, 6, 3] });
  const block = (t: tf.SymbolicTensor, frozen: 'nothing' | 'norm' | 'both') => {
    const c = conv2d({ filters: 4, kernelSize: 3, padding: 'same', trainable: frozen !== 'both' }).apply(t);
    const bn = batchNorm({ trainable: frozen === 'nothing' }).apply(c) as tf.SymbolicTensor;
    return tf.layers.reLU().apply(bn) as tf.SymbolicTensor;
  };
  const a = block(block(block(input, 'nothing'), 'norm'), 'both');
  const b = conv2d({ filters: 4, kernelSize: 1 }).apply(a) as tf.SymbolicTensor;
  const sum = tf.layers.add().apply([batchNorm({}).apply(b) as tf.SymbolicTensor, a]) as tf.SymbolicTensor;
  const out = tf.layers.activation({ activation: 'relu' }).apply(sum) as tf.SymbolicTensor;
  const model = tf.model({
    inputs: input,
    outputs: tf.layers.dense({ units: 3 }).apply(tf.layers.flatten().apply(out)) as tf.SymbolicTensor,
  });
  setRandomWeights(model, 'models-fold-training');
  return model;
}

test('foldedApply in training on wasm: batch norm runs with its ReLU as one op; output, gradients and moving statistics as the layers give them', async () => {
  await initBackend('wasm');
  for (const mode of nativeModes()) {
    await withNative(mode.native, async () => {
      // Two copies of one model: the plain forward pass runs one, foldedApply the other (each updates its moving
      // statistics).
      const [plain, fused] = [buildTrainingModel(), buildTrainingModel()];
      const x = tf.tensor4d(randomArray(makeRng('models-fold-tx'), 2 * 7 * 6 * 3), [2, 7, 6, 3]);
      const r = tf.randomNormal([2, 3], 0, 1, 'float32', 7);
      const plainCounts = await kernelCounts(() => {
        const first = outputAndGrads(plain, () => plain.apply(x, { training: true }) as tf.Tensor, r);
        tf.dispose(first.slice(1));
        return first[0];
      });
      // Both models again from the same weights: the pass above moved plain's moving statistics.
      plain.setWeights(fused.getWeights());
      const { want, counts } = await compareTraining(plain, fused, x, r, mode.label);
      assert.equal(fused.trainableWeights.length, 12, 'the frozen batch norms have no trainable weights; one conv has');
      for (const [i, w] of fused.weights.entries()) {
        const e = relErr(w.read().dataSync(), plain.weights[i].read().dataSync());
        assert.ok(e < 1e-5, `${mode.label}: ${w.name} after the call: ${e}`);
      }
      // Two batch norms train (natively where the addon is in use); the first runs with its ReLU, the frozen pair's
      // ReLU runs in its folded convolution.
      assert.equal(
        counts.get('AffectBatchNormTraining') ?? 0,
        mode.native ? 2 : 0,
        `${mode.label}: training batch norms`,
      );
      assert.equal(plainCounts.get('Relu'), 4, `${mode.label}: ReLU kernels of the plain pass`);
      assert.equal(counts.get('Relu') ?? 0, mode.native ? 2 : 3, `${mode.label}: ReLU kernels`);
      // The frozen pair folds; the batch norm after a trainable convolution runs, and the others where not native.
      assert.equal(plainCounts.get('FusedBatchNorm') ?? 0, mode.native ? 2 : 4, `${mode.label}: plain batch norms`);
      assert.equal(counts.get('FusedBatchNorm') ?? 0, mode.native ? 1 : 3, `${mode.label}: batch norm kernels`);
      tf.dispose([x, r, ...want]);
      plain.dispose();
      fused.dispose();
    });
  }
});

test('foldedApply leaves nothing behind; a cache keeps one folded copy per fold, follows new weights, and is freed', async () => {
  await initBackend('wasm');
  const x = input();
  const { model } = buildModel();
  const start = tf.memory().numTensors;
  tf.dispose(foldedApply(model, x));
  assert.equal(tf.memory().numTensors, start, 'without a cache, no tensor outlives the call');
  const cache: FoldCache = new Map();
  tf.dispose(foldedApply(model, x, { cache }));
  // Four folds: a filter and a bias each.
  assert.equal(tf.memory().numTensors - start, 8, 'the folded copies');
  for (let i = 0; i < 3; i++) tf.dispose(foldedApply(model, x, { cache }));
  assert.equal(tf.memory().numTensors - start, 8, 'reused, nothing left per call');
  // New weights (loading them assigns new tensors) replace the folded copies.
  const bn = model.layers.find((l) => l.getClassName() === 'BatchNormalization') as tf.layers.Layer;
  const shifted = bn.getWeights().map((w) => tf.add(w, 0.5));
  bn.setWeights(shifted);
  tf.dispose(shifted);
  const [got, want] = [foldedApply(model, x, { cache }), model.apply(x) as tf.Tensor];
  assert.ok(relErr(await got.data(), await want.data()) < 1e-5, 'after new batch-norm weights');
  tf.dispose([got, want]);
  assert.equal(tf.memory().numTensors - start, 8, 'the stale copy freed');
  disposeFoldCache(cache);
  assert.equal(tf.memory().numTensors, start, 'freed');
  assert.equal(cache.size, 0);
  x.dispose();
  model.dispose();
});

test('foldedApply: a result that is the input is a copy; batch norm over another axis is not folded', async () => {
  await initBackend('cpu');
  const a = tf.input({ shape: [4, 4, 2] });
  const same = tf.model({ inputs: a, outputs: tf.layers.dropout({ rate: 0.5 }).apply(a) as tf.SymbolicTensor });
  const x = tf.ones([1, 4, 4, 2]);
  const y = foldedApply(same, x);
  assert.notEqual(y, x);
  y.dispose();
  assert.equal(x.isDisposed, false, "the caller's input survives disposing the result");
  const conv = conv2d({ filters: 3, kernelSize: 1 }).apply(a) as tf.SymbolicTensor;
  const byRows = tf.model({ inputs: a, outputs: batchNorm({ axis: 1 }).apply(conv) as tf.SymbolicTensor });
  const counts = await kernelCounts(() => foldedApply(byRows, x));
  assert.equal(counts.get('FusedBatchNorm'), 1, 'batch norm over rows runs as itself');
  const [got, want] = [foldedApply(byRows, x), byRows.apply(x) as tf.Tensor];
  assert.deepEqual(await got.data(), await want.data());
  tf.dispose([x, got, want]);
  same.dispose();
  byRows.dispose();
});

test('foldedApply says which model cannot be run and why', async () => {
  await initBackend('cpu');
  const a = tf.input({ shape: [4] });
  const b = tf.input({ shape: [4] });
  const two = tf.model({ inputs: [a, b], outputs: tf.layers.add().apply([a, b]) as tf.SymbolicTensor, name: 'two_in' });
  const x = tf.zeros([1, 4]);
  assert.throws(() => foldedApply(two, x), /model "two_in" has 2 inputs/);
  const dense = tf.layers.dense({ units: 2 });
  const outs = tf.model({
    inputs: a,
    outputs: [dense.apply(a) as tf.SymbolicTensor, tf.layers.dense({ units: 3 }).apply(a) as tf.SymbolicTensor],
    name: 'two_out',
  });
  assert.throws(() => foldedApply(outs, x), /model "two_out" has 2 outputs; name one as `output`/);
  // A tensor of another graph: its inputs are not this model's.
  const other = tf.input({ shape: [4], name: 'stranger' });
  const strange = tf.layers.dense({ units: 2 }).apply(other) as tf.SymbolicTensor;
  assert.throws(() => foldedApply(outs, x, { output: strange }), /"stranger" is an input outside/);
  x.dispose();
  two.dispose();
  outs.dispose();
});

/**
 * Two residual joins on activations large enough for the native add-ReLU (2 x 64 x 64 x 8): one read only by its ReLU
 * (joined where the addon runs), one read by its ReLU and a pooling (left as layers); trainable and frozen convolutions.
 */
function buildResidualModel(): tf.LayersModel {
  const input = tf.input({ shape: [64, 64, 8] });
  const c = conv2d({ filters: 8, kernelSize: 3, padding: 'same', trainable: false }).apply(input) as tf.SymbolicTensor;
  const a = tf.layers.reLU().apply(batchNorm({ trainable: false }).apply(c)) as tf.SymbolicTensor;
  const b = conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(a) as tf.SymbolicTensor;
  const joined = tf.layers.add().apply([batchNorm({}).apply(b) as tf.SymbolicTensor, a]) as tf.SymbolicTensor;
  const out = tf.layers.activation({ activation: 'relu' }).apply(joined) as tf.SymbolicTensor;
  const twice = tf.layers.add().apply([out, a]) as tf.SymbolicTensor;
  const tail = tf.layers
    .concatenate()
    .apply([
      tf.layers.reLU().apply(twice) as tf.SymbolicTensor,
      tf.layers.maxPooling2d({ poolSize: 1 }).apply(twice) as tf.SymbolicTensor,
    ]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(tail) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3 }).apply(pooled) as tf.SymbolicTensor });
  setRandomWeights(model, 'models-fold-residual');
  return model;
}

test('foldedApply on wasm joins a residual Add read only by a ReLU into one op: outputs and gradients as the layers give them', async () => {
  await initBackend('wasm');
  for (const mode of nativeModes()) {
    await withNative(mode.native, async () => {
      const [plain, fused] = [buildResidualModel(), buildResidualModel()];
      const x = tf.tensor4d(randomArray(makeRng('models-fold-rx'), 2 * 64 * 64 * 8), [2, 64, 64, 8]);
      const r = tf.randomNormal([2, 3], 0, 1, 'float32', 9);
      const { want, counts } = await compareTraining(plain, fused, x, r, mode.label);
      assert.equal(counts.get('AffectAddRelu') ?? 0, mode.native ? 1 : 0, `${mode.label}: joined adds`);
      // The join read twice keeps its Add and ReLU; the other's ReLU runs only where it is not joined.
      assert.equal(counts.get('Relu') ?? 0, mode.native ? 1 : 2, `${mode.label}: ReLU kernels`);
      const inferred = [foldedApply(fused, x), fused.apply(x) as tf.Tensor];
      assert.ok(relErr(inferred[0].dataSync(), inferred[1].dataSync()) < 1e-5, `${mode.label}: inference`);
      tf.dispose([x, r, ...want, ...inferred]);
      plain.dispose();
      fused.dispose();
    });
  }
});

/**
 * A Keras ResNet stem (zero padding 3 -> 7x7 stride-2 conv -> BN -> ReLU -> zero padding 1 -> 3x3 stride-2 max pool),
 * frozen or trainable, behind a trainable 1x1 convolution (a gradient passes through the stem); a padded max pool of the
 * batch norm's output (values of both signs: its padding must stay); and padding as wide as a pool's window (a window
 * of padding alone: it must stay too).
 */
function buildStemModel(trainable: boolean): tf.LayersModel {
  const input = tf.input({ shape: [20, 20, 3] });
  const pre = conv2d({ filters: 3, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
  const padded = tf.layers.zeroPadding2d({ padding: 3 }).apply(pre) as tf.SymbolicTensor;
  const c = conv2d({ filters: 8, kernelSize: 7, strides: 2, useBias: false, trainable }).apply(padded);
  const bn = batchNorm({ trainable }).apply(c) as tf.SymbolicTensor;
  const relu = tf.layers.reLU().apply(bn) as tf.SymbolicTensor;
  const pool = (t: tf.SymbolicTensor, padding: number, poolSize: number) =>
    tf.layers
      .maxPooling2d({ poolSize, strides: 2, padding: 'valid' })
      .apply(tf.layers.zeroPadding2d({ padding }).apply(t)) as tf.SymbolicTensor;
  const flat = [pool(relu, 1, 3), pool(bn, 1, 3), pool(relu, 2, 2)].map(
    (t) => tf.layers.flatten().apply(t) as tf.SymbolicTensor,
  );
  const joined = tf.layers.concatenate().apply(flat) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3 }).apply(joined) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  setRandomWeights(model, 'models-fold-stem');
  return model;
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`foldedApply on ${backend} runs zero padding as a folded convolution's and a ReLU's max pool's own padding`, async () => {
    await initBackend(backend);
    const x = tf.tensor4d(randomArray(makeRng('models-fold-stem-x'), 2 * 20 * 20 * 3), [2, 20, 20, 3]);
    const r = tf.randomNormal([2, 3], 0, 1, 'float32', 10);
    for (const trainable of [false, true]) {
      const label = `${backend}, ${trainable ? 'trainable' : 'frozen'} stem`;
      const [plain, fused] = [buildStemModel(trainable), buildStemModel(trainable)];
      const want = plain.apply(x) as tf.Tensor;
      const got = foldedApply(fused, x);
      assert.ok(relErr(await got.data(), await want.data()) < 1e-5, `${label}: inference`);
      // Four paddings in the layers; folded, the batch norm's pool's and the one as wide as its window are left.
      const plainCounts = await kernelCounts(() => plain.apply(x) as tf.Tensor);
      const counts = await kernelCounts(() => foldedApply(fused, x));
      assert.equal(plainCounts.get('PadV2'), 4, `${label}: paddings in the layers`);
      assert.equal(counts.get('PadV2'), 2, `${label}: paddings left`);
      // In training the trainable stem runs its padding and convolution as layers; the frozen one folds, and the
      // gradient of the 1x1 convolution before it passes through its explicit padding.
      const { want: wantGrads, counts: trainingCounts } = await compareTraining(plain, fused, x, r, label);
      assert.equal(trainingCounts.get('PadV2'), trainable ? 3 : 2, `${label}: paddings left in training`);
      tf.dispose([want, got, ...wantGrads]);
      plain.dispose();
      fused.dispose();
    }
    tf.dispose([x, r]);
  });
}

test('disposeFoldCache releases each folded filter (setConstantRelease), so the addon can free its copy', async () => {
  await initBackend('cpu');
  const released: number[] = [];
  setConstantRelease((id) => released.push(id));
  try {
    const model = buildStemModel(false);
    const x = tf.tensor4d(randomArray(makeRng('models-fold-release'), 2 * 20 * 20 * 3), [2, 20, 20, 3]);
    const cache: FoldCache = new Map();
    tf.dispose(foldedApply(model, x, { cache }));
    const ids = [...cache.values()].map((f) => constantId(f.filter.dataId));
    assert.equal(ids.length, 1, 'one fold');
    assert.ok(ids[0] > 0, 'its filter is marked constant');
    disposeFoldCache(cache);
    assert.deepEqual(released, ids);
    // A call without a cache releases what it folded too.
    tf.dispose(foldedApply(model, x));
    assert.equal(released.length, 2);
    assert.ok(released[1] > ids[0], 'a new fold, a new id');
    x.dispose();
    model.dispose();
  } finally {
    setConstantRelease(forgetNativeFilter);
  }
});
