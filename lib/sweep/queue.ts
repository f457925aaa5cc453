/**
 * Sweeps on BullMQ + Redis: one job per trial, id `<sweep>/<trial>` (so enqueueing again adds nothing), the sweep's
 * definition in every job (workers need nothing else but the run store), and following a sweep until it ends.
 */
import { Queue, type ConnectionOptions } from 'bullmq';
import { defineSweep, jobId, type SweepDefinition, type SweepRequest } from './definition';
import { formatProgress, type TrialProgress } from './progress';
import { redactUrl, redactor } from './redact';
import { writeSweepRecord } from './store';

/** One queue for every sweep; a job's name is its sweep id. */
export const QUEUE_NAME = 'affect-sweeps';

/** A trial job's data. */
export interface TrialJob {
  sweep: SweepDefinition;
  trial: string;
}

/** Crashes and lost machines are resumed from the checkpoint; three failed attempts in a row end the trial. */
const JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 10_000 },
  removeOnComplete: false,
  removeOnFail: false,
} as const;

/** `AFFECT_QUEUE` when no URL is given. */
export const defaultQueueUrl = (): string | undefined => process.env.AFFECT_QUEUE || undefined;

/** BullMQ connection settings for a redis:// or rediss:// (TLS) URL; commands wait for Redis rather than fail while it is away. */
export function connectionFor(url: string): ConnectionOptions {
  if (!/^rediss?:\/\//.test(url)) throw new Error(`queue URL ${redactUrl(url)} must start with redis:// or rediss://`);
  return { url, maxRetriesPerRequest: null };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** Errors that mean "Redis is not reachable right now" (as opposed to a refused command). */
export function isConnectionError(e: Error): boolean {
  return (
    NETWORK_CODES.has((e as NodeJS.ErrnoException).code ?? '') ||
    /Connection is closed|connect E[A-Z]+|Stream isn't writeable/.test(e.message)
  );
}

/** The queue, once Redis answers; after `timeoutMs` without an answer, an error saying why (password redacted). */
export async function openQueue(url: string, timeoutMs = 10_000): Promise<Queue<TrialJob>> {
  const queue = new Queue<TrialJob>(QUEUE_NAME, { connection: connectionFor(url) });
  let last: Error | undefined;
  queue.on('error', (e) => (last = e));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `cannot reach Redis at ${redactUrl(url)} within ${timeoutMs / 1000} s${last ? `: ${redactor(url)(last.message)}` : ''}`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    await Promise.race([queue.waitUntilReady(), timeout]);
    return queue;
  } catch (e) {
    // close(), not disconnect(): it also stops a connection that never got ready.
    await queue.close().catch(() => {});
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

export interface Enqueued {
  sweep: SweepDefinition;
  added: string[];
  /** Trials whose job was already in the queue (in any state). */
  existing: string[];
}

/** Records the sweep in the run store and adds one job per trial not queued yet. */
export async function enqueueSweep(req: SweepRequest, o: { queue: string; out: string }): Promise<Enqueued> {
  const sweep = defineSweep(req);
  writeSweepRecord(o.out, sweep, redactUrl(o.queue));
  const queue = await openQueue(o.queue);
  try {
    const added: string[] = [];
    const existing: string[] = [];
    for (const trial of sweep.trials) {
      const id = jobId(sweep.id, trial);
      if (await queue.getJob(id)) {
        existing.push(trial);
        continue;
      }
      // A concurrent enqueuer may add the same id first; BullMQ then keeps the one job.
      await queue.add(sweep.id, { sweep, trial }, { ...JOB_OPTIONS, jobId: id });
      added.push(trial);
    }
    return { sweep, added, existing };
  } finally {
    await queue.close();
  }
}

/** A trial's job as the queue sees it. */
export interface QueueState {
  state: string;
  worker?: string;
  progress?: TrialProgress;
  attemptsMade: number;
  failedReason?: string;
}

/** Each trial's job state ('unknown' when the queue has no such job). */
export async function queueStates(
  queue: Queue<TrialJob>,
  sweep: Pick<SweepDefinition, 'id' | 'trials'>,
): Promise<Map<string, QueueState>> {
  const out = new Map<string, QueueState>();
  for (const trial of sweep.trials) {
    const job = await queue.getJob(jobId(sweep.id, trial));
    if (!job) {
      out.set(trial, { state: 'unknown', attemptsMade: 0 });
      continue;
    }
    const progress =
      typeof job.progress === 'object' && job.progress !== null
        ? (job.progress as unknown as TrialProgress)
        : undefined;
    out.set(trial, {
      state: await job.getState(),
      ...(job.processedBy ? { worker: job.processedBy } : {}),
      ...(progress ? { progress } : {}),
      attemptsMade: job.attemptsMade,
      ...(job.failedReason ? { failedReason: job.failedReason } : {}),
    });
  }
  return out;
}

const FINISHED = new Set(['completed', 'failed', 'unknown']);

/**
 * Follows a queued sweep until every trial's job has completed or failed: a line per change of state and per epoch.
 * While Redis is away it says so once and keeps waiting. Returns the final states.
 */
export async function followSweep(
  url: string,
  sweep: Pick<SweepDefinition, 'id' | 'trials'>,
  o: { log?: (line: string) => void; pollMs?: number } = {},
): Promise<Map<string, QueueState>> {
  const redact = redactor(url);
  const log = (line: string) => (o.log ?? console.log)(redact(line));
  const queue = await openQueue(url);
  let down = false;
  queue.on('error', (e) => {
    if (!isConnectionError(e) || down) return;
    down = true;
    log(`Redis at ${redactUrl(url)} is unreachable (${e.message}); waiting for it`);
  });
  const seen = new Map<string, string>();
  try {
    for (;;) {
      const states = await queueStates(queue, sweep);
      if (down) {
        down = false;
        log(`Redis at ${redactUrl(url)} is reachable again`);
      }
      for (const [trial, s] of states) {
        const on = s.worker && s.state === 'active' ? ` on ${s.worker}` : '';
        const why = s.failedReason && s.state === 'failed' ? `: ${s.failedReason}` : '';
        const line =
          s.state === 'active' && s.progress ? formatProgress(s.progress) : `${trial}: ${s.state}${on}${why}`;
        if (seen.get(trial) !== line) log(line);
        seen.set(trial, line);
      }
      if ([...states.values()].every((s) => FINISHED.has(s.state))) return states;
      await new Promise((r) => setTimeout(r, o.pollMs ?? 2000));
    }
  } finally {
    await queue.close();
  }
}
