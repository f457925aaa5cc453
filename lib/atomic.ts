/** Whole-file writes for records, checkpoints, reports and notebooks (the data tools' injectable variant lives in lib/data/outdir.ts). */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Writes a file so that readers see either the old content or the whole new content (temp file + rename). */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    // A failed write (full disk, target is a folder) must not leave its half-written temp file behind.
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
