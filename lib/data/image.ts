/**
 * Decoding one image the way Keras's image_dataset_from_directory does: `tf.io.decode_image(channels=3)` then
 * `tf.image.resize(size, 'bilinear')` (half-pixel centres, no antialiasing, no aspect-preserving crop).
 * sharp (libvips) decodes; the resize is done here in JS so that it matches TensorFlow's bilinear exactly.
 */
import * as fs from 'node:fs';
import sharp from 'sharp';
import { type ImageFormat, detectImageFormat } from './scan';
import { resizeBilinear, type RgbImage } from './resize';

export { resizeBilinear, type RgbImage } from './resize';

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
  if (!hw.every((v) => Number.isInteger(v) && v > 0))
    throw new Error(`image size must be positive integers, got ${JSON.stringify(size)}`);
  return hw;
}

const firstLine = (s: string) => s.split('\n')[0].trim();

/**
 * Decodes any JPEG/PNG/WebP/GIF/TIFF (type from content, not name) to 8-bit sRGB with 3 channels at native size:
 * grayscale is replicated to 3 channels, an alpha channel is dropped (as TF's decode_image(channels=3) does; colours under
 * transparent pixels are kept, not composited), 16-bit is reduced to 8-bit, CMYK is converted to sRGB. GIF/TIFF: first frame.
 * EXIF orientation and embedded ICC profiles are ignored, as TensorFlow ignores them (pixel values are taken as stored).
 * Truncated or corrupt files and images over the pixel limit are errors naming the file.
 */
export async function decodeRgb(
  input: string | Buffer,
  opts: { pixelLimit?: number; name?: string } = {},
): Promise<RgbImage> {
  const name = typeof input === 'string' ? input : (opts.name ?? '<buffer>');
  const limit = opts.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  try {
    // failOn 'truncated' rejects cut-off files but accepts the harmless libjpeg warnings that TensorFlow accepts too.
    const { data, info } = await sharp(input, {
      limitInputPixels: limit,
      failOn: 'truncated',
      pages: 1,
      ignoreIcc: true,
    })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      height: info.height,
      width: info.width,
    };
  } catch (e) {
    throw await decodeFailure(input, name, limit, (e as Error).message);
  }
}

/** Runs decode retries one at a time, so the message libvips gives belongs to the file being retried. */
let retryQueue: Promise<unknown> = Promise.resolve();

/**
 * The reason `input` failed to decode, told from its own bytes: libvips keeps one error buffer for all its threads, so
 * with several decodes in flight the message sharp reports can be another file's. Empty, not an image, over the pixel
 * limit and truncated are decided here; anything else is decoded again alone for its own message.
 */
async function decodeFailure(input: string | Buffer, name: string, limit: number, first: string): Promise<Error> {
  let bytes: Buffer;
  try {
    bytes = typeof input === 'string' ? await fs.promises.readFile(input) : input;
  } catch (e) {
    return new Error(`cannot read image ${name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (bytes.length === 0) return new Error(`image ${name} is empty (0 bytes)`);
  const format = detectImageFormat(bytes.subarray(0, 12));
  if (!format) return new Error(`${name} is not a supported image (JPEG, PNG, WebP, GIF, TIFF)`);
  const meta = await sharp(bytes, { limitInputPixels: false })
    .metadata()
    .catch(() => undefined);
  if (meta?.width && meta.height && meta.width * meta.height > limit)
    return new Error(`image ${name} is larger than the pixel limit of ${limit} pixels (a decompression bomb?)`);
  if (isCutShort(bytes, format))
    return new Error(`image ${name} is truncated or corrupt: the ${format.toUpperCase()} data ends early`);
  const retry = retryQueue.then(() =>
    sharp(bytes, { limitInputPixels: limit, failOn: 'truncated', pages: 1, ignoreIcc: true })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer(),
  );
  retryQueue = retry.catch(() => undefined);
  const msg = await retry.then(
    () => first,
    (e: Error) => e.message,
  );
  if (/pixel limit/i.test(msg))
    return new Error(`image ${name} is larger than the pixel limit of ${limit} pixels (a decompression bomb?)`);
  if (/premature end|truncat|end of (stream|file|data)|unexpected end|incomplete|EOF/i.test(msg))
    return new Error(`image ${name} is truncated or corrupt: ${firstLine(msg)}`);
  return new Error(`cannot decode image ${name}: ${firstLine(msg)}`);
}

/** True when a file's container says it ends later than it does (no JPEG end marker, no PNG IEND, a short RIFF, no GIF trailer). */
function isCutShort(b: Buffer, format: ImageFormat): boolean {
  const tail = b.subarray(Math.max(0, b.length - 1024));
  if (format === 'jpeg') return tail.lastIndexOf(Buffer.from([0xff, 0xd9])) < 0;
  if (format === 'png') return tail.lastIndexOf(Buffer.from('IEND')) < 0;
  if (format === 'webp') return b.length < 8 || b.readUInt32LE(4) + 8 > b.length;
  if (format === 'gif') return b[b.length - 1] !== 0x3b;
  return false;
}

/** Decodes an image file or buffer and resizes it to `size`: an HxWx3 uint8 RGB array (row-major, channels last). */
export async function decodeImage(input: string | Buffer, opts: DecodeOptions): Promise<Uint8Array> {
  const [h, w] = sizeHW(opts.size);
  return resizeBilinear(await decodeRgb(input, opts), h, w);
}
