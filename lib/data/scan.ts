/** Scans an image folder laid out as `root/<class>/<files>` (Keras image_dataset_from_directory's layout), deciding each file's type by its content. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff';
/** What to do with a file that is not a readable image: `skip` reports and counts it, `fail` throws. */
export type OnBadImage = 'skip' | 'fail';

export interface ImageEntry {
  /** Absolute path. */
  path: string;
  /** Path relative to the scanned root, with `/` separators. */
  relPath: string;
  /** Index into ScanResult.classes. */
  label: number;
  className: string;
  /** Decided by the file's magic bytes, never by its extension. */
  format: ImageFormat;
}

export interface BadImage {
  path: string;
  reason: string;
}

export interface ScanResult {
  root: string;
  /** Class folder names, sorted by name (label i is classes[i]), as Keras does. */
  classes: string[];
  entries: ImageEntry[];
  bad: BadImage[];
  /** Images per class name. */
  counts: Record<string, number>;
}

export interface ScanOptions {
  /** Default 'skip'. */
  onBadImage?: OnBadImage;
  /** Use these classes, in this order (like Keras's `class_names`); each must be a subfolder. Default: every subfolder, sorted. */
  classes?: string[];
}

/** Bytes needed by detectImageFormat. */
const HEADER_BYTES = 12;

/** The image format named by a file's first bytes, or undefined when they are not one of the five Keras/sharp formats. */
export function detectImageFormat(header: Uint8Array): ImageFormat | undefined {
  const h = header;
  const at = (i: number, bytes: number[]) => bytes.every((b, k) => h[i + k] === b);
  if (at(0, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  // RIFF....WEBP
  if (at(0, [0x52, 0x49, 0x46, 0x46]) && at(8, [0x57, 0x45, 0x42, 0x50])) return 'webp';
  // GIF87a / GIF89a
  if (at(0, [0x47, 0x49, 0x46, 0x38]) && (h[4] === 0x37 || h[4] === 0x39) && h[5] === 0x61) return 'gif';
  // II*\0 (little-endian) or MM\0* (big-endian)
  if (at(0, [0x49, 0x49, 0x2a, 0x00]) || at(0, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  return undefined;
}

const isHidden = (name: string) => name.startsWith('.');

/** Reads a file's first bytes and classifies it: a format, or the reason it is not an image. */
async function sniff(file: string): Promise<{ format: ImageFormat } | { reason: string }> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(file, 'r');
    const buf = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEADER_BYTES, 0);
    if (bytesRead === 0) return { reason: 'empty file (0 bytes)' };
    const format = detectImageFormat(buf.subarray(0, bytesRead));
    return format ? { format } : { reason: 'not an image (no JPEG, PNG, WebP, GIF or TIFF signature)' };
  } catch (e) {
    return { reason: `unreadable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  } finally {
    await fh?.close();
  }
}

function listDir(dir: string, what: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${what} ${dir} does not exist`);
    if (code === 'ENOTDIR') throw new Error(`${what} ${dir} is not a folder`);
    throw new Error(`${what} ${dir} cannot be read: ${(e as Error).message}`);
  }
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Scans `root/<class>/...` (files in nested subfolders of a class count for that class, as in Keras).
 * Classes are sorted by name (code-point order, like Python's sorted()); hidden files and folders are ignored.
 * Errors name the folder when the root is missing, a class folder is empty, or no image is found.
 * Only the first bytes are read: a truncated file passes the scan and fails, naming the file, when decoded.
 */
export async function scanImageFolder(root: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const onBad = opts.onBadImage ?? 'skip';
  const absRoot = path.resolve(root);
  const subdirs = listDir(absRoot, 'image folder')
    .filter((d) => !isHidden(d.name) && (d.isDirectory() || (d.isSymbolicLink() && !!fs.statSync(path.join(absRoot, d.name), { throwIfNoEntry: false })?.isDirectory())))
    .map((d) => d.name)
    .sort(byName);
  let classes = subdirs;
  if (opts.classes) {
    const missing = opts.classes.filter((c) => !subdirs.includes(c));
    if (missing.length) throw new Error(`image folder ${absRoot} has no class folder(s) ${missing.join(', ')}; found: ${subdirs.join(', ') || '(none)'}`);
    classes = [...opts.classes];
  }
  if (classes.length === 0) throw new Error(`image folder ${absRoot} has no class subfolders (expected ${absRoot}/<class>/<image files>)`);

  const entries: ImageEntry[] = [];
  const bad: BadImage[] = [];
  const counts: Record<string, number> = {};
  for (const [label, className] of classes.entries()) {
    const files = walkFiles(path.join(absRoot, className));
    if (files.length === 0) throw new Error(`class folder ${path.join(absRoot, className)} is empty`);
    // Sniff a few files at a time: the scan is I/O bound on big sets.
    const results = await mapLimit(files, 16, sniff);
    let n = 0;
    for (const [i, file] of files.entries()) {
      const r = results[i];
      if ('reason' in r) {
        if (onBad === 'fail') throw new Error(`bad image ${file}: ${r.reason}`);
        bad.push({ path: file, reason: r.reason });
        continue;
      }
      entries.push({ path: file, relPath: path.relative(absRoot, file).split(path.sep).join('/'), label, className, format: r.format });
      n++;
    }
    counts[className] = n;
  }
  if (entries.length === 0) throw new Error(`image folder ${absRoot} holds no readable images (${bad.length} bad file(s))`);
  return { root: absRoot, classes, entries, bad, counts };
}

/** Every non-hidden file under `dir`, in sorted order (deterministic across file systems). */
function walkFiles(dir: string): string[] {
  const out: string[] = [];
  for (const d of listDir(dir, 'class folder').sort((a, b) => byName(a.name, b.name))) {
    if (isHidden(d.name)) continue;
    const p = path.join(dir, d.name);
    const stat = d.isSymbolicLink() ? fs.statSync(p, { throwIfNoEntry: false }) : d;
    if (stat?.isDirectory()) out.push(...walkFiles(p));
    else if (stat?.isFile() || !stat) out.push(p);
  }
  return out;
}

/** Maps with at most `limit` calls in flight, keeping order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A human-readable summary: root, class order with counts, and each bad file with its reason. */
export function formatScanSummary(r: ScanResult): string {
  const width = Math.max(5, ...r.classes.map((c) => c.length));
  const lines = [`${r.root}: ${r.entries.length} images in ${r.classes.length} classes${r.bad.length ? `, ${r.bad.length} bad file(s) skipped` : ''}`];
  lines.push(`  ${'label'.padStart(5)}  ${'class'.padEnd(width)}  images`);
  for (const [i, c] of r.classes.entries()) lines.push(`  ${String(i).padStart(5)}  ${c.padEnd(width)}  ${r.counts[c]}`);
  const formats: Record<string, number> = {};
  for (const e of r.entries) formats[e.format] = (formats[e.format] ?? 0) + 1;
  lines.push(`  formats: ${Object.entries(formats).map(([f, n]) => `${f} ${n}`).join(', ')}`);
  if (r.bad.length) {
    lines.push('  bad files:');
    for (const b of r.bad) lines.push(`    ${b.path}: ${b.reason}`);
  }
  return lines.join('\n');
}

/** Split subfolders (e.g. Face Mask 12K's Train/Validation/Test) of `root`, found case-insensitively; keys are the canonical names asked for. */
export function findSplits(root: string, names: readonly string[] = ['Train', 'Validation', 'Test']): Record<string, string> {
  const dirs = listDir(path.resolve(root), 'dataset folder').filter((d) => d.isDirectory() && !isHidden(d.name));
  const out: Record<string, string> = {};
  for (const name of names) {
    const hit = dirs.find((d) => d.name.toLowerCase() === name.toLowerCase());
    if (hit) out[name] = path.join(path.resolve(root), hit.name);
  }
  return out;
}
