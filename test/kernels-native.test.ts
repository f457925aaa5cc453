import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { randomArray } from './kernel-checks';
import { makeRng } from '../lib/random';
import {
  NATIVE_ADDON_PATH,
  convGeometry,
  cpuFlags,
  loadNativeConv,
  matMulGeometry,
  nativeBuildStamp,
  nativeConv,
  nativeMatMul,
  setNativeConvEnabled,
  setNativeMatMulEnabled,
} from '../lib/kernels/native';

/** loadNativeConv's status in a fresh process with the given environment, and OPENBLAS_CORETYPE after loading. */
function statusWith(
  env: Record<string, string | undefined>,
): ReturnType<typeof loadNativeConv> & { coreTypeAfter?: string } {
  const code = `const s = require(${JSON.stringify(require.resolve('../lib/kernels/native'))}).loadNativeConv();
    process.stdout.write(JSON.stringify({ ...s, coreTypeAfter: process.env.OPENBLAS_CORETYPE }))`;
  return JSON.parse(
    execFileSync(process.execPath, ['-e', code], { env: { ...process.env, ...env }, encoding: 'utf8' }),
  ) as ReturnType<typeof statusWith>;
}

test('a built addon loads and reports OpenBLAS; a missing one says how to build it', () => {
  const s = loadNativeConv();
  assert.equal(s.path, NATIVE_ADDON_PATH);
  if (fs.existsSync(NATIVE_ADDON_PATH)) {
    assert.ok(s.available, `the addon is built but does not load: ${JSON.stringify(s)}`);
    assert.match(s.blas, /^OpenBLAS /);
    assert.match(s.gemm, /^(OpenBLAS|oneDNN \d+\.\d+\.\d+ matmul)$/);
    assert.ok(s.convolutions === `im2col + ${s.gemm}` || /^oneDNN \d+\.\d+\.\d+$/.test(s.convolutions), s.convolutions);
    // What scripts/build-native.js chose (AVX2 where this CPU has it) is what the addon was compiled for.
    const stamp = nativeBuildStamp();
    assert.ok(stamp, 'npm run build writes native/build/libraries.json');
    assert.equal(s.instructions, stamp.avx2 ? 'AVX2' : 'baseline');
    if (stamp.avx2) assert.ok(cpuFlags().has('avx2'));
    assert.ok(s.threads >= 1);
  } else {
    assert.ok(!s.available);
    assert.match(s.reason, /not built .*libopenblas-dev/);
  }
});

test('AFFECT_NATIVE=0 turns the addon off; AFFECT_NATIVE_THREADS and OPENBLAS_CORETYPE are honoured', (t) => {
  const off = statusWith({ AFFECT_NATIVE: '0' });
  assert.ok(!off.available && /AFFECT_NATIVE=0/.test(off.reason));
  if (!fs.existsSync(NATIVE_ADDON_PATH)) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  const one = statusWith({ AFFECT_NATIVE_THREADS: '1' });
  assert.ok(one.available && one.threads === 1, JSON.stringify(one));
  // OpenBLAS's AVX-512 kernels where the CPU has them, unless OPENBLAS_CORETYPE says otherwise.
  const flags = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  if (['avx512f', 'avx512bw', 'avx512vl', 'avx512dq'].every((f) => new RegExp(`\\b${f}\\b`).test(flags))) {
    const auto = statusWith({ OPENBLAS_CORETYPE: undefined });
    assert.ok(auto.available && / SkylakeX /.test(auto.blas), JSON.stringify(auto));
    // Set only while OpenBLAS loads: child processes (the bench's PyTorch peer) see the user's environment.
    assert.equal(auto.coreTypeAfter, undefined);
  }
  const chosen = statusWith({ OPENBLAS_CORETYPE: 'Haswell' });
  assert.ok(chosen.available && / Haswell /.test(chosen.blas), JSON.stringify(chosen));
  const bad = statusWith({ AFFECT_NATIVE_THREADS: 'two' });
  assert.ok(!bad.available && /AFFECT_NATIVE_THREADS must be a positive integer, got "two"/.test(bad.reason));
  // A bad setting is refused before the addon loads, built or not.
  const zero = statusWith({ AFFECT_NATIVE_THREADS: '0' });
  assert.ok(!zero.available && /got "0"/.test(zero.reason));
});

test('AFFECT_CONV chooses the convolutions as the addon loads; another value is refused by name', (t) => {
  if (!fs.existsSync(NATIVE_ADDON_PATH)) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  const im2col = statusWith({ AFFECT_CONV: 'im2col' });
  assert.ok(im2col.available && im2col.convolutions === `im2col + ${im2col.gemm}`, JSON.stringify(im2col));
  const onednn = statusWith({ AFFECT_CONV: 'onednn' });
  if (onednn.available) assert.match(onednn.convolutions, /^oneDNN \d+\.\d+\.\d+$/);
  else assert.match(onednn.reason, /AFFECT_CONV=onednn, but the addon was built without oneDNN \(install libdnnl-dev/);
  const bad = statusWith({ AFFECT_CONV: 'mkl' });
  assert.ok(
    !bad.available && bad.reason.includes('AFFECT_CONV must be onednn or im2col, got "mkl"'),
    JSON.stringify(bad),
  );
});

test('initBackend refuses a bad AFFECT_CONV or AFFECT_NATIVE_THREADS by name instead of training without the addon', (t) => {
  if (!fs.existsSync(NATIVE_ADDON_PATH)) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  const backend = (env: Record<string, string>, name = '') => {
    const code = `require(${JSON.stringify(require.resolve('../lib/backend'))}).initBackend(${JSON.stringify(name)})
      .then((r) => process.stdout.write('started ' + r.name), (e) => process.stdout.write(e.message))`;
    return execFileSync(process.execPath, ['-e', code], { env: { ...process.env, ...env }, encoding: 'utf8' });
  };
  assert.equal(
    backend({ AFFECT_CONV: 'mkl' }),
    'affect-lab: affect-native: AFFECT_CONV must be onednn or im2col, got "mkl"',
  );
  assert.equal(
    backend({ AFFECT_NATIVE_THREADS: 'two' }, 'wasm'),
    'affect-lab: AFFECT_NATIVE_THREADS must be a positive integer, got "two"',
  );
  // The cpu backend does not use the addon, so its settings do not matter there.
  assert.equal(backend({ AFFECT_CONV: 'mkl' }, 'cpu'), 'started cpu');
});

test('setNativeConvEnabled switches nativeConv() and returns the previous setting', () => {
  const built = loadNativeConv().available;
  assert.equal(setNativeConvEnabled(false), true);
  assert.equal(nativeConv(), undefined);
  assert.equal(setNativeConvEnabled(true), false);
  assert.equal(nativeConv() !== undefined, built);
});

test('setNativeMatMulEnabled switches nativeMatMul() alone; nativeConv off switches it off too', () => {
  const built = loadNativeConv().available;
  assert.equal(nativeMatMul() !== undefined, built);
  assert.equal(setNativeMatMulEnabled(false), true);
  assert.equal(nativeMatMul(), undefined);
  assert.equal(nativeConv() !== undefined, built);
  assert.equal(setNativeMatMulEnabled(true), false);
  setNativeConvEnabled(false);
  assert.equal(nativeMatMul(), undefined);
  setNativeConvEnabled(true);
  assert.equal(nativeMatMul() !== undefined, built);
});

test('matMulGeometry lists batches, sizes and the flags as 0/1', () => {
  const g = matMulGeometry({ batchA: 3, batchB: 1, M: 4, K: 5, N: 6, transposeA: true, transposeB: false, relu: true });
  assert.deepEqual(Array.from(g), [3, 1, 4, 5, 6, 1, 0, 1]);
});

test('convGeometry lists batch, sizes, kernel, strides, dilations and leading padding', () => {
  const c = tf.backend_util.computeConv2DInfo([2, 9, 8, 3], [3, 3, 3, 5], [2, 1], 1, 'same');
  assert.deepEqual(Array.from(convGeometry(c)), [2, 9, 8, 3, 5, 8, 5, 3, 3, 2, 1, 1, 1, 1, 1]);
  const d = tf.backend_util.computeConv2DInfo([1, 10, 10, 2], [3, 3, 2, 4], 1, 2, 'valid');
  assert.deepEqual(Array.from(convGeometry(d)), [1, 10, 10, 2, 6, 6, 4, 3, 3, 1, 1, 2, 2, 0, 0]);
});

test('the addon computes a known convolution and rejects arrays that do not fit the geometry', (t) => {
  const addon = nativeConv();
  if (!addon) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  // 1x3x3x1 input 1..9, 2x2 filter of ones, valid: each output is the sum of a 2x2 window, plus the bias 0.5.
  const g = Int32Array.from([1, 3, 3, 1, 2, 2, 1, 2, 2, 1, 1, 1, 1, 0, 0]);
  const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const y = new Float32Array(4);
  addon.conv2d(x, new Float32Array(4).fill(1), Float32Array.of(0.5), y, g);
  assert.deepEqual(Array.from(y), [12.5, 16.5, 24.5, 28.5]);
  // Filter gradient with dy = 1 everywhere: each tap sums the inputs it saw.
  const dw = new Float32Array(4);
  addon.conv2dBackpropFilter(x, new Float32Array(4).fill(1), dw, g);
  assert.deepEqual(Array.from(dw), [12, 16, 24, 28]);
  // Input gradient with dy = 1: each input counts the windows covering it.
  const dx = new Float32Array(9);
  addon.conv2dBackpropInput(new Float32Array(4).fill(1), new Float32Array(4).fill(1), dx, g);
  assert.deepEqual(Array.from(dx), [1, 2, 1, 2, 4, 2, 1, 2, 1]);
  // 2x2 max pool, stride 2 over a 1x2x4x1 input: each gradient lands on its window's first maximum (a tie of 5s; all negatives).
  const px = Float32Array.from([1, 5, -3, -3, 5, 2, -4, -1]);
  // dx starts as NaN: windows that tile the input write every pixel, zeros included.
  const pdx = new Float32Array(8).fill(NaN);
  addon.maxPoolGrad(Float32Array.of(10, 20), px, pdx, Int32Array.from([1, 2, 4, 1, 1, 2, 2, 2, 2, 2, 1, 1, 0, 0]));
  assert.deepEqual(Array.from(pdx), [0, 10, 0, 0, 0, 0, 0, 20]);
  // A 1x2 window at stride 3 over a row of 5 leaves the middle pixel out: its gradient is 0 whatever dx held before.
  const gapped = new Float32Array(5).fill(NaN);
  addon.maxPoolGrad(
    Float32Array.of(10, 20),
    Float32Array.of(1, 2, 9, 4, 3),
    gapped,
    Int32Array.from([1, 1, 5, 1, 1, 2, 1, 2, 1, 3, 1, 1, 0, 0]),
  );
  assert.deepEqual(Array.from(gapped), [0, 10, 0, 20, 0]);
  // Its forward pass: each window's maximum, a negative one included.
  const pooled = new Float32Array(2);
  addon.maxPool(px, pooled, Int32Array.from([1, 2, 4, 1, 1, 2, 2, 2, 2, 2, 1, 1, 0, 0]));
  assert.deepEqual(Array.from(pooled), [5, -1]);
  const sums = new Float32Array(2);
  addon.sumRows(Float32Array.from([1, 2, 3, 4, 5, 6]), sums, 0.5);
  assert.deepEqual(Array.from(sums), [4.5, 6]);
  // No rows: zero sums (not a division by zero in the split over threads); an empty elementwise call writes nothing.
  sums.fill(7);
  addon.sumRows(new Float32Array(0), sums, 1);
  assert.deepEqual(Array.from(sums), [0, 0]);
  addon.binaryRows(0, new Float32Array(0), Float32Array.of(1), new Float32Array(0), false);
  addon.reluGrad(new Float32Array(0), new Float32Array(0), new Float32Array(0));

  assert.throws(() => addon.conv2d(x, new Float32Array(3), null, y, g), /length does not match the geometry/);
  assert.throws(
    () => addon.conv2d(x, new Float32Array(4), null, new Float32Array(5), g),
    /length does not match the geometry/,
  );
  assert.throws(
    () => addon.conv2d(Array.from(x) as unknown as Float32Array, new Float32Array(4), null, y, g),
    /must be Float32Arrays/,
  );
  assert.throws(
    () => addon.conv2d(x, new Float32Array(4), null, y, Int32Array.from([1, 3, 3])),
    /geometry must be an Int32Array of the kernel's sizes/,
  );
  const threeArgs = addon.conv2dBackpropInput.bind(addon) as unknown as (...a: unknown[]) => void;
  assert.throws(() => threeArgs(new Float32Array(4), new Float32Array(4), dx), /wrong number of arguments/);
  assert.throws(
    () => addon.maxPoolGrad(Float32Array.of(1), px, pdx, Int32Array.from([1, 2, 4, 1, 1, 2, 2, 2, 2, 2, 1, 1, 0, 0])),
    /length does not match/,
  );
  assert.throws(
    () =>
      addon.maxPoolGrad(Float32Array.of(1, 2), px, pdx, Int32Array.from([1, 2, 4, 1, 1, 2, 2, 2, 0, 2, 1, 1, 0, 0])),
    /positive/,
  );
  assert.throws(() => addon.sumRows(new Float32Array(5), sums, 1), /multiple of out.length/);
  const roots = new Float32Array(3);
  addon.sqrt(Float32Array.of(4, 0, -1), roots);
  assert.deepEqual(Array.from(roots), [2, 0, NaN]);
  assert.throws(() => addon.sqrt(Float32Array.of(4, 9), roots), /one length/);
  assert.throws(() => addon.sqrt([4, 9, 16] as unknown as Float32Array, roots), /Float32Arrays/);
  const rectified = Float32Array.of(-2, 0, 3, NaN, -0.5);
  addon.relu(rectified, rectified);
  assert.deepEqual(Array.from(rectified), [0, 0, 3, NaN, 0]);
  assert.throws(() => addon.relu(Float32Array.of(1, 2), roots), /one length/);
  // Batch norm in training: two rows of two channels, with and without its ReLU; the ReLU's flag and offset are checked.
  const bx = Float32Array.of(1, 5, 3, 1);
  const [ch, bm, bv] = [Float32Array.of(1, 1), new Float32Array(2), new Float32Array(2)];
  const by = new Float32Array(4);
  addon.batchNormTraining(bx, ch, Float32Array.of(0, -2), by, bm, bv, 0, true);
  assert.deepEqual(
    [Array.from(bm), Array.from(bv), Array.from(by)],
    [
      [2, 3],
      [1, 4],
      [0, 0, 1, 0],
    ],
  );
  const bnTraining = addon.batchNormTraining.bind(addon) as unknown as (...a: unknown[]) => void;
  assert.throws(() => bnTraining(bx, ch, ch, by, bm, bv, 0, 1), /a boolean \(relu\)/);
  assert.throws(() => bnTraining(bx, ch, ch, by, bm, bv, 0), /a boolean \(relu\)/);
  const [bdx, bds, bdo] = [new Float32Array(4), new Float32Array(2), new Float32Array(2)];
  const bnGrad = addon.batchNormTrainingGrad.bind(addon) as unknown as (...a: unknown[]) => void;
  for (const offset of [Float32Array.of(0), undefined])
    assert.throws(
      () => bnGrad(Float32Array.of(1, 1, 1, 1), bx, ch, bm, bv, bdx, bds, bdo, 0, offset),
      /the forward's offset \(a Float32Array as long as scale\) or null/,
    );
  assert.throws(() => addon.setThreads(0), /positive integer/);
});

test('conv2d keeps the reordered copy of a filter given a constant id until forgetFilter, for that id only; bad ids are refused', (t) => {
  const addon = nativeConv();
  if (!addon) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  const rng = makeRng('kernels-native-kept-filter');
  // 12x12 maps with a 3x3 filter: a oneDNN convolution where the addon has oneDNN, its filter reordered to oneDNN's layout.
  const g = convGeometry(tf.backend_util.computeConv2DInfo([1, 12, 12, 16], [3, 3, 16, 24], 1, 1, 'same'));
  const x = randomArray(rng, 12 * 12 * 16);
  const w = randomArray(rng, 3 * 3 * 16 * 24);
  const doubled = w.map((v) => 2 * v);
  const out = () => new Float32Array(12 * 12 * 24);
  const id = 1e9 + Math.floor(rng() * 1e6);
  const [first, again, plain, otherId] = [out(), out(), out(), out()];
  addon.conv2d(x, w, null, first, g, id);
  // The same id promises the same filter: oneDNN reuses its copy and does not read the doubled one.
  addon.conv2d(x, doubled, null, again, g, id);
  addon.conv2d(x, doubled, null, plain, g);
  addon.conv2d(x, doubled, null, otherId, g, id + 1);
  const same = (a: Float32Array, b: Float32Array) =>
    a.every((v, i) => Math.abs(v - b[i]) <= 1e-4 * Math.abs(b[i]) + 1e-5);
  assert.ok(
    plain.every((v, i) => Math.abs(v - 2 * first[i]) < 1e-3),
    'without an id, the filter as given',
  );
  assert.ok(same(otherId, plain), 'a new id reads the new filter');
  const status = loadNativeConv();
  if (status.available && /^oneDNN/.test(status.convolutions))
    assert.ok(same(again, first), 'the kept copy under the id');
  else assert.ok(same(again, plain), 'im2col reads the filter as given whatever the id');
  // Forgotten, the id reads the filter given again; undefined is no id.
  addon.forgetFilter(id);
  const afterForget = out();
  addon.conv2d(x, doubled, null, afterForget, g, id);
  assert.ok(same(afterForget, plain), 'after forgetFilter');
  const noId = out();
  addon.conv2d(x, doubled, null, noId, g, undefined);
  assert.ok(same(noId, plain), 'an undefined id');
  assert.throws(() => addon.forgetFilter(-2), /forgetFilter needs a filter id/);
  for (const bad of [-1, 1.5, Number.NaN, '2'])
    assert.throws(
      () => addon.conv2d(x, w, null, first, g, bad as number),
      /a filter id must be an integer >= 0/,
      String(bad),
    );
  const sevenArgs = addon.conv2d.bind(addon) as unknown as (...a: unknown[]) => void;
  assert.throws(() => sevenArgs(x, w, null, first, g, 0, 0), /wrong number of arguments/);
});

test('the addon computes known matrix products in every transposed form and rejects calls that do not fit', (t) => {
  const addon = nativeConv();
  if (!addon) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  const geometry = (o: Partial<Parameters<typeof matMulGeometry>[0]>) =>
    matMulGeometry({ batchA: 1, batchB: 1, M: 2, K: 3, N: 2, transposeA: false, transposeB: false, relu: false, ...o });
  // A = [[1,2,3],[4,5,6]] (2x3), B = [[1,-1],[0,2],[-2,1]] (3x2): A*B = [[-5,6],[-8,12]].
  const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const aT = Float32Array.from([1, 4, 2, 5, 3, 6]);
  const b = Float32Array.from([1, -1, 0, 2, -2, 1]);
  const bT = Float32Array.from([1, 0, -2, -1, 2, 1]);
  const product = [-5, 6, -8, 12];
  for (const [ta, tb] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ]) {
    const out = new Float32Array(4);
    addon.matMul(ta ? aT : a, tb ? bT : b, null, out, geometry({ transposeA: ta, transposeB: tb }));
    assert.deepEqual(Array.from(out), product, `transposeA ${ta}, transposeB ${tb}`);
  }
  // Bias per column, then ReLU.
  const fused = new Float32Array(4);
  addon.matMul(a, b, Float32Array.of(1, -7), fused, geometry({ relu: true }));
  assert.deepEqual(Array.from(fused), [0, 0, 0, 5]);
  // Batches: a's two batches against one shared b, and one shared a against b's two batches (the second is -b).
  const twoA = new Float32Array(8);
  addon.matMul(Float32Array.from([...a, ...a.map((v) => 2 * v)]), b, null, twoA, geometry({ batchA: 2 }));
  assert.deepEqual(Array.from(twoA), [...product, ...product.map((v) => 2 * v)]);
  const twoB = new Float32Array(8);
  addon.matMul(a, Float32Array.from([...b, ...b.map((v) => -v)]), null, twoB, geometry({ batchB: 2 }));
  assert.deepEqual(Array.from(twoB), [...product, ...product.map((v) => -v)]);

  const out = new Float32Array(4);
  assert.throws(
    () => addon.matMul(a, new Float32Array(5), null, out, geometry({})),
    /length does not match the geometry/,
  );
  assert.throws(() => addon.matMul(a, b, Float32Array.of(1), out, geometry({})), /length does not match the geometry/);
  assert.throws(
    () => addon.matMul(a, b, null, new Float32Array(8), geometry({})),
    /length does not match the geometry/,
  );
  assert.throws(() => addon.matMul(a, b, null, out, geometry({ batchA: 2 })), /length does not match the geometry/);
  assert.throws(
    () => addon.matMul(Int32Array.from(a) as unknown as Float32Array, b, null, out, geometry({})),
    /must be Float32Arrays/,
  );
  assert.throws(() => addon.matMul(a, b, undefined as unknown as null, out, geometry({})), /must be Float32Arrays/);
  assert.throws(
    () => addon.matMul(a, b, null, out, Int32Array.from([1, 1, 2, 3, 2, 0, 0])),
    /geometry must be an Int32Array/,
  );
  assert.throws(
    () => addon.matMul(a, b, null, out, Float32Array.from(geometry({})) as unknown as Int32Array),
    /geometry must be an Int32Array/,
  );
  assert.throws(() => addon.matMul(a, b, null, out, Int32Array.from([1, 1, 2, 3, 2, 2, 0, 0])), /flags 0 or 1/);
  assert.throws(() => addon.matMul(a, b, null, out, Int32Array.from([1, 1, 2, 0, 2, 0, 0, 0])), /positive/);
  assert.throws(() => addon.matMul(a, b, null, out, geometry({ batchA: 2, batchB: 3 })), /batch sizes equal or 1/);
  const fourArgs = addon.matMul.bind(addon) as unknown as (...args: unknown[]) => void;
  assert.throws(() => fourArgs(a, b, null, out), /wrong number of arguments/);
  // A failed check writes nothing.
  assert.deepEqual(Array.from(out), [0, 0, 0, 0]);
});
