/**
 * The embedded sweep: every trial in this process, one after the other, into the same run store layout the workers
 * use. Running it again skips finished trials and resumes an interrupted one.
 */
import { ConfigError, DataError, RunAborted } from '../errors';
import { defineSweep, type SweepDefinition, type SweepRequest } from './definition';
import { epochProgress, formatProgress } from './progress';
import { writeSweepReport } from './report';
import { writeSweepRecord, type TrialResult } from './store';
import { runTrial } from './trial';

export interface SweepOutcome {
  sweep: SweepDefinition;
  /** Per trial: its result, or the error that stopped it. */
  trials: { trial: string; result?: TrialResult; error?: string }[];
  report: string;
}

/**
 * Runs the sweep here. Bad settings or data (shared by every trial) stop it with their error; so does `signal`, at the
 * next batch (RunAborted), leaving the trial in progress to resume when the same sweep runs again.
 */
export async function runSweepLocal(
  req: SweepRequest,
  o: { out: string; log?: (line: string) => void; signal?: AbortSignal },
): Promise<SweepOutcome> {
  const log = o.log ?? console.log;
  const sweep = defineSweep(req);
  writeSweepRecord(o.out, sweep);
  log(`sweep ${sweep.id}: ${sweep.trials.length} trial(s) of ${sweep.experiment}, one after the other`);
  const trials: SweepOutcome['trials'] = [];
  for (const trial of sweep.trials) {
    log(`${trial}: started`);
    try {
      const result = await runTrial(o.out, sweep, trial, {
        worker: 'local',
        progress: epochProgress(trial, (p) => log(formatProgress(p))),
        ...(o.signal ? { signal: o.signal } : {}),
      });
      log(`${trial}: ${result.failure ? `finished with a failure: ${result.failure}` : 'completed'}`);
      trials.push({ trial, result });
    } catch (e) {
      // Settings every trial shares would fail every trial the same way.
      if (e instanceof ConfigError || e instanceof DataError || e instanceof RunAborted) throw e;
      log(`${trial}: failed: ${(e as Error).message}`);
      trials.push({ trial, error: (e as Error).message });
    }
  }
  return { sweep, trials, report: writeSweepReport(o.out, sweep.id) };
}
