/**
 * The run store's side of a sweep, all in files (Redis only hands out the work): `<out>/sweeps/<id>/sweep.json`, and per
 * trial `<id>/<trial>/trial.json` (state, attempts, result) beside the trial's one run folder `<id>/<trial>/run`.
 * Paths in records are relative to the sweep folder, so the store reads the same wherever it is mounted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readHistoryCsv, writeJsonAtomic } from '../runner';
import { latestCheckpoint } from '../train';
import type { History } from '../viz';
import { sweepDir, trialDir, type SweepDefinition } from './definition';

/** A record of the store that contradicts the request (a sweep id reused with other settings): retrying cannot fix it. */
export class SweepStoreError extends Error {
  override name = 'SweepStoreError';
}

export interface TrialResult {
  epochsRun: number;
  /** The epochs the run was set up for (EarlyStopping may end it sooner). */
  epochs: number;
  /** 1-based, as the study counts. */
  bestEpoch?: number;
  bestValLoss?: number;
  finalLoss?: number;
  finalValLoss?: number;
  testAccuracy?: number;
  testLoss?: number;
  /** Set when the run ended on a NaN loss: its records exist, and this is its result, not an error to retry. */
  failure?: string;
}

export type TrialState = 'running' | 'completed' | 'failed' | 'waiting';

export interface TrialAttempt {
  worker: string;
  /** The process that trained (a worker's trial process, or the local sweep). */
  pid: number;
  started: string;
  ended?: string;
  /** Epochs already done when the attempt started (resumed from the checkpoint after them). */
  fromEpoch: number;
  /** lost: the attempt's process died without a word (found so by the next attempt). */
  outcome?: 'completed' | 'failed' | 'abandoned' | 'lost';
  error?: string;
}

export interface TrialRecord {
  trial: string;
  state: TrialState;
  attempts: TrialAttempt[];
  /** The run folder, relative to the sweep folder. */
  runDir?: string;
  result?: TrialResult;
  error?: string;
}

export interface SweepRecord extends SweepDefinition {
  created: string;
  /** Where it was queued, password redacted; absent for a local sweep. */
  queue?: string;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file} is unreadable: ${(e as Error).message}`);
  }
}

/** Writes sweep.json, keeping the trials already recorded there (a sweep grows when enqueued with more trials). */
export function writeSweepRecord(out: string, def: SweepDefinition, queue?: string): SweepRecord {
  const file = path.join(sweepDir(out, def.id), 'sweep.json');
  const old = readJson<SweepRecord>(file);
  if (old && JSON.stringify(old.settings) !== JSON.stringify(def.settings)) {
    throw new SweepStoreError(
      `sweep ${def.id} in ${path.dirname(file)} was made with other settings; choose another id`,
    );
  }
  const trials = [...new Set([...(old?.trials ?? []), ...def.trials])];
  const rec: SweepRecord = {
    ...def,
    trials,
    created: old?.created ?? new Date().toISOString(),
    ...(queue ? { queue } : old?.queue ? { queue: old.queue } : {}),
  };
  writeJsonAtomic(file, rec);
  return rec;
}

export function readSweepRecord(out: string, id: string): SweepRecord {
  const dir = sweepDir(out, id);
  const rec = readJson<SweepRecord>(path.join(dir, 'sweep.json'));
  if (!rec) throw new Error(`no sweep ${id} in ${path.resolve(out)} (${path.join(dir, 'sweep.json')} is missing)`);
  return rec;
}

export const readTrialRecord = (out: string, id: string, trial: string): TrialRecord | undefined =>
  readJson<TrialRecord>(path.join(trialDir(out, id, trial), 'trial.json'));

export function writeTrialRecord(out: string, id: string, rec: TrialRecord): void {
  writeJsonAtomic(path.join(trialDir(out, id, rec.trial), 'trial.json'), rec);
}

/** A trial's one run folder, `<out>/sweeps/<id>/<trial>/run`: every attempt of the trial writes or resumes this folder. */
export const trialRunDir = (out: string, id: string, trial: string): string =>
  path.join(trialDir(out, id, trial), 'run');

export interface FoundRun {
  /** The trial's run folder, if a run was started in it (it has config.json). */
  dir?: string;
  complete: boolean;
  /** Completed epochs in its last checkpoint (0 when it has none). */
  doneEpochs: number;
}

/** The trial's run, if one was started: finished (metrics.json) or how far its checkpoints got. */
export function findRun(out: string, def: Pick<SweepDefinition, 'id'>, trial: string): FoundRun {
  const dir = trialRunDir(out, def.id, trial);
  if (!fs.existsSync(path.join(dir, 'config.json'))) return { complete: false, doneEpochs: 0 };
  const complete = fs.existsSync(path.join(dir, 'metrics.json'));
  const ckpt = complete ? undefined : latestCheckpoint(path.join(dir, 'checkpoints'));
  return { dir, complete, doneEpochs: ckpt ? Number(/epoch-(\d+)$/.exec(ckpt)![1]) : 0 };
}

/** A run folder's history.csv (CSVLogger's: 0-based epochs, one column per log) as a viz History; empty when absent. */
export function readHistory(runDir: string): History {
  return readHistoryCsv(path.join(runDir, 'history.csv'));
}

/** A finished (or NaN-stopped) run's figures from its folder; `failure` is the runner's message for a NaN-stopped run. */
export function summarizeRun(runDir: string, failure?: string): TrialResult {
  const config = readJson<{ run: { epochs: number } }>(path.join(runDir, 'config.json'));
  const metrics = readJson<{
    testAccuracy: number;
    testLoss: number;
    epochsRun: number;
    bestEpoch?: number;
    final: Record<string, number>;
    stopReason?: string;
  }>(path.join(runDir, 'metrics.json'));
  const history = readHistory(runDir);
  const val = history.logs.val_loss ?? [];
  const finite = val.filter(Number.isFinite);
  const loss = history.logs.loss ?? [];
  const result: TrialResult = {
    epochsRun: metrics?.epochsRun ?? history.epochs.length,
    epochs: config?.run.epochs ?? 0,
  };
  if (finite.length) {
    result.bestValLoss = Math.min(...finite);
    result.bestEpoch = metrics?.bestEpoch ?? history.epochs[val.indexOf(result.bestValLoss)] + 1;
  }
  if (loss.length) result.finalLoss = loss[loss.length - 1];
  if (val.length) result.finalValLoss = val[val.length - 1];
  if (metrics) Object.assign(result, { testAccuracy: metrics.testAccuracy, testLoss: metrics.testLoss });
  // metrics.json stores NaN as null: a non-finite final loss means TerminateOnNaN ended the run.
  const nan = metrics && typeof metrics.final.loss !== 'number';
  if (failure ?? nan)
    result.failure = failure ?? `training failed: ${metrics?.stopReason ?? 'the training loss is not finite'}`;
  return result;
}
