/**
 * The off-the-shelf baseline: face-api's 7-class facial-expression net (shipped with @vladmandic/face-api, trained on
 * FER-style faces), the model a JavaScript user would pick instead of training one. It is evaluated on a test split
 * like a run: each dataset class is mapped to the net's class of the same meaning (anger/angry, sadness/sad, ...), and
 * the net's prediction is its most probable class among those that exist in the dataset.
 */
import * as tf from '@tensorflow/tfjs';
import { progressBar, type ImageSource } from '../data';
import { metricsFromConfusion, type ClassificationMetrics } from '../train/evaluate';
import type { DataKind, ResultRow } from '../viz';
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
  if (dup) throw new ConfigError(`the face-api expression baseline cannot tell apart the classes ${classes.filter((_, i) => mapped[i] === dup).join(' and ')} (both are its "${dup}")`);
  if (mapped.filter(Boolean).length < 2) {
    throw new ConfigError(`the face-api expression baseline does not apply to the classes ${classes.join(', ')}: it knows ${FACE_API_EXPRESSIONS.join(', ')}`);
  }
  return mapped;
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
export async function evaluateExpressionBaseline(source: ImageSource, indices: readonly number[], opts: { progress?: boolean; batch?: number } = {}): Promise<BaselineEvaluation> {
  const mapped = mapToFaceApi(source.classes);
  const api = await loadFaceApiNet('faceExpressionNet');
  const batch = opts.batch ?? 32;
  const bar = progressBar('face-api baseline', indices.length, opts.progress);
  const predictions: number[] = [];
  for (let start = 0; start < indices.length; start += batch) {
    const group = indices.slice(start, start + batch);
    const inputs = await Promise.all(group.map(async (i) => tf.tensor3d(await source.read(i, [INPUT, INPUT]), [INPUT, INPUT, 3], 'int32')));
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
  const unmapped = Object.entries(ev.mapping).filter(([, v]) => v === null).map(([k]) => k);
  return {
    name: 'face-api expression net (off the shelf, not trained here)',
    run: ev.accuracy,
    data,
    note: `@vladmandic/face-api's 7-class net, classes mapped by name${unmapped.length ? `; it has no ${unmapped.join(', ')}: those images count as errors` : ''}`,
  };
}
