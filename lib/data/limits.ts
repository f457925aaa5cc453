/**
 * Bounds on what a data tool may be asked to make, checked before any work starts: a count or size option that the
 * process's memory or the disk could not hold is refused with the limit and the reason, never left to run out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors';

/**
 * Most image files one tool run may plan: every planned file is an entry of its plan, held in memory and in the
 * `.incomplete` marker (a few hundred bytes each, so about 2 GB at this count). The study's largest set has 109,536.
 */
export const MAX_OUTPUT_IMAGES = 5_000_000;

/** Largest side of a synthetic image: each is rendered as raw RGB (size^2 x 3 bytes), two per core at once. */
export const MAX_SYNTH_SIZE = 4096;

/** Refuses (ConfigError naming `option`) a plan of more than MAX_OUTPUT_IMAGES files. */
export function checkOutputCount(count: number, option: string): void {
  if (!(count <= MAX_OUTPUT_IMAGES)) {
    throw new ConfigError(
      `${option} asks for ${Number.isFinite(count) ? count.toLocaleString('en-US') : count} ` +
        `images; the limit is ${MAX_OUTPUT_IMAGES.toLocaleString('en-US')}, because every planned ` +
        `file is held in memory and in the .incomplete marker`,
    );
  }
}

/** Free bytes on the file system that holds `dir` (or its nearest existing ancestor); undefined where unknown. */
export function freeBytes(dir: string): number | undefined {
  let cur = path.resolve(dir);
  while (!fs.existsSync(cur) && path.dirname(cur) !== cur) cur = path.dirname(cur);
  try {
    const st = fs.statfsSync(cur);
    return st.bavail * st.bsize;
  } catch {
    return undefined;
  }
}

const gb = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;

/** Refuses (ConfigError) an output whose estimated `bytes` exceed the free space where `dir` would be written. */
export function checkDiskRoom(dir: string, bytes: number, what: string): void {
  const free = freeBytes(dir);
  if (free !== undefined && bytes > free)
    throw new ConfigError(
      `${what} need about ${gb(bytes)} on disk, but the file system of ${dir} has ${gb(free)} free`,
    );
}
