/**
 * Small inputs for the data notebook's demonstrations, built from any scanned image folder (usually the synthetic set):
 * a folder in the study's original layout (`train/<class>/image0000000.png`, numbering restarting in every class, so file
 * names repeat across classes as in the real dataset) with unequal class sizes, and a labels.csv that moves some images to
 * another class, in the improved-labels file's format (index, pth, label, relFCs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../atomic';
import { toCsv } from '../data/csv';
import type { ScanResult } from '../data';
import { makeRng, randInt, shuffled } from '../random';

export interface OriginalLayoutOptions {
  /** Share of each class's images kept, from `minShare` (smallest class) up to all (largest); classes are ranked by a seeded shuffle. Default 0.4. */
  minShare?: number;
  /** At most this many images of each source class are used (the demo stays small on a full dataset). Default 50. */
  maxPerClass?: number;
  /** Share of images that labels.csv gives another class. Default 0.25. */
  relabelShare?: number;
  /** Default 27. */
  seed?: number | string;
}

export interface OriginalLayout {
  /** The folder: `<root>/train/<class>/...` and `<root>/labels.csv`. */
  root: string;
  labels: string;
  /** Images per class under train/. */
  counts: Record<string, number>;
  /** Rows of labels.csv whose label differs from the folder. */
  relabeled: number;
}

/** Writes the demo folder into `out` (which must not exist or be empty); the source images are copied, never moved. */
export function makeOriginalLayout(scan: ScanResult, out: string, opts: OriginalLayoutOptions = {}): OriginalLayout {
  const minShare = opts.minShare ?? 0.4;
  const relabelShare = opts.relabelShare ?? 0.25;
  if (!(minShare > 0 && minShare <= 1)) throw new Error(`minShare must be in (0, 1], got ${minShare}`);
  if (!(relabelShare >= 0 && relabelShare <= 1)) throw new Error(`relabelShare must be in [0, 1], got ${relabelShare}`);
  if (fs.existsSync(out) && fs.readdirSync(out).length) throw new Error(`output folder ${out} is not empty`);
  if (scan.classes.length < 2)
    throw new Error(`${scan.root}: need at least 2 classes to relabel between, found ${scan.classes.length}`);
  const rng = makeRng(opts.seed ?? 27);
  const rank = shuffled(rng, scan.classes);
  const counts: Record<string, number> = {};
  const rows: string[][] = [];
  let relabeled = 0;
  for (const className of scan.classes) {
    const files = scan.entries.filter((e) => e.className === className).slice(0, opts.maxPerClass ?? 50);
    const others = scan.classes.filter((c) => c !== className);
    const share = minShare + ((1 - minShare) * rank.indexOf(className)) / (rank.length - 1);
    const keep = shuffled(rng, files).slice(0, Math.max(1, Math.round(files.length * share)));
    fs.mkdirSync(path.join(out, 'train', className), { recursive: true });
    keep.forEach((e, i) => {
      const name = `image${String(i).padStart(7, '0')}${path.extname(e.path) || '.png'}`;
      fs.copyFileSync(e.path, path.join(out, 'train', className, name));
      let label = className;
      if (rng() < relabelShare) {
        label = others[randInt(rng, others.length)];
        relabeled++;
      }
      rows.push([String(rows.length), `${className}/${name}`, label, (rng() * 10).toFixed(3)]);
    });
    counts[className] = keep.length;
  }
  const labels = path.join(out, 'labels.csv');
  // Written last and atomically: a labels.csv under its name is a complete one.
  writeFileAtomicSync(labels, toCsv(['', 'pth', 'label', 'relFCs'], rows));
  return { root: out, labels, counts, relabeled };
}
