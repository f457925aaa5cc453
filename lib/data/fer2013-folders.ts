/**
 * FER2013 between Kaggle's CSV (`emotion,pixels,Usage`) and the folder layout the image tools read:
 * `train/` (Training), `test/` (PublicTest) and `private-test/` (PrivateTest), each of class folders named as
 * FER2013_CLASSES, images `<Usage>_<row>.png` (lossless 8-bit gray PNG; `<row>` is the 0-based data row of the CSV).
 * Both directions stream (one row or one image at a time) and never write into their input; nothing is lost, so a
 * round trip CSV -> folders -> CSV gives back the same rows in the same order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { checkOutputOutside, checkWritable } from '../fs';
import { FER2013_CLASSES, FER2013_USAGES, fer2013Rows, type Fer2013Usage } from './fer2013';
import {
  type OutputIO,
  beginOutput,
  defaultIO,
  finishOutput,
  runUntilFailure,
  writeFileAtomic,
  writeUnlessDone,
} from './outdir';
import { type ProgressOptions, progressBar } from './progress';

/** The split folder of each Usage. */
export const FER2013_SPLIT_FOLDERS: Readonly<Record<Fer2013Usage, string>> = {
  Training: 'train',
  PublicTest: 'test',
  PrivateTest: 'private-test',
};

const SIDE = 48;
/** Rows converted at a time: enough PNG encodes in flight to keep sharp's threads busy, few enough to stay streaming. */
const CHUNK = 64;

export interface Fer2013ToFoldersOptions {
  /** The FER2013 CSV. Rows of a file without a Usage column go to train/ as Training. */
  csv: string;
  /** New or empty output folder (or one this command left incomplete, which it resumes). */
  output: string;
  progress?: boolean | ProgressOptions;
  io?: OutputIO;
}

export interface Fer2013FoldersResult {
  output: string;
  /** Images per split folder and class. */
  counts: Record<string, Record<string, number>>;
  total: number;
  resumed: boolean;
}

/** The image path of a CSV row under the output folder: `<split>/<class>/<Usage>_<row>.png`. */
export function fer2013ImagePath(row: { row: number; emotion: number; usage: string }): string {
  const usage = (row.usage || 'Training') as Fer2013Usage;
  return path.join(FER2013_SPLIT_FOLDERS[usage], FER2013_CLASSES[row.emotion], `${usage}_${row.row}.png`);
}

/**
 * Writes every row of a FER2013 CSV as a PNG into `<output>/<split>/<class>/`. The output folder is marked
 * `.incomplete` until the last file is in place; rerunning the same command resumes, skipping the files already written.
 */
export async function fer2013ToFolders(options: Fer2013ToFoldersOptions): Promise<Fer2013FoldersResult> {
  const csv = path.resolve(options.csv);
  const output = path.resolve(options.output);
  if (!fs.existsSync(csv) || !fs.statSync(csv).isFile())
    throw new Error(`FER2013 CSV ${csv} does not exist or is not a file`);
  checkOutputOutside({ path: output, what: 'output' }, [{ path: csv, what: 'input CSV' }]);
  checkWritable(output, 'output folder');
  const st = fs.statSync(csv);
  // The CSV's size and time identify it for a resume without reading it twice.
  const { resumed } = await beginOutput(
    output,
    'fer2013-to-folders',
    { csv, size: st.size, mtimeMs: st.mtimeMs },
    async () => null,
  );
  const io = options.io ?? defaultIO;
  const counts: Record<string, Record<string, number>> = {};
  const bar = progressBar('fer2013 to folders', approximateRows(st.size), options.progress);
  let total = 0;
  const flush = async (rows: { dest: string; pixels: Uint8Array }[]) => {
    await runUntilFailure(rows, 8, (r) =>
      writeUnlessDone(r.dest, async (d) => writeFileAtomic(d, await encodeGrayPng(r.pixels), io)),
    );
    bar?.tick(rows.length);
  };
  try {
    let chunk: { dest: string; pixels: Uint8Array }[] = [];
    for await (const row of fer2013Rows(csv)) {
      const rel = fer2013ImagePath(row);
      const [split, cls] = rel.split(path.sep);
      counts[split] ??= {};
      counts[split][cls] = (counts[split][cls] ?? 0) + 1;
      total++;
      chunk.push({ dest: path.join(output, rel), pixels: row.pixels });
      if (chunk.length >= CHUNK) {
        await flush(chunk);
        chunk = [];
      }
    }
    await flush(chunk);
  } catch (e) {
    throw new Error(
      `fer2013 to folders: ${(e as Error).message}. The output ${output} is incomplete (it holds ` +
        `.incomplete); rerun the same command to resume, or delete it`,
    );
  }
  if (total === 0)
    throw new Error(`FER2013 CSV ${csv} has a header but no rows; the output ${output} is left incomplete`);
  bar?.finish();
  finishOutput(output);
  return { output, counts, total, resumed };
}

/** About how many rows a FER2013 CSV of `bytes` holds (a row is about 8.7 KB), for the progress line only. */
const approximateRows = (bytes: number) => Math.max(1, Math.round(bytes / 8700));

/** A 48x48 gray image as a lossless 8-bit one-channel PNG. */
export function encodeGrayPng(pixels: Uint8Array): Promise<Buffer> {
  return sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), {
    raw: { width: SIDE, height: SIDE, channels: 1 },
  })
    .toColourspace('b-w') // else sharp writes the gray values three times (RGB)
    .png()
    .toBuffer();
}

export interface FoldersToFer2013Options {
  /** A folder holding split folders train/, test/ and/or private-test/ of FER2013 class folders of 48x48 gray images. */
  input: string;
  /** The CSV to write (a new file outside the input). */
  output: string;
  progress?: boolean | ProgressOptions;
}

export interface Fer2013CsvResult {
  output: string;
  /** Rows per Usage. */
  counts: Record<string, number>;
  total: number;
  /** True when every image was named `<Usage>_<n>.<ext>` and the rows follow n (the original CSV order); else by split, class and name. */
  orderedByRow: boolean;
}

const NAME_RE = /^(Training|PublicTest|PrivateTest)_(\d+)\.[^.]+$/;

interface ImageRow {
  file: string;
  emotion: number;
  usage: Fer2013Usage;
  name: string;
  n?: number;
}

/** The split folders of `input` with their Usage (folder names case-insensitive; `privatetest` and `private_test` also accepted). */
function splitFolders(input: string): { dir: string; usage: Fer2013Usage }[] {
  const byName = new Map<string, Fer2013Usage>([
    ['train', 'Training'],
    ['training', 'Training'],
    ['test', 'PublicTest'],
    ['publictest', 'PublicTest'],
    ['private-test', 'PrivateTest'],
    ['privatetest', 'PrivateTest'],
    ['private_test', 'PrivateTest'],
  ]);
  const found: { dir: string; usage: Fer2013Usage }[] = [];
  for (const d of fs.readdirSync(input, { withFileTypes: true })) {
    const usage = byName.get(d.name.toLowerCase());
    if (!d.isDirectory() || !usage) continue;
    if (found.some((f) => f.usage === usage))
      throw new Error(
        `${input} has two folders for ${usage} (${found.find((f) => f.usage === usage)!.dir} and ${d.name})`,
      );
    found.push({ dir: path.join(input, d.name), usage });
  }
  return found.sort((a, b) => FER2013_USAGES.indexOf(a.usage) - FER2013_USAGES.indexOf(b.usage));
}

/** Every image under the split and class folders (names only, no pixels), in CSV order. */
function listImages(input: string): { rows: ImageRow[]; orderedByRow: boolean } {
  const splits = splitFolders(input);
  if (splits.length === 0)
    throw new Error(`${input} has no split folder (train, test or private-test) of FER2013 class folders`);
  const rows: ImageRow[] = [];
  for (const s of splits) {
    for (const c of fs
      .readdirSync(s.dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort()) {
      const emotion = (FER2013_CLASSES as readonly string[]).indexOf(c);
      if (emotion < 0)
        throw new Error(`${path.join(s.dir, c)}: "${c}" is not a FER2013 class (${FER2013_CLASSES.join(', ')})`);
      // Every visible file: one that is not an image is an error when read, never silently left out.
      for (const name of fs
        .readdirSync(path.join(s.dir, c))
        .filter((f) => !f.startsWith('.'))
        .sort()) {
        const m = NAME_RE.exec(name);
        rows.push({
          file: path.join(s.dir, c, name),
          emotion,
          usage: s.usage,
          name,
          n: m && m[1] === s.usage ? Number(m[2]) : undefined,
        });
      }
    }
  }
  const numbered = rows.every((r) => r.n !== undefined) && new Set(rows.map((r) => r.n)).size === rows.length;
  if (numbered) rows.sort((a, b) => a.n! - b.n!);
  return { rows, orderedByRow: numbered };
}

/** The 2304 gray values of a 48x48 image file, or an error naming it (another size, or colour). */
export async function readGray48(file: string): Promise<Uint8Array> {
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    decoded = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new Error(`${file} is not a readable image (${(e as Error).message})`);
  }
  const { data, info } = decoded;
  if (info.width !== SIDE || info.height !== SIDE)
    throw new Error(`${file} is ${info.width}x${info.height}; FER2013 images are ${SIDE}x${SIDE}`);
  const ch = info.channels;
  const gray = new Uint8Array(SIDE * SIDE);
  for (let i = 0, o = 0; o < gray.length; i += ch, o++) {
    // Three colour channels must agree, or converting to gray would lose what the file holds.
    if (ch >= 3 && (data[i] !== data[i + 1] || data[i] !== data[i + 2]))
      throw new Error(`${file} is not grayscale (pixel ${o} is ${data[i]},${data[i + 1]},${data[i + 2]})`);
    gray[o] = data[i];
  }
  return gray;
}

/**
 * Writes the images of a FER2013 folder layout as one CSV `emotion,pixels,Usage` (Usage from the split folder),
 * streaming: rows go to a hidden temp file next to `output`, renamed into place when complete. Rows are in the original
 * CSV order when every file is named `<Usage>_<row>` (as fer2013ToFolders names them); otherwise by split, class, name.
 */
export async function foldersToFer2013(options: FoldersToFer2013Options): Promise<Fer2013CsvResult> {
  const input = path.resolve(options.input);
  const output = path.resolve(options.output);
  if (!fs.existsSync(input) || !fs.statSync(input).isDirectory())
    throw new Error(`input folder ${input} does not exist or is not a folder`);
  checkOutputOutside({ path: output, what: 'output CSV' }, [{ path: input, what: 'input' }]);
  if (fs.existsSync(output)) throw new Error(`output CSV ${output} exists; choose a new file name`);
  checkWritable(path.dirname(output), 'output folder');
  const { rows, orderedByRow } = listImages(input);
  // A rerun after an interrupted one overwrites this fixed temp name rather than leaving one per attempt.
  const tmp = path.join(path.dirname(output), `.${path.basename(output)}.incomplete`);
  const counts: Record<string, number> = {};
  const bar = progressBar('fer2013 to csv', rows.length, options.progress);
  const out = fs.createWriteStream(tmp);
  const write = (text: string) =>
    out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r()));
  const closed = new Promise<void>((resolve, reject) => {
    out.on('close', resolve);
    out.on('error', reject);
  });
  try {
    await write('emotion,pixels,Usage\n');
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK);
      const pixels = await Promise.all(chunk.map((r) => readGray48(r.file)));
      await write(chunk.map((r, k) => `${r.emotion},${pixels[k].join(' ')},${r.usage}\n`).join(''));
      for (const r of chunk) counts[r.usage] = (counts[r.usage] ?? 0) + 1;
      bar?.tick(chunk.length);
    }
    out.end();
    await closed;
    fs.renameSync(tmp, output);
  } catch (e) {
    // Destroying the stream fails its buffered writes: that error is this one's consequence, not news.
    closed.catch(() => undefined);
    out.destroy();
    fs.rmSync(tmp, { force: true });
    throw new Error(`fer2013 to csv: ${(e as Error).message}; nothing was written to ${output}`);
  }
  bar?.finish();
  return { output, counts, total: rows.length, orderedByRow };
}

/** One line per split: `train 28709, test 3589 -> out.csv`. */
export function formatFer2013Summary(r: Fer2013FoldersResult | Fer2013CsvResult): string {
  if ('orderedByRow' in r) {
    const parts = Object.entries(r.counts).map(([u, n]) => `${u} ${n}`);
    return (
      `${r.output}: ${r.total} rows ` +
      `(${parts.join(', ')})${r.orderedByRow ? ', in the order of the row numbers in the file names' : ', ordered by split, class and file name'}`
    );
  }
  const parts = Object.entries(r.counts).map(
    ([split, c]) =>
      `${split} ${Object.values(c).reduce((a, b) => a + b, 0)} (${Object.entries(c)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')})`,
  );
  return `${r.output}: ${r.total} images${r.resumed ? ' (resumed)' : ''}; ${parts.join('; ')}`;
}
