/**
 * Test-set evaluation: loss, accuracy, confusion matrix, per-class precision/recall/F1 with macro and
 * weighted averages, and a report laid out like scikit-learn's classification_report(digits=4).
 * The data is read once, in the order given (never shuffled), so predictions line up with the source's order.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchSource } from './types';
import { inferencePass, regularizationPenalty } from './fit';

export interface ClassScores {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Averages {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationMetrics {
  accuracy: number;
  /** confusion[trueClass][predictedClass]. */
  confusion: number[][];
  perClass: ClassScores[];
  macro: Averages;
  weighted: Averages;
  /** scikit-learn classification_report(digits=4) layout. */
  reportText: string;
}

export interface Evaluation extends ClassificationMetrics {
  /** Mean sample loss plus regularisation penalties (as Keras' model.evaluate). */
  loss: number;
  /** Predicted and true class indices, in the data's order. */
  predictions: number[];
  labels: number[];
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b); // scikit-learn's zero_division=0 result

/** Metrics from a confusion matrix (rows true, columns predicted). */
export function metricsFromConfusion(confusion: number[][], classes: string[]): ClassificationMetrics {
  const k = classes.length;
  if (confusion.length !== k || confusion.some((r) => r.length !== k)) {
    throw new Error(`evaluate: confusion matrix must be ${k}x${k} for classes ${classes.join(', ')}`);
  }
  const total = confusion.flat().reduce((a, b) => a + b, 0);
  const perClass = classes.map((name, i) => {
    const tp = confusion[i][i];
    const support = confusion[i].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, r) => a + r[i], 0);
    const precision = ratio(tp, predicted);
    const recall = ratio(tp, support);
    return { name, precision, recall, f1: ratio(2 * precision * recall, precision + recall), support };
  });
  const avg = (w: (c: ClassScores) => number): Averages => {
    const wsum = perClass.reduce((a, c) => a + w(c), 0);
    const mean = (f: (c: ClassScores) => number) =>
      ratio(
        perClass.reduce((a, c) => a + w(c) * f(c), 0),
        wsum,
      );
    return {
      precision: mean((c) => c.precision),
      recall: mean((c) => c.recall),
      f1: mean((c) => c.f1),
      support: total,
    };
  };
  const accuracy = ratio(
    classes.reduce((a, _, i) => a + confusion[i][i], 0),
    total,
  );
  const m = { accuracy, confusion, perClass, macro: avg(() => 1), weighted: avg((c) => c.support) };
  return { ...m, reportText: classificationReport(m) };
}

/** Metrics from true and predicted class indices. */
export function classificationMetrics(
  labels: number[],
  predictions: number[],
  classes: string[],
): ClassificationMetrics {
  if (labels.length !== predictions.length)
    throw new Error(`evaluate: ${labels.length} labels but ${predictions.length} predictions`);
  const k = classes.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  labels.forEach((t, i) => {
    const p = predictions[i];
    if (!(t >= 0 && t < k && p >= 0 && p < k))
      throw new Error(`evaluate: class index out of range at sample ${i} (true ${t}, predicted ${p}, ${k} classes)`);
    confusion[t][p]++;
  });
  return metricsFromConfusion(confusion, classes);
}

/**
 * Python's fixed-point format: like toFixed, except that an exact tie rounds to even (Python formats the
 * double's exact value with round-half-even; toFixed rounds ties up), e.g. 0.03125 -> "0.0312".
 */
export function pyFixed(x: number, digits: number): string {
  const exact = x.toFixed(Math.min(100, digits + 60)); // the double's exact decimal expansion (with zeros)
  const cut = exact.indexOf('.') + digits + 1 - (digits === 0 ? 1 : 0);
  if (!/^50*$/.test(exact.slice(cut + (digits === 0 ? 1 : 0)))) return x.toFixed(digits);
  const down = exact.slice(0, cut);
  const lastDigit = Number(down.replace('.', '').slice(-1));
  return lastDigit % 2 === 0 ? down : x.toFixed(digits);
}

/** scikit-learn's classification_report text (digits 4 by default). */
export function classificationReport(m: Omit<ClassificationMetrics, 'reportText'>, digits = 4): string {
  const width = Math.max(...m.perClass.map((c) => c.name.length), 'weighted avg'.length, digits);
  const f = (x: number) => pyFixed(x, digits).padStart(9);
  const s = (x: string | number) => String(x).padStart(9);
  const name = (x: string) => x.padStart(width);
  // Each row: name, a space, then " " + a 9-wide cell per column (scikit-learn's row format).
  const row = (label: string, cells: string[]) => `${name(label)} ${cells.map((c) => ' ' + c).join('')}\n`;
  let out = row('', ['precision', 'recall', 'f1-score', 'support'].map(s)) + '\n';
  for (const c of m.perClass) out += row(c.name, [f(c.precision), f(c.recall), f(c.f1), s(c.support)]);
  out += '\n';
  out += row('accuracy', [s(''), s(''), f(m.accuracy), s(m.macro.support)]);
  for (const [label, a] of [
    ['macro avg', m.macro],
    ['weighted avg', m.weighted],
  ] as const) {
    out += row(label, [f(a.precision), f(a.recall), f(a.f1), s(a.support)]);
  }
  return out;
}

/** Evaluates `model` (compiled) on `data`, read once in order; `classes` names the class indices. */
export async function evaluate(model: tf.LayersModel, data: BatchSource, classes: string[]): Promise<Evaluation> {
  const { lossSum, predictions, labels } = await inferencePass(model, data, 'evaluate: the data');
  if (labels.length === 0) throw new Error('evaluate: the data yielded no batches');
  const reg = await regularizationPenalty(model);
  return {
    loss: lossSum / labels.length + reg,
    predictions,
    labels,
    ...classificationMetrics(labels, predictions, classes),
  };
}
