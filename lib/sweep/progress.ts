/** A trial's progress as one plain line per epoch (epoch, loss, ETA), the same from the local sweep, a worker and `--wait`. */
import { formatSeconds } from '../duration';
import type { ProgressSink } from '../train';

/** What a worker publishes as its job's progress (JSON). */
export interface TrialProgress {
  trial: string;
  /** Epochs done (1-based count). */
  epoch: number;
  epochs: number;
  loss?: number;
  valLoss?: number;
  /** The last epoch's duration, for the ETA. */
  seconds?: number;
}

const num = (v: number | undefined | null) =>
  typeof v === 'number' ? (Number.isFinite(v) ? v.toFixed(4) : String(v)) : '-';

export function formatProgress(p: TrialProgress): string {
  const eta = p.seconds === undefined ? '' : `, ETA ${formatSeconds(p.seconds * (p.epochs - p.epoch))}`;
  return `${p.trial}: epoch ${p.epoch}/${p.epochs}, loss ${num(p.loss)}, val_loss ${num(p.valLoss)}${eta}`;
}

/**
 * A progress sink that reports each finished epoch to `onEpoch`. `check` runs at every batch and epoch boundary, the
 * only moments a training process's own code runs while it trains (a trial process uses it to notice its worker died).
 */
export function epochProgress(
  trial: string,
  onEpoch: (p: TrialProgress) => void,
  check: () => void = () => {},
): ProgressSink {
  let epochs = 0;
  return {
    trainBegin: (info) => {
      epochs = info.epochs;
      check();
    },
    epochBegin: () => check(),
    batch: () => check(),
    epochEnd: (epoch, logs, seconds) => {
      check();
      onEpoch({ trial, epoch: epoch + 1, epochs, loss: logs.loss, valLoss: logs.val_loss, seconds });
    },
    message: () => {},
  };
}
