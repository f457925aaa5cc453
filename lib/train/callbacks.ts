/**
 * Callbacks with Keras' semantics (keras.callbacks, TF 2.x): EarlyStopping (with restore_best_weights, which
 * tfjs lacks), ReduceLROnPlateau, LearningRateScheduler (and a rate set every step from a schedule such as
 * CosineDecayRestarts), History, CSVLogger and TerminateOnNaN. Epochs are 0-based; messages print
 * 1-based epochs, as Keras does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Callback, CallbackState, Logs, TrainContext, TrainHistory } from './types';
import { writeFileAtomicSync } from '../atomic';

export type MonitorMode = 'auto' | 'min' | 'max';

/** Python's repr of a float (Keras formats numbers with it): `1e-05`, `0.010000000149011612`, `2.0`. */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = x.toExponential().split('e');
  const exp = Number(expStr);
  if (exp < -4 || exp >= 16) {
    return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const s = String(x);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
}

/** Keras' "auto": maximise accuracy-like metrics, minimise the rest (EarlyStopping's rule). */
function resolveMode(monitor: string, mode: MonitorMode, who: string): 'min' | 'max' {
  if (mode === 'min' || mode === 'max') return mode;
  if (mode !== 'auto') throw new Error(`${who}: mode must be auto, min or max, got "${mode}"`);
  return /(acc|accuracy|auc)$/.test(monitor) ? 'max' : 'min';
}

export interface EarlyStoppingOptions {
  /** Default 'val_loss'. */
  monitor?: string;
  /** Minimum change that counts as an improvement (absolute). Default 0. */
  minDelta?: number;
  /** Epochs without improvement before stopping. Default 0. */
  patience?: number;
  /** Default 'auto' (max for names ending in acc/accuracy/auc). */
  mode?: MonitorMode;
  /** Training must reach this value, or the wait counter is not reset. Default none. */
  baseline?: number;
  /** On stopping, set the weights of the best epoch. Default false (as Keras). */
  restoreBestWeights?: boolean;
  /** Epochs before monitoring starts. Default 0. */
  startFromEpoch?: number;
  /** 1: print Keras' messages. Default 0 (as Keras). */
  verbose?: 0 | 1;
}

/** keras.callbacks.EarlyStopping. */
export function earlyStopping(o: EarlyStoppingOptions = {}): Callback {
  const monitor = o.monitor ?? 'val_loss';
  const mode = resolveMode(monitor, o.mode ?? 'auto', 'earlyStopping');
  const minDelta = Math.abs(o.minDelta ?? 0);
  const patience = o.patience ?? 0;
  const startFromEpoch = o.startFromEpoch ?? 0;
  const improves = (cur: number, ref: number) => (mode === 'max' ? cur - minDelta > ref : cur + minDelta < ref);
  let wait = 0;
  let stoppedEpoch = 0;
  let best = mode === 'min' ? Infinity : -Infinity;
  let bestEpoch = 0;
  let bestWeights: tf.Tensor[] | undefined;
  const snapshot = (ctx: TrainContext) => {
    tf.dispose(bestWeights);
    bestWeights = ctx.model.getWeights().map((w) => w.clone());
  };
  return {
    name: 'EarlyStopping',
    onTrainBegin() {
      wait = 0;
      stoppedEpoch = 0;
      best = mode === 'min' ? Infinity : -Infinity;
      bestEpoch = 0;
      tf.dispose(bestWeights);
      bestWeights = undefined;
    },
    onEpochEnd(epoch, logs, ctx) {
      const current = logs[monitor];
      if (current === undefined || epoch < startFromEpoch) return;
      if (o.restoreBestWeights && !bestWeights) snapshot(ctx);
      wait += 1;
      if (improves(current, best)) {
        best = current;
        bestEpoch = epoch;
        ctx.bestEpoch = epoch;
        if (o.restoreBestWeights) snapshot(ctx);
        if (o.baseline === undefined || improves(current, o.baseline)) wait = 0;
        return;
      }
      if (wait >= patience && epoch > 0) {
        stoppedEpoch = epoch;
        ctx.stopTraining = true;
        ctx.stoppedEpoch = epoch;
        ctx.stopReason = `EarlyStopping: ${monitor} did not improve for ${wait} epochs (best ${best} at epoch ${bestEpoch + 1})`;
        if (o.restoreBestWeights && bestWeights) {
          if (o.verbose) ctx.log(`Restoring model weights from the end of the best epoch: ${bestEpoch + 1}.`);
          ctx.model.setWeights(bestWeights);
        }
      }
    },
    onTrainEnd(ctx) {
      if (stoppedEpoch > 0 && o.verbose) ctx.log(`Epoch ${stoppedEpoch + 1}: early stopping`);
      tf.dispose(bestWeights);
      bestWeights = undefined;
    },
    dispose() {
      tf.dispose(bestWeights);
      bestWeights = undefined;
    },
    getState(): CallbackState {
      return {
        json: { wait, stoppedEpoch, best: String(best), bestEpoch, hasBestWeights: !!bestWeights },
        tensors: bestWeights?.map((t) => t.clone()),
      };
    },
    setState(state, ctx) {
      const j = state.json as {
        wait: number;
        stoppedEpoch: number;
        best: string;
        bestEpoch: number;
        hasBestWeights: boolean;
      };
      wait = j.wait;
      stoppedEpoch = j.stoppedEpoch;
      best = Number(j.best);
      bestEpoch = j.bestEpoch;
      if (Number.isFinite(best)) ctx.bestEpoch = bestEpoch;
      tf.dispose(bestWeights);
      bestWeights = j.hasBestWeights ? state.tensors?.map((t) => t.clone()) : undefined;
    },
  };
}

export interface ReduceLROnPlateauOptions {
  /** Default 'val_loss'. */
  monitor?: string;
  /** New lr = lr * factor; must be < 1. Default 0.1. */
  factor?: number;
  /** Default 10. */
  patience?: number;
  /** Default 'auto' (max when the monitor's name contains "acc"). */
  mode?: MonitorMode;
  /** Default 1e-4. */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting again. Default 0. */
  cooldown?: number;
  /** Default 0. */
  minLr?: number;
  /** 1: print Keras' message. Default 0 (as Keras). */
  verbose?: 0 | 1;
}

/** keras.callbacks.ReduceLROnPlateau. */
export function reduceLROnPlateau(o: ReduceLROnPlateauOptions = {}): Callback {
  const monitor = o.monitor ?? 'val_loss';
  const factor = o.factor ?? 0.1;
  if (!(factor < 1)) throw new Error(`reduceLROnPlateau: factor must be < 1, got ${factor}`);
  const patience = o.patience ?? 10;
  const minDelta = o.minDelta ?? 1e-4;
  const cooldown = o.cooldown ?? 0;
  const minLr = o.minLr ?? 0;
  // Keras' ReduceLROnPlateau decides "auto" by substring ('acc' in monitor), unlike EarlyStopping.
  if (o.mode !== undefined && !['auto', 'min', 'max'].includes(o.mode))
    throw new Error(`reduceLROnPlateau: mode must be auto, min or max, got "${o.mode}"`);
  const mode = o.mode === 'min' || o.mode === 'max' ? o.mode : monitor.includes('acc') ? 'max' : 'min';
  const better = (a: number, b: number) => (mode === 'min' ? a < b - minDelta : a > b + minDelta);
  let best = mode === 'min' ? Infinity : -Infinity;
  let wait = 0;
  let cooldownCounter = 0;
  return {
    name: 'ReduceLROnPlateau',
    onTrainBegin() {
      best = mode === 'min' ? Infinity : -Infinity;
      wait = 0;
      cooldownCounter = 0;
    },
    onEpochEnd(epoch, logs, ctx) {
      const current = logs[monitor];
      if (current === undefined) return;
      if (cooldownCounter > 0) {
        cooldownCounter -= 1;
        wait = 0;
      }
      if (better(current, best)) {
        best = current;
        wait = 0;
      } else if (cooldownCounter <= 0) {
        wait += 1;
        if (wait >= patience) {
          const oldLr = ctx.getLearningRate();
          if (oldLr > Math.fround(minLr)) {
            const newLr = Math.max(oldLr * factor, minLr);
            ctx.setLearningRate(newLr);
            if (o.verbose)
              ctx.log(`Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${pyFloat(newLr)}.`);
            cooldownCounter = cooldown;
            wait = 0;
          }
        }
      }
    },
    getState: () => ({ json: { best: String(best), wait, cooldownCounter } }),
    setState(state) {
      const j = state.json as { best: string; wait: number; cooldownCounter: number };
      best = Number(j.best);
      wait = j.wait;
      cooldownCounter = j.cooldownCounter;
    },
  };
}

/** `lr` set on the optimizer when it is a finite rate >= 0; else an error naming the callback and `when` it came. */
function setScheduledRate(ctx: TrainContext, lr: number, who: string, when: string): void {
  if (!Number.isFinite(lr) || lr < 0)
    throw new Error(`${who}: the schedule gave ${lr} for ${when}; it must be a finite rate >= 0`);
  ctx.setLearningRate(lr);
}

/**
 * keras.callbacks.LearningRateScheduler: at the start of each epoch the learning rate becomes
 * `schedule(epoch, current lr)`. A schedule of the epoch alone keeps a resumed run on the same rates.
 */
export function learningRateScheduler(
  schedule: (epoch: number, lr: number) => number,
  o: { verbose?: 0 | 1 } = {},
): Callback {
  return {
    name: 'LearningRateScheduler',
    onEpochBegin(epoch, ctx) {
      const lr = schedule(epoch, ctx.getLearningRate());
      setScheduledRate(ctx, lr, 'learningRateScheduler', `epoch ${epoch + 1}`);
      if (o.verbose) ctx.log(`Epoch ${epoch + 1}: LearningRateScheduler setting learning rate to ${pyFloat(lr)}.`);
    },
  };
}

/** A step schedule: `lr` times `factor` once for every epoch of `epochs` (0-based) reached, e.g. lr / 10 from epoch 30. */
export function stepSchedule(lr: number, factor: number, epochs: readonly number[]): (epoch: number) => number {
  return (epoch) => lr * factor ** epochs.filter((e) => e <= epoch).length;
}

/**
 * The learning rate set before every training step from `schedule(step)`, where `step` counts the steps already
 * taken (0 for the first): what Keras does when an optimizer's learning rate is a LearningRateSchedule. The step
 * count is saved in checkpoints, so a resumed run continues on the same rates.
 */
export function stepwiseLearningRate(schedule: (step: number) => number): Callback {
  let step = 0;
  const apply = (ctx: TrainContext) =>
    setScheduledRate(ctx, schedule(step), 'stepwiseLearningRate', `step ${step + 1} (after ${step} steps)`);
  return {
    name: 'StepwiseLearningRate',
    onTrainBegin(ctx) {
      step = 0;
      apply(ctx);
    },
    onBatchEnd(_batch, _logs, ctx) {
      step++;
      apply(ctx);
    },
    getState: () => ({ json: { step } }),
    setState(state, ctx) {
      step = (state.json as { step: number }).step;
      apply(ctx);
    },
  };
}

export interface CosineDecayRestartsOptions {
  /** Each cycle is `tMul` times as long as the one before. Default 2 (Keras' t_mul). */
  tMul?: number;
  /** Each cycle starts at `mMul` times the rate the one before started at. Default 1 (Keras' m_mul). */
  mMul?: number;
  /** The floor of every cycle as a fraction of `lr`. Default 0 (Keras' alpha). */
  alpha?: number;
  /** Steps at a constant rate before the first cycle (not in Keras). Default 0. */
  start?: number;
  /** The constant rate of the `start` steps. Default `lr`; a lower one lets the cycles restart above the rate the net was trained at. */
  startRate?: number;
}

/**
 * keras.optimizers.schedules.CosineDecayRestarts, the warm restarts of SGDR (Loshchilov and Hutter, 2017) that snapshot
 * ensembles (Huang et al., 2017) take their members from: over the first `firstDecaySteps` steps the rate falls from
 * `lr` to `alpha` x `lr` along half a cosine, then restarts.
 */
export function cosineDecayRestarts(
  lr: number,
  firstDecaySteps: number,
  o: CosineDecayRestartsOptions = {},
): (step: number) => number {
  const { tMul = 2, mMul = 1, alpha = 0, start = 0, startRate = lr } = o;
  if (!(Number.isInteger(firstDecaySteps) && firstDecaySteps > 0))
    throw new Error(`cosineDecayRestarts: firstDecaySteps must be a positive integer, got ${firstDecaySteps}`);
  if (!(tMul >= 1 && Number.isFinite(tMul)))
    throw new Error(`cosineDecayRestarts: tMul must be a finite number >= 1, got ${tMul}`);
  if (!(mMul > 0 && Number.isFinite(mMul)))
    throw new Error(`cosineDecayRestarts: mMul must be a finite number > 0, got ${mMul}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`cosineDecayRestarts: alpha must be in [0, 1], got ${alpha}`);
  if (!(Number.isInteger(start) && start >= 0))
    throw new Error(`cosineDecayRestarts: start must be an integer >= 0, got ${start}`);
  if (!(startRate >= 0 && Number.isFinite(startRate)))
    throw new Error(`cosineDecayRestarts: startRate must be a finite number >= 0, got ${startRate}`);
  // Where cycle i begins, in first-cycle lengths: i for tMul 1, else (tMul^i - 1) / (tMul - 1).
  const begins = (i: number) => (tMul === 1 ? i : (tMul ** i - 1) / (tMul - 1));
  return (step) => {
    if (step < start) return startRate;
    const t = (step - start) / firstDecaySteps;
    let cycle = tMul === 1 ? Math.floor(t) : Math.floor(Math.log(1 + t * (tMul - 1)) / Math.log(tMul));
    // The logarithm can land a hair off an integer at a cycle boundary.
    if (begins(cycle + 1) <= t) cycle++;
    else if (begins(cycle) > t) cycle--;
    const fraction = (t - begins(cycle)) / tMul ** cycle;
    const cosine = 0.5 * (1 + Math.cos(Math.PI * fraction));
    return lr * ((1 - alpha) * mMul ** cycle * cosine + alpha);
  };
}

/** Appends each epoch's logs to a TrainHistory (fit keeps one itself; this one is for callers who want another). */
export function historyRecorder(
  history: TrainHistory = { epochs: [], logs: {} },
): Callback & { history: TrainHistory } {
  return {
    name: 'History',
    history,
    onEpochEnd(epoch, logs) {
      appendHistory(history, epoch, logs);
    },
    onTrainEnd(ctx) {
      if (ctx.bestEpoch !== undefined) history.bestEpoch = ctx.bestEpoch;
      if (ctx.stoppedEpoch !== undefined) history.stoppedEpoch = ctx.stoppedEpoch;
      if (ctx.stopReason !== undefined) history.stopReason = ctx.stopReason;
    },
    getState: () => ({ json: history }),
    setState(state) {
      const h = state.json as TrainHistory;
      history.epochs = h.epochs;
      history.logs = h.logs;
    },
  };
}

/** Adds one epoch to a history; a metric first seen late is padded with NaN for earlier epochs. */
export function appendHistory(history: TrainHistory, epoch: number, logs: Logs): void {
  const n = history.epochs.length;
  history.epochs.push(epoch);
  for (const [k, v] of Object.entries(logs)) {
    const col = (history.logs[k] ??= new Array<number>(n).fill(NaN));
    col.push(v);
  }
  for (const col of Object.values(history.logs)) if (col.length === n) col.push(NaN);
}

/**
 * keras.callbacks.CSVLogger: columns `epoch` then the log keys sorted (acc,loss,lr,val_acc,val_loss), one row
 * appended per epoch. A fresh run (initial epoch 0) starts a new file; a resumed run keeps the rows of epochs
 * before its initial epoch (dropping any written after the checkpoint it resumes from) and appends.
 */
export function csvLogger(file: string, o: { separator?: string } = {}): Callback {
  const sep = o.separator ?? ',';
  let keys: string[] | undefined;
  return {
    name: `CSVLogger:${file}`,
    onTrainBegin(ctx) {
      keys = undefined;
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      const start = ctx.params.initialEpoch;
      if (start === 0 || !fs.existsSync(file)) {
        if (fs.existsSync(file)) fs.rmSync(file);
        return;
      }
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      const header = lines[0];
      if (!header) return;
      keys = header.split(sep).slice(1);
      const kept = lines.slice(1).filter((l) => {
        const cells = l.split(sep);
        return cells.length === keys!.length + 1 && Number(cells[0]) < start;
      });
      writeFileAtomicSync(file, [header, ...kept].map((l) => l + '\n').join(''));
    },
    onEpochEnd(epoch, logs) {
      let out = '';
      if (!keys) {
        keys = Object.keys(logs).sort();
        out += ['epoch', ...keys].join(sep) + '\n';
      }
      out += [String(epoch), ...keys.map((k) => (logs[k] === undefined ? '' : String(logs[k])))].join(sep) + '\n';
      fs.appendFileSync(file, out);
    },
  };
}

/** keras.callbacks.TerminateOnNaN: stops at the first batch whose loss is NaN or infinite. */
export function terminateOnNaN(): Callback {
  return {
    name: 'TerminateOnNaN',
    onBatchEnd(batch, logs, ctx, epoch) {
      const loss = logs.loss;
      if (loss !== undefined && !Number.isFinite(loss)) {
        ctx.log(`Batch ${batch}: Invalid loss, terminating training`);
        ctx.stopTraining = true;
        ctx.stoppedEpoch = epoch;
        ctx.stopReason = `TerminateOnNaN: invalid loss (${loss}) at epoch ${epoch + 1}, batch ${batch}`;
      }
    },
  };
}
