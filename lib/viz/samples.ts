/** Picking sample images out of a scanned folder for sampleGrid: a few per class, seeded, resized like the model input. */
import { decodeImage, type ScanResult } from '../data';
import { makeRng, shuffled } from '../random';
import type { SampleImage } from './figures';

export interface PickSamplesOptions {
  /** Images per class (fewer when a class has fewer). Default 4. */
  perClass?: number;
  /** Side of the square the images are resized to (the study's input). Default 96. */
  size?: number;
  /** Seed of the per-class shuffle. Default 27 (the study's). */
  seed?: number | string;
}

/** Up to `perClass` images of every class, in class order, decoded and resized; labels are the class names. */
export async function pickSamples(scan: ScanResult, opts: PickSamplesOptions = {}): Promise<SampleImage[]> {
  const perClass = opts.perClass ?? 4;
  const size = opts.size ?? 96;
  const rng = makeRng(opts.seed ?? 27);
  const out: SampleImage[] = [];
  for (const className of scan.classes) {
    const entries = shuffled(
      rng,
      scan.entries.filter((e) => e.className === className),
    ).slice(0, perClass);
    for (const e of entries)
      out.push({ rgb: await decodeImage(e.path, { size }), height: size, width: size, label: className });
  }
  return out;
}
