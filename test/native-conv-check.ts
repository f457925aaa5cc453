/**
 * The addon's three convolution kernels, called directly, against the cpu backend's, in this process: whichever
 * implementation AFFECT_CONV chose as the addon loaded. kernels-native-conv.test.ts runs it in child processes.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { convGeometry, loadNativeConv, nativeConv, type NativeStatus } from '../lib/kernels/native';
import { makeRng } from '../lib/random';
import { dilateFilter, randomArray, relErr, undilateGrad, type ConvCase, type Pad, type Shape4 } from './kernel-checks';

const asymmetric: Pad = [
  [0, 0],
  [1, 2],
  [2, 1],
  [0, 0],
];

/**
 * The ResNets' and small nets' layer kinds, small: strides 1 and 2, odd sizes (strided layers that leave trailing rows unread), batches of 1 to 3.
 */
export const CONV_CASES: readonly ConvCase[] = [
  { x: [2, 13, 11, 16], k: 3, co: 8, s: 1, pad: 'same', d: 1 },
  { x: [1, 14, 13, 16], k: 3, co: 24, s: 2, pad: 'same', d: 1 },
  { x: [3, 9, 9, 16], k: 3, co: 16, s: 2, pad: 'valid', d: 1 },
  { x: [2, 10, 10, 16], k: 1, co: 32, s: 1, pad: 'valid', d: 1 },
  { x: [2, 11, 11, 32], k: 1, co: 16, s: 2, pad: 'valid', d: 1 },
  { x: [2, 23, 23, 3], k: 7, co: 8, s: 2, pad: 'valid', d: 1 },
  { x: [1, 20, 19, 1], k: 7, co: 8, s: 2, pad: 'same', d: 1 },
  { x: [1, 21, 21, 16], k: 7, co: 8, s: 2, pad: 'valid', d: 1 },
  { x: [2, 12, 12, 16], k: 3, co: 5, s: 1, pad: 'same', d: 2 },
  { x: [1, 13, 12, 16], k: 3, co: 5, s: 1, pad: 'valid', d: 2 },
  { x: [2, 9, 10, 16], k: 3, co: 4, s: 2, pad: asymmetric, d: 1 },
  { x: [2, 8, 8, 4], k: 5, co: 6, s: 1, pad: 'same', d: 1 },
  { x: [1, 7, 7, 64], k: 3, co: 64, s: 1, pad: 'same', d: 1 },
  // Last stages' 2x2 and 3x3 output maps: with oneDNN built in, filter gradients, 1x1 forward passes and most input
  // gradients run im2col, and larger forward filters oneDNN's blocked layout.
  { x: [2, 3, 3, 16], k: 1, co: 8, s: 1, pad: 'valid', d: 1 },
  { x: [2, 5, 5, 16], k: 1, co: 8, s: 2, pad: 'valid', d: 1 },
  { x: [2, 3, 3, 32], k: 3, co: 16, s: 1, pad: 'same', d: 1 },
  { x: [3, 5, 5, 16], k: 3, co: 24, s: 2, pad: 'same', d: 1 },
  { x: [2, 2, 2, 16], k: 3, co: 8, s: 1, pad: 'same', d: 1 },
  // Two images per im2col chunk, so that im2col's filter gradient adds the second chunk's product to the first's.
  { x: [3, 40, 40, 64], k: 3, co: 8, s: 1, pad: 'same', d: 1 },
  // Leading padding beyond the filter's reach (explicit), which the flipped forward convolution could not take.
  {
    x: [1, 5, 5, 4],
    k: 1,
    co: 3,
    s: 1,
    pad: [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
    d: 1,
  },
  {
    x: [2, 6, 6, 4],
    k: 3,
    co: 3,
    s: 1,
    pad: [
      [0, 0],
      [3, 1],
      [2, 3],
      [0, 0],
    ],
    d: 1,
  },
  // 1-8 input channels at stride 1: from 2 channels oneDNN computes the input gradient as a flipped forward convolution,
  // and with one channel im2col takes it tap-major (also dilated, with uneven padding, over two chunks of images).
  { x: [2, 12, 11, 1], k: 3, co: 8, s: 1, pad: 'same', d: 1 },
  { x: [2, 10, 9, 1], k: 3, co: 5, s: 1, pad: 'valid', d: 2 },
  { x: [3, 9, 10, 1], k: 3, co: 3, s: 1, pad: asymmetric, d: 1 },
  { x: [2, 160, 160, 1], k: 7, co: 4, s: 1, pad: 'same', d: 1 },
  { x: [2, 9, 10, 8], k: 3, co: 16, s: 1, pad: 'valid', d: 1 },
  { x: [1, 11, 12, 3], k: 3, co: 5, s: 1, pad: 'same', d: 2 },
  { x: [2, 9, 10, 2], k: 3, co: 4, s: 1, pad: asymmetric, d: 1 },
];

/**
 * Each case's forward pass (with bias), filter gradient and input gradient on the addon against the cpu backend;
 * returns the addon's status and one message per result off by a relative error of 1e-4 or more.
 */
export async function checkNativeConvolutions(): Promise<{ status: NativeStatus; failures: string[] }> {
  const status = loadNativeConv();
  const addon = nativeConv();
  if (!addon) return { status, failures: [] };
  await initBackend('cpu');
  const rng = makeRng('native-conv-check');
  const failures: string[] = [];
  for (const c of CONV_CASES) {
    const fShape: Shape4 = [c.k, c.k, c.x[3], c.co];
    const info = tf.backend_util.computeConv2DInfo(c.x, fShape, c.s, c.d, c.pad);
    const g = convGeometry(info);
    const [xv, fv, bv, dyv] = [c.x, fShape, [c.co], info.outShape].map((s) =>
      randomArray(rng, tf.util.sizeFromShape(s)),
    );
    const y = new Float32Array(dyv.length);
    const dw = new Float32Array(fv.length);
    const dx = new Float32Array(xv.length);
    addon.conv2d(xv, fv, bv, y, g);
    addon.conv2dBackpropFilter(xv, dyv, dw, g);
    addon.conv2dBackpropInput(dyv, fv, dx, g);

    const big = dilateFilter(fv, fShape, c.d);
    const refs = tf.tidy(() => {
      const x = tf.tensor4d(xv, c.x);
      const dy = tf.tensor4d(dyv, info.outShape);
      const f = tf.tensor4d(big.values, big.shape);
      const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap;
      return [
        tf.add(tf.conv2d(x, tf.tensor4d(fv, fShape), c.s, c.pad, 'NHWC', c.d), tf.tensor1d(bv)),
        tf.engine().runKernel<tf.Tensor>('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: big.shape }),
        tf.engine().runKernel<tf.Tensor>('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape: c.x }),
      ].map((t) => t.dataSync() as Float32Array);
    });
    const label = `x ${c.x.join(',')} k ${c.k} co ${c.co} s ${c.s} pad ${JSON.stringify(c.pad)} d ${c.d}`;
    const results: [string, Float32Array, Float32Array][] = [
      ['forward', y, refs[0]],
      ['filter gradient', dw, undilateGrad(refs[1], fShape, c.d)],
      ['input gradient', dx, refs[2]],
    ];
    for (const [name, got, ref] of results) {
      const e = relErr(got, ref);
      if (!(e < 1e-4)) failures.push(`${name} ${label}: relative error ${e}`);
    }
  }
  return { status, failures };
}
