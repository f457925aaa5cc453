/**
 * The off-the-shelf baseline: face-api's 7-class facial-expression net (shipped with @vladmandic/face-api, trained on
 * FER-style faces), the model a JavaScript user would pick instead of training one. It is evaluated on a test split
 * like a run: each dataset class is mapped to the net's class of the same meaning (anger/angry, sadness/sad, ...), and
 * the net's prediction is its most probable class among those that exist in the dataset.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { progressBar, type ImageSource } from '../data';
import { getTrial } from '../experiments';
import { confusionCsv, createRunDir, packageVersions, writeJsonAtomic } from '../run-folder';
import { metricsFromConfusion, type ClassificationMetrics } from '../train/evaluate';
import { confusionHeatmap, escapeHtml, resultsTable, writeHtmlPage, type DataKind, type ResultRow } from '../viz';
import { ConfigError } from '../errors';
import { loadFaceApiNet } from './detector';

/** face-api's expression classes, in its output order. */
export const FACE_API_EXPRESSIONS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'] as const;
export type FaceApiExpression = (typeof FACE_API_EXPRESSIONS)[number];

/** The dataset class names (FER2013, CK+, AffectNet and the study's sets) that mean each face-api class. */
const SYNONYMS: Record<string, FaceApiExpression> = {
  neutral: 'neutral',
  happy: 'happy',
  happiness: 'happy',
  sad: 'sad',
  sadness: 'sad',
  angry: 'angry',
  anger: 'angry',
  fear: 'fearful',
  fearful: 'fearful',
  disgust: 'disgusted',
  disgusted: 'disgusted',
  surprise: 'surprised',
  surprised: 'surprised',
};

/** The face-api class of each dataset class (undefined where it has none, e.g. contempt); fewer than two matches is a ConfigError. */
export function mapToFaceApi(classes: readonly string[]): (FaceApiExpression | undefined)[] {
  const mapped = classes.map((c) => SYNONYMS[c.toLowerCase()]);
  const dup = FACE_API_EXPRESSIONS.find((e) => mapped.filter((m) => m === e).length > 1);
  if (dup)
    throw new ConfigError(
      `the face-api expression baseline cannot tell apart the classes ` +
        `${classes.filter((_, i) => mapped[i] === dup).join(' and ')} (both are its "${dup}")`,
    );
  if (mapped.filter(Boolean).length < 2) {
    throw new ConfigError(
      `the face-api expression baseline does not apply to the classes ${classes.join(', ')}: it knows ${FACE_API_EXPRESSIONS.join(', ')}`,
    );
  }
  return mapped;
}

/** True when the baseline applies to these classes (at least two of them mean one of its expressions each). */
export function faceApiApplies(classes: readonly string[]): boolean {
  try {
    mapToFaceApi(classes);
    return true;
  } catch (e) {
    if (e instanceof ConfigError) return false;
    throw e;
  }
}

/** Input side of face-api's expression net. */
const INPUT = 112;

export interface BaselineEvaluation extends ClassificationMetrics {
  /** Dataset class -> face-api class, or null where the net has none (those images all count as errors). */
  mapping: Record<string, FaceApiExpression | null>;
  /** Predicted class indices (into the dataset's classes), in the split's order. */
  predictions: number[];
  labels: number[];
}

/** Evaluates face-api's expression net on `indices` of `source` (images resized to its 112x112 input with lib/data's bilinear). */
export async function evaluateExpressionBaseline(
  source: ImageSource,
  indices: readonly number[],
  opts: { progress?: boolean; batch?: number } = {},
): Promise<BaselineEvaluation> {
  const mapped = mapToFaceApi(source.classes);
  const api = await loadFaceApiNet('faceExpressionNet');
  const batch = opts.batch ?? 32;
  const bar = progressBar('face-api baseline', indices.length, opts.progress);
  const predictions: number[] = [];
  for (let start = 0; start < indices.length; start += batch) {
    const group = indices.slice(start, start + batch);
    const inputs = await Promise.all(
      group.map(async (i) => tf.tensor3d(await source.read(i, [INPUT, INPUT]), [INPUT, INPUT, 3], 'int32')),
    );
    try {
      const out = await api.nets.faceExpressionNet.predictExpressions(inputs);
      for (const scores of Array.isArray(out) ? out : [out]) {
        let best = -1;
        mapped.forEach((e, k) => {
          if (e && (best < 0 || scores[e] > scores[mapped[best]!])) best = k;
        });
        predictions.push(best);
      }
    } finally {
      tf.dispose(inputs);
    }
    bar?.tick(group.length);
  }
  bar?.finish();
  const labels = indices.map((i) => source.labels[i]);
  const n = source.classes.length;
  const confusion = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  labels.forEach((l, k) => confusion[l][predictions[k]]++);
  return {
    ...metricsFromConfusion(confusion, source.classes),
    mapping: Object.fromEntries(source.classes.map((c, i) => [c, mapped[i] ?? null])),
    predictions,
    labels,
  };
}

/** The baseline as a row of the results tables (resultsTable), beside runs and the published figures. */
export function baselineResultRow(ev: Pick<BaselineEvaluation, 'accuracy' | 'mapping'>, data: DataKind): ResultRow {
  const unmapped = Object.entries(ev.mapping)
    .filter(([, v]) => v === null)
    .map(([k]) => k);
  return {
    name: 'face-api expression net (off the shelf, not trained here)',
    run: ev.accuracy,
    data,
    note:
      `@vladmandic/face-api's 7-class net, classes mapped by ` +
      `name${unmapped.length ? `; it has no ${unmapped.join(', ')}: those images count as errors` : ''}`,
  };
}

/** The baseline's figures as a run keeps them (metrics.json `baseline`), for its report and the sweep's. */
export interface BaselineSummary {
  testAccuracy: number;
  mapping: Record<string, FaceApiExpression | null>;
  /** Test images it was evaluated on (the run's own test split). */
  images: number;
}

export const summarizeBaseline = (ev: BaselineEvaluation): BaselineSummary => ({
  testAccuracy: ev.accuracy,
  mapping: ev.mapping,
  images: ev.labels.length,
});

/** A test split to evaluate the baseline on, and the run it belongs to (if any) for the comparison. */
export interface BaselineTestSet {
  source: ImageSource;
  indices: readonly number[];
  kind: DataKind;
  /** The data folder, and how the split was made (for the record). */
  root: string;
  layout: string;
  run?: { dir: string; experiment: string; trial: string; scale: string; testAccuracy?: number };
}

export interface BaselineRecord {
  /** The record folder: `<out>/<experiment>/face-api-baseline/<time>/` (experiment `baseline` without a run). */
  dir: string;
  evaluation: BaselineEvaluation;
  /** The study's published test accuracy for the run's trial, if any. */
  published?: number;
}

const DESCRIPTION =
  "face-api's off-the-shelf 7-class expression net (@vladmandic/face-api), classes mapped by name; not trained here";

/**
 * Evaluates the baseline on `test` and records it like a run (config.json, metrics.json, confusion.csv, report.html),
 * so `affect runs list` shows it beside the runs; the report puts it beside the run and the study's figure.
 */
export async function recordExpressionBaseline(
  test: BaselineTestSet,
  o: { out: string; progress?: boolean },
): Promise<BaselineRecord> {
  const evaluation = await evaluateExpressionBaseline(test.source, test.indices, { progress: o.progress });
  const run = test.run;
  const experiment = run?.experiment ?? 'baseline';
  const dir = createRunDir(o.out, experiment, 'face-api-baseline');
  const published = run ? getTrial(run.experiment, run.trial).trial.published.testAccuracy : undefined;
  const classes = test.source.classes;
  const rows: ResultRow[] = [{ ...baselineResultRow(evaluation, test.kind), study: published }];
  if (run)
    rows.push({ name: `run ${run.trial} (${run.scale})`, run: run.testAccuracy, study: published, data: test.kind });
  writeJsonAtomic(path.join(dir, 'config.json'), {
    created: new Date().toISOString(),
    runDir: dir,
    run: { experiment, trial: 'face-api-baseline', scale: run?.scale ?? 'full', description: DESCRIPTION },
    baseline: { model: 'faceExpressionNet', mapping: evaluation.mapping, comparedWith: run?.dir ?? null },
    classes,
    data: { kind: test.kind, root: test.root, layout: test.layout, counts: { test: test.indices.length } },
    versions: {
      ...packageVersions(),
      '@vladmandic/face-api': (require('@vladmandic/face-api/package.json') as { version: string }).version,
    },
  });
  writeJsonAtomic(path.join(dir, 'metrics.json'), {
    testAccuracy: evaluation.accuracy,
    perClass: evaluation.perClass,
    macro: evaluation.macro,
    weighted: evaluation.weighted,
    dataKind: test.kind,
    mapping: evaluation.mapping,
  });
  fs.writeFileSync(path.join(dir, 'confusion.csv'), confusionCsv(evaluation.confusion, classes));
  writeHtmlPage(path.join(dir, 'report.html'), `${experiment}: face-api expression baseline`, [
    { text: `${DESCRIPTION}. Test images: ${test.layout} (${test.indices.length}; ${test.kind}).` },
    { heading: 'The baseline beside the run and the study', figures: [resultsTable(rows, { title: 'Test accuracy' })] },
    {
      heading: 'Confusion matrix',
      figures: [confusionHeatmap(evaluation.confusion, classes, { title: 'Confusion matrix (face-api baseline)' })],
    },
    { heading: 'Classification report', html: `<pre>${escapeHtml(evaluation.reportText)}</pre>` },
  ]);
  return { dir, evaluation, ...(published !== undefined ? { published } : {}) };
}
