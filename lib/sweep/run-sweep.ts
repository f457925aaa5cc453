/**
 * One call for notebooks and scripts: run a sweep here, or hand it to a queue's workers and follow it to its end, then
 * read every trial back from the run store (state, figures, history) and write the sweep's report.
 */
import type { History } from '../viz';
import type { SweepDefinition, SweepRequest } from './definition';
import { runSweepLocal } from './local';
import { enqueueSweep, followSweep, type QueueState } from './queue';
import { redactUrl } from './redact';
import { writeSweepReport } from './report';
import { runFolder, sweepStatus, type TrialStatus } from './status';
import { readHistory } from './store';

export interface SweepTrialView extends TrialStatus {
  /** The trial's epochs so far (empty when it never started). */
  history: History;
}

export interface SweepRun {
  sweep: SweepDefinition;
  trials: SweepTrialView[];
  /** The sweep's report.html. */
  report: string;
}

/**
 * Runs the sweep of `req` into the run store `out`: with `queue` (a redis:// URL) as jobs for `affect worker`s that
 * share `out`, waiting until every trial has completed or failed; without, here, one trial after the other.
 */
export async function runSweep(
  req: SweepRequest,
  o: { out: string; queue?: string; log?: (line: string) => void; signal?: AbortSignal },
): Promise<SweepRun> {
  const log = o.log ?? console.log;
  let sweep: SweepDefinition;
  let states: Map<string, QueueState> | undefined;
  if (o.queue) {
    const q = await enqueueSweep(req, { queue: o.queue, out: o.out });
    sweep = q.sweep;
    log(
      `sweep ${sweep.id}: ${sweep.trials.length} trial(s) on ${redactUrl(o.queue)} ` +
        `(${q.added.length} added, ${q.existing.length} already queued); waiting for the workers`,
    );
    states = await followSweep(o.queue, sweep, { log });
  } else {
    sweep = (await runSweepLocal(req, { out: o.out, log, ...(o.signal ? { signal: o.signal } : {}) })).sweep;
  }
  const { trials } = sweepStatus(o.out, sweep.id, states);
  const asked = new Set(sweep.trials);
  return {
    sweep,
    trials: trials
      .filter((t) => asked.has(t.trial))
      .map((t) => {
        const dir = runFolder(o.out, sweep.id, t);
        return { ...t, history: dir ? readHistory(dir) : { epochs: [], logs: {} } };
      }),
    report: writeSweepReport(o.out, sweep.id),
  };
}
