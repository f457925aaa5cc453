/**
 * Data benchmark: decode+resize to 96x96 (images/s) and the uint8 / float32 batch pipelines, on the shared Face Mask
 * images (AFFECT_SAMPLE_DATA) or, when absent, on generated PNGs of the same sizes (said in the notes).
 * Wall-clock rates depend on what else runs on the machine, so each row also reports images per CPU-second of this
 * process (all threads): a load-independent figure; on two free cores the wall rate approaches up to twice that.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import type { BenchRow, BenchSection } from './types';
import { timed, type Timing } from './timing';
import { decodeImage } from '../lib/data/image';
import { imageDataset, readBatches } from '../lib/data/pipeline';
import { mapLimit, scanImageFolder } from '../lib/data/scan';
import { folderSource, type ImageSource } from '../lib/data/source';

const SIZE = 96;
const DECODE_TARGET = 800;

/** Face-mask-like PNGs (224x224 and 100x100 noise) in a temp folder, for machines without the sample data. */
async function generatedFolder(n: number): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-bench-data-'));
  for (let i = 0; i < n; i++) {
    const side = i % 2 ? 100 : 224;
    const raw = Buffer.alloc(side * side * 3);
    for (let k = 0; k < raw.length; k++) raw[k] = (k * 2654435761 + i * 97) >>> 24;
    const cls = path.join(dir, i % 2 ? 'WithoutMask' : 'WithMask');
    fs.mkdirSync(cls, { recursive: true });
    await sharp(raw, { raw: { width: side, height: side, channels: 3 } })
      .png()
      .toFile(path.join(cls, `${i}.png`));
  }
  return dir;
}

export async function benchData(): Promise<BenchSection> {
  const rows: BenchRow[] = [];
  const skipped: string[] = [];
  const sample =
    process.env.AFFECT_SAMPLE_DATA && path.join(process.env.AFFECT_SAMPLE_DATA, 'face-mask-12k-validation');
  const real = !!sample && fs.existsSync(sample);
  const dir = real ? sample : await generatedFolder(400);
  const what = real
    ? 'face-mask-12k-validation PNGs (800, 224x224 and ~100x100)'
    : 'generated PNGs (400, 224x224 and 100x100; AFFECT_SAMPLE_DATA not set)';
  try {
    const scan = await scanImageFolder(dir);
    const files = scan.entries.map((e) => e.path);
    const n = files.length;
    const row = (metric: string, t: Timing, count: number, target?: number, extra = '') =>
      rows.push({
        metric,
        value: Math.round(count / t.wallS),
        unit: 'images/s',
        ...(target ? { target } : {}),
        notes:
          `${what}; median of ${t.all.length} runs (all: ${t.all.map((w) => Math.round(count / w)).join(', ')} images/s); ` +
          `${Math.round(count / t.cpuS)} images per CPU-second, CPU/wall ${(t.cpuS / t.wallS).toFixed(2)}, ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)}${extra}`,
      });

    await mapLimit(files.slice(0, 50), 4, (f) => decodeImage(f, { size: SIZE })); // warm-up: file cache, libvips init
    for (const inflight of [1, 4]) {
      const t = await timed(() => mapLimit(files, inflight, (f) => decodeImage(f, { size: SIZE })));
      // The target is for the pipeline's own concurrency (4 decodes in flight); 1 in flight shows one core's share.
      row(
        `decode+resize ${SIZE}x${SIZE}, ${inflight} in flight`,
        t,
        n,
        inflight === 4 ? DECODE_TARGET : undefined,
        `; libvips threads per image ${sharp.concurrency()}`,
      );
    }
    const source: ImageSource = folderSource(scan);
    const order = Array.from({ length: n }, (_, i) => i);
    const tb = await timed(async () => {
      for await (const b of readBatches(source, order, { imageSize: SIZE, batchSize: 32 })) void b;
    });
    row(`uint8 batch pipeline (readBatches, batch 32, ${SIZE}x${SIZE})`, tb, n);
    // On the backend in use (only lib/backend.ts switches backends); the row names it.
    const ds = imageDataset(source, order, { imageSize: SIZE, batchSize: 32, shuffle: true, seed: 1 });
    const tt = await timed(() => ds.forEachAsync(({ xs, ys }) => tf.dispose([xs, ys])), 1);
    row(
      `float32 tensor pipeline (imageDataset, batch 32, ${SIZE}x${SIZE}, shuffled)`,
      tt,
      n,
      undefined,
      `; backend ${tf.getBackend()}`,
    );
  } finally {
    if (!real) fs.rmSync(dir, { recursive: true, force: true });
  }
  if (!real) skipped.push('real sample images: AFFECT_SAMPLE_DATA not set, measured on generated PNGs instead');
  return { name: 'data', rows, skipped };
}
