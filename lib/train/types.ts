/**
 * Types of the training engine (lib/train): the data it trains on, the callback interface (ours, with Keras
 * semantics; tfjs's callbacks are not used), progress sinks and the history a run produces.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '../random';

/** One batch: images [n, h, w, c] and integer class labels [n]. */
export type Batch = {
  xs: tf.Tensor;
  ys: tf.Tensor;
};

/**
 * Where batches come from. A function receives the 0-based epoch it serves: build the epoch's shuffle from
 * `shuffleSeed(seed, epoch)` and a resumed run sees exactly the order the uninterrupted run saw.
 * A plain `tf.data.Dataset` is iterated afresh each epoch (its own reshuffling is not restorable on resume).
 */
export type BatchSource =
  tf.data.Dataset<Batch> | ((epoch: number) => tf.data.Dataset<Batch> | AsyncIterable<Batch> | Iterable<Batch>);

/** Per-epoch metrics: loss, acc, val_loss, val_acc, lr (and whatever a callback adds). */
export type Logs = Record<string, number>;

/** What a run produced, epoch by epoch (epochs are 0-based, as Keras' History.epoch). */
export interface TrainHistory {
  epochs: number[];
  /** loss, acc, val_loss, val_acc, lr: one value per entry of `epochs`. */
  logs: Record<string, number[]>;
  /** 0-based epoch whose weights EarlyStopping restored or would restore (best monitored value). */
  bestEpoch?: number;
  /** 0-based epoch at which training stopped early (EarlyStopping or TerminateOnNaN). */
  stoppedEpoch?: number;
  /** Why training stopped before `epochs`, e.g. "EarlyStopping: val_loss did not improve for 10 epochs". */
  stopReason?: string;
}

/** The run as callbacks see it: they may stop training, change the learning rate and print messages. */
export interface TrainContext {
  model: tf.LayersModel;
  /** Total epochs requested and the first epoch of this call (non-zero when resuming). */
  params: { epochs: number; initialEpoch: number };
  /** Set to true to end training after the current batch (as Keras' model.stop_training). */
  stopTraining: boolean;
  stopReason?: string;
  stoppedEpoch?: number;
  bestEpoch?: number;
  getLearningRate(): number;
  setLearningRate(lr: number): void;
  /** Prints a message (through the progress sink when there is one, so bars are not garbled). */
  log(message: string): void;
}

/** Saved callback state: JSON plus tensors (e.g. EarlyStopping's best weights), for checkpoints. */
export interface CallbackState {
  json: unknown;
  tensors?: tf.Tensor[];
}

/**
 * A training callback. Epochs and batches are 0-based, as in Keras. A callback holding state across epochs
 * implements getState/setState so a resumed run continues exactly where the checkpoint left off.
 */
export interface Callback {
  /** Unique among a run's callbacks: the key of its state in a checkpoint. */
  name: string;
  onTrainBegin?(ctx: TrainContext): void | Promise<void>;
  onEpochBegin?(epoch: number, ctx: TrainContext): void | Promise<void>;
  onBatchEnd?(batch: number, logs: Logs, ctx: TrainContext, epoch: number): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs, ctx: TrainContext): void | Promise<void>;
  onTrainEnd?(ctx: TrainContext, history: TrainHistory): void | Promise<void>;
  getState?(): CallbackState;
  /** Called after onTrainBegin when resuming. */
  setState?(state: CallbackState, ctx: TrainContext): void;
  /** Frees the tensors the callback holds when training ends in an error (fit calls it; may be called twice). */
  dispose?(): void;
}

/** Receives progress; terminal bars, plain log lines and notebook displays implement it (see progress.ts). */
export interface ProgressSink {
  trainBegin?(info: { epochs: number; initialEpoch: number }): void;
  epochBegin?(epoch: number, epochs: number, stepsPerEpoch: number | undefined): void;
  /** After each batch, with the epoch's running means so far. */
  batch?(epoch: number, batch: number, stepsPerEpoch: number | undefined, logs: Logs): void;
  epochEnd?(epoch: number, logs: Logs, seconds: number, steps: number): void;
  message(text: string): void;
  trainEnd?(): void;
}

/** Optimizer settings; defaults are Keras'. */
export type OptimizerConfig =
  | { kind: 'sgd'; lr?: number; momentum?: number; nesterov?: boolean }
  | { kind: 'adam'; lr?: number; beta1?: number; beta2?: number; epsilon?: number }
  | { kind: 'adamw'; lr?: number; weightDecay?: number; beta1?: number; beta2?: number; epsilon?: number };

export interface FitOptions {
  /** Train until this many epochs have run in total (Keras' `epochs`, counting `initialEpoch`). */
  epochs: number;
  /** First epoch (0-based); a resumed run takes it from the checkpoint. */
  initialEpoch?: number;
  callbacks?: Callback[];
  /** 0: silent; 1: progress to `progress` (default: a console sink suited to stdout). Default 1. */
  verbose?: 0 | 1;
  progress?: ProgressSink;
  /** Save a checkpoint into `dir` after every epoch (atomically; the previous one is then removed). */
  checkpoint?: { dir: string; keep?: number };
  /** Continue from the latest checkpoint in this directory (weights, optimizer, callbacks, history, epoch). */
  resumeFrom?: string;
  /**
   * Recorded in checkpoints so a resumed run can check it was given the same seed; also seeds, per epoch, the draws of
   * tfjs ops that take no seed (dropout masks): see seedUnseededOps.
   */
  seed?: number | string;
  /** Generators whose state is checkpointed (e.g. augmentation); see readCheckpoint().rngStates. */
  rngs?: Record<string, Rng>;
  /** Stop at the first NaN/Inf batch loss (adds terminateOnNaN() unless one is given). Default true. */
  stopOnNaN?: boolean;
  /** Dispose each batch's tensors after use (turn off when the source yields tensors it reuses). Default true. */
  disposeBatches?: boolean;
}
