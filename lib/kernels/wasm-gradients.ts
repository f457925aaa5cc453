/**
 * Gradient kernels the stock wasm backend lacks or gets wrong: natively when the addon is in use, else the convolution
 * gradients are rewritten as ordinary (valid) convolutions run by wasm's own XNNPACK `Conv2D` kernel (only the cheap
 * re-layouts are JS loops over wasm memory), and the max-pool gradient is a JS loop.
 */
import * as tf from '@tensorflow/tfjs';
import { convGeometry, poolGeometry } from './native';
import { nativeFor } from './native-dispatch';
import { heap, nativeOutput, type WasmBackendLike } from './wasm-memory';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

/** Copies one filter tap [Ci, Co] at `src` of `from` to [Co, Ci] at `dst` of `to` (the input gradient's channel swap). */
function swapChannels(from: Float32Array, src: number, to: Float32Array, dst: number, Ci: number, Co: number): void {
  for (let ci = 0; ci < Ci; ci++) {
    for (let co = 0; co < Co; co++) to[dst + co * Ci + ci] = from[src + ci * Co + co];
  }
}

/** wasm's XNNPACK convolution with no padding. */
function validConv(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  strides: [number, number],
  dilations: [number, number],
): tf.TensorInfo {
  const conv = tf.getKernel('Conv2D', 'wasm');
  if (!conv) throw new Error('affect-lab: the wasm Conv2D kernel is not registered');
  const attrs = { strides, dilations, pad: 'valid', dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap;
  return conv.kernelFunc({
    inputs: { x, filter },
    attrs,
    backend: backend,
  }) as tf.TensorInfo;
}

/**
 * dW[kh,kw,ci,co] = sum over b,oh,ow of xPad[b, oh*s + kh*d, ow*s + kw*d, ci] * dy[b,oh,ow,co]:
 * a valid convolution of xPad laid out as [Ci, H, W, B] with dy laid out as [OH, OW, B, Co] as the filter,
 * stride and dilation swapped. The result [Ci, KH, KW, Co] is transposed to [KH, KW, Ci, Co].
 */
export function conv2DBackpropFilterInfo(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  c: Conv2DInfo,
): tf.TensorInfo {
  const g = convGeometry(c);
  const addon = nativeFor(g);
  if (addon) {
    return nativeOutput(backend, [c.filterHeight, c.filterWidth, c.inChannels, c.outChannels], (out) =>
      addon.conv2dBackpropFilter(heap(backend, x), heap(backend, dy), heap(backend, out), g),
    );
  }
  const [B, H, W, Ci] = x.shape;
  const { outHeight: OH, outWidth: OW, outChannels: Co, filterHeight: KH, filterWidth: KW } = c;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const top = c.padInfo.top;
  const left = c.padInfo.left;
  // Only the rows/columns some output reads: padding beyond H (or unread rows for `valid`) drop out.
  const Hp = (OH - 1) * sh + (KH - 1) * dh + 1;
  const Wp = (OW - 1) * sw + (KW - 1) * dw + 1;

  const xT = backend.makeOutput([Ci, Hp, Wp, B], 'float32');
  const dyT = backend.makeOutput([OH, OW, B, Co], 'float32');
  {
    const xv = heap(backend, x);
    const xt = heap(backend, xT);
    xt.fill(0);
    for (let b = 0; b < B; b++) {
      for (let hp = 0; hp < Hp; hp++) {
        const h = hp - top;
        if (h < 0 || h >= H) continue;
        for (let wp = 0; wp < Wp; wp++) {
          const w = wp - left;
          if (w < 0 || w >= W) continue;
          const src = ((b * H + h) * W + w) * Ci;
          let dst = (hp * Wp + wp) * B + b;
          const step = Hp * Wp * B;
          for (let ci = 0; ci < Ci; ci++, dst += step) xt[dst] = xv[src + ci];
        }
      }
    }
    const dv = heap(backend, dy);
    const dt = heap(backend, dyT);
    const pix = OH * OW;
    for (let b = 0; b < B; b++) {
      for (let p = 0; p < pix; p++) {
        const src = (b * pix + p) * Co;
        dt.set(dv.subarray(src, src + Co), (p * B + b) * Co);
      }
    }
  }
  const r = validConv(backend, xT, dyT, [dh, dw], [sh, sw]);
  backend.disposeData(xT.dataId);
  backend.disposeData(dyT.dataId);
  if (r.shape[1] !== KH || r.shape[2] !== KW) {
    backend.disposeData(r.dataId);
    throw new Error(`affect-lab: Conv2DBackpropFilter produced ${r.shape.join(',')} for a ${KH}x${KW} filter`);
  }
  const out = backend.makeOutput([KH, KW, Ci, Co], 'float32');
  const rv = heap(backend, r);
  const ov = heap(backend, out);
  for (let ci = 0; ci < Ci; ci++) {
    for (let k = 0; k < KH * KW; k++) {
      const src = (ci * KH * KW + k) * Co;
      ov.set(rv.subarray(src, src + Co), (k * Ci + ci) * Co);
    }
  }
  backend.disposeData(r.dataId);
  return out;
}

/**
 * dX[b,h,w,ci] = sum of dy[b,oh,ow,co] * W[kh,kw,ci,co] over h = oh*s + kh*d - top (same for w).
 * Strided undilated layers (all that tfjs allows) go the polyphase way; otherwise dy, with s-1 zeros inserted
 * between its rows/columns and padded by (K-1)*d - top before, is convolved (valid, stride 1, dilation d) with the
 * filter flipped in both spatial axes and its channel axes swapped.
 */
export function conv2DBackpropInputInfo(
  backend: WasmBackendLike,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  c: Conv2DInfo,
): tf.TensorInfo {
  const g = convGeometry(c);
  const addon = nativeFor(g);
  if (addon) {
    return nativeOutput(backend, c.inShape, (out) =>
      addon.conv2dBackpropInput(heap(backend, dy), heap(backend, filter), heap(backend, out), g),
    );
  }
  if ((c.strideHeight > 1 || c.strideWidth > 1) && c.dilationHeight === 1 && c.dilationWidth === 1) {
    return conv2DBackpropInputPolyphase(backend, dy, filter, c);
  }
  const [B, H, W, Ci] = c.inShape;
  const { outHeight: OH, outWidth: OW, outChannels: Co, filterHeight: KH, filterWidth: KW } = c;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const offH = (KH - 1) * dh - c.padInfo.top;
  const offW = (KW - 1) * dw - c.padInfo.left;
  const Hp = H + (KH - 1) * dh;
  const Wp = W + (KW - 1) * dw;

  // A 1x1 stride-1 unpadded layer needs no re-layout of dy.
  const direct = sh === 1 && sw === 1 && offH === 0 && offW === 0 && Hp === OH && Wp === OW;
  const p = direct ? dy : backend.makeOutput([B, Hp, Wp, Co], 'float32');
  const wf = backend.makeOutput([KH, KW, Co, Ci], 'float32');
  if (!direct) {
    const dv = heap(backend, dy);
    const pv = heap(backend, p);
    pv.fill(0);
    for (let b = 0; b < B; b++) {
      for (let oh = 0; oh < OH; oh++) {
        const m = oh * sh + offH;
        if (m < 0 || m >= Hp) continue;
        for (let ow = 0; ow < OW; ow++) {
          const n = ow * sw + offW;
          if (n < 0 || n >= Wp) continue;
          const src = ((b * OH + oh) * OW + ow) * Co;
          pv.set(dv.subarray(src, src + Co), ((b * Hp + m) * Wp + n) * Co);
        }
      }
    }
  }
  {
    const fv = heap(backend, filter);
    const wv = heap(backend, wf);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const src = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * Ci * Co;
        const dst = (kh * KW + kw) * Co * Ci;
        swapChannels(fv, src, wv, dst, Ci, Co);
      }
    }
  }
  const out = validConv(backend, p, wf, [1, 1], [dh, dw]);
  if (!direct) backend.disposeData(p.dataId);
  backend.disposeData(wf.dataId);
  return out;
}

/** One axis of the polyphase split: output positions h = s*(u0 + m) + q - pad for m < count, and the taps feeding them. */
interface Phase {
  q: number;
  u0: number;
  count: number;
  /** Taps kh = q + s*t for t < taps. */
  taps: number;
}

function phases(size: number, k: number, s: number, pad: number): Phase[] {
  const out: Phase[] = [];
  for (let q = 0; q < s; q++) {
    const u0 = Math.ceil((pad - q) / s);
    const u1 = Math.floor((size - 1 + pad - q) / s);
    out.push({ q, u0, count: Math.max(0, u1 - u0 + 1), taps: q < k ? Math.ceil((k - q) / s) : 0 });
  }
  return out;
}

/**
 * Input gradient of a strided, undilated layer without zero-insertion: output rows with h + top = s*u + q receive
 * only taps kh = q + s*t, from dy[u - t]. Each of the s*s phases is a stride-1 valid convolution of dy (padded by
 * taps-1 before) with its flipped sub-filter, scattered into every s-th row and column of dX: a quarter of the
 * arithmetic of the zero-inserted form for stride 2.
 */
function conv2DBackpropInputPolyphase(
  backend: WasmBackendLike,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  c: Conv2DInfo,
): tf.TensorInfo {
  const [B, H, W, Ci] = c.inShape;
  const {
    outHeight: OH,
    outWidth: OW,
    outChannels: Co,
    filterHeight: KH,
    filterWidth: KW,
    strideHeight: sh,
    strideWidth: sw,
  } = c;
  const dx = backend.makeOutput([B, H, W, Ci], 'float32');
  heap(backend, dx).fill(0);
  for (const ph of phases(H, KH, sh, c.padInfo.top)) {
    for (const pw of phases(W, KW, sw, c.padInfo.left)) {
      if (ph.count === 0 || pw.count === 0 || ph.taps === 0 || pw.taps === 0) continue;
      const Ph = ph.count + ph.taps - 1;
      const Pw = pw.count + pw.taps - 1;
      const p = backend.makeOutput([B, Ph, Pw, Co], 'float32');
      const wf = backend.makeOutput([ph.taps, pw.taps, Co, Ci], 'float32');
      {
        const dv = heap(backend, dy);
        const pv = heap(backend, p);
        pv.fill(0);
        for (let b = 0; b < B; b++) {
          for (let m = 0; m < Ph; m++) {
            const oh = m + ph.u0 - (ph.taps - 1);
            if (oh < 0 || oh >= OH) continue;
            // Columns n map to ow = n + shift: copy the in-range run in one go.
            const shift = pw.u0 - (pw.taps - 1);
            const n0 = Math.max(0, -shift);
            const n1 = Math.min(Pw, OW - shift);
            if (n1 <= n0) continue;
            const src = ((b * OH + oh) * OW + n0 + shift) * Co;
            pv.set(dv.subarray(src, src + (n1 - n0) * Co), ((b * Ph + m) * Pw + n0) * Co);
          }
        }
        const fv = heap(backend, filter);
        const wv = heap(backend, wf);
        for (let th = 0; th < ph.taps; th++) {
          const kh = ph.q + sh * (ph.taps - 1 - th);
          for (let tw = 0; tw < pw.taps; tw++) {
            const kw = pw.q + sw * (pw.taps - 1 - tw);
            const src = (kh * KW + kw) * Ci * Co;
            const dst = (th * pw.taps + tw) * Co * Ci;
            swapChannels(fv, src, wv, dst, Ci, Co);
          }
        }
      }
      const r = validConv(backend, p, wf, [1, 1], [1, 1]);
      backend.disposeData(p.dataId);
      backend.disposeData(wf.dataId);
      const rv = heap(backend, r);
      const ov = heap(backend, dx);
      for (let b = 0; b < B; b++) {
        for (let m = 0; m < ph.count; m++) {
          const h = sh * (ph.u0 + m) + ph.q - c.padInfo.top;
          for (let n = 0; n < pw.count; n++) {
            const w = sw * (pw.u0 + n) + pw.q - c.padInfo.left;
            const src = ((b * ph.count + m) * pw.count + n) * Ci;
            ov.set(rv.subarray(src, src + Ci), ((b * H + h) * W + w) * Ci);
          }
        }
      }
      backend.disposeData(r.dataId);
    }
  }
  return dx;
}

/** Max-pool gradient routed to the first maximum of each window, as the `cpu` kernel does (padding never wins). */
export function maxPoolGradInfo(
  backend: WasmBackendLike,
  dy: tf.TensorInfo,
  x: tf.TensorInfo,
  c: Conv2DInfo,
): tf.TensorInfo {
  const g = poolGeometry(c);
  const addon = nativeFor(g);
  if (addon)
    return nativeOutput(backend, x.shape, (out) =>
      addon.maxPoolGrad(heap(backend, dy), heap(backend, x), heap(backend, out), g),
    );
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = c;
  const dx = backend.makeOutput(x.shape, 'float32');
  const xv = heap(backend, x);
  const dv = heap(backend, dy);
  const ov = heap(backend, dx);
  ov.fill(0);
  const best = new Float32Array(C);
  const pos = new Int32Array(C);
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const r0 = oh * sh - c.padInfo.top;
      let rMin = r0;
      while (rMin < 0) rMin += dh;
      const rMax = Math.min(H, r0 + fh);
      for (let ow = 0; ow < OW; ow++) {
        const c0 = ow * sw - c.padInfo.left;
        let cMin = c0;
        while (cMin < 0) cMin += dw;
        const cMax = Math.min(W, c0 + fw);
        best.fill(-Infinity);
        pos.fill(-1);
        for (let r = rMin; r < rMax; r += dh) {
          for (let q = cMin; q < cMax; q += dw) {
            const base = ((b * H + r) * W + q) * C;
            for (let ch = 0; ch < C; ch++) {
              const v = xv[base + ch];
              if (v > best[ch]) {
                best[ch] = v;
                pos[ch] = base + ch;
              }
            }
          }
        }
        const g = ((b * OH + oh) * OW + ow) * C;
        for (let ch = 0; ch < C; ch++) if (pos[ch] >= 0) ov[pos[ch]] += dv[g + ch];
      }
    }
  }
  return dx;
}
