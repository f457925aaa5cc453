/**
 * The files every run-like record shares (a training run, the off-the-shelf baseline): the run folder's name and
 * creation, pretty atomic JSON, the package versions behind the numbers, the confusion matrix as CSV.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from './atomic';

/** Writes pretty JSON atomically (see writeFileAtomicSync). */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomicSync(file, JSON.stringify(value, null, 2) + '\n');
}

/** A timestamp usable in a folder name, e.g. 2026-11-25T12-07-05Z (UTC, sortable). */
export function runTimestamp(date: Date = new Date()): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

/** Creates runs/<experiment>/<trial>/<timestamp>/ under `outDir` (a suffix -2, -3... when two runs start in the same second). */
export function createRunDir(outDir: string, experiment: string, trial: string, date: Date = new Date()): string {
  const base = path.join(path.resolve(outDir), experiment, trial, runTimestamp(date));
  fs.mkdirSync(path.dirname(base), { recursive: true });
  for (let k = 1; ; k++) {
    const dir = k === 1 ? base : `${base}-${k}`;
    try {
      fs.mkdirSync(dir);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Versions of the packages a run's numbers depend on. */
export function packageVersions(): Record<string, string> {
  const version = (pkg: string) => {
    try {
      return (require(`${pkg}/package.json`) as { version: string }).version;
    } catch {
      return 'not installed';
    }
  };
  return {
    node: process.versions.node,
    '@tensorflow/tfjs': version('@tensorflow/tfjs'),
    '@tensorflow/tfjs-backend-wasm': version('@tensorflow/tfjs-backend-wasm'),
    sharp: version('sharp'),
  };
}

const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** confusion.csv: rows true class, columns predicted class, headed by class names. */
export function confusionCsv(matrix: number[][], classes: string[]): string {
  const head = ['true\\predicted', ...classes].map(csvCell).join(',');
  return [head, ...matrix.map((row, i) => [csvCell(classes[i]), ...row.map(String)].join(','))].join('\n') + '\n';
}
