/**
 * Synthetic face datasets for machines without the Kaggle data: cartoon faces rendered from SVG by sharp, in the real
 * sets' folder layouts, with a SYNTHETIC.txt marker so every run can say it used synthetic data. Classes differ by
 * facial features (mouth curvature/openness/asymmetry, brows, eyes; a mask over the lower face), drawn bold enough to
 * survive resizing to 48 px, each around a class mean with a spread that lets neighbouring classes overlap a little:
 * a ResNet trained from scratch on a few hundred of them learns the expressions rather than memorising skin and background.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import { checkWritable, pidAlive } from '../fs';
import { MAX_SYNTH_SIZE, checkDiskRoom, checkOutputCount } from './limits';
import sharp from 'sharp';
import { gaussNoise } from './augment';
import { beginOutput, finishOutput, isIncomplete, writeFileAtomic, writeUnlessDone } from './outdir';
import { mapLimit } from './scan';
import { cacheDir } from '../paths';
import { type Rng, makeRng, normal, randInt, uniform } from '../random';

export type SynthTask = 'affect' | 'mask';

export const AFFECT_CLASSES = ['anger', 'contempt', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise'] as const;
export const MASK_CLASSES = ['WithMask', 'WithoutMask'] as const;
/** Face Mask 12K's split sizes per class (5000 / 400 / 496 on average); --per-class sets Train, the others scale. */
const MASK_SPLITS: [string, number][] = [
  ['Train', 1],
  ['Validation', 400 / 5000],
  ['Test', 496 / 5000],
];
export const SYNTHETIC_MARKER = 'SYNTHETIC.txt';
/** Bump when the drawing changes, so cached sets are regenerated. */
const GENERATOR_VERSION = 2;

export interface SynthOptions {
  task: SynthTask;
  out: string;
  /** Images per class (mask: per class in Train; Validation and Test get 8% and 9.92% of it, at least 1). */
  perClass: number;
  seed?: number | string;
  /** Side in pixels. Default 96. */
  size?: number;
}

export interface SynthResult {
  out: string;
  files: number;
  /** Images per class folder, keyed like `happy` or `Train/WithMask`. */
  counts: Record<string, number>;
}

/** Expression: mouth curve (+ smile), open, asymmetry, width; brow tilt (+ inner ends up), brow height; eye openness; nose wrinkle. */
interface Expr {
  curve: number;
  open: number;
  asym: number;
  width: number;
  tilt: number;
  brow: number;
  eye: number;
  wrinkle: number;
}

const NEUTRAL: Expr = { curve: 0, open: 0, asym: 0, width: 1, tilt: 0, brow: 0, eye: 1, wrinkle: 0 };
const EXPRESSIONS: Record<(typeof AFFECT_CLASSES)[number], Partial<Expr>> = {
  anger: { curve: -0.3, open: 0.15, tilt: -0.9, brow: -0.6, eye: 0.8 },
  contempt: { curve: 0.15, asym: 0.9, eye: 0.85, width: 0.9 },
  disgust: { curve: -0.5, open: 0.25, asym: 0.25, tilt: -0.4, brow: -0.3, eye: 0.55, wrinkle: 1 },
  fear: { curve: -0.25, open: 0.55, width: 1.1, tilt: 0.7, brow: 0.6, eye: 1.35 },
  happy: { curve: 1, open: 0.35, width: 1.15, brow: 0.1, eye: 0.7 },
  neutral: {},
  sad: { curve: -0.8, width: 0.9, tilt: 0.9, brow: 0.1, eye: 0.8 },
  surprise: { open: 1, width: 0.8, tilt: 0.1, brow: 1, eye: 1.45 },
};
/** Per-feature spread (standard deviation) around the class mean: sets how much neighbouring classes overlap. */
const SPREAD: Expr = {
  curve: 0.12,
  open: 0.07,
  asym: 0.12,
  width: 0.05,
  tilt: 0.14,
  brow: 0.14,
  eye: 0.08,
  wrinkle: 0.15,
};

const SKIN = ['#f6d7c3', '#eac0a0', '#d9a27e', '#c68863', '#a96e4a', '#8d5a3b', '#6b4430', '#4e3324'];
const MASK_COLOURS = ['#8fc7e8', '#ffffff', '#2b2b2b', '#5b7fb8', '#e6a1b8', '#7da36b', '#d9d2c0', '#b03a3a'];

const hex = (rgb: number[]) =>
  '#' +
  rgb
    .map((v) =>
      Math.max(0, Math.min(255, Math.round(v)))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('');
const parseHex = (h: string) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
/** A palette colour with seeded jitter. */
const jitter = (rng: Rng, h: string, amount: number) => hex(parseHex(h).map((v) => v + amount * normal(rng)));
/** A background colour: a random tint half-way to a random grey (studio and room backgrounds, not saturated). */
const randomColour = (rng: Rng) => {
  const grey = uniform(rng, 40, 220);
  return hex([0, 1, 2].map(() => (grey + uniform(rng, 20, 235)) / 2));
};
const f1 = (v: number) => v.toFixed(1);

/**
 * The SVG for one face (96-unit canvas scaled to `size`); `mask` draws a mask of varied colour over the lower face,
 * `withoutMask` sometimes a beard.
 */
function faceSvg(rng: Rng, size: number, e: Expr, mask: boolean, withoutMask: boolean): string {
  const [bg1, bg2] = [randomColour(rng), randomColour(rng)];
  const skin = jitter(rng, SKIN[randInt(rng, SKIN.length)], 10);
  const cx = 48 + 2.5 * normal(rng);
  const cy = 50 + 2.5 * normal(rng);
  const scale = uniform(rng, 0.92, 1.1);
  const angle = 3 * normal(rng);
  const hair = jitter(rng, ['#1e1410', '#3b2a1e', '#6a4a2a', '#a07a45', '#d8c08a', '#777777'][randInt(rng, 6)], 8);
  const eyeRy = Math.max(0.8, 5 * e.eye);
  const browY = -18 - 7 * e.brow;
  // Brows and lips in colours that contrast with every skin tone (blond brows would vanish at 48 px).
  const brow = jitter(rng, '#1e1410', 6);
  // Tilt raises the inner ends and lowers the outer ones (sad, fear); negative tilt is a frown (anger).
  const brows = [-1, 1].map(
    (s) =>
      `<line x1="${f1(s * 4)}" y1="${f1(browY - 7 * e.tilt)}" x2="${f1(s * 21)}" ` +
      `y2="${f1(browY + 2 * e.tilt)}" stroke="${brow}" stroke-width="5" stroke-linecap="round"/>`,
  );
  const eyes = [-1, 1].map(
    (s) =>
      `<ellipse cx="${s * 12}" cy="-7" rx="7.5" ry="${f1(eyeRy)}" fill="#fbfbfb" ` +
      `stroke="#2a1d14" stroke-width="0.8"/><circle cx="${f1(s * 12 + normal(rng))}" cy="-7" ` +
      `r="${f1(Math.min(3, eyeRy))}" fill="#2a1d14"/>`,
  );
  const w = 16 * e.width;
  // Mouth corners rise with `curve`; `asym` lifts one corner and drops the other (contempt's smirk).
  const yl = 20 - 8 * e.curve - 6 * e.asym;
  const yr = 20 - 8 * e.curve + 6 * e.asym;
  const upper = 20 + 5 * e.curve - 7 * Math.max(0, e.open);
  const lower = 20 + 8 * e.curve + 15 * Math.max(0, e.open);
  const mouth =
    e.open > 0.12
      ? `<path d="M${f1(-w)},${f1(yl)} Q0,${f1(2 * upper - (yl + yr) / 2)} ${f1(w)},${f1(yr)} ` +
        `Q0,${f1(2 * lower - (yl + yr) / 2)} ${f1(-w)},${f1(yl)} Z" fill="#3a0c0c" ` +
        `stroke="#c0392b" stroke-width="2.5"/>`
      : `<path d="M${f1(-w)},${f1(yl)} Q0,${f1(2 * (20 + 8 * e.curve) - (yl + yr) / 2)} ` +
        `${f1(w)},${f1(yr)}" fill="none" stroke="#c0392b" stroke-width="5" stroke-linecap="round"/>`;
  const wrinkle =
    e.wrinkle > 0.5
      ? `<path d="M-7,-2 q4,3 0,6 M7,-2 q-4,3 0,6" fill="none" stroke="#00000088" stroke-width="2.4"/>`
      : '';
  const nose = `<path d="M0,-3 L-3,8 Q0,10 3,8" fill="none" stroke="#00000044" stroke-width="1.5"/>`;
  let maskSvg = '';
  if (mask) {
    const colour = jitter(rng, MASK_COLOURS[randInt(rng, MASK_COLOURS.length)], 12);
    const top = uniform(rng, 1, 10); // some masks sit under the nose
    maskSvg =
      `<path d="M-27,${f1(top + 2)} Q0,${f1(top - 6)} 27,${f1(top + 2)} L24,27 Q0,44 -24,27 Z" ` +
      `fill="${colour}" stroke="#00000033" stroke-width="1"/>` +
      (`<line x1="-27" y1="${f1(top + 4)}" x2="-31" y2="-4" stroke="${colour}" ` +
        `stroke-width="1.8"/><line x1="27" y1="${f1(top + 4)}" x2="31" y2="-4" stroke="${colour}" ` +
        `stroke-width="1.8"/>`) +
      (rng() < 0.5
        ? `<path d="M-20,${f1(top + 9)} H20 M-20,${f1(top + 15)} H20" stroke="#00000022" stroke-width="1.2"/>`
        : '');
  } else if (withoutMask && rng() < 0.15) {
    // A beard: a dark lower face without a mask, so "dark shape over the mouth" alone does not decide the class.
    maskSvg = `<path d="M-26,10 Q0,22 26,10 L22,28 Q0,44 -22,28 Z" fill="${hair}" opacity="0.85"/>` + mouth;
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 96 96">` +
    (`<defs><linearGradient id="bg" x1="0" y1="0" x2="${f1(rng())}" y2="1"><stop offset="0" ` +
      `stop-color="${bg1}"/><stop offset="1" stop-color="${bg2}"/></linearGradient></defs>`) +
    `<rect width="96" height="96" fill="url(#bg)"/>` +
    `<g transform="translate(${f1(cx)},${f1(cy)}) rotate(${f1(angle)}) scale(${scale.toFixed(3)})">` +
    `<ellipse cx="0" cy="-22" rx="33" ry="24" fill="${hair}"/>` +
    `<ellipse cx="-31" cy="2" rx="4" ry="7" fill="${skin}"/><ellipse cx="31" cy="2" rx="4" ry="7" fill="${skin}"/>` +
    `<ellipse cx="0" cy="2" rx="30" ry="37" fill="${skin}"/>` +
    brows.join('') +
    eyes.join('') +
    nose +
    wrinkle +
    mouth +
    maskSvg +
    `</g></svg>`
  );
}

/** A class's expression, drawn around its mean. */
function drawExpression(rng: Rng, className: string): Expr {
  const mean = { ...NEUTRAL, ...(EXPRESSIONS[className as keyof typeof EXPRESSIONS] ?? {}) };
  const out = { ...mean };
  for (const k of Object.keys(SPREAD) as (keyof Expr)[]) out[k] = mean[k] + SPREAD[k] * normal(rng);
  return out;
}

/** Renders one image: SVG -> pixels (sharp), plus Gaussian pixel noise, -> PNG. */
async function renderFace(rng: Rng, size: number, task: SynthTask, className: string): Promise<Buffer> {
  const expr =
    task === 'affect'
      ? drawExpression(rng, className)
      : drawExpression(rng, AFFECT_CLASSES[randInt(rng, AFFECT_CLASSES.length)]);
  const svg = faceSvg(
    rng,
    size,
    expr,
    task === 'mask' && className === 'WithMask',
    task === 'mask' && className === 'WithoutMask',
  );
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const noisy = gaussNoise(
    { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height },
    rng,
    0,
    uniform(rng, 2, 6),
  );
  return sharp(noisy.data, { raw: { width: info.width, height: info.height, channels: 3 } })
    .png()
    .toBuffer();
}

/**
 * Writes a synthetic set: affect as `<out>/<class>/*.png` (8 classes), mask as `<out>/Train|Validation|Test/<class>/*.png`,
 * plus SYNTHETIC.txt. Deterministic for a seed; interrupt-safe (a rerun resumes) and refuses a non-empty folder.
 */
export async function synthesizeFaces(options: SynthOptions): Promise<SynthResult> {
  const { task, perClass } = options;
  const size = options.size ?? 96;
  const seed = String(options.seed ?? 27);
  if (task !== 'affect' && task !== 'mask') throw new Error(`synthetic task must be affect or mask, got "${task}"`);
  if (!(Number.isInteger(perClass) && perClass > 0))
    throw new ConfigError(`--per-class: per-class count must be a positive integer, got ${perClass}`);
  if (!(Number.isInteger(size) && size >= 16))
    throw new ConfigError(`--size: size must be an integer >= 16, got ${size}`);
  if (size > MAX_SYNTH_SIZE)
    throw new ConfigError(
      `--size: size ${size} is above the limit of ${MAX_SYNTH_SIZE} px: each image is rendered ` +
        `as raw RGB, ${MAX_SYNTH_SIZE}^2 x 3 bytes, two per core at once`,
    );
  const classCount = task === 'affect' ? AFFECT_CLASSES.length : MASK_CLASSES.length;
  const planned =
    task === 'affect'
      ? perClass * classCount
      : MASK_SPLITS.reduce((a, [, f]) => a + Math.max(1, Math.round(perClass * f)), 0) * classCount;
  // Before the job list exists: its entries are what a huge count would exhaust.
  checkOutputCount(planned, '--per-class (per-class count)');
  const out = path.resolve(options.out);
  checkWritable(out, 'output folder');
  // Noisy faces compress poorly: count about half their raw size per PNG.
  checkDiskRoom(out, planned * size * size * 1.5, `${planned} synthetic images of ${size}x${size} px`);
  const jobs: { dir: string; className: string; i: number }[] = [];
  const counts: Record<string, number> = {};
  const groups: [string, number][] =
    task === 'affect' ? [['', perClass]] : MASK_SPLITS.map(([s, f]) => [s, Math.max(1, Math.round(perClass * f))]);
  for (const [split, n] of groups) {
    for (const className of task === 'affect' ? AFFECT_CLASSES : MASK_CLASSES) {
      const dir = split ? `${split}/${className}` : className;
      counts[dir] = n;
      for (let i = 0; i < n; i++) jobs.push({ dir, className, i });
    }
  }
  const fingerprint = { task, perClass, seed, size, version: GENERATOR_VERSION };
  await beginOutput(out, 'synth', fingerprint, async () => null);
  await writeFileAtomic(
    path.join(out, SYNTHETIC_MARKER),
    `SYNTHETIC DATA: generated by affect-lab (synth v${GENERATOR_VERSION}), not real faces.\n` +
      `task: ${task}\nper class: ${perClass}\nseed: ${seed}\nsize: ${size}\n` +
      `Results obtained on this folder say nothing about the real datasets.\n`,
  );
  await mapLimit(jobs, Math.max(2, 2 * os.availableParallelism()), async ({ dir, className, i }) => {
    const dest = path.join(out, dir, `${className}_${String(i).padStart(5, '0')}.png`);
    await writeUnlessDone(dest, async (d) =>
      writeFileAtomic(d, await renderFace(makeRng(`${seed}:${task}:${dir}:${i}`), size, task, className)),
    );
  });
  finishOutput(out);
  return { out, files: jobs.length, counts };
}

/** True when `dir`, or one of its two parent folders, holds SYNTHETIC.txt (so `<set>/Train` and `<set>/train` count too). */
export function isSynthetic(dir: string): boolean {
  let d = path.resolve(dir);
  for (let k = 0; k < 3; k++) {
    if (fs.existsSync(path.join(d, SYNTHETIC_MARKER))) return true;
    d = path.dirname(d);
  }
  return false;
}

/** A synthetic set in the cache (cacheDir('synthetic', ...)), generated on first use and reused after. Returns its folder. */
export async function ensureSyntheticSet(
  task: SynthTask,
  opts: { perClass?: number; seed?: number | string; size?: number } = {},
): Promise<string> {
  const perClass = opts.perClass ?? 40;
  const seed = String(opts.seed ?? 27);
  const size = opts.size ?? 96;
  const dir = cacheDir('synthetic', `${task}-n${perClass}-s${seed}-${size}px-v${GENERATOR_VERSION}`);
  const ready = () => fs.existsSync(path.join(dir, SYNTHETIC_MARKER)) && !isIncomplete(dir);
  if (ready()) return dir;
  // Several processes (a sweep's workers) may ask at once: each generates into its own staging folder and renames it
  // into place. The first rename wins; a later one fails on the non-empty folder and its copy is discarded.
  removeStaleStaging(dir);
  const staging = `${dir}${STAGING}${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    await synthesizeFaces({ task, out: staging, perClass, seed, size });
    // A half-written set in the final place (its marker missing) is never trusted: the fresh copy replaces it.
    if (fs.existsSync(dir) && !ready()) fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(staging, dir);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (!ready()) throw e;
  }
  return dir;
}

const STAGING = '.staging-';

/** Removes staging folders of `dir` left by processes of this machine that died while generating. */
function removeStaleStaging(dir: string): void {
  const parent = path.dirname(dir);
  const prefix = `${path.basename(dir)}${STAGING}`;
  if (!fs.existsSync(parent)) return;
  for (const name of fs.readdirSync(parent)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && !pidAlive(pid))
      fs.rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}
