/**
 * Decoding one image the way Keras's image_dataset_from_directory does: `tf.io.decode_image(channels=3)` then
 * `tf.image.resize(size, 'bilinear')` (half-pixel centres, no antialiasing, no aspect-preserving crop).
 * sharp (libvips) decodes; the resize is done here in JS so that it matches TensorFlow's bilinear exactly.
 */
import * as fs from 'node:fs';
import sharp from 'sharp';

/**
 * Default largest accepted input, in pixels (width x height): far above any face crop, far below a decompression bomb's
 * size (100 MP is 300 MB of RGB). sharp's own default is 0x3FFF^2 (268 MP).
 */
export const DEFAULT_PIXEL_LIMIT = 100_000_000;

export interface DecodeOptions {
  /** Output size: a square side, or [height, width] (Keras's image_size order). */
  size: number | [number, number];
  /** Largest accepted input in pixels; bigger images are an error naming the file. Default DEFAULT_PIXEL_LIMIT. */
  pixelLimit?: number;
  /** Name used in errors when `input` is a Buffer. Default '<buffer>'. */
  name?: string;
}

/** [height, width] from a size option, checked. */
export function sizeHW(size: number | [number, number]): [number, number] {
  const hw: [number, number] = typeof size === 'number' ? [size, size] : [size[0], size[1]];
  if (!hw.every((v) => Number.isInteger(v) && v > 0)) throw new Error(`image size must be positive integers, got ${JSON.stringify(size)}`);
  return hw;
}

/** A decoded image at native size: height x width x 3 uint8 RGB. */
export interface RgbImage {
  data: Uint8Array;
  height: number;
  width: number;
}

/**
 * Decodes any JPEG/PNG/WebP/GIF/TIFF (type from content, not name) to 8-bit sRGB with 3 channels at native size:
 * grayscale is replicated to 3 channels, an alpha channel is dropped (as TF's decode_image(channels=3) does; colours under
 * transparent pixels are kept, not composited), 16-bit is reduced to 8-bit, CMYK is converted to sRGB. GIF/TIFF: first frame.
 * EXIF orientation and embedded ICC profiles are ignored, as TensorFlow ignores them (pixel values are taken as stored).
 * Truncated or corrupt files and images over the pixel limit are errors naming the file.
 */
export async function decodeRgb(input: string | Buffer, opts: { pixelLimit?: number; name?: string } = {}): Promise<RgbImage> {
  const name = typeof input === 'string' ? input : (opts.name ?? '<buffer>');
  const limit = opts.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  try {
    // failOn 'truncated' rejects cut-off files but accepts the harmless libjpeg warnings that TensorFlow accepts too.
    const { data, info } = await sharp(input, { limitInputPixels: limit, failOn: 'truncated', pages: 1, ignoreIcc: true })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), height: info.height, width: info.width };
  } catch (e) {
    const msg = (e as Error).message;
    if (/pixel limit/i.test(msg)) throw new Error(`image ${name} is larger than the pixel limit of ${limit} pixels (a decompression bomb?)`);
    const zeroFile = typeof input === 'string' && fs.statSync(input, { throwIfNoEntry: false })?.size === 0;
    if (zeroFile || /is empty/i.test(msg)) throw new Error(`image ${name} is empty (0 bytes)`);
    if (/premature end|truncat|end of (stream|file|data)|unexpected end|incomplete|EOF/i.test(msg)) throw new Error(`image ${name} is truncated or corrupt: ${firstLine(msg)}`);
    if (/unsupported image format/i.test(msg)) throw new Error(`${name} is not a supported image (JPEG, PNG, WebP, GIF, TIFF)`);
    throw new Error(`cannot decode image ${name}: ${firstLine(msg)}`);
  }
}

const firstLine = (s: string) => s.split('\n')[0].trim();

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

/** Decodes an image file or buffer and resizes it to `size`: an HxWx3 uint8 RGB array (row-major, channels last). */
export async function decodeImage(input: string | Buffer, opts: DecodeOptions): Promise<Uint8Array> {
  const [h, w] = sizeHW(opts.size);
  return resizeBilinear(await decodeRgb(input, opts), h, w);
}
