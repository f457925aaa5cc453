/**
 * Seeded image augmentation on raw HxWx3 uint8 RGB pixels, with Albumentations' semantics (the study used Albumentations).
 * A pipeline is data: a JSON list of `{ "op": ..., "p": ..., <params> }` (see AUGMENT_OPS and augment-study.json, the
 * study's pipeline). Every random draw comes from the Rng passed in, so a seed reproduces the output byte for byte.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RgbImage } from './image';
import { type Rng, makeRng, randInt, uniform } from '../random';
import studyPipeline from './augment-study.json';

/** One pipeline entry as written in JSON. */
export interface AugmentStep {
  op: string;
  p?: number;
  ops?: AugmentStep[];
  [param: string]: unknown;
}
export type AugmentSpec = AugmentStep[];

/**
 * The study's datasplit pipeline, augment-study.json (HorizontalFlip, RandomBrightnessContrast, OneOf(MotionBlur,
 * GaussNoise, GaussianBlur), PixelDropout, Rotate).
 */
export const STUDY_AUGMENT_PIPELINE: AugmentSpec = studyPipeline;

type Param =
  | { kind: 'number'; min: number; max: number; dflt: number }
  | { kind: 'boolean'; dflt: boolean }
  | { kind: 'enum'; values: readonly string[]; dflt: string }
  /** x means [-x, x]; or [lo, hi]. */
  | { kind: 'symRange'; dflt: number }
  /** x means [0, x] when x is a number (Albumentations' var_limit/sigma_limit take [lo, hi] or a scalar upper bound). */
  | { kind: 'posRange'; dflt: [number, number] }
  /** Odd kernel sizes: x means [3, x]; or [lo, hi]. */
  | { kind: 'kernelRange'; dflt: [number, number] };

type Params = Record<string, number | boolean | string | [number, number]>;
type Transform = (img: RgbImage, rng: Rng) => RgbImage;

interface OpDef {
  doc: string;
  params: Record<string, Param>;
  make(p: Params): Transform;
}

/** The supported ops, their parameters and Albumentations' defaults (default `p` is 0.5, as in Albumentations). */
export const AUGMENT_OPS: Record<string, OpDef> = {
  HorizontalFlip: { doc: 'mirror left-right', params: {}, make: () => (img) => hflip(img) },
  RandomBrightnessContrast: {
    doc: 'out = clip(v * (1 + c) + b * 255), c ~ U(contrast_limit), b ~ U(brightness_limit)',
    params: {
      brightness_limit: { kind: 'symRange', dflt: 0.2 },
      contrast_limit: { kind: 'symRange', dflt: 0.2 },
      brightness_by_max: { kind: 'boolean', dflt: true },
    },
    make: (p) => (img, rng) => {
      const alpha = 1 + uniform(rng, ...(p.contrast_limit as [number, number]));
      const beta = uniform(rng, ...(p.brightness_limit as [number, number]));
      return brightnessContrast(img, alpha, beta, p.brightness_by_max as boolean);
    },
  },
  MotionBlur: {
    doc: 'average along a random line of odd length in blur_limit',
    params: { blur_limit: { kind: 'kernelRange', dflt: [3, 7] } },
    make: (p) => (img, rng) =>
      motionBlur(img, pickOdd(rng, p.blur_limit as [number, number]), uniform(rng, 0, Math.PI)),
  },
  GaussNoise: {
    doc: 'add N(mean, var) noise, var ~ U(var_limit), per channel or shared by the 3 channels',
    params: {
      var_limit: { kind: 'posRange', dflt: [10, 50] },
      mean: { kind: 'number', min: -255, max: 255, dflt: 0 },
      per_channel: { kind: 'boolean', dflt: true },
    },
    make: (p) => (img, rng) =>
      gaussNoise(
        img,
        rng,
        p.mean as number,
        Math.sqrt(uniform(rng, ...(p.var_limit as [number, number]))),
        p.per_channel as boolean,
      ),
  },
  GaussianBlur: {
    doc: 'Gaussian blur, odd kernel size in blur_limit, sigma ~ U(sigma_limit) (0: from the kernel size, as OpenCV)',
    params: { blur_limit: { kind: 'kernelRange', dflt: [3, 7] }, sigma_limit: { kind: 'posRange', dflt: [0, 0] } },
    make: (p) => (img, rng) => {
      const k = pickOdd(rng, p.blur_limit as [number, number]);
      const s = uniform(rng, ...(p.sigma_limit as [number, number]));
      return gaussianBlur(img, k, s > 0 ? s : 0.3 * ((k - 1) * 0.5 - 1) + 0.8);
    },
  },
  PixelDropout: {
    doc: 'set each pixel (or channel value) to drop_value with probability dropout_prob',
    params: {
      dropout_prob: { kind: 'number', min: 0, max: 1, dflt: 0.01 },
      drop_value: { kind: 'number', min: 0, max: 255, dflt: 0 },
      per_channel: { kind: 'boolean', dflt: false },
    },
    make: (p) => (img, rng) =>
      pixelDropout(img, rng, p.dropout_prob as number, p.drop_value as number, p.per_channel as boolean),
  },
  Rotate: {
    doc: 'rotate about the centre by an angle ~ U(limit) degrees, bilinear, border replicate | reflect_101 | constant',
    params: {
      limit: { kind: 'symRange', dflt: 90 },
      border_mode: { kind: 'enum', values: ['reflect_101', 'replicate', 'constant'], dflt: 'reflect_101' },
      value: { kind: 'number', min: 0, max: 255, dflt: 0 },
    },
    make: (p) => (img, rng) =>
      rotate(img, uniform(rng, ...(p.limit as [number, number])), p.border_mode as Border, p.value as number),
  },
};

/** A validated, ready-to-run pipeline. */
export interface Augmenter {
  spec: AugmentSpec;
  /** Applies the pipeline; the input is not modified. */
  apply(img: RgbImage, rng: Rng): RgbImage;
}

/**
 * Validates a pipeline and compiles it. `source` (a file name) prefixes every error, which names the bad entry by its
 * position, e.g. `pipe.json: entry [2] (OneOf) > ops[1]: unknown op "Foo"`.
 */
export function compileAugmentation(spec: unknown, source = 'augmentation pipeline'): Augmenter {
  if (!Array.isArray(spec))
    throw new Error(`${source}: expected a JSON list of steps like [{ "op": "HorizontalFlip", "p": 0.5 }]`);
  const steps = spec.map((s, i) => compileStep(s, `${source}: entry [${i}]`));
  // p is drawn for every step, so the stream of draws does not depend on whether an earlier step fired.
  return {
    spec: spec as AugmentSpec,
    apply: (img, rng) => steps.reduce((im, s) => (rng() < s.p ? s.run(im, rng) : im), img),
  };
}

/** Reads and compiles a pipeline file (JSON). */
export function loadAugmentation(file: string): Augmenter {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(
      `augmentation pipeline ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  return compileAugmentation(spec, file);
}

/** A step's probability and its transform, applied unconditionally. */
function compileStep(step: unknown, where: string): { p: number; run: Transform } {
  if (typeof step !== 'object' || step === null || Array.isArray(step))
    throw new Error(`${where}: expected an object like { "op": "Rotate", "p": 1 }`);
  const s = step as Record<string, unknown>;
  const name = s.op;
  const known = [...Object.keys(AUGMENT_OPS), 'OneOf'].join(', ');
  if (typeof name !== 'string') throw new Error(`${where}: missing "op" (one of ${known})`);
  where = `${where} (${name})`;
  const p = s.p ?? 0.5;
  if (typeof p !== 'number' || !(p >= 0 && p <= 1))
    throw new Error(`${where}: "p" must be a number in [0, 1], got ${JSON.stringify(s.p)}`);
  if (name === 'OneOf') {
    checkKeys(s, ['op', 'p', 'ops'], where);
    if (!Array.isArray(s.ops) || s.ops.length === 0)
      throw new Error(`${where}: "ops" must be a non-empty list of steps`);
    const children = s.ops.map((c, i) => compileStep(c, `${where} > ops[${i}]`));
    // Albumentations' OneOf picks a child with probability proportional to the child's p, then applies it unconditionally.
    const total = children.reduce((a, c) => a + c.p, 0);
    if (total <= 0) throw new Error(`${where}: every child has p = 0`);
    const run: Transform = (img, rng) => {
      let r = rng() * total;
      let i = 0;
      while (i < children.length - 1 && r >= children[i].p) r -= children[i++].p;
      return children[i].run(img, rng);
    };
    return { p, run };
  }
  const def = AUGMENT_OPS[name];
  if (!def) throw new Error(`${where}: unknown op "${name}"; known ops: ${known}`);
  checkKeys(s, ['op', 'p', ...Object.keys(def.params)], where);
  const params: Params = {};
  for (const [k, d] of Object.entries(def.params)) params[k] = readParam(s[k], d, `${where}: "${k}"`);
  return { p, run: def.make(params) };
}

function checkKeys(s: Record<string, unknown>, allowed: string[], where: string): void {
  for (const k of Object.keys(s)) {
    if (!allowed.includes(k)) throw new Error(`${where}: unknown parameter "${k}"; accepted: ${allowed.join(', ')}`);
  }
}

function readParam(v: unknown, d: Param, where: string): Params[string] {
  const pair = (x: unknown) =>
    Array.isArray(x) && x.length === 2 && x.every((n) => typeof n === 'number' && Number.isFinite(n)) && x[0] <= x[1];
  switch (d.kind) {
    case 'number':
      if (v === undefined) return d.dflt;
      if (typeof v !== 'number' || !(v >= d.min && v <= d.max))
        throw new Error(`${where} must be a number in [${d.min}, ${d.max}], got ${JSON.stringify(v)}`);
      return v;
    case 'boolean':
      if (v === undefined) return d.dflt;
      if (typeof v !== 'boolean') throw new Error(`${where} must be true or false, got ${JSON.stringify(v)}`);
      return v;
    case 'enum':
      if (v === undefined) return d.dflt;
      if (typeof v !== 'string' || !d.values.includes(v))
        throw new Error(`${where} must be one of ${d.values.join(', ')}, got ${JSON.stringify(v)}`);
      return v;
    case 'symRange':
      v ??= d.dflt;
      if (typeof v === 'number' && v >= 0) return [-v, v];
      if (pair(v)) return v as [number, number];
      throw new Error(`${where} must be a number >= 0 (meaning [-x, x]) or [lo, hi], got ${JSON.stringify(v)}`);
    case 'posRange':
      v ??= d.dflt;
      if (typeof v === 'number' && v >= 0) return [0, v];
      if (pair(v) && (v as number[])[0] >= 0) return v as [number, number];
      throw new Error(`${where} must be a number >= 0 or [lo, hi] with 0 <= lo <= hi, got ${JSON.stringify(v)}`);
    case 'kernelRange': {
      v ??= d.dflt;
      const r = typeof v === 'number' ? [3, v] : v;
      if (pair(r) && (r as number[]).every((n) => Number.isInteger(n) && n >= 3 && n % 2 === 1))
        return r as [number, number];
      throw new Error(
        `${where} must be an odd integer >= 3 or [lo, hi] of odd integers >= 3, got ${JSON.stringify(v)}`,
      );
    }
  }
}

/** A random odd integer in [lo, hi]. */
function pickOdd(rng: Rng, [lo, hi]: [number, number]): number {
  return lo + 2 * randInt(rng, (hi - lo) / 2 + 1);
}

const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Mirror left-right. */
export function hflip(img: RgbImage): RgbImage {
  const { data, width: w, height: h } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
      const s = row + x * 3;
      const d = row + (w - 1 - x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { data: out, width: w, height: h };
}

/** Albumentations' uint8 brightness/contrast: a lookup table v * alpha + beta * (255 or the image mean), clipped, truncated. */
export function brightnessContrast(img: RgbImage, alpha: number, beta: number, byMax = true): RgbImage {
  let shift = beta * 255;
  if (!byMax) {
    let sum = 0;
    for (const v of img.data) sum += v;
    shift = alpha * beta * (sum / img.data.length);
  }
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = Math.floor(clamp255(v * alpha + shift));
  return { ...img, data: img.data.map((v) => lut[v]) };
}

export type Border = 'replicate' | 'reflect_101' | 'constant';

/** Index into [0, n) for a coordinate outside it; -1 means "use the constant border value". */
function borderIndex(i: number, n: number, mode: Border): number {
  if (i >= 0 && i < n) return i;
  if (mode === 'replicate') return i < 0 ? 0 : n - 1;
  if (mode === 'constant') return -1;
  if (n === 1) return 0;
  // reflect_101: gfedcb|abcdefgh|gfedcba
  const period = 2 * (n - 1);
  let m = ((i % period) + period) % period;
  if (m >= n) m = period - m;
  return m;
}

/** 2D filtering with a sparse kernel (taps = [dy, dx, weight]), OpenCV's default reflect_101 border, rounded to uint8. */
function filterTaps(img: RgbImage, taps: [number, number, number][]): RgbImage {
  const { data, width: w, height: h } = img;
  const out = new Uint8Array(data.length);
  const xs = taps.map(([, dx]) => Int32Array.from({ length: w }, (_, x) => borderIndex(x + dx, w, 'reflect_101') * 3));
  for (let y = 0; y < h; y++) {
    const rows = taps.map(([dy]) => borderIndex(y + dy, h, 'reflect_101') * w * 3);
    for (let x = 0; x < w; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let t = 0; t < taps.length; t++) {
        const i = rows[t] + xs[t][x];
        const k = taps[t][2];
        r += data[i] * k;
        g += data[i + 1] * k;
        b += data[i + 2] * k;
      }
      const o = (y * w + x) * 3;
      out[o] = clamp255(Math.round(r));
      out[o + 1] = clamp255(Math.round(g));
      out[o + 2] = clamp255(Math.round(b));
    }
  }
  return { data: out, width: w, height: h };
}

/** Motion blur: the mean along a line of `k` pixels through the centre at angle `theta` (radians). */
export function motionBlur(img: RgbImage, k: number, theta: number): RgbImage {
  const r = (k - 1) / 2;
  const cells = new Map<string, [number, number, number]>();
  // Rasterise the line densely and count hits per cell, so diagonal lines keep their length.
  const steps = 4 * k;
  for (let s = 0; s <= steps; s++) {
    const t = -r + (2 * r * s) / steps;
    const dx = Math.round(t * Math.cos(theta));
    const dy = Math.round(t * Math.sin(theta));
    const key = `${dy},${dx}`;
    const c = cells.get(key) ?? [dy, dx, 0];
    c[2]++;
    cells.set(key, c);
  }
  const taps = [...cells.values()];
  const total = taps.reduce((a, t) => a + t[2], 0);
  return filterTaps(
    img,
    taps.map(([dy, dx, n]) => [dy, dx, n / total]),
  );
}

/** Gaussian blur with an odd kernel size `k` and standard deviation `sigma` (separable, reflect_101 border). */
export function gaussianBlur(img: RgbImage, k: number, sigma: number): RgbImage {
  const r = (k - 1) / 2;
  const g = Array.from({ length: k }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = g.reduce((a, b) => a + b, 0);
  const wt = Float64Array.from(g, (v) => v / sum);
  const { data, width: w, height: h } = img;
  // Source column/row (times stride) of every output position and tap, so the inner loops only index and multiply.
  const colOff = new Int32Array(w * k);
  for (let x = 0; x < w; x++)
    for (let t = 0; t < k; t++) colOff[x * k + t] = borderIndex(x + t - r, w, 'reflect_101') * 3;
  const rowOff = new Int32Array(h * k);
  for (let y = 0; y < h; y++)
    for (let t = 0; t < k; t++) rowOff[y * k + t] = borderIndex(y + t - r, h, 'reflect_101') * w * 3;
  // Horizontal pass in float, vertical pass rounds once at the end.
  const tmp = new Float32Array(data.length);
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
      let r0 = 0;
      let g0 = 0;
      let b0 = 0;
      for (let t = 0; t < k; t++) {
        const s = row + colOff[x * k + t];
        r0 += data[s] * wt[t];
        g0 += data[s + 1] * wt[t];
        b0 += data[s + 2] * wt[t];
      }
      const o = row + x * 3;
      tmp[o] = r0;
      tmp[o + 1] = g0;
      tmp[o + 2] = b0;
    }
  }
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r0 = 0;
      let g0 = 0;
      let b0 = 0;
      for (let t = 0; t < k; t++) {
        const s = rowOff[y * k + t] + x * 3;
        r0 += tmp[s] * wt[t];
        g0 += tmp[s + 1] * wt[t];
        b0 += tmp[s + 2] * wt[t];
      }
      const o = (y * w + x) * 3;
      out[o] = clamp255(Math.round(r0));
      out[o + 1] = clamp255(Math.round(g0));
      out[o + 2] = clamp255(Math.round(b0));
    }
  }
  return { data: out, width: w, height: h };
}

/**
 * A fast generator for per-pixel draws, seeded from `rng`: seedrandom's ARC4 costs ~170 ns a draw, too slow for 27,648
 * draws per image. mulberry32: 32-bit state, fine for noise and dropout masks.
 */
function pixelRng(rng: Rng): () => number {
  let a = Math.floor(rng() * 2 ** 32) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Adds Gaussian noise N(mean, sigma^2): independent per channel, or one draw per pixel shared by its channels. */
export function gaussNoise(img: RgbImage, rng: Rng, mean: number, sigma: number, perChannel = true): RgbImage {
  const u = pixelRng(rng);
  // Box-Muller gives two normals per pair of uniforms; both are used.
  let spare = NaN;
  const gauss = () => {
    if (!Number.isNaN(spare)) {
      const v = spare;
      spare = NaN;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const t = 2 * Math.PI * u();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
  const src = img.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < out.length; i += 3) {
    if (perChannel) {
      out[i] = clamp255(Math.round(src[i] + mean + sigma * gauss()));
      out[i + 1] = clamp255(Math.round(src[i + 1] + mean + sigma * gauss()));
      out[i + 2] = clamp255(Math.round(src[i + 2] + mean + sigma * gauss()));
    } else {
      const n = mean + sigma * gauss();
      for (let c = 0; c < 3; c++) out[i + c] = clamp255(Math.round(src[i + c] + n));
    }
  }
  return { ...img, data: out };
}

/** Sets each pixel (or each channel value, per_channel) to `value` with probability `prob`. */
export function pixelDropout(img: RgbImage, rng: Rng, prob: number, value = 0, perChannel = false): RgbImage {
  const u = pixelRng(rng);
  const out = img.data.slice();
  for (let i = 0; i < out.length; i += 3) {
    if (perChannel) {
      for (let c = 0; c < 3; c++) if (u() < prob) out[i + c] = value;
    } else if (u() < prob) {
      out[i] = out[i + 1] = out[i + 2] = value;
    }
  }
  return { ...img, data: out };
}

/**
 * Rotates by `degrees` (positive = counter-clockwise, as OpenCV) about the pixel centre ((w-1)/2, (h-1)/2), with
 * bilinear sampling; pixels that map outside the source take the border (replicate: the nearest edge pixel).
 */
export function rotate(img: RgbImage, degrees: number, border: Border = 'replicate', value = 0): RgbImage {
  const { data, width: w, height: h } = img;
  const out = new Uint8Array(data.length);
  const a = Math.cos((degrees * Math.PI) / 180);
  const b = Math.sin((degrees * Math.PI) / 180);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Inverse map: the source point that lands on (x, y).
      const dx = x - cx;
      const dy = y - cy;
      const sx = a * dx - b * dy + cx;
      const sy = b * dx + a * dy + cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const xa = borderIndex(x0, w, border);
      const xb = borderIndex(x0 + 1, w, border);
      const ya = borderIndex(y0, h, border);
      const yb = borderIndex(y0 + 1, h, border);
      // Offsets of the 4 neighbours; -1 marks the constant border.
      const i00 = xa < 0 || ya < 0 ? -1 : (ya * w + xa) * 3;
      const i01 = xb < 0 || ya < 0 ? -1 : (ya * w + xb) * 3;
      const i10 = xa < 0 || yb < 0 ? -1 : (yb * w + xa) * 3;
      const i11 = xb < 0 || yb < 0 ? -1 : (yb * w + xb) * 3;
      const o = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v00 = i00 < 0 ? value : data[i00 + c];
        const v01 = i01 < 0 ? value : data[i01 + c];
        const v10 = i10 < 0 ? value : data[i10 + c];
        const v11 = i11 < 0 ? value : data[i11 + c];
        const top = v00 + (v01 - v00) * fx;
        const bot = v10 + (v11 - v10) * fx;
        out[o + c] = clamp255(Math.round(top + (bot - top) * fy));
      }
    }
  }
  return { data: out, width: w, height: h };
}

/**
 * Runs a pipeline on worker threads (default: one per core) so augmentation uses every core. Each image's Rng comes
 * from the `seed` string given with it, so results do not depend on which worker runs it or in what order.
 */
export class AugmentPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<
    number,
    { resolve(img: RgbImage): void; reject(e: Error): void; w: number; h: number; worker: number }
  >();
  private readonly load: number[] = [];
  private nextId = 0;
  private readonly inline?: Augmenter;

  /** `threads` 0 runs inline on the calling thread (no workers). */
  constructor(spec: AugmentSpec, opts: { threads?: number; source?: string } = {}) {
    // Validate here, so a bad pipeline is reported once, before any worker starts.
    const compiled = compileAugmentation(spec, opts.source);
    const threads = opts.threads ?? os.availableParallelism();
    if (threads === 0) {
      this.inline = compiled;
      return;
    }
    for (let i = 0; i < threads; i++) {
      const w = new Worker(path.join(__dirname, 'augment-worker.js'), { workerData: { spec, source: opts.source } });
      w.on('message', (m: { id: number; data?: Uint8Array; error?: string }) => {
        const job = this.pending.get(m.id)!;
        this.pending.delete(m.id);
        this.load[job.worker]--;
        if (m.error !== undefined) job.reject(new Error(m.error));
        else job.resolve({ data: m.data!, width: job.w, height: job.h });
      });
      w.on('error', (e) => {
        for (const [id, job] of this.pending) {
          if (job.worker !== i) continue;
          this.pending.delete(id);
          job.reject(e);
        }
      });
      this.workers.push(w);
      this.load.push(0);
    }
  }

  augment(img: RgbImage, seed: string): Promise<RgbImage> {
    if (this.inline) return Promise.resolve(this.inline.apply(img, makeRng(seed)));
    const worker = this.load.indexOf(Math.min(...this.load));
    const id = this.nextId++;
    this.load[worker]++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, w: img.width, h: img.height, worker });
      this.workers[worker].postMessage({ id, data: img.data, width: img.width, height: img.height, seed });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
