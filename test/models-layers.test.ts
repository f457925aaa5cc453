import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import {
  Conv2D,
  Dense,
  constantId,
  conv2d,
  countInPlaceWrite,
  dense,
  inPlaceWrites,
  markConstant,
} from '../lib/models/common';
import { makeRng } from '../lib/random';
import { countingCalls, randomArray as randomFrom, relErr } from './kernel-checks';
import { nativeModes, withNative } from './native-modes';

type Conv2DArgs = Parameters<typeof conv2d>[0];
type DenseArgs = Parameters<typeof dense>[0];

const randomArray = (n: number, seed: number) => randomFrom(makeRng(`conv2d-${seed}`), n);

const CASES: { label: string; args: Conv2DArgs; input: [number, number, number, number] }[] = [
  {
    label: 'a 7x7 stride-2 valid stem with bias',
    args: { filters: 8, kernelSize: 7, strides: 2, padding: 'valid' },
    input: [2, 17, 15, 3],
  },
  {
    label: "a 5x5 'same' convolution with a fused ReLU",
    args: { filters: 6, kernelSize: 5, padding: 'same', activation: 'relu' },
    input: [3, 9, 9, 4],
  },
  {
    label: 'a 3x3 stride-2 same convolution without bias',
    args: { filters: 5, kernelSize: 3, strides: 2, padding: 'same', useBias: false },
    input: [2, 8, 7, 6],
  },
];

/** Dilated: tfjs' path (tfjs has no gradient for dilated convolutions, so the forward pass alone). */
const DILATED: Conv2DArgs = { filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'relu' };

const DENSE_CASES: { label: string; args: DenseArgs; input: number[] }[] = [
  { label: 'a ReLU dense layer', args: { units: 7, activation: 'relu' }, input: [5, 11] },
  { label: 'a linear dense layer without bias', args: { units: 3, useBias: false }, input: [4, 6] },
  { label: 'a softmax dense layer (on tfjs’ path)', args: { units: 4, activation: 'softmax' }, input: [3, 5] },
  { label: 'a dense layer on rank-3 inputs (on tfjs’ path)', args: { units: 2, activation: 'relu' }, input: [2, 3, 5] },
];

interface Outcome {
  y: Float32Array;
  /** The gradients of sum(y * r) for x, then each weight in the layer's order. */
  grads: Float32Array[];
}

/** y = layer(x) and the gradients of sum(y * r) for x and the layer's weights, with fixed random x, r and weights. */
function run(layer: tf.layers.Layer, input: number[], seed: number): Outcome {
  return tf.tidy(() => {
    const x = tf.tensor(randomArray(tf.util.sizeFromShape(input), seed), input);
    layer.build(input);
    layer.setWeights(layer.getWeights().map((w, i) => tf.tensor(randomArray(w.size, seed + 1 + i), w.shape)));
    const y = layer.apply(x) as tf.Tensor;
    const r = tf.tensor(randomArray(y.size, seed + 9), y.shape);
    const xv = tf.variable(x);
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(layer.apply(xv) as tf.Tensor, r)),
      [xv, ...layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val)],
    );
    const names = [xv.name, ...layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val.name)];
    const out = { y: y.dataSync() as Float32Array, grads: names.map((n) => grads[n].dataSync() as Float32Array) };
    xv.dispose();
    return out;
  });
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`Dense gives tfjs' Dense outputs and gradients on ${backend}`, async () => {
    await initBackend(backend);
    const modes = backend === 'wasm' ? nativeModes() : [{ native: false, label: 'cpu' }];
    for (const mode of modes) {
      await withNative(mode.native, () => {
        DENSE_CASES.forEach((c, i) => {
          const ours = run(dense(c.args), c.input, 100 + 10 * i);
          const stock = run(tf.layers.dense(c.args), c.input, 100 + 10 * i);
          const where = `${c.label}, ${mode.label}`;
          assert.ok(relErr(ours.y, stock.y) < 1e-5, `${where}: outputs differ by ${relErr(ours.y, stock.y)}`);
          assert.equal(ours.grads.length, stock.grads.length, where);
          ours.grads.forEach((g, j) => assert.ok(relErr(g, stock.grads[j]) < 1e-4, `${where}: gradient ${j}`));
        });
      });
    }
  });

  test(`Conv2D gives tfjs' Conv2D outputs and gradients on ${backend}`, async () => {
    await initBackend(backend);
    const modes = backend === 'wasm' ? nativeModes() : [{ native: false, label: 'cpu' }];
    for (const mode of modes) {
      await withNative(mode.native, () => {
        CASES.forEach((c, i) => {
          const ours = run(conv2d(c.args), c.input, 10 * i);
          const stock = run(tf.layers.conv2d(c.args), c.input, 10 * i);
          const where = `${c.label}, ${mode.label}`;
          assert.ok(relErr(ours.y, stock.y) < 1e-5, `${where}: outputs differ by ${relErr(ours.y, stock.y)}`);
          assert.equal(ours.grads.length, stock.grads.length, where);
          ours.grads.forEach((g, j) => {
            const e = relErr(g, stock.grads[j]);
            assert.ok(e < 1e-4, `${where}: gradient ${j} differs by ${e}`);
          });
        });
        const dilated = [conv2d(DILATED), tf.layers.conv2d(DILATED)].map((layer) =>
          tf.tidy(() => {
            const x = tf.tensor(randomArray(2 * 9 * 9 * 3, 77), [2, 9, 9, 3]);
            layer.build(x.shape);
            layer.setWeights(layer.getWeights().map((w, i) => tf.tensor(randomArray(w.size, 78 + i), w.shape)));
            return (layer.apply(x) as tf.Tensor).dataSync() as Float32Array;
          }),
        );
        assert.ok(relErr(dilated[0], dilated[1]) < 1e-5, `dilated, ${mode.label}`);
      });
    }
  });
}

test("Conv2D and Dense compute their input's gradient only when backpropagation needs it; tfjs' layers always do", async () => {
  await initBackend('wasm');
  /** `kernel`'s calls in one gradient of the layer's weights, with its input a constant or a variable. */
  const inputGradients = async (layer: tf.layers.Layer, input: number[], kernel: string, xTrainable: boolean) => {
    const x = tf.tensor(randomArray(tf.util.sizeFromShape(input), 1), input);
    layer.build(input);
    const xv = xTrainable ? tf.variable(x) : undefined;
    const [, calls] = await countingCalls(kernel, () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => tf.sum(layer.apply(xv ?? x) as tf.Tensor));
        return Object.keys(grads).length;
      }),
    );
    x.dispose();
    xv?.dispose();
    return calls;
  };
  const convInput = [2, 12, 12, 3];
  const conv: Conv2DArgs = { filters: 4, kernelSize: 3, strides: 2 };
  assert.equal(await inputGradients(conv2d(conv), convInput, 'Conv2DBackpropInput', false), 0);
  assert.equal(await inputGradients(conv2d(conv), convInput, 'Conv2DBackpropInput', true), 1);
  assert.equal(await inputGradients(tf.layers.conv2d(conv), convInput, 'Conv2DBackpropInput', false), 1);
  // Dense: the kernel's gradient is one matrix product, the input's another.
  const fc: DenseArgs = { units: 8, activation: 'relu' };
  assert.equal(await inputGradients(dense(fc), [4, 16], 'BatchMatMul', false), 1);
  assert.equal(await inputGradients(dense(fc), [4, 16], 'BatchMatMul', true), 2);
  assert.equal(await inputGradients(tf.layers.dense(fc), [4, 16], 'BatchMatMul', false), 2);
});

test('a model saved with Conv2D and Dense reads as Keras layers and loads back into these classes', async () => {
  await initBackend('cpu');
  const model = tf.sequential({
    layers: [
      conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, activation: 'relu', name: 'c' }),
      tf.layers.flatten(),
      dense({ units: 3, name: 'd' }),
    ],
  });
  const json = model.toJSON(null, false) as unknown as { config: { layers: { class_name: string }[] } };
  assert.deepEqual(
    json.config.layers.map((l) => l.class_name),
    ['Conv2D', 'Flatten', 'Dense'],
  );
  const back = await tf.models.modelFromJSON({ modelTopology: json });
  assert.ok(back.layers[0] instanceof Conv2D);
  assert.ok(back.layers[2] instanceof Dense);
  model.dispose();
  back.dispose();
});

test('the registered fused-kernel gradients refuse what the layers never run instead of computing a wrong gradient', async () => {
  await initBackend('cpu');
  const x = tf.ones([1, 4, 4, 1]);
  const filter = tf.ones([3, 3, 1, 2]);
  const conv = (attrs: Record<string, unknown>) => () =>
    tf.grad((t: tf.Tensor) =>
      tf.sum(
        tf.engine().runKernel<tf.Tensor>(
          'FusedConv2D',
          { x: t, filter },
          {
            strides: [1, 1],
            pad: 'same',
            dataFormat: 'NHWC',
            dilations: [1, 1],
            activation: 'linear',
            ...attrs,
          },
        ),
      ),
    )(x);
  assert.throws(conv({ activation: 'elu' }), /activation elu is not supported/);
  assert.throws(conv({ dilations: [2, 2] }), /only undilated NHWC convolutions/);
  const g = conv({})();
  assert.deepEqual(g.shape, [1, 4, 4, 1]);
  const a = tf.ones([1, 3, 2]);
  const b = tf.ones([1, 3, 4]);
  assert.throws(
    () =>
      tf.grad((t: tf.Tensor) =>
        tf.sum(
          tf.engine().runKernel<tf.Tensor>(
            '_FusedMatMul',
            { a: t, b },
            {
              transposeA: true,
              transposeB: false,
              activation: 'linear',
            },
          ),
        ),
      )(a),
    /only untransposed products/,
  );
  tf.dispose([x, filter, g, a, b]);
});

test('markConstant gives each buffer one id, never reused; a write in place takes it back (constantId 0)', () => {
  const [a, b] = [tf.tensor1d([1, 2]), tf.tensor1d([3, 4])];
  assert.equal(constantId(a.dataId), 0, 'not marked');
  markConstant(a);
  markConstant(b);
  const idA = constantId(a.dataId);
  assert.ok(idA > 0);
  assert.notEqual(constantId(b.dataId), idA);
  markConstant(a);
  assert.equal(constantId(a.dataId), idA, 'marking again keeps the id');
  const c = tf.tensor1d([5, 6]);
  markConstant(c);
  assert.ok(![idA, constantId(b.dataId)].includes(constantId(c.dataId)), 'a later buffer gets a new id');
  assert.equal(inPlaceWrites(b), 0);
  countInPlaceWrite(b);
  countInPlaceWrite(b);
  assert.equal(inPlaceWrites(b), 2);
  assert.equal(constantId(b.dataId), 0, 'written in place: no longer constant');
  tf.dispose([a, b, c]);
});
