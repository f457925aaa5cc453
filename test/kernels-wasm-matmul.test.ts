/**
 * wasm's BatchMatMul and _FusedMatMul (native matrix products where the addon is built, else the stock kernels) against the cpu
 * backend: every transposed form, odd sizes, batches, bias and ReLU fusion, and the calls that go to the stock kernel.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { makeRng, normal, type Rng } from '../lib/random';
import { takeStockFallbacks } from '../lib/kernels/wasm';
import { nativeModes, withNative } from './native-modes';
import { relErr } from './kernel-checks';

/** fn's output shape and values on one backend, with the stock fallbacks it took there (wasm). */
async function on(
  name: 'cpu' | 'wasm',
  fn: () => tf.Tensor,
): Promise<{ shape: number[]; values: Float32Array; fallbacks: Map<string, number> }> {
  await initBackend(name);
  takeStockFallbacks();
  const t = tf.tidy(fn);
  const fallbacks = takeStockFallbacks();
  const r = { shape: t.shape, values: t.dataSync() as Float32Array, fallbacks };
  t.dispose();
  return r;
}

const values = (rng: Rng, shape: number[]) =>
  Float32Array.from({ length: tf.util.sizeFromShape(shape) }, () => normal(rng));

/** The operand shapes for [M, K] x [K, N] with the given batch dimensions and transposes. */
function shapes(
  batchA: number[],
  batchB: number[],
  M: number,
  K: number,
  N: number,
  ta: boolean,
  tb: boolean,
): [number[], number[]] {
  return [
    [...batchA, ...(ta ? [K, M] : [M, K])],
    [...batchB, ...(tb ? [N, K] : [K, N])],
  ];
}

const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];
/**
 * [M, K, N]: ones, dot products (the addon's Dot; the long one split over its threads), odd sizes, the dense layer's
 * shapes scaled down (rows 64, a long K).
 */
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [1, 257, 1],
  [1, 70001, 1],
  [7, 33, 129],
  [129, 7, 33],
  [33, 129, 1],
  [64, 130, 7],
];
/** Batch dimensions of a and b: none, equal, one side shared (with or without its own batch axes). */
const BATCHES: [number[], number[]][] = [
  [[], []],
  [[3], [3]],
  [
    [2, 3],
    [2, 3],
  ],
  [[3], []],
  [[], [4]],
  [[1], [4]],
  [[2, 2], [1]],
];

test('wasm BatchMatMul matches cpu in every transposed form, odd sizes and batches (native and wasm-only)', async () => {
  const rng = makeRng('kernels-wasm-matmul');
  for (const mode of nativeModes()) {
    for (const [batchA, batchB] of BATCHES) {
      for (const [M, K, N] of SIZES) {
        for (const [ta, tb] of TRANSPOSES) {
          const [sa, sb] = shapes(batchA, batchB, M, K, N, ta, tb);
          const av = values(rng, sa);
          const bv = values(rng, sb);
          const run = () => tf.matMul(tf.tensor(av, sa), tf.tensor(bv, sb), ta, tb);
          const ref = await on('cpu', run);
          const got = await withNative(mode.native, () => on('wasm', run));
          const label = `${mode.label}: a ${JSON.stringify(sa)} b ${JSON.stringify(sb)} transposeA ${ta} transposeB ${tb}`;
          assert.deepEqual(got.shape, ref.shape, label);
          const e = relErr(got.values, ref.values);
          // The cpu kernel sums a long K in float, one term after another: its own error grows with K.
          assert.ok(e < (K > 10_000 ? 1e-4 : 1e-5), `${label}: relative error ${e}`);
          assert.equal(got.fallbacks.get('BatchMatMul') ?? 0, mode.native ? 0 : 1, `${label}: stock fallbacks`);
        }
      }
    }
  }
});

test('wasm _FusedMatMul matches cpu with bias and ReLU fused (native) and other activations (stock)', async () => {
  const rng = makeRng('kernels-wasm-fused-matmul');
  const configs: {
    batch: number[];
    M: number;
    K: number;
    N: number;
    bias?: number[];
    activation: tf.fused.Activation;
    native: boolean;
  }[] = [
    { batch: [], M: 64, K: 33, N: 129, bias: [129], activation: 'relu', native: true },
    { batch: [], M: 7, K: 129, N: 33, bias: [33], activation: 'linear', native: true },
    { batch: [], M: 1, K: 7, N: 1, activation: 'relu', native: true },
    { batch: [3], M: 7, K: 33, N: 5, bias: [5], activation: 'relu', native: true },
    { batch: [2], M: 33, K: 7, N: 129, activation: 'linear', native: true },
    { batch: [], M: 7, K: 33, N: 5, bias: [5], activation: 'elu', native: false },
    { batch: [], M: 7, K: 33, N: 5, bias: [5], activation: 'sigmoid', native: false },
    { batch: [], M: 7, K: 33, N: 5, activation: 'relu6', native: false },
    { batch: [], M: 7, K: 33, N: 5, bias: [5], activation: 'leakyrelu', native: false },
    { batch: [], M: 7, K: 33, N: 5, bias: [5], activation: 'prelu', native: false },
  ];
  for (const mode of nativeModes()) {
    for (const cfg of configs) {
      // The stock kernel adds a bias at the right places only in a single untransposed product (tfjs 4.22): what
      // dense layers ask for.
      const stock = !mode.native || !cfg.native;
      const stockRight = ([ta, tb]: [boolean, boolean]) => !cfg.bias || (cfg.batch.length === 0 && !ta && !tb);
      for (const [ta, tb] of TRANSPOSES.filter((t) => !stock || stockRight(t))) {
        const [sa, sb] = shapes(cfg.batch, cfg.batch, cfg.M, cfg.K, cfg.N, ta, tb);
        const av = values(rng, sa);
        const bv = values(rng, sb);
        const biasV = cfg.bias && values(rng, cfg.bias);
        const alphas = values(rng, [cfg.N]);
        const run = () =>
          tf.fused.matMul({
            a: tf.tensor(av, sa),
            b: tf.tensor(bv, sb),
            transposeA: ta,
            transposeB: tb,
            bias: biasV && tf.tensor(biasV, cfg.bias),
            activation: cfg.activation,
            preluActivationWeights: cfg.activation === 'prelu' ? tf.tensor(alphas) : undefined,
            leakyreluAlpha: 0.3,
          });
        const ref = await on('cpu', run);
        const got = await withNative(mode.native, () => on('wasm', run));
        const label = `${mode.label}: ${JSON.stringify(cfg)} transposeA ${ta} transposeB ${tb}`;
        assert.deepEqual(got.shape, ref.shape, label);
        const e = relErr(got.values, ref.values);
        assert.ok(e < 1e-5, `${label}: relative error ${e}`);
        assert.equal(got.fallbacks.get('_FusedMatMul') ?? 0, stock ? 1 : 0, `${label}: stock fallbacks`);
      }
    }
  }
});

test('int32 operands, biases not along the columns and batch broadcasts between two batches take the stock kernels', async () => {
  for (const mode of nativeModes()) {
    await initBackend('wasm');
    await withNative(mode.native, () => {
      takeStockFallbacks();
      // The stock kernels refuse these, and say why.
      const ints = tf.tensor(
        [
          [1, 2],
          [3, 4],
        ],
        undefined,
        'int32',
      );
      assert.throws(() => tf.matMul(ints, ints), /non-float32/);
      const x = tf.ones([2, 3]);
      const w = tf.ones([3, 4]);
      assert.throws(() => tf.fused.matMul({ a: x, b: w, bias: tf.ones([2, 4]) }), /rank-1 bias/);
      // [2,1] against [1,2] batches broadcast to 4 products; only equal batches or a batch of 1 are covered.
      tf.matMul(tf.ones([2, 1, 2, 3]), tf.ones([1, 2, 3, 4])).dispose();
      assert.deepEqual(
        [...takeStockFallbacks()].sort(),
        [
          ['BatchMatMul', 2],
          ['_FusedMatMul', 1],
        ],
        mode.label,
      );
      tf.dispose([ints, x, w]);
    });
  }
});

test('empty operands take the stock kernel', async () => {
  for (const mode of nativeModes()) {
    const r = await withNative(mode.native, () => on('wasm', () => tf.matMul(tf.ones([0, 3]), tf.ones([3, 4]))));
    assert.deepEqual(r.shape, [0, 4]);
    assert.equal(r.fallbacks.get('BatchMatMul'), 1, mode.label);
  }
});
