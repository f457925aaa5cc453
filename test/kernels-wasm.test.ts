import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { makeRng, normal } from '../lib/random';
import {
  WASM_TRAINING_KERNELS,
  conv2DBackpropFilterInfo,
  conv2DBackpropInputInfo,
  registerWasmTrainingKernels,
  takeStockFallbacks,
  type WasmBackendLike,
} from '../lib/kernels/wasm';
import { NATIVE_SAME_SHAPE_MIN } from '../lib/kernels/native-dispatch';
import { loadNativeConv } from '../lib/kernels/native';
import { heap } from '../lib/kernels/wasm-memory';
import { countInPlaceWrite, markConstant, releaseConstant } from '../lib/models/common';
import { nativeModes, withNative } from './native-modes';
import { dilateFilter, randomArray, relErr, undilateGrad, type ConvCase, type Pad, type Shape4 } from './kernel-checks';

/** Runs fn on the named backend and returns its outputs as plain arrays. */
async function on(name: 'cpu' | 'wasm', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await initBackend(name);
  const outs = tf.tidy(fn);
  const values = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return values;
}

function cases(): ConvCase[] {
  const out: ConvCase[] = [];
  const pads: Pad[] = [
    'valid',
    'same',
    [
      [0, 0],
      [1, 2],
      [2, 1],
      [0, 0],
    ],
  ];
  for (const k of [1, 3, 5, 7]) {
    for (const s of [1, 2]) {
      for (const pad of pads) {
        for (const d of [1, 2]) {
          // tfjs forbids strides and dilations above 1 together.
          if (s > 1 && d > 1) continue;
          out.push({ x: [2, 14, 13, 3], k, co: 4, s, pad, d });
        }
      }
    }
  }
  // Wider channels, as in the ResNets' later stages.
  out.push(
    { x: [1, 9, 9, 16], k: 3, co: 8, s: 2, pad: 'same', d: 1 },
    { x: [3, 8, 8, 16], k: 1, co: 32, s: 1, pad: 'valid', d: 1 },
  );
  return out;
}

test('wasm conv2d gradient kernels match the cpu kernels (relative error < 1e-4), native and wasm-only', async () => {
  for (const mode of nativeModes()) await withNative(mode.native, () => checkGradients(mode.label));
});

async function checkGradients(path: string): Promise<void> {
  await initBackend('wasm');
  const rng = makeRng('kernels-wasm-conv');
  for (const c of cases()) {
    const label = `${path}: x ${c.x.join(',')} k ${c.k} co ${c.co} s ${c.s} pad ${JSON.stringify(c.pad)} d ${c.d}`;
    const fShape: Shape4 = [c.k, c.k, c.x[3], c.co];
    const info = tf.backend_util.computeConv2DInfo(c.x, fShape, c.s, c.d, c.pad);
    const xv = randomArray(rng, tf.util.sizeFromShape(c.x));
    const fv = randomArray(rng, tf.util.sizeFromShape(fShape));
    const dyv = randomArray(rng, tf.util.sizeFromShape(info.outShape));
    // cpu reference; a dilated layer is checked through its zero-inserted (undilated) equivalent.
    const big = dilateFilter(fv, fShape, c.d);
    const [refDw, refDx] = await on('cpu', () => {
      const x = tf.tensor4d(xv, c.x);
      const dy = tf.tensor4d(dyv, info.outShape);
      const f = tf.tensor4d(big.values, big.shape);
      const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap;
      return [
        tf.engine().runKernel<tf.Tensor>('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: big.shape }),
        tf.engine().runKernel<tf.Tensor>('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape: c.x }),
      ];
    });
    const [dw, dx] = await on('wasm', () => {
      const x = tf.tensor4d(xv, c.x);
      const dy = tf.tensor4d(dyv, info.outShape);
      const f = tf.tensor4d(fv, fShape);
      if (c.d === 1) {
        // The registered kernels, as gradients reach them.
        const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap;
        return [
          tf.engine().runKernel<tf.Tensor>('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: fShape }),
          tf.engine().runKernel<tf.Tensor>('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape: c.x }),
        ];
      }
      // tfjs passes no dilation to gradient kernels; the functions support it for dilated layers.
      const backend = tf.backend() as unknown as WasmBackendLike;
      return [
        tf.engine().makeTensorFromTensorInfo(conv2DBackpropFilterInfo(backend, x, dy, info)),
        tf.engine().makeTensorFromTensorInfo(conv2DBackpropInputInfo(backend, dy, f, info)),
      ];
    });
    const eW = relErr(dw, c.d === 1 ? refDw : undilateGrad(refDw, fShape, c.d));
    const eX = relErr(dx, refDx);
    assert.ok(eW < 1e-4, `Conv2DBackpropFilter ${label}: relative error ${eW}`);
    assert.ok(eX < 1e-4, `Conv2DBackpropInput ${label}: relative error ${eX}`);
  }
}

test('wasm Conv2D and FusedConv2D (bias, relu) match the cpu kernels, native and wasm-only', async () => {
  const rng = makeRng('kernels-wasm-forward');
  for (const mode of nativeModes()) {
    for (const c of cases()) {
      const label = `${mode.label}: x ${c.x.join(',')} k ${c.k} co ${c.co} s ${c.s} pad ${JSON.stringify(c.pad)} d ${c.d}`;
      const fShape: Shape4 = [c.k, c.k, c.x[3], c.co];
      const xv = randomArray(rng, tf.util.sizeFromShape(c.x));
      const fv = randomArray(rng, tf.util.sizeFromShape(fShape));
      const bv = randomArray(rng, c.co);
      const run = () => {
        const x = tf.tensor4d(xv, c.x);
        const f = tf.tensor4d(fv, fShape);
        const bias = tf.tensor1d(bv);
        return [
          tf.conv2d(x, f, c.s, c.pad, 'NHWC', c.d),
          tf.fused.conv2d({ x, filter: f, strides: c.s, pad: c.pad, dilations: c.d, bias, activation: 'relu' }),
          tf.fused.conv2d({ x, filter: f, strides: c.s, pad: c.pad, dilations: c.d, bias }),
        ];
      };
      const ref = await on('cpu', run);
      const got = await withNative(mode.native, () => on('wasm', run));
      ['Conv2D', 'FusedConv2D relu', 'FusedConv2D linear'].forEach((name, i) => {
        const e = relErr(got[i], ref[i]);
        assert.ok(e < 1e-4, `${name} ${label}: relative error ${e}`);
      });
    }
  }
});

test('native convolutions over several im2col chunks match the wasm-only path', async (t) => {
  if (!nativeModes()[0].native) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  await initBackend('wasm');
  // 64x64x16 images with a 3x3 filter make 0.6M-float im2col rows per image: three images per 2M-float chunk, so a
  // batch of 5 takes two chunks (offsets past the first image, accumulated filter gradient, col2im per chunk).
  const rng = makeRng('kernels-native-chunks');
  const xShape: Shape4 = [5, 64, 64, 16];
  const fShape: Shape4 = [3, 3, 16, 8];
  const xv = randomArray(rng, tf.util.sizeFromShape(xShape));
  const fv = randomArray(rng, tf.util.sizeFromShape(fShape));
  const dyv = randomArray(rng, 5 * 64 * 64 * 8);
  const run = () => {
    const x = tf.tensor4d(xv, xShape);
    const f = tf.tensor4d(fv, fShape);
    const dy = tf.tensor4d(dyv, [5, 64, 64, 8]);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap;
    return [
      tf.conv2d(x, f, 1, 'same'),
      tf.engine().runKernel<tf.Tensor>('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: fShape }),
      tf.engine().runKernel<tf.Tensor>('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape: xShape }),
    ];
  };
  const ref = await withNative(false, () => on('wasm', run));
  const got = await withNative(true, () => on('wasm', run));
  ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput'].forEach((name, i) => {
    const e = relErr(got[i], ref[i]);
    assert.ok(e < 1e-4, `${name} over chunks: relative error ${e}`);
  });
});

test('empty tensors and non-vector biases take the stock kernels, with or without the addon', async () => {
  for (const mode of nativeModes()) {
    const shapes = await withNative(mode.native, () =>
      on('wasm', () =>
        [
          tf.conv2d(tf.zeros<tf.Rank.R4>([0, 5, 5, 2]), tf.ones<tf.Rank.R4>([3, 3, 2, 4]), 1, 'same'),
          tf.sum(tf.zeros([3, 0]), 0),
          tf.mean(tf.zeros([0, 4]), 0),
          tf.mul(tf.zeros([0, 6]), tf.ones([6])),
          tf.sqrt(tf.zeros([2, 0])),
        ].map((r) => tf.tensor(r.shape)),
      ),
    );
    assert.deepEqual(
      shapes.map((s) => Array.from(s)),
      [[0, 5, 5, 4], [0], [4], [0, 6], [2, 0]],
      mode.label,
    );
    // A [4, 1] bias broadcasts by shape, not per channel: the stock kernel refuses it, and so must we.
    await initBackend('wasm');
    await withNative(mode.native, () =>
      assert.throws(() =>
        tf.fused.conv2d({
          x: tf.ones<tf.Rank.R4>([1, 4, 4, 4]),
          filter: tf.ones<tf.Rank.R4>([1, 1, 4, 4]),
          strides: 1,
          pad: 'valid',
          bias: tf.ones([4, 1]),
        }),
      ),
    );
  }
});

test('wasm Sum and Mean match cpu over a run of axes (native), runs to the last axis, other axes and int32 (stock)', async () => {
  const rng = makeRng('kernels-wasm-reduce');
  // `stock`: the calls wasm's own kernels take even with the addon.
  const configs: {
    shape: number[];
    axis?: number | number[];
    keepDims: boolean;
    dtype: 'float32' | 'int32';
    stock?: true;
  }[] = [
    { shape: [4, 7, 6, 5], axis: [0, 1, 2], keepDims: false, dtype: 'float32' },
    { shape: [4, 7, 6, 5], axis: [2, 0, 1], keepDims: true, dtype: 'float32' },
    { shape: [300, 3], axis: 0, keepDims: false, dtype: 'float32' },
    // Narrow rows (one channel, three), taken several at a time by the addon.
    { shape: [24, 11, 1], axis: [0, 1], keepDims: false, dtype: 'float32' },
    { shape: [5, 9, 7, 3], axis: [0, 1, 2], keepDims: true, dtype: 'float32' },
    { shape: [3, 4, 5], axis: -3, keepDims: false, dtype: 'float32' },
    { shape: [3, 4, 5], keepDims: false, dtype: 'float32' },
    // A global average pooling (axes 1 and 2): one native call per image; kept dimensions too.
    { shape: [4, 7, 6, 50], axis: [1, 2], keepDims: false, dtype: 'float32' },
    { shape: [3, 5, 4, 64], axis: [2, 1], keepDims: true, dtype: 'float32' },
    // Too little per call (stock): 4 x 5 values an image.
    { shape: [4, 7, 6, 5], axis: [1, 2], keepDims: false, dtype: 'float32', stock: true },
    // Runs to the last axis, and axes that are not one run (stock).
    { shape: [4, 7, 60], axis: [1, 2], keepDims: false, dtype: 'float32', stock: true },
    { shape: [4, 7, 6, 50], axis: [0, 2], keepDims: true, dtype: 'float32', stock: true },
    { shape: [6, 5], axis: 0, keepDims: false, dtype: 'int32', stock: true },
  ];
  for (const mode of nativeModes()) {
    for (const cfg of configs) {
      const values = Array.from({ length: tf.util.sizeFromShape(cfg.shape) }, () =>
        cfg.dtype === 'int32' ? Math.round(normal(rng) * 10) : normal(rng) + 3,
      );
      const run = async (backend: 'cpu' | 'wasm') => {
        await initBackend(backend);
        const x = tf.tensor(values, cfg.shape, cfg.dtype);
        const outs = [tf.sum(x, cfg.axis, cfg.keepDims), tf.mean(x, cfg.axis, cfg.keepDims)];
        const r = outs.map((t) => ({ shape: t.shape, dtype: t.dtype, values: t.dataSync() }));
        tf.dispose([x, ...outs]);
        return r;
      };
      const ref = await run('cpu');
      takeStockFallbacks();
      const got = await withNative(mode.native, () => run('wasm'));
      const label = `${mode.label}: ${JSON.stringify(cfg)}`;
      const fallbacks = takeStockFallbacks();
      const stock = (fallbacks.get('Sum') ?? 0) + (fallbacks.get('Mean') ?? 0);
      assert.equal(stock, mode.native && !cfg.stock ? 0 : 2, `stock Sum and Mean calls, ${label}`);
      got.forEach((g, i) => {
        const name = i === 0 ? 'Sum' : 'Mean';
        assert.deepEqual(g.shape, ref[i].shape, `${name} shape ${label}`);
        assert.equal(g.dtype, ref[i].dtype, `${name} dtype ${label}`);
        const e = relErr(g.values, ref[i].values);
        assert.ok(e < 1e-6, `${name} ${label}: relative error ${e}`);
      });
    }
  }
});

test('wasm Add, Sub, Multiply and RealDiv match cpu for channel broadcasts and large same-shape or scalar operands (native) and other shapes (stock)', async () => {
  const rng = makeRng('kernels-wasm-binary');
  const pairs: [number[], number[]][] = [
    [[4, 5, 3, 6], [6]],
    [
      [1, 1, 1, 6],
      [4, 5, 3, 6],
    ],
    [[6], [2, 3, 6]],
    [
      [5, 3],
      [1, 3],
    ],
    [
      [2, 3, 4],
      [3, 4],
    ],
    [[2, 3, 4], []],
    [
      [2, 3, 4],
      [2, 3, 4],
    ],
    [
      [2, 1, 4],
      [2, 3, 1],
    ],
    // Large enough for the addon to split them over its threads.
    [
      [3, 170, 130],
      [3, 170, 130],
    ],
    [[700, 3, 64], [64]],
    [[3, 170, 130], []],
    [
      [1, 1, 1],
      [3, 170, 130],
    ],
  ];
  const ops = { Add: tf.add, Sub: tf.sub, Multiply: tf.mul, RealDiv: tf.div } as const;
  for (const mode of nativeModes()) {
    for (const [sa, sb] of pairs) {
      // Divisors away from zero, so the relative error stays meaningful.
      const av = Array.from({ length: tf.util.sizeFromShape(sa) }, () => normal(rng) + 3);
      const bv = Array.from({ length: tf.util.sizeFromShape(sb) }, () => normal(rng) + 3);
      for (const [name, op] of Object.entries(ops)) {
        const run = () => [op(tf.tensor(av, sa), tf.tensor(bv, sb))];
        const [ref] = await on('cpu', run);
        takeStockFallbacks();
        const [got] = await withNative(mode.native, () => on('wasm', run));
        const e = relErr(got, ref);
        assert.ok(e < 1e-6, `${name} ${mode.label} ${JSON.stringify(sa)} ${JSON.stringify(sb)}: relative error ${e}`);
        // Channel vectors, and same-shape or scalar operands from NATIVE_SAME_SHAPE_MIN elements, take the addon.
        const [na, nb] = [sa, sb].map((s) => tf.util.sizeFromShape(s));
        const sameOrScalar = tf.util.arraysEqual(sa, sb) || na === 1 || nb === 1;
        const large = sameOrScalar && Math.max(na, nb) >= NATIVE_SAME_SHAPE_MIN;
        const channels = [sa, sb].some((s) => s.length === 1 && s[0] === 64);
        if (mode.native && (large || channels))
          assert.equal(
            takeStockFallbacks().get(name),
            undefined,
            `${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`,
          );
      }
    }
    const ints = await withNative(mode.native, () =>
      on('wasm', () => [
        tf.sub(
          tf.tensor(
            [
              [5, 7],
              [9, 11],
            ],
            undefined,
            'int32',
          ),
          tf.tensor([1, 2], undefined, 'int32'),
        ),
      ]),
    );
    assert.deepEqual(Array.from(ints[0]), [4, 5, 8, 9]);
  }
});

test('wasm FusedBatchNorm matches cpu with channel statistics (native) and others (stock)', async () => {
  const rng = makeRng('kernels-wasm-batchnorm');
  const x = [4, 5, 3, 6];
  const configs: { stats: number[]; offset: boolean; scale: boolean }[] = [
    { stats: [6], offset: true, scale: true },
    { stats: [1, 1, 1, 6], offset: true, scale: true },
    { stats: [6], offset: false, scale: false },
    { stats: [4, 5, 3, 6], offset: true, scale: false },
  ];
  const values = (shape: number[], shift: number) =>
    Array.from({ length: tf.util.sizeFromShape(shape) }, () => normal(rng) + shift);
  for (const mode of nativeModes()) {
    for (const cfg of configs) {
      // A large mean with a small spread: a formula that cancels badly (x * a + b) would show here.
      const xv = values(x, 1e4);
      const [mean, variance, offset, scale] = [
        values(cfg.stats, 1e4),
        values(cfg.stats, 3).map(Math.abs),
        values(cfg.stats, 0),
        values(cfg.stats, 1),
      ];
      const t = (v: number[], shape: number[]): tf.Tensor4D => {
        const r: tf.Tensor = tf.tensor(v, shape);
        return r as tf.Tensor4D;
      };
      const run = () => [
        tf.batchNorm(
          t(xv, x),
          t(mean, cfg.stats),
          t(variance, cfg.stats),
          cfg.offset ? t(offset, cfg.stats) : undefined,
          cfg.scale ? t(scale, cfg.stats) : undefined,
          1e-3,
        ),
      ];
      const [ref] = await on('cpu', run);
      const [got] = await withNative(mode.native, () => on('wasm', run));
      const e = relErr(got, ref);
      assert.ok(e < 1e-5, `FusedBatchNorm ${mode.label} ${JSON.stringify(cfg)}: relative error ${e}`);
    }
  }
});

test('wasm MaxPool and MaxPoolGrad match cpu, also where window maxima are zero or negative', async () => {
  const rng = makeRng('kernels-wasm-maxpool');
  const configs: { shape: Shape4; size: number; s: number; pad: 'valid' | 'same' }[] = [
    { shape: [2, 8, 8, 5], size: 2, s: 2, pad: 'valid' },
    { shape: [2, 9, 7, 3], size: 3, s: 2, pad: 'same' },
    { shape: [1, 10, 10, 4], size: 3, s: 1, pad: 'same' },
    // Windows that tile the image, some reaching into the padding; windows that leave pixels out (an odd size with
    // 'valid', a stride longer than the window): the addon writes tiled gradients without zeroing dx first.
    { shape: [2, 7, 9, 8], size: 2, s: 2, pad: 'same' },
    { shape: [2, 7, 9, 6], size: 2, s: 2, pad: 'valid' },
    { shape: [1, 11, 11, 5], size: 2, s: 3, pad: 'valid' },
    // Enough images (and output rows) for the addon to split them over its threads.
    { shape: [6, 24, 24, 32], size: 2, s: 2, pad: 'valid' },
    { shape: [6, 24, 24, 32], size: 3, s: 2, pad: 'same' },
  ];
  for (const mode of nativeModes())
    for (const cfg of configs) {
      // Negative inputs and all-zero regions (as after a ReLU) are where the stock wasm kernel misroutes.
      const xv = randomArray(rng, tf.util.sizeFromShape(cfg.shape)).map((v, i) => (i % 5 === 0 ? 0 : v - 1.5));
      const grad = (): tf.Tensor[] => {
        const x = tf.tensor4d(xv, cfg.shape);
        const pooled = tf.maxPool(x, cfg.size, cfg.s, cfg.pad);
        // Distinct weights per output, so a gradient routed to the wrong window shows.
        const loss = (t: tf.Tensor) => {
          const y = tf.maxPool(t as tf.Tensor4D, cfg.size, cfg.s, cfg.pad);
          return y.mul(tf.range(1, 1 + y.size).reshape(y.shape)).sum();
        };
        return [pooled, tf.grad(loss)(x)];
      };
      const [refPool, ref] = await on('cpu', grad);
      const [gotPool, got] = await withNative(mode.native, () => on('wasm', grad));
      assert.deepEqual(gotPool, refPool, `MaxPool ${mode.label} ${JSON.stringify(cfg)}`);
      const e = relErr(got, ref);
      assert.ok(e < 1e-6, `MaxPoolGrad ${mode.label} ${JSON.stringify(cfg)}: relative error ${e}`);
    }
});

test('wasm Tile matches cpu for broadcast patterns, ranks 1-5 and int32', async () => {
  const rng = makeRng('kernels-wasm-tile');
  const configs: { shape: number[]; reps: number[]; dtype: 'float32' | 'int32' }[] = [
    { shape: [1, 1, 1, 5], reps: [2, 3, 4, 1], dtype: 'float32' },
    { shape: [2, 3], reps: [3, 2], dtype: 'float32' },
    { shape: [4], reps: [5], dtype: 'int32' },
    { shape: [2, 1, 3, 1, 2], reps: [1, 4, 1, 3, 2], dtype: 'float32' },
    { shape: [3, 2], reps: [1, 1], dtype: 'int32' },
  ];
  for (const cfg of configs) {
    const values = Array.from({ length: tf.util.sizeFromShape(cfg.shape) }, () => Math.round(normal(rng) * 100));
    const run = () => [tf.tile(tf.tensor(values, cfg.shape, cfg.dtype), cfg.reps)];
    const [ref] = await on('cpu', run);
    await initBackend('wasm');
    const t = tf.tile(tf.tensor(values, cfg.shape, cfg.dtype), cfg.reps);
    assert.deepEqual(
      t.shape,
      cfg.shape.map((d, i) => d * cfg.reps[i]),
    );
    assert.deepEqual(Array.from(t.dataSync()), Array.from(ref), `Tile ${JSON.stringify(cfg)}`);
    t.dispose();
  }
});

test('wasm PadV2 matches cpu: spatial, channel and leading pads, uneven sides, a fill value, int32 and bool, empty', async () => {
  const rng = makeRng('kernels-wasm-pad');
  const configs: { shape: number[]; pads: [number, number][]; value: number; dtype: 'float32' | 'int32' | 'bool' }[] = [
    // ZeroPadding2D of an RGB batch (ResNet-50's stem) and of a feature map.
    {
      shape: [2, 5, 4, 3],
      pads: [
        [0, 0],
        [3, 3],
        [3, 3],
        [0, 0],
      ],
      value: 0,
      dtype: 'float32',
    },
    {
      shape: [1, 4, 4, 8],
      pads: [
        [0, 0],
        [1, 2],
        [0, 1],
        [0, 0],
      ],
      value: 0,
      dtype: 'float32',
    },
    {
      shape: [2, 3, 3, 2],
      pads: [
        [1, 0],
        [0, 0],
        [2, 1],
        [1, 1],
      ],
      value: 7,
      dtype: 'int32',
    },
    { shape: [6], pads: [[2, 3]], value: -1.5, dtype: 'float32' },
    {
      shape: [3, 4],
      pads: [
        [0, 0],
        [0, 0],
      ],
      value: 0,
      dtype: 'float32',
    },
    {
      shape: [2, 3],
      pads: [
        [1, 1],
        [0, 2],
      ],
      value: 1,
      dtype: 'bool',
    },
    {
      shape: [0, 3],
      pads: [
        [1, 0],
        [1, 1],
      ],
      value: 4,
      dtype: 'float32',
    },
  ];
  for (const cfg of configs) {
    const values = Array.from({ length: tf.util.sizeFromShape(cfg.shape) }, () => Math.round(normal(rng) * 100));
    const run = () => [tf.pad(tf.tensor(values, cfg.shape, cfg.dtype), cfg.pads, cfg.value)];
    const [ref] = await on('cpu', run);
    await initBackend('wasm');
    const t = run()[0];
    assert.deepEqual(
      t.shape,
      cfg.shape.map((d, i) => cfg.pads[i][0] + d + cfg.pads[i][1]),
    );
    assert.deepEqual(Array.from(t.dataSync()), Array.from(ref), `PadV2 ${JSON.stringify(cfg)}`);
    t.dispose();
  }
});

test('wasm Reverse matches cpu: the last axis by rows (any rank, int32 and bool too), other axes by the stock kernel', async () => {
  const rng = makeRng('kernels-wasm-reverse');
  const configs: { shape: number[]; axis: number | number[]; dtype: 'float32' | 'int32' | 'bool' }[] = [
    { shape: [2, 4, 4, 3], axis: -1, dtype: 'float32' },
    { shape: [2, 4, 4, 3], axis: [3], dtype: 'int32' },
    { shape: [7], axis: 0, dtype: 'float32' },
    { shape: [3, 5], axis: 1, dtype: 'bool' },
    { shape: [2, 4, 3], axis: 1, dtype: 'float32' },
    { shape: [2, 4, 3], axis: [0, 2], dtype: 'float32' },
  ];
  for (const cfg of configs) {
    const values = Array.from({ length: tf.util.sizeFromShape(cfg.shape) }, () => Math.round(normal(rng) * 100));
    const make = () =>
      tf.tensor(cfg.dtype === 'bool' ? values.map((v) => (v > 0 ? 1 : 0)) : values, cfg.shape, cfg.dtype);
    await initBackend('cpu');
    const ref = tf.tidy(() => tf.reverse(make(), cfg.axis).dataSync());
    await initBackend('wasm');
    takeStockFallbacks();
    const got = tf.tidy(() => tf.reverse(make(), cfg.axis).dataSync());
    const stock = takeStockFallbacks().get('Reverse') ?? 0;
    assert.deepEqual(Array.from(got), Array.from(ref), `Reverse ${JSON.stringify(cfg)}`);
    const lastAxisOnly = [cfg.axis].flat().every((a) => a === -1 || a === cfg.shape.length - 1);
    assert.equal(stock, lastAxisOnly ? 0 : 1, `Reverse ${JSON.stringify(cfg)}: stock kernel calls`);
  }
});

test('wasm Sqrt matches cpu, negative inputs (NaN) included', async () => {
  const rng = makeRng('kernels-wasm-sqrt');
  const values = Array.from({ length: 1031 }, (_, i) => (i % 97 === 0 ? -1 : Math.abs(normal(rng)) * 100));
  const notNaN = (a: Float32Array) => a.map((v) => (Number.isNaN(v) ? 0 : v));
  for (const mode of nativeModes()) {
    const run = () => [tf.sqrt(tf.tensor(values, [1031]))];
    const [ref] = await on('cpu', run);
    const [got] = await withNative(mode.native, () => on('wasm', run));
    assert.deepEqual(Array.from(got, Number.isNaN), Array.from(ref, Number.isNaN), mode.label);
    const e = relErr(notNaN(got), notNaN(ref));
    assert.ok(e < 1e-6, `Sqrt ${mode.label}: relative error ${e}`);
  }
});

test('wasm Relu matches cpu natively, on the threads too (NaN stays NaN); small and int32 tensors take the stock kernel', async () => {
  const rng = makeRng('kernels-wasm-relu');
  // Long enough to be split over the addon's threads.
  const n = 300_007;
  // NaN and -0 (tfjs' relu gives 0) among ordinary values.
  const values = Array.from({ length: n }, (_, i) => (i % 1013 === 0 ? NaN : i % 1019 === 0 ? -0 : normal(rng)));
  for (const mode of nativeModes()) {
    const run = () => [tf.relu(tf.tensor(values, [n]))];
    const [ref] = await on('cpu', run);
    takeStockFallbacks();
    const [got] = await withNative(mode.native, () => on('wasm', run));
    assert.equal(takeStockFallbacks().get('Relu') ?? 0, mode.native ? 0 : 1, `${mode.label}: stock Relu calls`);
    assert.deepEqual(Array.from(got), Array.from(ref), mode.label);
  }
  // Below the native threshold and for int32: the stock kernel.
  takeStockFallbacks();
  const small = values.slice(0, NATIVE_SAME_SHAPE_MIN - 1);
  const [refSmall] = await on('cpu', () => [tf.relu(tf.tensor(small))]);
  const [gotSmall] = await on('wasm', () => [tf.relu(tf.tensor(small))]);
  assert.deepEqual(Array.from(gotSmall), Array.from(refSmall));
  const [ints] = await on('wasm', () => [tf.relu(tf.tensor([-3, 0, 4], [3], 'int32'))]);
  assert.deepEqual(Array.from(ints), [0, 0, 4]);
  assert.equal(takeStockFallbacks().get('Relu'), 2, 'small and int32 on the stock kernel');
});

test('wasm Cast to the dtype a tensor has shares its buffer; other casts convert, to bool as != 0', async () => {
  await initBackend('wasm');
  const buffers = () => tf.engine().backend.numDataIds();
  const a = tf.tensor([1.5, -2, 3]);
  const before = buffers();
  const same = tf.cast(a, 'float32');
  assert.equal(buffers(), before, 'the cast copied the data');
  a.dispose();
  assert.deepEqual(Array.from(same.dataSync()), [1.5, -2, 3]);
  const ints = tf.cast(same, 'int32');
  assert.equal(ints.dtype, 'int32');
  assert.deepEqual(Array.from(ints.dataSync()), [1, -2, 3]);
  const bools = tf.cast(tf.tensor([0, -2, 0.5, 256]), 'bool');
  assert.equal(bools.dtype, 'bool');
  assert.deepEqual(Array.from(bools.dataSync()), [0, 1, 1, 1]);
  tf.tidy(() => {
    assert.deepEqual(Array.from(tf.cast(tf.tensor([0, -2, 256], undefined, 'int32'), 'bool').dataSync()), [0, 1, 1]);
    assert.deepEqual(Array.from(tf.cast(bools, 'float32').dataSync()), [0, 1, 1, 1]);
  });
  tf.dispose([same, ints, bools]);
});

test('wasm Identity shares the input buffer: a clone outlives its disposed source, strings included', async () => {
  await initBackend('wasm');
  const buffers = () => tf.engine().backend.numDataIds();
  const before = buffers();
  const a = tf.tensor([1.5, -2, 3]);
  const b = tf.clone(a);
  assert.equal(buffers() - before, 1, 'the clone copied the data');
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1.5, -2, 3]);
  b.dispose();
  assert.equal(buffers(), before);
  const s = tf.tensor(['x', 'yz']);
  const t = tf.clone(s);
  s.dispose();
  assert.deepEqual(t.arraySync(), ['x', 'yz']);
  t.dispose();
});

test('registerWasmTrainingKernels registers each listed kernel once and keeps the stock set-up', async () => {
  await initBackend('wasm');
  const names = registerWasmTrainingKernels();
  assert.deepEqual(
    names,
    WASM_TRAINING_KERNELS.map((k) => k.name),
  );
  for (const name of names) assert.ok(tf.getKernel(name, 'wasm'), `${name} not registered`);
  // Stock kernels that have a set-up keep it (wasm binds its C functions there).
  assert.ok(tf.getKernel('MaxPoolGrad', 'wasm')?.setupFunc);
  // A second call changes nothing.
  const before = tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc;
  registerWasmTrainingKernels();
  assert.equal(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc, before);
});

test("wasm convolutions hand a constant filter's id to the addon (its kept copy), and no id once it is written in place", async (t) => {
  await initBackend('wasm');
  const status = loadNativeConv();
  if (!status.available || !/^oneDNN/.test(status.convolutions)) {
    t.skip('needs the addon with oneDNN convolutions (the copies kept under an id are oneDNN layouts)');
    return;
  }
  const rng = makeRng('kernels-wasm-constant-filter');
  const x = tf.tensor4d(randomArray(rng, 12 * 12 * 16), [1, 12, 12, 16]);
  const filter = tf.tensor4d(randomArray(rng, 3 * 3 * 16 * 24), [3, 3, 16, 24]);
  markConstant(filter);
  const conv = () => tf.conv2d(x, filter, 1, 'same');
  const first = conv();
  // Break the promise: double the filter in wasm's memory behind tfjs' back. The kept copy is still used...
  const values = heap(tf.backend() as unknown as WasmBackendLike, filter);
  values.set(values.map((v) => 2 * v));
  const kept = conv();
  assert.ok(relErr(await kept.data(), await first.data()) < 1e-6, 'the kept copy under the id');
  // ...until a write in place is counted: then the filter has no id, and the convolution reads it as it is.
  countInPlaceWrite(filter);
  const fresh = conv();
  const doubled = tf.mul(first, 2);
  assert.ok(relErr(await fresh.data(), await doubled.data()) < 1e-5, 'the filter as written');
  releaseConstant(filter);
  tf.dispose([x, filter, first, kept, fresh, doubled]);
});
