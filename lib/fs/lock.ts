/**
 * One writer per folder: a lock file holding the owner's pid, host and start time, created exclusively, kept fresh by a
 * heartbeat (its mtime, touched from a worker thread so a long synchronous step cannot starve it), and taken over when
 * its owner is gone: on this host when the pid no longer runs, from another host when the heartbeat is older than
 * `staleMs`. A takeover runs under a short-lived second lock, so two processes cannot both take over one stale lock.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';

export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  started: string;
  /** What holds it, e.g. "affect run". */
  command?: string;
  /** Tells two locks of one process apart. */
  nonce?: string;
}

export interface LockOptions {
  /** Shown to whoever is refused. */
  command?: string;
  /** A lock from another host whose heartbeat is older than this is stale. Default 30 000 ms. */
  staleMs?: number;
  /** How often the heartbeat touches the lock file. Default 5 000 ms. */
  heartbeatMs?: number;
}

export interface Lock {
  file: string;
  owner: LockOwner;
  /** True when a stale lock (its owner shown) was taken over. */
  tookOver?: LockOwner;
  /** Removes the lock file if it is still this process's. Safe to call twice. */
  release(): void;
}

/** The folder is held by another live process. */
export class LockedError extends Error {
  override name = 'LockedError';
  constructor(
    message: string,
    readonly owner: LockOwner | undefined,
  ) {
    super(message);
  }
}

const DEFAULT_STALE_MS = 30_000;
const DEFAULT_HEARTBEAT_MS = 5_000;

function readOwner(file: string): LockOwner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
    return Number.isInteger(o.pid) && typeof o.host === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

/** Whether process `pid` runs on this host (EPERM: it runs, as another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the lock in `file` is stale, or undefined while its owner may still hold it. */
function staleReason(file: string, owner: LockOwner | undefined, staleMs: number): string | undefined {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) return 'gone';
  const age = Date.now() - st.mtimeMs;
  // Unreadable: a writer between create and write, or a torn file; only its age tells.
  if (!owner) return age > staleMs ? `unreadable and untouched for ${Math.round(age / 1000)} s` : undefined;
  if (owner.host === os.hostname()) {
    if (owner.pid === process.pid) return undefined;
    return pidAlive(owner.pid) ? undefined : `process ${owner.pid} on ${owner.host} is no longer running`;
  }
  return age > staleMs ? `no heartbeat from ${owner.host} for ${Math.round(age / 1000)} s` : undefined;
}

function createExclusive(file: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`cannot create the lock file ${file}: ${(e as Error).message}`);
  }
  try {
    fs.writeSync(fd, JSON.stringify(owner) + '\n');
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** Runs `fn` while holding `<file>.takeover` (itself taken over after staleMs, when its holder died mid-takeover). */
function withTakeoverGuard<T>(file: string, staleMs: number, fn: () => T): T | undefined {
  const guard = `${file}.takeover`;
  const me: LockOwner = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
  if (!createExclusive(guard, me)) {
    if (!staleReason(guard, readOwner(guard), staleMs)) return undefined;
    // A dead guard: move it aside under a unique name (only one mover succeeds), then try once more.
    const aside = `${guard}.${process.pid}.${Date.now()}.stale`;
    try {
      fs.renameSync(guard, aside);
      fs.rmSync(aside, { force: true });
    } catch {
      return undefined;
    }
    if (!createExclusive(guard, me)) return undefined;
  }
  try {
    return fn();
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

const HEARTBEAT_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
setInterval(() => { const t = new Date(); try { fs.utimesSync(workerData.file, t, t); } catch {} }, workerData.ms);
`;

/**
 * Takes the lock `file` for this process, or throws a LockedError naming the owner (pid, host, since when) and the file.
 * A stale lock is taken over (see the module comment); the returned Lock says whose.
 */
export function acquireLock(file: string, opts: LockOptions = {}): Lock {
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const owner: LockOwner = {
    pid: process.pid,
    host: os.hostname(),
    started: new Date().toISOString(),
    ...(opts.command ? { command: opts.command } : {}),
    nonce: crypto.randomBytes(6).toString('hex'),
  };
  let tookOver: LockOwner | undefined;
  for (let attempt = 0; ; attempt++) {
    if (createExclusive(file, owner)) break;
    const held = readOwner(file);
    const reason = staleReason(file, held, staleMs);
    const refuse = () =>
      new LockedError(
        held
          ? `${file} is held by ${held.command ?? 'another process'} (pid ${held.pid} on ${held.host}, ` +
              `since ${held.started}); only one process may write this folder at a time. If that process ` +
              `is gone, the lock is taken over once it is stale (at once on the same host, after ` +
              `${Math.round(staleMs / 1000)} s without a heartbeat from another host)`
          : `${file} is held by another process (its lock file is being written); try again`,
        held,
      );
    if (!reason || attempt >= 5) throw refuse();
    if (reason === 'gone') continue;
    // Under the guard, re-check that the lock is still the stale one before removing it; nobody else replaces a lock
    // without the guard, and a fresh one can only be created once this one is gone.
    const removed = withTakeoverGuard(file, staleMs, () => {
      const again = readOwner(file);
      if (JSON.stringify(again) !== JSON.stringify(held) || !staleReason(file, again, staleMs)) return false;
      fs.rmSync(file, { force: true });
      return true;
    });
    if (removed) tookOver = held ?? { pid: -1, host: '?', started: '?' };
    // Another process is taking it over: give it a moment to finish before looking again.
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  const worker = new Worker(HEARTBEAT_SOURCE, {
    eval: true,
    workerData: { file, ms: opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS },
  });
  worker.unref();
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    void worker.terminate();
    process.removeListener('exit', release);
    const now = readOwner(file);
    if (now && now.pid === owner.pid && now.host === owner.host && now.nonce === owner.nonce)
      fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return { file, owner, ...(tookOver ? { tookOver } : {}), release };
}
