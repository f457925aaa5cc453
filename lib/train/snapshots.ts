/**
 * Snapshot ensembles: a callback that copies the model's weights every N iterations (or epochs) during fit, and an
 * evaluation that averages the class probabilities of the last K copies and predicts the highest mean score.
 * Copies live in memory (and in fit's checkpoints, so a resumed run keeps them); a small CNN's copy is a few MB.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchSource, Callback, CallbackState } from './types';
import { classificationMetrics, type Evaluation } from './evaluate';
import { epochBatches, regularizationPenalty } from './fit';

export interface SnapshotOptions {
  /** Take a snapshot every `every` units (iterations or epochs), counted from the start of training. */
  every: number;
  /** Default 'iteration' (one training batch). */
  unit?: 'iteration' | 'epoch';
  /** Keep the last `keep` snapshots (older ones are dropped). Default: all. */
  keep?: number;
}

export interface Snapshot {
  /** Iterations (or epochs, per the unit) completed when it was taken. */
  at: number;
  weights: tf.Tensor[];
}

export interface SnapshotCallback extends Callback {
  /** The snapshots held, oldest first; they stay owned by the callback. */
  snapshots(): readonly Snapshot[];
  /** Frees every snapshot's tensors. */
  dispose(): void;
}

/** The callback that takes the snapshots; pass it to fit's callbacks, then to evaluateEnsemble. */
export function snapshotEnsemble(o: SnapshotOptions): SnapshotCallback {
  const unit = o.unit ?? 'iteration';
  if (!(Number.isInteger(o.every) && o.every > 0))
    throw new Error(`snapshotEnsemble: every must be a positive integer, got ${o.every}`);
  if (unit !== 'iteration' && unit !== 'epoch')
    throw new Error(`snapshotEnsemble: unit must be iteration or epoch, got "${unit}"`);
  if (o.keep !== undefined && !(Number.isInteger(o.keep) && o.keep > 0))
    throw new Error(`snapshotEnsemble: keep must be a positive integer, got ${o.keep}`);
  let taken: Snapshot[] = [];
  let iterations = 0;
  const take = (model: tf.LayersModel, at: number) => {
    taken.push({ at, weights: model.getWeights().map((w) => w.clone()) });
    while (o.keep !== undefined && taken.length > o.keep) tf.dispose(taken.shift()!.weights);
  };
  const dispose = () => {
    for (const s of taken) tf.dispose(s.weights);
    taken = [];
  };
  return {
    name: 'SnapshotEnsemble',
    onBatchEnd(_batch, _logs, ctx) {
      iterations++;
      if (unit === 'iteration' && iterations % o.every === 0) take(ctx.model, iterations);
    },
    onEpochEnd(epoch, _logs, ctx) {
      if (unit === 'epoch' && (epoch + 1) % o.every === 0) take(ctx.model, epoch + 1);
    },
    getState(): CallbackState {
      return {
        json: { iterations, at: taken.map((s) => s.at), perSnapshot: taken[0]?.weights.length ?? 0 },
        tensors: taken.flatMap((s) => s.weights.map((w) => w.clone())),
      };
    },
    setState(state) {
      const j = state.json as { iterations: number; at: number[]; perSnapshot: number };
      dispose();
      iterations = j.iterations;
      const ts = state.tensors ?? [];
      if (ts.length !== j.at.length * j.perSnapshot)
        throw new Error(
          `snapshotEnsemble: checkpoint holds ${ts.length} tensors for ${j.at.length} snapshots of ${j.perSnapshot}`,
        );
      taken = j.at.map((at, i) => ({
        at,
        weights: ts.slice(i * j.perSnapshot, (i + 1) * j.perSnapshot).map((t) => t.clone()),
      }));
    },
    snapshots: () => taken,
    dispose,
  };
}

export interface EnsembleEvaluation extends Evaluation {
  /** How many snapshots were averaged, and when each was taken. */
  members: number;
  memberAt: number[];
  /** Each member's own test accuracy, in memberAt's order. */
  memberAccuracies: number[];
}

/**
 * Evaluates the mean softmax of `snapshots` on `data` (read once per snapshot, in order): accuracy, confusion and
 * per-class scores of the averaged prediction, the loss of the averaged probabilities, and each member's accuracy.
 * The model's own weights are put back afterwards.
 */
export async function evaluateEnsemble(
  model: tf.LayersModel,
  snapshots: readonly Snapshot[],
  data: BatchSource,
  classes: string[],
): Promise<EnsembleEvaluation> {
  if (snapshots.length === 0)
    throw new Error('evaluateEnsemble: no snapshots (the run was shorter than the snapshot interval)');
  const own = model.getWeights().map((w) => w.clone());
  let sum: Float32Array | undefined;
  let labels: number[] = [];
  const memberAccuracies: number[] = [];
  try {
    for (const s of snapshots) {
      model.setWeights(s.weights);
      const probs: number[] = [];
      const ys: number[] = [];
      for await (const b of epochBatches(data, 0)) {
        const p = tf.tidy(() => model.apply(b.xs, { training: false }) as tf.Tensor);
        probs.push(...(await p.data()));
        ys.push(...(await b.ys.data()));
        tf.dispose([p, b.xs, b.ys]);
      }
      if (ys.length === 0) throw new Error('evaluateEnsemble: the data yielded no batches');
      if (probs.length !== ys.length * classes.length)
        throw new Error(
          `evaluateEnsemble: the model gives ${probs.length / ys.length} scores per image for ${classes.length} classes`,
        );
      if (!sum) {
        sum = new Float32Array(probs.length);
        labels = ys;
      } else if (ys.length !== labels.length || ys.some((y, i) => y !== labels[i])) {
        throw new Error('evaluateEnsemble: the data must give the same images in the same order on every pass');
      }
      for (let i = 0; i < probs.length; i++) sum[i] += probs[i];
      memberAccuracies.push(accuracyOf(probs, ys, classes.length));
    }
  } finally {
    model.setWeights(own);
    tf.dispose(own);
  }
  const k = classes.length;
  const n = labels.length;
  const predictions = labels.map((_, i) => argMax(sum!, i * k, k));
  let lossSum = 0;
  for (let i = 0; i < n; i++) lossSum -= Math.log(Math.max(sum![i * k + labels[i]] / snapshots.length, 1e-7));
  const reg = await regularizationPenalty(model);
  return {
    loss: lossSum / n + reg,
    predictions,
    labels,
    ...classificationMetrics(labels, predictions, classes),
    members: snapshots.length,
    memberAt: snapshots.map((s) => s.at),
    memberAccuracies,
  };
}

function argMax(a: ArrayLike<number>, offset: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (a[offset + j] > a[offset + best]) best = j;
  return best;
}

function accuracyOf(probs: ArrayLike<number>, labels: number[], k: number): number {
  return labels.reduce((a, y, i) => a + (argMax(probs, i * k, k) === y ? 1 : 0), 0) / labels.length;
}
