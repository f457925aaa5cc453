/**
 * Scans an image folder laid out as `root/<class>/<files>` (Keras image_dataset_from_directory's layout), deciding each
 * file's type by its content.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff';
/** What to do with a file that is not a readable image: `skip` reports and counts it, `fail` throws. */
export type OnBadImage = 'skip' | 'fail';

export interface ImageEntry {
  /** Absolute path. */
  path: string;
  /** The path's bytes, when the file name is not valid UTF-8 (`path` then shows U+FFFD and cannot open it). */
  rawPath?: Buffer;
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
async function sniff(file: string | Buffer): Promise<{ format: ImageFormat } | { reason: string }> {
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

function listDir(dir: string | Buffer, what: string, shown = String(dir)): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${what} ${shown} does not exist`);
    if (code === 'ENOTDIR') throw new Error(`${what} ${shown} is not a folder`);
    throw new Error(`${what} ${shown} cannot be read: ${(e as Error).message}`);
  }
}

/** True for a folder (or a link to one); false for anything else, a dangling link or a link loop included. */
function isDirQuiet(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The class folders of `root`: its non-hidden subfolders and links to folders, sorted by name. */
export function classFolders(root: string): string[] {
  const absRoot = path.resolve(root);
  return listDir(absRoot, 'image folder')
    .filter(
      (d) => !isHidden(d.name) && (d.isDirectory() || (d.isSymbolicLink() && isDirQuiet(path.join(absRoot, d.name)))),
    )
    .map((d) => d.name)
    .sort(byName);
}

/**
 * Scans `root/<class>/...` (files in nested subfolders of a class count for that class, as in Keras).
 * Classes are sorted by name (code-point order, like Python's sorted()); hidden files and folders are ignored.
 * Errors name the folder when the root is missing, a class folder is empty, or no image is found.
 * Only the first bytes are read: a truncated file passes the scan and fails, naming the file, when decoded.
 */
export async function scanImageFolder(root: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const onBad = opts.onBadImage ?? 'skip';
  const absRoot = path.resolve(root);
  const subdirs = classFolders(absRoot);
  let classes = subdirs;
  if (opts.classes) {
    const missing = opts.classes.filter((c) => !subdirs.includes(c));
    if (missing.length)
      throw new Error(
        `image folder ${absRoot} has no class folder(s) ${missing.join(', ')}; found: ${subdirs.join(', ') || '(none)'}`,
      );
    classes = [...opts.classes];
  }
  if (classes.length === 0)
    throw new Error(`image folder ${absRoot} has no class subfolders (expected ${absRoot}/<class>/<image files>)`);

  const entries: ImageEntry[] = [];
  const bad: BadImage[] = [];
  const counts: Record<string, number> = {};
  // Links are followed once: a file reached twice (two links, or a link and the file) counts for the first class only.
  const seen = new Map<string, string>();
  const visitedDirs = new Set<string>();
  const reject = (b: BadImage) => {
    if (onBad === 'fail') throw new Error(`bad image ${b.path}: ${b.reason}`);
    bad.push(b);
  };
  for (const [label, className] of classes.entries()) {
    const classDir = path.join(absRoot, className);
    const { files, problems } = walkFiles(classDir, visitedDirs);
    if (files.length === 0 && problems.length === 0) throw new Error(`class folder ${classDir} is empty`);
    problems.forEach(reject);
    // Sniff a few files at a time: the scan is I/O bound on big sets.
    const results = await mapLimit(files, 16, (f) => sniff(f.raw ?? f.path));
    let n = 0;
    for (const [i, file] of files.entries()) {
      const r = results[i];
      if ('reason' in r) {
        reject({ path: file.path, reason: r.reason });
        continue;
      }
      const real = realFile(file.raw ?? file.path);
      const first = seen.get(real);
      if (first !== undefined) {
        reject({ path: file.path, reason: `the same file as ${first} (through a symbolic link); counted once` });
        continue;
      }
      seen.set(real, file.path);
      entries.push({
        path: file.path,
        ...(file.raw ? { rawPath: file.raw } : {}),
        relPath: path.relative(absRoot, file.path).split(path.sep).join('/'),
        label,
        className,
        format: r.format,
      });
      n++;
    }
    // A folder of non-images (a run folder, notes) is not a class of 0 images.
    if (n === 0)
      throw new Error(
        `class folder ${classDir} holds no readable image (${files.length + problems.length} ` +
          `file(s), none an image: e.g. ${bad[bad.length - 1]?.path ?? files[0]?.path}); remove it ` +
          `or move it out of ${absRoot}`,
      );
    counts[className] = n;
  }
  if (entries.length === 0)
    throw new Error(`image folder ${absRoot} holds no readable images (${bad.length} bad file(s))`);
  return { root: absRoot, classes, entries, bad, counts };
}

/** The real path of a file (symlinks resolved), or the path itself when it cannot be resolved. */
function realFile(p: string | Buffer): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return String(p);
  }
}

interface FoundFile {
  /** For messages and as the file's name; holds U+FFFD where the name is not valid UTF-8. */
  path: string;
  /** The name's bytes, when they are not valid UTF-8 (the string path would not find the file). */
  raw?: Buffer;
}

/**
 * Every non-hidden file under `dir`, in sorted order (deterministic across file systems). Symbolic links are followed
 * (to files and folders), each folder at most once: a link back into a folder already scanned (a loop, or a second link
 * to one folder), a dangling link and a link that cannot be resolved are problems, one per link, and the walk goes on.
 */
function walkFiles(dir: string, visited: Set<string>, rawDir?: Buffer): { files: FoundFile[]; problems: BadImage[] } {
  const files: FoundFile[] = [];
  const problems: BadImage[] = [];
  const real = realFile(rawDir ?? dir);
  if (visited.has(real))
    return {
      files,
      problems: [
        {
          path: dir,
          reason: 'a symbolic link to a folder already scanned (a loop, or a second link to one folder); skipped',
        },
      ],
    };
  visited.add(real);
  for (const d of listDirRaw(rawDir ?? dir, dir)) {
    if (isHidden(d.name)) continue;
    const p = path.join(dir, d.name);
    const raw = d.raw
      ? Buffer.concat([rawDir ?? Buffer.from(dir), Buffer.from(path.sep), d.raw])
      : rawDir && Buffer.concat([rawDir, Buffer.from(path.sep + d.name)]);
    let stat: fs.Stats | fs.Dirent | undefined = d.dirent;
    if (d.dirent.isSymbolicLink()) {
      try {
        stat = fs.statSync(raw ?? p);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        problems.push({
          path: p,
          reason:
            code === 'ENOENT'
              ? 'a dangling symbolic link (its target does not exist)'
              : code === 'ELOOP'
                ? 'a symbolic link loop'
                : `an unresolvable symbolic link (${code ?? (e as Error).message})`,
        });
        continue;
      }
    }
    if (stat.isDirectory()) {
      const sub = walkFiles(p, visited, raw);
      files.push(...sub.files);
      problems.push(...sub.problems);
    } else if (stat.isFile()) files.push(raw ? { path: p, raw } : { path: p });
    else problems.push({ path: p, reason: 'not a regular file' });
  }
  return { files, problems };
}

/** A folder entry; a name that is not valid UTF-8 keeps its bytes in `raw`. */
interface RawEntry {
  name: string;
  raw?: Buffer;
  dirent: fs.Dirent;
}

/** A folder's entries, sorted by name. */
function listDirRaw(dir: string | Buffer, shown: string): RawEntry[] {
  const list = listDir(dir, 'class folder', shown);
  const out = list.map((dirent): RawEntry => ({ name: dirent.name, dirent }));
  if (out.some((e) => e.name.includes('\uFFFD'))) {
    // Decoding replaced bytes: list again as bytes, in the same order, to keep a name that can open the file.
    const raws = fs.readdirSync(dir, { encoding: 'buffer', withFileTypes: true });
    const byText = new Map<string, fs.Dirent<Buffer>[]>();
    for (const r of raws) {
      const n = r.name.toString('utf8');
      byText.set(n, [...(byText.get(n) ?? []), r]);
    }
    for (const e of out) {
      if (!e.name.includes('\uFFFD')) continue;
      const r = byText.get(e.name)!.shift()!;
      e.raw = r.name;
      e.dirent = r as unknown as fs.Dirent;
    }
  }
  return out.sort((a, b) => byName(a.name, b.name));
}

/** Maps with at most `limit` calls in flight, keeping order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
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

/**
 * The scan without the classes in `drop`: their images are left out and the remaining classes keep their order,
 * numbered 0..k-1. Dropping a class the folder does not have is an error naming the folder and its classes.
 */
export function dropClasses(scan: ScanResult, drop: readonly string[]): ScanResult {
  if (drop.length === 0) return scan;
  const unknown = drop.filter((c) => !scan.classes.includes(c));
  if (unknown.length)
    throw new Error(
      `cannot drop ${unknown.map((c) => `"${c}"`).join(', ')}: ${scan.root} has the classes ${scan.classes.join(', ')}`,
    );
  const classes = scan.classes.filter((c) => !drop.includes(c));
  if (classes.length === 0) throw new Error(`dropping ${drop.join(', ')} leaves no class in ${scan.root}`);
  const entries = scan.entries
    .filter((e) => !drop.includes(e.className))
    .map((e) => ({ ...e, label: classes.indexOf(e.className) }));
  const counts = Object.fromEntries(Object.entries(scan.counts).filter(([c]) => !drop.includes(c)));
  return { ...scan, classes, entries, counts };
}

/** A human-readable summary: root, class order with counts, and each bad file with its reason. */
export function formatScanSummary(r: ScanResult): string {
  const width = Math.max(5, ...r.classes.map((c) => c.length));
  const lines = [
    `${r.root}: ${r.entries.length} images in ${r.classes.length} classes${r.bad.length ? `, ${r.bad.length} bad file(s) skipped` : ''}`,
  ];
  lines.push(`  ${'label'.padStart(5)}  ${'class'.padEnd(width)}  images`);
  for (const [i, c] of r.classes.entries())
    lines.push(`  ${String(i).padStart(5)}  ${c.padEnd(width)}  ${r.counts[c]}`);
  const formats: Record<string, number> = {};
  for (const e of r.entries) formats[e.format] = (formats[e.format] ?? 0) + 1;
  lines.push(
    `  formats: ${Object.entries(formats)
      .map(([f, n]) => `${f} ${n}`)
      .join(', ')}`,
  );
  if (r.bad.length) {
    lines.push('  bad files:');
    for (const b of r.bad) lines.push(`    ${b.path}: ${b.reason}`);
  }
  return lines.join('\n');
}

/** Split subfolders (e.g. Face Mask 12K's Train/Validation/Test) of `root`, found case-insensitively; keys are the canonical names asked for. */
export function findSplits(
  root: string,
  names: readonly string[] = ['Train', 'Validation', 'Test'],
): Record<string, string> {
  const dirs = listDir(path.resolve(root), 'dataset folder').filter((d) => d.isDirectory() && !isHidden(d.name));
  const out: Record<string, string> = {};
  for (const name of names) {
    const hit = dirs.find((d) => d.name.toLowerCase() === name.toLowerCase());
    if (hit) out[name] = path.join(path.resolve(root), hit.name);
  }
  return out;
}
