/**
 * One trial of a sweep, wherever it runs (the local sweep, a worker's trial process): finished already -> its result from
 * the store; started before -> resumed from its last epoch checkpoint; else a fresh run in the trial's run folder.
 */
import * as path from 'node:path';
import { RunAborted, RunFailure } from '../errors';
import { resolveTrial } from '../experiments';
import { runExperiment } from '../runner';
import type { ProgressSink } from '../train';
import { checkSweepId, sweepDir, type SweepDefinition } from './definition';
import {
  findRun,
  readTrialRecord,
  summarizeRun,
  trialRunDir,
  writeTrialRecord,
  type TrialRecord,
  type TrialResult,
} from './store';

export interface TrialRunOptions {
  /** Who runs it, for the trial's record (a worker's name, or `local`). */
  worker: string;
  progress?: ProgressSink;
  /** Abandons the trial at the next batch (RunAborted): recorded as abandoned, its checkpoint kept for the next attempt. */
  signal?: AbortSignal;
}

/**
 * Runs (or resumes, or just reads) a trial and records it in trial.json. A NaN loss is a result (`failure` set); bad
 * settings are a ConfigError and other errors are rethrown, both after the attempt is recorded as failed.
 */
export async function runTrial(
  out: string,
  def: SweepDefinition,
  trial: string,
  o: TrialRunOptions,
): Promise<TrialResult> {
  checkSweepId(def.id);
  resolveTrial(def.experiment, trial, def.settings.scale, def.settings.seed, def.settings);
  const root = sweepDir(out, def.id);
  const rec: TrialRecord = readTrialRecord(out, def.id, trial) ?? { trial, state: 'waiting', attempts: [] };
  const found = findRun(out, def, trial);
  const finish = (runDir: string, result: TrialResult) => {
    rec.state = 'completed';
    rec.runDir = path.relative(root, runDir);
    rec.result = result;
    delete rec.error;
    writeTrialRecord(out, def.id, rec);
    return result;
  };
  // Finished by an attempt whose process died before the queue heard of it: the run folder has the result.
  if (found.complete) {
    if (rec.state === 'completed' && rec.result) return rec.result;
    for (const a of rec.attempts) a.outcome ??= 'completed';
    return finish(found.dir!, summarizeRun(found.dir!));
  }

  for (const a of rec.attempts) a.outcome ??= 'lost';
  const attempt = {
    worker: o.worker,
    pid: process.pid,
    started: new Date().toISOString(),
    fromEpoch: found.doneEpochs,
  } as TrialRecord['attempts'][number];
  rec.attempts.push(attempt);
  rec.state = 'running';
  rec.runDir = path.relative(root, trialRunDir(out, def.id, trial));
  writeTrialRecord(out, def.id, rec);

  const shown = {
    quiet: true,
    ...(o.progress ? { progress: o.progress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  };
  let runDir: string;
  let failure: string | undefined;
  try {
    const r = found.dir
      ? await runExperiment({ experiment: def.experiment, resume: found.dir, ...shown })
      : await runExperiment({
          ...def.settings,
          experiment: def.experiment,
          trial,
          runDir: trialRunDir(out, def.id, trial),
          ...shown,
        });
    runDir = r.runDir;
  } catch (e) {
    if (e instanceof RunAborted) {
      Object.assign(attempt, { ended: new Date().toISOString(), outcome: 'abandoned' });
      rec.state = 'waiting';
      writeTrialRecord(out, def.id, rec);
      throw e;
    }
    if (!(e instanceof RunFailure)) {
      const message = (e as Error).message;
      Object.assign(attempt, { ended: new Date().toISOString(), outcome: 'failed', error: message });
      rec.state = 'failed';
      rec.error = message;
      writeTrialRecord(out, def.id, rec);
      throw e;
    }
    runDir = e.runDir;
    failure = e.message;
  }
  Object.assign(attempt, { ended: new Date().toISOString(), outcome: 'completed' });
  return finish(runDir, summarizeRun(runDir, failure));
}
