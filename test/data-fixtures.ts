/** Shared fixtures for the data tests: temp folders and small generated images of every kind the decoder must handle. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { type OutputIO, defaultIO } from '../lib/data/outdir';

/** A fresh temp folder; call the returned cleanup when done. */
export function tempDir(prefix = 'affect-data-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A w x h x channels gradient, different per channel so channel mix-ups show. */
export function gradient(w: number, h: number, channels: number): Buffer {
  const raw = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < channels; c++) raw[(y * w + x) * channels + c] = (x * 11 + y * 5 + c * 60) % 256;
  return raw;
}

const fromRaw = (w: number, h: number, channels: 1 | 2 | 3 | 4) =>
  sharp(gradient(w, h, channels), { raw: { width: w, height: h, channels } });

/** Encoded test images (all w x h). */
export async function makeImages(
  w = 20,
  h = 10,
): Promise<Record<'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'gray' | 'rgba' | 'png16' | 'cmyk', Buffer>> {
  return {
    jpeg: await fromRaw(w, h, 3).jpeg().toBuffer(),
    png: await fromRaw(w, h, 3).png().toBuffer(),
    webp: await fromRaw(w, h, 3).webp({ lossless: true }).toBuffer(),
    gif: await fromRaw(w, h, 3).gif().toBuffer(),
    tiff: await fromRaw(w, h, 3).tiff({ compression: 'lzw' }).toBuffer(),
    gray: await fromRaw(w, h, 1).png().toBuffer(),
    rgba: await fromRaw(w, h, 4).png().toBuffer(),
    png16: await fromRaw(w, h, 3).toColourspace('rgb16').png().toBuffer(),
    cmyk: await fromRaw(w, h, 3).toColourspace('cmyk').jpeg().toBuffer(),
  };
}

/** Writes files under `root`: keys are relative paths. */
export function writeTree(root: string, files: Record<string, Buffer | string>): void {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
}

/** The real sample data folder (AFFECT_SAMPLE_DATA), or undefined with the reason to skip. */
export function sampleData(): string | undefined {
  const dir = process.env.AFFECT_SAMPLE_DATA;
  return dir && fs.existsSync(dir) ? dir : undefined;
}
export const SKIP_SAMPLE =
  'AFFECT_SAMPLE_DATA is not set (point it at the shared sample images, e.g. /work/shared/data) - skipped';

/** relative path -> sha256 of every file under `root` (hidden files included), sorted: compares whole folders. */
export function hashTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else out[path.relative(root, p)] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(root);
  return out;
}

/** An OutputIO whose `which` method fails with `message` after `okCalls` successful calls (a full disk, an I/O error). */
export function failingIO(which: keyof OutputIO, okCalls: number, message: string): OutputIO {
  let calls = 0;
  return {
    ...defaultIO,
    [which]: async (a: string, b: never) => {
      if (++calls > okCalls) throw new Error(message);
      return defaultIO[which](a, b);
    },
  };
}

/** A valid PNG header claiming 20000 x 20000 pixels (4e8, over the pixel limit) with a few bytes of data: a decompression bomb's shape. */
export function pngBomb(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const td = Buffer.concat([Buffer.from(type), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(20000, 0);
  ihdr.writeUInt32BE(20000, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(10))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
