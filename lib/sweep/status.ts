/** A sweep's trials as the run store records them (plus the queue's view when there is one): state, worker, epochs, figures. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveTrial } from '../experiments';
import { sweepDir } from './definition';
import type { QueueState } from './queue';
import { readHistory, readSweepRecord, readTrialRecord, type SweepRecord, type TrialResult } from './store';

export interface TrialStatus {
  trial: string;
  /** pending (not started, no queue state known), waiting, running, retrying, completed, failed. */
  state: string;
  worker?: string;
  attempts: number;
  epochsDone: number;
  epochs: number;
  bestValLoss?: number;
  testAccuracy?: number;
  /** A NaN-stopped run's message, or a failed trial's error. */
  note?: string;
  /** Relative to the sweep folder. */
  runDir?: string;
  result?: TrialResult;
}

/** The trials in sweep.json and any other trial folder in the sweep's folder (a worker may have run one sweep.json missed). */
function trialsOf(rec: SweepRecord, dir: string): string[] {
  const folders = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, 'trial.json')))
    .map((e) => e.name);
  return [...new Set([...rec.trials, ...folders])];
}

/** Merges the store's record with the queue's state (`queue` from queueStates, when a queue was asked). */
function stateOf(file: string | undefined, q: QueueState | undefined): string {
  if (!q || q.state === 'unknown') return file ?? 'pending';
  if (q.state === 'completed' || q.state === 'failed') return q.state;
  if (q.state === 'active') return 'running';
  return file === 'failed' ? 'retrying' : 'waiting';
}

export function sweepStatus(
  out: string,
  id: string,
  queue?: Map<string, QueueState>,
): { sweep: SweepRecord; trials: TrialStatus[] } {
  const sweep = readSweepRecord(out, id);
  const root = sweepDir(out, id);
  const trials = trialsOf(sweep, root).map((trial): TrialStatus => {
    const rec = readTrialRecord(out, id, trial);
    const q = queue?.get(trial);
    const runDir = rec?.runDir ? path.join(root, rec.runDir) : undefined;
    const history = runDir ? readHistory(runDir) : undefined;
    const val = (history?.logs.val_loss ?? []).filter(Number.isFinite);
    const worker = q?.state === 'active' ? q.worker : rec?.attempts[rec.attempts.length - 1]?.worker;
    let epochs: number;
    try {
      epochs = resolveTrial(sweep.experiment, trial, sweep.settings.scale, sweep.settings.seed, sweep.settings).epochs;
    } catch {
      epochs = 0;
    }
    const note =
      rec?.result?.failure ??
      (rec?.state === 'failed' ? rec.error : undefined) ??
      (q?.state === 'failed' ? q.failedReason : undefined);
    return {
      trial,
      state: stateOf(rec?.state, q),
      ...(worker ? { worker } : {}),
      attempts: rec?.attempts.length ?? 0,
      epochsDone: history?.epochs.length ?? 0,
      epochs,
      ...(val.length ? { bestValLoss: Math.min(...val) } : {}),
      ...(typeof rec?.result?.testAccuracy === 'number' ? { testAccuracy: rec.result.testAccuracy } : {}),
      ...(note ? { note } : {}),
      ...(rec?.runDir ? { runDir: rec.runDir } : {}),
      ...(rec?.result ? { result: rec.result } : {}),
    };
  });
  return { sweep, trials };
}

const fixed = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));

/** The status rows as text columns (header first), for the console and the report. */
export function statusRows(trials: TrialStatus[]): string[][] {
  return [
    ['trial', 'state', 'worker', 'epochs', 'best val_loss', 'test acc', 'note'],
    ...trials.map((t) => [
      t.trial,
      t.state,
      t.worker ?? '-',
      `${t.epochsDone}/${t.epochs}`,
      fixed(t.bestValLoss),
      fixed(t.testAccuracy),
      t.note ?? '',
    ]),
  ];
}

export function formatStatus(sweep: SweepRecord, trials: TrialStatus[], out: string): string {
  const rows = statusRows(trials);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const table = rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
  const data = sweep.settings.synthetic ? 'SYNTHETIC DATA' : sweep.settings.data;
  return [
    `sweep ${sweep.id}: ${sweep.experiment}, scale ${sweep.settings.scale}, seed ` +
      `${sweep.settings.seed}, data ${data}${sweep.queue ? `, queue ${sweep.queue}` : ''}`,
    `run store: ${sweepDir(out, sweep.id)}`,
    '',
    table,
  ].join('\n');
}

/** A trial's run folder, absolute, if it has one. */
export const runFolder = (out: string, id: string, t: TrialStatus): string | undefined =>
  t.runDir ? path.join(sweepDir(out, id), t.runDir) : undefined;
