/** A tiny synchronous PNG encoder for RGB bytes, so figure builders can embed images as data URLs without going async through sharp. */
import * as zlib from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(body.buffer, body.byteOffset, body.byteLength).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/** Encodes `height x width x 3` RGB bytes (row-major, as decodeImage returns them) as a PNG file. */
export function encodePngRgb(rgb: Uint8Array, height: number, width: number): Buffer {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new Error(`encodePngRgb: height and width must be positive integers, got ${height}x${width}`);
  }
  if (rgb.length !== height * width * 3) {
    throw new Error(`encodePngRgb: expected ${height}x${width}x3 = ${height * width * 3} bytes, got ${rgb.length}`);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour RGB
  // Each scanline is stored with PNG's Paeth filter (type 4): photos and drawings then deflate to about half the size
  // of unfiltered rows, which matters because every image travels inside the notebook and its HTML export.
  const stride = width * 3;
  const raw = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const out = y * (stride + 1);
    raw[out] = 4;
    const row = y * stride;
    const prev = row - stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= 3 ? rgb[row + x - 3] : 0;
      const b = y > 0 ? rgb[prev + x] : 0;
      const c = x >= 3 && y > 0 ? rgb[prev + x - 3] : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      raw[out + 1 + x] = (rgb[row + x] - predictor) & 0xff;
    }
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** The PNG as a `data:image/png;base64,...` URL. */
export function pngDataUrl(rgb: Uint8Array, height: number, width: number): string {
  return 'data:image/png;base64,' + encodePngRgb(rgb, height, width).toString('base64');
}
