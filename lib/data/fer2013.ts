/** FER2013 (Kaggle's `emotion,pixels,Usage` CSV of 48x48 grayscale faces) as an ImageSource. */
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { resizeBilinear } from './image';
import { checkIndex, type ImageSource } from './source';

/** FER2013's classes, in the order of its `emotion` codes 0..6. */
export const FER2013_CLASSES = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;
export const FER2013_USAGES = ['Training', 'PublicTest', 'PrivateTest'] as const;
export type Fer2013Usage = (typeof FER2013_USAGES)[number];
const SIDE = 48;

export interface Fer2013Options {
  /** Keep only rows with these Usage values (e.g. 'Training'). Default: every row. A file without a Usage column cannot be filtered. */
  usage?: Fer2013Usage | Fer2013Usage[];
  /** Class names to leave out (e.g. ['disgust'], FER2013's tiny class); the remaining labels are renumbered 0..k-1 in FER order. */
  dropClasses?: string[];
}

export interface Fer2013Source extends ImageSource {
  /** Usage of each kept image ('' when the file has no Usage column). */
  usages: string[];
}

/**
 * Reads a FER2013 CSV (header naming `emotion` and `pixels`, optionally `Usage`, in any order, as in fer2013.csv or
 * icml_face_data.csv). Every kept image is held as 48x48 uint8 (2.3 KB each, about 83 MB for the full 35,887 rows).
 * A malformed row is an error naming the file and line.
 */
export async function readFer2013(file: string, opts: Fer2013Options = {}): Promise<Fer2013Source> {
  const usages = opts.usage === undefined ? undefined : ([] as string[]).concat(opts.usage);
  for (const u of usages ?? [])
    if (!(FER2013_USAGES as readonly string[]).includes(u))
      throw new Error(`FER2013 usage "${u}" is not one of ${FER2013_USAGES.join(', ')}`);
  const drop = opts.dropClasses ?? [];
  for (const c of drop)
    if (!(FER2013_CLASSES as readonly string[]).includes(c))
      throw new Error(`cannot drop FER2013 class "${c}": classes are ${FER2013_CLASSES.join(', ')}`);
  const classes = FER2013_CLASSES.filter((c) => !drop.includes(c));
  if (classes.length === 0) throw new Error('dropClasses leaves no FER2013 class');
  // FER code -> new label, or -1 when dropped.
  const remap = FER2013_CLASSES.map((c) => classes.indexOf(c));

  const pixels: Uint8Array[] = [];
  const labels: number[] = [];
  const kept: string[] = [];
  for await (const row of fer2013Rows(file, {
    needUsage: usages !== undefined,
    keep: (code, usage) => remap[code] >= 0 && (!usages || usages.includes(usage)),
  })) {
    pixels.push(row.pixels);
    labels.push(remap[row.emotion]);
    kept.push(row.usage);
  }
  if (pixels.length === 0)
    throw new Error(`FER2013 CSV ${file} has no rows for the selection (usage ${usages?.join(', ') ?? 'any'})`);

  const describe =
    `FER2013 ${file}${usages ? ` (${usages.join('+')})` : ''}: ${pixels.length} images, ` +
    `${classes.length} classes${drop.length ? ` (dropped ${drop.join(', ')})` : ''}`;
  return {
    classes: [...classes],
    size: pixels.length,
    labels: Int32Array.from(labels),
    usages: kept,
    describe,
    async read(index, size) {
      checkIndex(index, pixels.length, describe);
      return resizeBilinear({ data: grayToRgb(pixels[index]), height: SIDE, width: SIDE }, size[0], size[1]);
    },
  };
}

/** One row of a FER2013 CSV. */
export interface Fer2013Row {
  /** 0-based among the data rows (blank lines not counted): the row's place in the file. */
  row: number;
  /** The file's line number, for messages. */
  line: number;
  /** FER2013's emotion code 0..6 (FER2013_CLASSES order). */
  emotion: number;
  /** '' when the file has no Usage column. */
  usage: string;
  /** 48x48 gray values, row-major. */
  pixels: Uint8Array;
}

/**
 * The rows of a FER2013 CSV, one at a time (the file is streamed, never held whole). The header must name `emotion`
 * and `pixels` and may name `Usage`, in any order. A malformed row is an error naming the file and line. `keep` skips a
 * row before its pixels are parsed; `needUsage` makes a file without a Usage column an error.
 */
export async function* fer2013Rows(
  file: string,
  opts: { needUsage?: boolean; keep?: (emotion: number, usage: string) => boolean } = {},
): AsyncGenerator<Fer2013Row> {
  if (!fs.existsSync(file)) throw new Error(`FER2013 CSV ${file} does not exist`);
  const rl = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let col: { emotion: number; pixels: number; usage: number } | undefined;
  let line = 0;
  let row = 0;
  const fail = (msg: string): never => {
    throw new Error(`${file}:${line}: ${msg}`);
  };
  try {
    for await (const text of rl) {
      line++;
      if (text.trim() === '') continue;
      const fields = text.split(',').map((f) => f.trim().replace(/^"(.*)"$/, '$1'));
      if (!col) {
        const names = fields.map((f) => f.toLowerCase());
        col = { emotion: names.indexOf('emotion'), pixels: names.indexOf('pixels'), usage: names.indexOf('usage') };
        if (col.emotion < 0 || col.pixels < 0)
          fail(`header must name the columns emotion and pixels (and optionally Usage), got "${text.slice(0, 80)}"`);
        if (opts.needUsage && col.usage < 0) fail('cannot select by usage: the file has no Usage column');
        continue;
      }
      if (fields.length !== (col.usage < 0 ? 2 : 3))
        fail(`expected ${col.usage < 0 ? 2 : 3} fields, got ${fields.length}`);
      const usage = col.usage < 0 ? '' : fields[col.usage];
      if (col.usage >= 0 && !(FER2013_USAGES as readonly string[]).includes(usage))
        fail(`Usage "${usage}" is not one of ${FER2013_USAGES.join(', ')}`);
      const code = Number(fields[col.emotion]);
      if (!Number.isInteger(code) || code < 0 || code >= FER2013_CLASSES.length || fields[col.emotion] === '')
        fail(`emotion "${fields[col.emotion]}" is not an integer 0..6`);
      const index = row++;
      if (opts.keep && !opts.keep(code, usage)) continue;
      const img = parsePixels(fields[col.pixels]);
      if (typeof img === 'string') fail(img);
      yield { row: index, line, emotion: code, usage, pixels: img as Uint8Array };
    }
  } finally {
    rl.close();
  }
  if (!col) throw new Error(`FER2013 CSV ${file} is empty`);
}

/**
 * Parses 2304 space-separated integers 0..255 into a 48x48 image, or returns what is wrong (a char loop: cheaper than
 * split + Number over 82 M values).
 */
function parsePixels(text: string): Uint8Array | string {
  const img = new Uint8Array(SIDE * SIDE);
  let n = 0;
  let v = -1;
  for (let i = 0; i <= text.length; i++) {
    const ch = i < text.length ? text.charCodeAt(i) : 32;
    if (ch >= 48 && ch <= 57) {
      v = (v < 0 ? 0 : v * 10) + (ch - 48);
      continue;
    }
    if (ch !== 32) return `pixel ${n} has the character "${text[i]}", expected integers 0..255 separated by spaces`;
    if (v < 0) continue;
    if (v > 255) return `pixel ${n} is ${v}, expected an integer 0..255`;
    if (n < img.length) img[n] = v;
    n++;
    v = -1;
  }
  return n === img.length ? img : `pixels has ${n} values, expected ${SIDE * SIDE} (48x48)`;
}

/** Replicates one gray channel into three (what TF's decode_image(channels=3) does to grayscale). */
export function grayToRgb(gray: Uint8Array): Uint8Array {
  const out = new Uint8Array(gray.length * 3);
  for (let i = 0, o = 0; i < gray.length; i++, o += 3) out[o] = out[o + 1] = out[o + 2] = gray[i];
  return out;
}
