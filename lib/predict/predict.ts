/** `affect predict`'s library side: images from a file or a folder, decoded a few ahead, classified in batches, streamed out in order. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeRgb, mapLimit, progressBar, type OnBadImage, type RgbImage } from '../data';
import { predictPhotos, type PhotoOptions, type PhotoPrediction, type Predictor } from './classify';
import { loadDetector } from './detector';
import { usesDetector, type FaceDetector } from './faces';

export interface PredictOptions extends PhotoOptions {
  /** A file that is not a readable image: `skip` reports it (an error entry) and goes on, `fail` throws. Default skip. */
  onBadImage?: OnBadImage;
  /** A progress line on stderr. Default false. */
  progress?: boolean;
  /** Images decoded ahead and classified together. Default 16. */
  chunk?: number;
  /** With `explain`: explain faces only until this many have been (Grad-CAM costs a backward pass per face). Default no limit. */
  explainLimit?: number;
}

/** One input image's result: its prediction, or why it could not be read. */
export interface ImageResult {
  file: string;
  prediction?: PhotoPrediction;
  error?: string;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The image files of `target`: the file itself, or every non-hidden file under the folder (recursively, sorted by path). */
export function listInputs(target: string): string[] {
  const stat = fs.statSync(target, { throwIfNoEntry: false });
  if (!stat) throw new Error(`${target} does not exist`);
  if (!stat.isDirectory()) return [target];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => byName(a.name, b.name))) {
      if (d.name.startsWith('.')) continue;
      const p = path.join(dir, d.name);
      if (fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(target);
  if (out.length === 0) throw new Error(`folder ${target} holds no files`);
  return out;
}

/**
 * Predicts every image in `files`, yielding results in order while the next images decode. The face detector's weights
 * load only when some image needs it. Unreadable files are error entries (or, with onBadImage 'fail', an error).
 */
export async function* predictFiles(
  p: Predictor,
  files: readonly string[],
  opts: PredictOptions,
): AsyncGenerator<ImageResult> {
  const chunk = opts.chunk ?? 16;
  const bar = progressBar('predict', files.length, opts.progress);
  let detect: FaceDetector | undefined;
  let explained = 0;
  const decode = (group: readonly string[]) =>
    mapLimit(group, 4, async (file): Promise<RgbImage | Error> => {
      try {
        return await decodeRgb(file);
      } catch (e) {
        return e as Error;
      }
    });
  let next = decode(files.slice(0, chunk));
  for (let start = 0; start < files.length; start += chunk) {
    const group = files.slice(start, start + chunk);
    const decoded = await next;
    next = decode(files.slice(start + chunk, start + 2 * chunk));
    const good = decoded.flatMap((d, i) => (d instanceof Error ? [] : [{ img: d, i }]));
    if (!detect && good.some(({ img }) => usesDetector(img.width, img.height, opts)))
      detect = await loadDetector(opts.detector, opts.minConfidence);
    const explain = opts.explain === true && explained < (opts.explainLimit ?? Infinity);
    const predictions = await predictPhotos(
      p,
      good.map((g) => g.img),
      { ...opts, explain },
      detect,
    );
    if (explain) explained += predictions.reduce((n, pr) => n + pr.faces.length, 0);
    const byIndex = new Map(good.map((g, k) => [g.i, predictions[k]]));
    for (const [i, file] of group.entries()) {
      const d = decoded[i];
      if (d instanceof Error) {
        if (opts.onBadImage === 'fail') throw new Error(`bad image ${file}: ${d.message}`);
        yield { file, error: d.message };
      } else {
        yield { file, prediction: byIndex.get(i) };
      }
      bar?.tick();
    }
  }
  bar?.finish();
}

const boxText = (b: { x: number; y: number; width: number; height: number }) => `${b.x},${b.y} ${b.width}x${b.height}`;
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** One result as table lines: per face its box, then the top classes; an image without faces, or unreadable, says so. */
export function tableLines(r: ImageResult): string[] {
  if (r.error) return [`${r.file}  ERROR ${r.error}`];
  const pr = r.prediction!;
  if (pr.faces.length === 0) return [`${r.file}  no face found (${pr.width}x${pr.height}, detector ran)`];
  return pr.faces.map((f, i) => {
    const where = pr.detected
      ? `face ${i + 1}/${pr.faces.length} at ${boxText(f.box)} (detector ${f.score!.toFixed(2)})`
      : `whole image ${f.box.width}x${f.box.height}`;
    return `${r.file}  ${where}  ${f.top.map((t) => `${t.label} ${pct(t.probability)}`).join(', ')}`;
  });
}

const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** The CSV header for `top` classes per face. */
export function csvHeader(top: number): string {
  const ranks = Array.from({ length: top }, (_, k) => [`label_${k + 1}`, `probability_${k + 1}`]).flat();
  return ['file', 'face', 'faces', 'x', 'y', 'width', 'height', 'detector_score', ...ranks, 'error'].join(',');
}

/** One result as CSV rows: a row per face; an image without faces (face 0) or unreadable (error) gets one row. */
export function csvRows(r: ImageResult, top: number): string[] {
  const blanks = (n: number) => Array<string>(n).fill('');
  if (r.error) return [[csvCell(r.file), '', '', ...blanks(5), ...blanks(2 * top), csvCell(r.error)].join(',')];
  const pr = r.prediction!;
  if (pr.faces.length === 0) return [[csvCell(r.file), '0', '0', ...blanks(5), ...blanks(2 * top), ''].join(',')];
  return pr.faces.map((f, i) => {
    const ranks = Array.from({ length: top }, (_, k) =>
      f.top[k] ? [csvCell(f.top[k].label), f.top[k].probability.toFixed(6)] : ['', ''],
    ).flat();
    const b = f.box;
    return [
      csvCell(r.file),
      String(i + 1),
      String(pr.faces.length),
      String(b.x),
      String(b.y),
      String(b.width),
      String(b.height),
      f.score !== undefined ? f.score.toFixed(4) : '',
      ...ranks,
      '',
    ].join(',');
  });
}

/** One result as a JSON value: per face its box, detector score, top classes and every class's probability by name. */
export function jsonResult(r: ImageResult, classes: readonly string[]): unknown {
  if (r.error) return { file: r.file, error: r.error };
  const { faces, ...rest } = r.prediction!;
  return {
    file: r.file,
    ...rest,
    faces: faces.map((f) => ({
      box: f.box,
      ...(f.score !== undefined ? { score: f.score } : {}),
      top: f.top,
      probabilities: Object.fromEntries(classes.map((c, i) => [c, f.probabilities[i]])),
    })),
  };
}
