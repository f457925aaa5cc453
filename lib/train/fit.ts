/**
 * The epoch loop: trainStep (Keras' train_on_batch, loss from the logits) over each epoch's batches, validation, callbacks with Keras' semantics,
 * per-epoch checkpoints and resume. Metrics are loss and acc (sparse categorical), averaged over samples
 * as Keras does; validation loss includes the regularisation penalties, as in Keras.
 * Memory: every batch is disposed after use and every intermediate lives in a tidy, so tf.memory() stays
 * flat across epochs and across fit calls.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch, BatchSource, Callback, FitOptions, Logs, TrainContext, TrainHistory } from './types';
import { KerasOptimizer, makeOptimizer } from './optimizers';
import type { OptimizerConfig } from './types';
import { appendHistory, terminateOnNaN } from './callbacks';
import { consoleProgress } from './progress';
import { lossHead, releaseStepFolds, trainStep } from './loss';
import { disposeFoldCache, type FoldCache } from '../models/fold';
import { seedUnseededOps } from './seeding';
import { disposeCheckpoint, readCheckpoint, saveCheckpoint, type CheckpointData } from './checkpoint';

/**
 * Compiles `model` for fit with one of our optimizers. fit trains with trainStep (Keras' loss: from the logits when the
 * output is a softmax); the compiled loss and metric serve tfjs's own evaluate/trainOnBatch only.
 */
export function compileModel(model: tf.LayersModel, optimizer: KerasOptimizer | OptimizerConfig): KerasOptimizer {
  const opt = optimizer instanceof KerasOptimizer ? optimizer : makeOptimizer(optimizer);
  model.compile({ optimizer: opt, loss: 'sparseCategoricalCrossentropy', metrics: ['acc'] });
  return opt;
}

function isDataset(s: unknown): s is tf.data.Dataset<Batch> {
  return (
    typeof (s as tf.data.Dataset<Batch>).iterator === 'function' &&
    typeof (s as tf.data.Dataset<Batch>).batch === 'function'
  );
}

/** The batches of one epoch, whatever kind of source gives them. */
export async function* epochBatches(source: BatchSource, epoch: number): AsyncGenerator<Batch> {
  const s = typeof source === 'function' ? source(epoch) : source;
  if (isDataset(s)) {
    const it = await s.iterator();
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  for await (const b of s) yield b;
}

/** `who` names the source in errors, e.g. 'fit: training data'. */
function checkBatch(b: Batch, who: string): number {
  if (!b || !(b.xs instanceof tf.Tensor) || !(b.ys instanceof tf.Tensor))
    throw new Error(`${who} must yield {xs, ys} tensors`);
  const n = b.xs.shape[0];
  if (b.ys.shape[0] !== n) throw new Error(`${who} batch has ${n} images but ${b.ys.shape[0]} labels`);
  return n;
}

/** What one inference pass over a batch source gives: the summed per-sample loss and the class indices, in order. */
export interface InferencePass {
  lossSum: number;
  predictions: number[];
  labels: number[];
}

/**
 * Runs `model` (inference mode) once over `source`, one read per batch: [loss sum, predictions..., labels...]
 * (class indices are exact in float32). `who` prefixes the bad-batch error (e.g. 'fit: validation data').
 */
export async function inferencePass(
  model: tf.LayersModel,
  source: BatchSource,
  who: string,
  epoch = 0,
  disposeBatches = true,
): Promise<InferencePass> {
  const out: InferencePass = { lossSum: 0, predictions: [], labels: [] };
  const head = lossHead(model);
  // The weights stay as they are during the pass: batch norm is folded into the convolutions once.
  const folds: FoldCache = new Map();
  try {
    for await (const b of epochBatches(source, epoch)) {
      const k = checkBatch(b, who);
      const packed = tf.tidy(() => {
        const out = head.infer(b.xs, folds);
        const y = tf.cast(b.ys.reshape([-1]), 'int32');
        return tf.concat([
          tf.reshape(tf.sum(head.perSample(y, out)), [1]),
          tf.cast(tf.argMax(out, -1), 'float32'),
          tf.cast(y, 'float32'),
        ]);
      });
      const values = await packed.data();
      packed.dispose();
      if (disposeBatches) tf.dispose([b.xs, b.ys]);
      out.lossSum += values[0];
      for (let i = 1; i <= k; i++) out.predictions.push(values[i]);
      for (let i = k + 1; i <= 2 * k; i++) out.labels.push(values[i]);
    }
  } finally {
    disposeFoldCache(folds);
  }
  return out;
}

/** Sample-weighted mean loss and accuracy of `model` (inference mode) over one pass of `source`. */
export async function lossAndAccuracy(
  model: tf.LayersModel,
  source: BatchSource,
  epoch = 0,
  disposeBatches = true,
): Promise<{ loss: number; acc: number }> {
  const { lossSum, predictions, labels } = await inferencePass(
    model,
    source,
    'fit: validation data',
    epoch,
    disposeBatches,
  );
  const n = labels.length;
  if (n === 0) throw new Error('fit: validation data yielded no batches');
  const correct = labels.reduce((a, t, i) => a + (predictions[i] === t ? 1 : 0), 0);
  const reg = await regularizationPenalty(model);
  return { loss: lossSum / n + reg, acc: correct / n };
}

/** The sum of the model's regularisation penalties (Keras adds it to every reported loss). */
export async function regularizationPenalty(model: tf.LayersModel): Promise<number> {
  const penalty = tf.tidy(() => model.calculateLosses().reduce((a, b) => tf.add(a, b), tf.scalar(0)));
  const value = (await penalty.data())[0];
  penalty.dispose();
  return value;
}

/** The optimizer state's variable names: the model's trainable weights, in order. */
function trainableNames(model: tf.LayersModel): string[] {
  return model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
}

/**
 * Trains `model` (compiled with compileModel) for epochs [initialEpoch, epochs). With `resumeFrom`, first
 * restores the newest checkpoint there and continues from its epoch; the result is the whole run's history.
 */
export async function fit(
  model: tf.LayersModel,
  train: BatchSource,
  validation: BatchSource | undefined,
  opts: FitOptions,
): Promise<TrainHistory> {
  const optimizer = model.optimizer;
  if (!(optimizer instanceof KerasOptimizer)) {
    throw new Error('fit: the model must be compiled with an optimizer from makeOptimizer() (use compileModel)');
  }
  if (!Number.isInteger(opts.epochs) || opts.epochs < 0)
    throw new Error(`fit: epochs must be an integer >= 0, got ${opts.epochs}`);
  const callbacks: Callback[] = [...(opts.callbacks ?? [])];
  if (opts.stopOnNaN !== false && !callbacks.some((c) => c.name === 'TerminateOnNaN')) callbacks.push(terminateOnNaN());
  const names = callbacks.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`fit: two callbacks are named "${dup}"; checkpoints key callback state by name`);
  const disposeBatches = opts.disposeBatches ?? true;
  const progress = opts.verbose === 0 ? undefined : (opts.progress ?? consoleProgress());

  let history: TrainHistory = { epochs: [], logs: {} };
  let initialEpoch = opts.initialEpoch ?? 0;
  let ckpt: CheckpointData | undefined;
  if (opts.resumeFrom) {
    ckpt = readCheckpoint(opts.resumeFrom);
    if (opts.seed !== undefined && ckpt.seed !== undefined && String(ckpt.seed) !== String(opts.seed)) {
      disposeCheckpoint(ckpt);
      throw new Error(
        `fit: checkpoint in ${opts.resumeFrom} was made with seed ${ckpt.seed}, this run has seed ${opts.seed}`,
      );
    }
    const shapes = (ws: { shape: readonly (number | null)[] }[]) => ws.map((w) => w.shape.join('x')).join(', ');
    if (shapes(ckpt.weights) !== shapes(model.weights)) {
      disposeCheckpoint(ckpt);
      throw new Error(
        `fit: checkpoint in ${opts.resumeFrom} holds weights [${shapes(ckpt.weights)}], the model has [${shapes(model.weights)}]`,
      );
    }
    model.setWeights(ckpt.weights);
    optimizer.setState(ckpt.optimizer, trainableNames(model));
    history = ckpt.history;
    initialEpoch = ckpt.epoch;
  }

  const ctx: TrainContext = {
    model,
    params: { epochs: opts.epochs, initialEpoch },
    stopTraining: false,
    getLearningRate: () => optimizer.learningRate,
    setLearningRate: (lr) => {
      optimizer.learningRate = lr;
    },
    log: (m) => (progress ? progress.message(m) : console.log(m)),
  };
  // A run that ends in an error never reaches onTrainEnd: its callbacks free what they hold here instead.
  let finished = false;
  try {
    try {
      for (const c of callbacks) await c.onTrainBegin?.(ctx);
      if (ckpt) {
        for (const c of callbacks) {
          if (!c.setState) continue;
          const st = ckpt.callbacks[c.name];
          if (!st) throw new Error(`fit: checkpoint in ${opts.resumeFrom} has no state for callback ${c.name}`);
          c.setState(st, ctx);
        }
        if (ckpt.stopped) {
          ctx.stopTraining = true;
          ctx.stoppedEpoch = ckpt.stopped.epoch;
          ctx.stopReason = ckpt.stopped.reason;
        }
      }
    } finally {
      if (ckpt) disposeCheckpoint(ckpt);
    }
    progress?.trainBegin?.({ epochs: opts.epochs, initialEpoch });

    let stepsPerEpoch: number | undefined;
    for (let epoch = initialEpoch; epoch < opts.epochs && !ctx.stopTraining; epoch++) {
      for (const c of callbacks) await c.onEpochBegin?.(epoch, ctx);
      progress?.epochBegin?.(epoch, opts.epochs, stepsPerEpoch);
      const t0 = Date.now();
      let lossSum = 0;
      let accSum = 0;
      let seen = 0;
      let step = 0;
      let brokeOff = false;
      const restoreRandom = opts.seed !== undefined ? seedUnseededOps(opts.seed, epoch) : undefined;
      try {
        for await (const b of epochBatches(train, epoch)) {
          const n = checkBatch(b, 'fit: training data');
          let loss: number;
          let acc: number;
          try {
            [loss, acc] = await trainStep(model, b.xs, b.ys);
          } finally {
            if (disposeBatches) tf.dispose([b.xs, b.ys]);
          }
          lossSum += loss * n;
          accSum += acc * n;
          seen += n;
          const running: Logs = { loss: lossSum / seen, acc: accSum / seen };
          for (const c of callbacks) await c.onBatchEnd?.(step, running, ctx, epoch);
          progress?.batch?.(epoch, step, stepsPerEpoch, running);
          step++;
          if (ctx.stopTraining) {
            brokeOff = true;
            break;
          }
        }
      } finally {
        restoreRandom?.();
      }
      if (step === 0) throw new Error(`fit: training data yielded no batches in epoch ${epoch + 1}`);
      if (!brokeOff) stepsPerEpoch = step;
      const logs: Logs = { loss: lossSum / seen, acc: accSum / seen };
      // A run stopped mid-epoch (NaN loss) has nothing worth validating.
      if (validation && !brokeOff) {
        const v = await lossAndAccuracy(model, validation, epoch, disposeBatches);
        logs.val_loss = v.loss;
        logs.val_acc = v.acc;
      }
      logs.lr = optimizer.learningRate;
      // As in Keras, the epoch's progress line comes before the callbacks' messages.
      progress?.epochEnd?.(epoch, logs, (Date.now() - t0) / 1000, step);
      for (const c of callbacks) await c.onEpochEnd?.(epoch, logs, ctx);
      appendHistory(history, epoch, logs);
      if (opts.checkpoint && !brokeOff) {
        const cbStates: CheckpointData['callbacks'] = {};
        for (const c of callbacks) if (c.getState) cbStates[c.name] = c.getState();
        const data: CheckpointData = {
          epoch: epoch + 1,
          seed: opts.seed,
          history: withStop(history, ctx),
          weightNames: model.weights.map((w) => w.name),
          weights: model.getWeights(),
          optimizer: optimizer.getState(trainableNames(model)),
          callbacks: cbStates,
          rngStates: Object.fromEntries(Object.entries(opts.rngs ?? {}).map(([k, r]) => [k, r.state()])),
          stopped: ctx.stopTraining ? { epoch, reason: ctx.stopReason ?? 'stopped by a callback' } : undefined,
        };
        try {
          await saveCheckpoint(opts.checkpoint.dir, data, opts.checkpoint.keep);
        } finally {
          // getWeights() returns the variables' own tensors: dispose only the copies made for the checkpoint.
          for (const s of data.optimizer.slots) if (s) tf.dispose(Object.values(s));
          for (const st of Object.values(cbStates)) if (st.tensors) tf.dispose(st.tensors);
        }
      }
    }
    for (const c of callbacks) await c.onTrainEnd?.(ctx, history);
    finished = true;
  } finally {
    if (!finished) for (const c of callbacks) c.dispose?.();
    releaseStepFolds(model);
  }
  progress?.trainEnd?.();
  return withStop(history, ctx);
}

function withStop(history: TrainHistory, ctx: TrainContext): TrainHistory {
  const h: TrainHistory = { epochs: history.epochs, logs: history.logs };
  const bestEpoch = ctx.bestEpoch ?? history.bestEpoch;
  if (bestEpoch !== undefined) h.bestEpoch = bestEpoch;
  if (ctx.stoppedEpoch !== undefined) h.stoppedEpoch = ctx.stoppedEpoch;
  if (ctx.stopReason !== undefined) h.stopReason = ctx.stopReason;
  return h;
}
