/**
 * Augmentation benchmark: the study's pipeline (augment-study.json) on 96x96 RGB images, inline on one thread and on
 * an AugmentPool using every core (target: 300 images/s), plus the whole datasplit step (decode PNG, augment, encode PNG).
 * Images: synthetic faces (generated into a temp folder). Medians of 3 runs; other jobs may share the cores, so each row
 * also notes images per CPU-second of this process (all threads).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import type { BenchRow, BenchSection } from './types';
import { AugmentPool, STUDY_AUGMENT_PIPELINE } from '../lib/data/augment';
import { type RgbImage, decodeRgb } from '../lib/data/image';
import { mapLimit, scanImageFolder } from '../lib/data/scan';
import { synthesizeFaces } from '../lib/data/synth';
import { timed } from './timing';

const SIZE = 96;
const TARGET = 300;

export async function benchAugment(): Promise<BenchSection> {
  const section: BenchSection = { name: 'augmentation (study pipeline, 96x96)', rows: [], skipped: [] };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-augment-'));
  const threads = os.availableParallelism();
  const pool = new AugmentPool(STUDY_AUGMENT_PIPELINE, { threads });
  const inline = new AugmentPool(STUDY_AUGMENT_PIPELINE, { threads: 0 });
  try {
    await synthesizeFaces({ task: 'affect', out: dir + '/faces', perClass: 8, seed: 1, size: SIZE });
    const files = (await scanImageFolder(dir + '/faces')).entries.map((e) => e.path);
    const images: RgbImage[] = await Promise.all(files.map((f) => decodeRgb(f)));
    const row = (metric: string, n: number, t: { wallS: number; cpuS: number }, target?: number): BenchRow => ({
      metric,
      value: n / t.wallS,
      unit: 'images/s',
      target,
      notes: `${n} images in ${t.wallS.toFixed(2)} s (median of 3); ${(n / t.cpuS).toFixed(0)} images per CPU-second`,
    });
    const run = (p: AugmentPool, n: number) => () =>
      mapLimit(
        Array.from({ length: n }, (_, i) => i),
        4 * threads,
        (i) => p.augment(images[i % images.length], `bench:${i}`),
      );
    await run(pool, 64)(); // warm the workers' JIT
    section.rows.push(row('augment only, 1 thread (inline)', 500, await timed(run(inline, 500))));
    section.rows.push(row(`augment only, AugmentPool ${threads} threads`, 1500, await timed(run(pool, 1500)), TARGET));
    const full = (n: number) => () =>
      mapLimit(
        Array.from({ length: n }, (_, i) => i),
        4 * threads,
        async (i) => {
          const img = await pool.augment(await decodeRgb(files[i % files.length]), `bench:${i}`);
          return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
            .png()
            .toBuffer();
        },
      );
    section.rows.push(
      row(`decode PNG + augment + encode PNG (datasplit's step), ${threads} threads`, 600, await timed(full(600))),
    );
  } finally {
    await pool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return section;
}

if (require.main === module) {
  void benchAugment().then((s) => console.log(JSON.stringify(s, null, 2)));
}
