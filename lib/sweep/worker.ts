/**
 * `affect worker`: takes trial jobs from the queue and runs each in its own trial process (trial-process.ts), so the
 * worker keeps renewing BullMQ's job locks while the trial trains. A trial whose worker died is taken over after its lock
 * expires and resumes from its checkpoint (runTrial); stop() asks the trial processes to abandon their trials at the next
 * batch and hands the trials back to the queue.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import * as os from 'node:os';
import * as path from 'node:path';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { checkSweepId } from './definition';
import { formatProgress } from './progress';
import { QUEUE_NAME, connectionFor, isConnectionError, type TrialJob } from './queue';
import { redactUrl, redactor } from './redact';
import { readTrialRecord, writeSweepRecord, writeTrialRecord, type TrialResult } from './store';
import type { TrialProcessMessage, TrialProcessRequest } from './trial-process';

export interface WorkerOptions {
  /** redis:// or rediss:// URL. */
  queue: string;
  /** The run store, shared by every worker (the same sweeps/<id>/<trial> folders). */
  out: string;
  /** Trials run at once by this worker. Default 1. */
  concurrency?: number;
  /** How long a trial stays claimed without a lock renewal; a dead worker's trial is taken over within about twice this. Default 30. */
  lockSeconds?: number;
  /** Shown in records and status. Default `<hostname>:<pid>`. */
  name?: string;
  /** Default console.log; every line has the queue's password redacted. */
  log?: (line: string) => void;
}

export interface SweepWorker {
  name: string;
  /** Resolves once Redis has answered (until then the worker waits and retries). */
  ready: Promise<void>;
  /**
   * Hands the trials in progress back to the queue (their checkpoints stay valid) and disconnects; with Redis away,
   * gives up after about 15 s (the caller should then exit).
   */
  stop(): Promise<void>;
}

const TRIAL_PROCESS = path.join(__dirname, 'trial-process.js');
const STOPPING = 'the worker is stopping';
/** Dead workers are expected (machines go away): a trial is taken over this many times before it is failed. */
const MAX_STALLED = 10;
/** How long stop() waits for Redis to take a trial back before leaving it to the lock's expiry. */
const HANDBACK_MS = 10_000;
/**
 * How long a stopping trial process may take to reach its next batch and abandon cleanly before it is killed (a big
 * model's batch on a busy CPU takes many seconds).
 */
const ABANDON_MS = 60_000;

function timeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

export function startWorker(o: WorkerOptions): SweepWorker {
  const redact = redactor(o.queue);
  const log = (line: string) => (o.log ?? console.log)(redact(line));
  const name = o.name ?? `${os.hostname()}:${process.pid}`;
  const out = path.resolve(o.out);
  const where = redactUrl(o.queue);
  const lockDuration = Math.round((o.lockSeconds ?? 30) * 1000);
  let stopping = false;

  async function processor(job: Job<TrialJob>, token?: string, signal?: AbortSignal): Promise<TrialResult> {
    const { sweep, trial } = job.data;
    if (stopping) return handBack(job, token, false);
    try {
      checkSweepId(sweep.id);
      writeSweepRecord(out, { ...sweep, trials: [trial] });
    } catch (e) {
      throw new UnrecoverableError((e as Error).message);
    }
    log(`${trial} (sweep ${sweep.id}): started, attempt ${job.attemptsMade + 1}`);
    const child: ChildProcess = fork(TRIAL_PROCESS, [], {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let reply: TrialProcessMessage | undefined;
    // 'close', not 'exit': by then every message the process sent has arrived.
    const exited = new Promise<string>((resolve) => {
      child.on('close', (code, sig) => resolve(sig ?? `code ${code}`));
      child.on('error', (e) => resolve(e.message));
    });
    child.on('message', (m: TrialProcessMessage) => {
      if (m.type !== 'progress') return void (reply = m);
      log(formatProgress(m.progress));
      job.updateProgress(m.progress as unknown as object).catch(() => {});
    });
    // Stopping: the trial abandons at its next batch (SIGTERM), or is killed after ABANDON_MS. Lock lost: another worker
    // may be writing the run folder already, so the trial stops at once.
    let grace: NodeJS.Timeout | undefined;
    const kill = () => {
      if (signal?.reason !== STOPPING) return void child.kill('SIGKILL');
      child.kill('SIGTERM');
      grace = setTimeout(() => child.kill('SIGKILL'), ABANDON_MS);
    };
    signal?.addEventListener('abort', kill, { once: true });
    if (signal?.aborted) kill();
    child.send({ ...job.data, out, worker: name } satisfies TrialProcessRequest);
    const how = await exited;
    clearTimeout(grace);
    signal?.removeEventListener('abort', kill);

    const lockLost = signal?.aborted && signal.reason !== STOPPING;
    if (lockLost)
      throw new Error(
        `${trial}: stopped because this worker lost the job's lock (${signal.reason}); another worker resumes it from its checkpoint`,
      );
    // A trial that finished before the stop reached it keeps its result.
    if (reply?.type === 'result') {
      log(`${trial}: ${reply.result.failure ? `finished with a failure: ${reply.result.failure}` : 'completed'}`);
      return reply.result;
    }
    if (signal?.aborted) {
      if (reply?.type === 'abandoned') log(`${trial}: abandoned (${reply.message})`);
      return handBack(job, token, true);
    }
    if (reply?.type === 'error') {
      log(`${trial}: failed: ${reply.message}`);
      throw reply.unrecoverable ? new UnrecoverableError(reply.message) : new Error(reply.message);
    }
    throw new Error(`${trial}: its trial process ended (${how}) without a result`);
  }

  /** Puts the job back in the queue (its trial process, if `ran`, already gone) and records that attempt as abandoned. */
  async function handBack(job: Job<TrialJob>, token: string | undefined, ran: boolean): Promise<never> {
    const { sweep, trial } = job.data;
    const rec = ran ? readTrialRecord(out, sweep.id, trial) : undefined;
    const last = rec?.attempts[rec.attempts.length - 1];
    if (rec && last && !last.outcome) {
      Object.assign(last, { ended: new Date().toISOString(), outcome: 'abandoned' });
      rec.state = 'waiting';
      writeTrialRecord(out, sweep.id, rec);
    }
    const moved = await timeout(
      job.moveToWait(token).then(() => 'moved' as const),
      HANDBACK_MS,
    ).catch((e: Error) => e);
    log(
      moved === 'moved'
        ? `${trial}: handed back to the queue`
        : `${trial}: could not hand it back ` +
            `(${moved instanceof Error ? moved.message : 'Redis did not answer'}); it is taken over once its lock expires`,
    );
    throw new WaitingError();
  }

  const worker = new Worker<TrialJob, TrialResult>(QUEUE_NAME, processor, {
    connection: connectionFor(o.queue),
    name,
    concurrency: o.concurrency ?? 1,
    lockDuration,
    stalledInterval: lockDuration,
    maxStalledCount: MAX_STALLED,
  });
  let down = false;
  worker.on('error', (e) => {
    if (!isConnectionError(e)) return log(`worker ${name}: ${e.message}`);
    if (down) return;
    down = true;
    log(
      `worker ${name}: Redis at ${where} is unreachable (${e.message}); waiting and retrying (trials in progress go on)`,
    );
  });
  (worker.backend as unknown as EventEmitter).on('ready', () => {
    if (!down) return;
    down = false;
    log(`worker ${name}: Redis at ${where} is reachable again`);
  });
  // Redis says another worker holds the trial now (this one was cut off too long): stop training it here.
  worker.on('lockRenewalFailed', (ids) => ids.forEach((id) => worker.cancelJob(id, 'lock lost')));

  log(`worker ${name}: connecting to ${where}`);
  const ready = worker
    .waitUntilReady()
    .then(() =>
      log(
        `worker ${name} ready: queue ${QUEUE_NAME} on ${where}, run store ${out}, concurrency ${o.concurrency ?? 1}, lock ${lockDuration / 1000} s`,
      ),
    );

  let connected = false;
  ready.then(
    () => (connected = true),
    () => {},
  );
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      log(`worker ${name}: stopping; trials in progress go back to the queue`);
      worker.cancelAllJobs(STOPPING);
      const closing = worker.close().catch(() => {});
      // Never connected: it took no trial, and closing would wait for a Redis that is not there.
      const clean = connected && (await timeout(closing, ABANDON_MS + HANDBACK_MS + 5000)) !== 'timeout';
      log(`worker ${name}: stopped${clean ? '' : ' (without a clean disconnect from Redis)'}`);
    })());
  return { name, ready, stop };
}
