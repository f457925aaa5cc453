/**
 * A worker's trial process: runs one trial (runTrial) and reports progress and the outcome over IPC. Training here
 * keeps the worker's event loop free for BullMQ's lock renewals and for signals. When its worker dies (SIGKILL, machine
 * trouble) it stops at the next batch, so the trial's next worker is its only writer. SIGTERM (its worker is stopping)
 * abandons the trial at the next batch, keeping its last epoch checkpoint for whoever takes it next.
 */
import { ConfigError, DataError, RunAborted } from '../errors';
import type { TrialJob } from './queue';
import { epochProgress, type TrialProgress } from './progress';
import { SweepStoreError, type TrialResult } from './store';
import { runTrial } from './trial';

/** What the worker sends: the run store, the job and its own name for the record. */
export interface TrialProcessRequest extends TrialJob {
  out: string;
  worker: string;
}

export type TrialProcessMessage =
  | { type: 'progress'; progress: TrialProgress }
  | { type: 'result'; result: TrialResult }
  | { type: 'abandoned'; message: string }
  | { type: 'error'; unrecoverable: boolean; message: string };

const parent = process.ppid;
// Training runs without yielding to the event loop, so 'disconnect' may come late; the parent pid changes at once.
const orphaned = () => {
  if (process.ppid !== parent) process.exit(1);
};
process.on('disconnect', () => process.exit(1));
const stop = new AbortController();
process.on('SIGTERM', () => stop.abort('the worker is stopping'));

const send = (m: TrialProcessMessage, then: () => void = () => {}) => process.send!(m, then);

/** Runs the trial asked for and sends its outcome; every error becomes a reply, so the promise never rejects. */
async function serve(req: TrialProcessRequest): Promise<void> {
  let reply: TrialProcessMessage;
  try {
    const result = await runTrial(req.out, req.sweep, req.trial, {
      worker: req.worker,
      signal: stop.signal,
      progress: epochProgress(req.trial, (progress) => send({ type: 'progress', progress }), orphaned),
    });
    reply = { type: 'result', result };
  } catch (e) {
    const message = (e as Error).message;
    reply =
      e instanceof RunAborted
        ? { type: 'abandoned', message }
        : {
            type: 'error',
            unrecoverable: e instanceof ConfigError || e instanceof DataError || e instanceof SweepStoreError,
            message,
          };
  }
  send(reply, () => process.exit(0));
}

process.once('message', (req: TrialProcessRequest) => void serve(req));
