/** Image arithmetic without Node or sharp, so that it also runs in a browser bundle (the exported web page). */

/** A decoded image at native size: height x width x 3 uint8 RGB. */
export interface RgbImage {
  data: Uint8Array;
  height: number;
  width: number;
}

/**
 * Bilinear resize of an HxWx3 uint8 image to [outH, outW], identical to TensorFlow's `tf.image.resize(method='bilinear')`
 * (half-pixel centres, antialias off), rounded to uint8. Returns the input unchanged when the size already matches.
 */
export function resizeBilinear(img: RgbImage, outH: number, outW: number): Uint8Array {
  const { data, height: h, width: w } = img;
  if (h === outH && w === outW) return data;
  const out = new Uint8Array(outH * outW * 3);
  const sy = h / outH;
  const sx = w / outW;
  // Per-column source indices and weights, computed once.
  const x0 = new Int32Array(outW);
  const x1 = new Int32Array(outW);
  const fx = new Float32Array(outW);
  for (let x = 0; x < outW; x++) {
    const src = Math.max(0, (x + 0.5) * sx - 0.5);
    const lo = Math.min(Math.floor(src), w - 1);
    x0[x] = lo * 3;
    x1[x] = Math.min(lo + 1, w - 1) * 3;
    fx[x] = src - lo;
  }
  let o = 0;
  for (let y = 0; y < outH; y++) {
    const src = Math.max(0, (y + 0.5) * sy - 0.5);
    const lo = Math.min(Math.floor(src), h - 1);
    const fy = src - lo;
    const r0 = lo * w * 3;
    const r1 = Math.min(lo + 1, h - 1) * w * 3;
    for (let x = 0; x < outW; x++) {
      const a0 = r0 + x0[x];
      const b0 = r0 + x1[x];
      const a1 = r1 + x0[x];
      const b1 = r1 + x1[x];
      const f = fx[x];
      // Values are >= 0, so (v + 0.5) | 0 rounds like Math.round, faster.
      for (let c = 0; c < 3; c++) {
        const top = data[a0 + c] + (data[b0 + c] - data[a0 + c]) * f;
        const bot = data[a1 + c] + (data[b1 + c] - data[a1 + c]) * f;
        out[o++] = (top + (bot - top) * fy + 0.5) | 0;
      }
    }
  }
  return out;
}
