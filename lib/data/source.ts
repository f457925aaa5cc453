/** One interface for every image dataset (a scanned folder, FER2013's CSV, images held in memory), so pipelines and training take any of them. */
import * as fs from 'node:fs';
import { decodeImage } from './image';
import type { ScanResult } from './scan';

export interface ImageSource {
  /** Class names; label i is classes[i]. */
  classes: string[];
  /** Number of images. */
  size: number;
  /** Label of each image, by index. */
  labels: Int32Array;
  /** One line saying what this is (for logs and run records). */
  describe: string;
  /** Image `index` as [h, w] x 3 uint8 RGB (row-major, channels last), resized with TF's bilinear. */
  read(index: number, size: [number, number]): Promise<Uint8Array>;
}

/** Throws unless `index` is a valid image index of a source with `size` images. */
export function checkIndex(index: number, size: number, describe: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= size)
    throw new Error(`image index ${index} is out of range for ${describe} (0..${size - 1})`);
}

/** An ImageSource over a scanned folder: files are decoded (by content) and resized on each read. */
export function folderSource(scan: ScanResult, opts: { pixelLimit?: number } = {}): ImageSource {
  const describe = `image folder ${scan.root}: ${scan.entries.length} images, ${scan.classes.length} classes`;
  return {
    classes: [...scan.classes],
    size: scan.entries.length,
    labels: Int32Array.from(scan.entries, (e) => e.label),
    describe,
    async read(index, size) {
      checkIndex(index, scan.entries.length, describe);
      const e = scan.entries[index];
      // A name that is not valid UTF-8 opens only by its bytes; sharp takes string paths, so read the bytes here.
      const input = e.rawPath ? await fs.promises.readFile(e.rawPath) : e.path;
      return decodeImage(input, { size, pixelLimit: opts.pixelLimit, name: e.path });
    },
  };
}
