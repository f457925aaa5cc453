/**
 * Progress sinks. In a terminal: one Keras-style bar per epoch, redrawn in place with \r. Not a terminal
 * (logs, CI): a plain line at most every `intervalSeconds` plus one line per epoch. In a tslab notebook:
 * a display entry per epoch that is overwritten in place (tslab.newDisplay), throttled.
 */
import type { Logs, ProgressSink } from './types';
import { formatSeconds } from '../duration';

/** `loss: 0.1234 - acc: 0.9500 - val_loss: ...` (Keras' order: the logs' own order). */
export function formatLogs(logs: Logs): string {
  return Object.entries(logs)
    .map(([k, v]) => `${k}: ${k === 'lr' ? v.toPrecision(4) : v.toFixed(4)}`)
    .join(' - ');
}

/** The text of one progress line: `12/40 [=======>......] - ETA: 4s - loss: ...`. */
export function progressLine(step: number, steps: number | undefined, elapsed: number, logs: Logs, width = 30): string {
  const metrics = formatLogs(logs);
  if (!steps) return `${step} steps - ${formatSeconds(elapsed)}${metrics ? ' - ' + metrics : ''}`;
  const done = Math.min(width, Math.floor((width * step) / steps));
  const bar =
    step >= steps ? '='.repeat(width) : '='.repeat(Math.max(0, done - 1)) + '>' + '.'.repeat(width - Math.max(done, 1));
  const eta = step > 0 ? (elapsed / step) * (steps - step) : 0;
  const time =
    step >= steps
      ? `${formatSeconds(elapsed)} ${Math.round((elapsed * 1000) / steps)}ms/step`
      : `ETA: ${formatSeconds(eta)}`;
  return `${String(step).padStart(String(steps).length)}/${steps} [${bar}] - ${time}${metrics ? ' - ' + metrics : ''}`;
}

export interface ConsoleProgressOptions {
  /** Where to write. Default process.stdout. */
  stream?: { write(s: string): unknown; isTTY?: boolean };
  /** Redraw in place. Default: stream.isTTY. */
  tty?: boolean;
  /** Seconds between plain lines when not a terminal. Default 30. */
  intervalSeconds?: number;
  /** Clock in ms (for tests). Default Date.now. */
  now?: () => number;
}

/** Progress for a terminal (bar redrawn in place) or a log file (periodic plain lines). */
export function consoleProgress(o: ConsoleProgressOptions = {}): ProgressSink {
  const stream = o.stream ?? process.stdout;
  const tty = o.tty ?? !!stream.isTTY;
  const now = o.now ?? Date.now;
  const interval = (o.intervalSeconds ?? 30) * 1000;
  let start = 0;
  let lastDraw = 0;
  let open = false; // a \r line is on screen
  const endLine = () => {
    if (open) stream.write('\n');
    open = false;
  };
  return {
    epochBegin(epoch, epochs) {
      endLine();
      stream.write(`Epoch ${epoch + 1}/${epochs}\n`);
      start = lastDraw = now();
    },
    batch(_epoch, batch, steps, logs) {
      const t = now();
      if (tty) {
        if (t - lastDraw < 100 && batch > 0) return;
        lastDraw = t;
        stream.write('\r' + progressLine(batch + 1, steps, (t - start) / 1000, logs) + '\x1b[K');
        open = true;
      } else if (t - lastDraw >= interval) {
        lastDraw = t;
        stream.write(progressLine(batch + 1, steps, (t - start) / 1000, logs) + '\n');
      }
    },
    epochEnd(_epoch, logs, seconds, steps) {
      const line = progressLine(steps, steps, seconds, logs);
      if (tty) stream.write('\r' + line + '\x1b[K\n');
      else stream.write(line + '\n');
      open = false;
    },
    message(text) {
      endLine();
      stream.write(text + '\n');
    },
    trainEnd: endLine,
  };
}

/** The part of tslab's display API used here (`require('tslab').newDisplay()`). */
export interface UpdatableDisplay {
  text(s: string): void;
}

/**
 * Progress in a tslab notebook: each epoch gets a display entry that is overwritten at most every
 * `intervalSeconds` (default 1); messages are printed below. `newDisplay` defaults to tslab's.
 */
export function notebookProgress(
  o: { newDisplay?: () => UpdatableDisplay; intervalSeconds?: number; now?: () => number } = {},
): ProgressSink {
  const newDisplay = o.newDisplay ?? (() => (require('tslab') as { newDisplay(): UpdatableDisplay }).newDisplay());
  const now = o.now ?? Date.now;
  const interval = (o.intervalSeconds ?? 1) * 1000;
  let display: UpdatableDisplay | undefined;
  let header = '';
  let start = 0;
  let lastDraw = 0;
  return {
    epochBegin(epoch, epochs) {
      header = `Epoch ${epoch + 1}/${epochs}`;
      display = newDisplay();
      display.text(header);
      start = lastDraw = now();
    },
    batch(_epoch, batch, steps, logs) {
      const t = now();
      if (t - lastDraw < interval) return;
      lastDraw = t;
      display?.text(`${header} ${progressLine(batch + 1, steps, (t - start) / 1000, logs)}`);
    },
    epochEnd(_epoch, logs, seconds, steps) {
      display?.text(`${header} ${progressLine(steps, steps, seconds, logs)}`);
    },
    message(text) {
      console.log(text);
    },
  };
}
