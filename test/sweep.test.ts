/**
 * Sweeps: the local sequential runner, and the BullMQ queue with real `affect worker` processes on a real redis-server
 * that these tests start (127.0.0.1, a free port, a temp folder, AOF persistence, a password) and stop. Trials are tiny
 * (smoke scale, 12 px, one step per epoch, wasm backend); the queued ones must give exactly the local histories.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { Queue } from 'bullmq';
import {
  defineSweep,
  jobId,
  redactUrl,
  redactor,
  runSweep,
  sweepId,
  sweepStatus,
  QUEUE_NAME,
  type SweepDefinition,
  type SweepRequest,
  type TrialRecord,
} from '../lib/sweep';

const MAIN = path.join(__dirname, '..', 'lib', 'cli', 'main.js');
const PASSWORD = 's3cret-pw';
const TRIALS = ['adam-b64-lr1e-4', 'adam-b64-lr1e-6', 'adam-lr1e-1', 'sgd-b64-lr1e-3'];

let tmp: string;
let data: string;
const settings = () => [
  '--scale',
  'smoke',
  '--data',
  data,
  '--epochs',
  '2',
  '--batch-size',
  '8',
  '--image-size',
  '12',
  '--train-per-class',
  '3',
  '--seed',
  '5',
  '--backend',
  'wasm',
  '--any-classes',
];

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}
const procs: Proc[] = [];

function start(
  args: string[],
  env: Record<string, string> = {},
  command = process.execPath,
  argv = [MAIN, ...args],
): Proc {
  const child = spawn(command, argv, {
    cwd: tmp,
    env: { ...process.env, AFFECT_QUEUE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (d) => (text += d));
  child.stderr.on('data', (d) => (text += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const p = { child, output: () => text, exited };
  procs.push(p);
  return p;
}

async function affect(...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = start(args);
  const code = await p.exited;
  return { code, out: p.output() };
}

async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 240_000,
  context: () => string = () => '',
): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every run folder under a trial's folder (a folder holding config.json), wherever it is. */
function runFoldersOf(store: string, id: string, trial: string): string[] {
  const root = path.join(store, 'sweeps', id, trial);
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[])
    .filter((f) => path.basename(f) === 'config.json')
    .map((f) => path.dirname(path.join(root, f)));
}

const trialJson = (store: string, id: string, trial: string) =>
  JSON.parse(fs.readFileSync(path.join(store, 'sweeps', id, trial, 'trial.json'), 'utf8')) as TrialRecord;
const historyOf = (store: string, id: string, trial: string) => {
  const dirs = runFoldersOf(store, id, trial);
  assert.equal(dirs.length, 1, `${id}/${trial}: exactly one run folder, got ${dirs.join(', ')}`);
  return fs.readFileSync(path.join(dirs[0], 'history.csv'), 'utf8');
};

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-sweep-'));
  data = path.join(tmp, 'data');
  for (const [cls, base] of [
    ['happy', 200],
    ['sad', 50],
  ] as const) {
    fs.mkdirSync(path.join(data, cls), { recursive: true });
    for (let i = 0; i < 8; i++) {
      const px = Buffer.alloc(16 * 16 * 3, 0).map((_, k) => base + ((k * 7 + i * 13) % 40));
      await sharp(px, { raw: { width: 16, height: 16, channels: 3 } })
        .png()
        .toFile(path.join(data, cls, `img${i}.png`));
    }
  }
});

after(async () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('redaction hides the password wherever the URL or the password appears', () => {
  const url = `redis://user:${PASSWORD}@db.example:6380/2`;
  assert.equal(redactUrl(url), 'redis://user:***@db.example:6380/2');
  assert.equal(redactUrl('rediss://:p%40ss@h:1'), 'rediss://:***@h:1');
  assert.equal(redactUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  const scrub = redactor(url);
  assert.equal(
    scrub(`failed on ${url}: WRONGPASS for ${PASSWORD}`),
    'failed on redis://user:***@db.example:6380/2: WRONGPASS for ***',
  );
  assert.equal(redactor('rediss://:p%40ss@h:1')('auth p@ss and p%40ss'), 'auth *** and ***');
});

test('a sweep id depends on the experiment and settings, not on the trials or their order', () => {
  const a = defineSweep({
    experiment: '2',
    trials: ['adam-lr1e-1', 'adam-b64-lr1e-4'],
    synthetic: true,
    scale: 'smoke',
    epochs: 2,
  });
  const b = defineSweep({
    experiment: 'adam-sweep',
    trials: ['adam-b64-lr1e-4'],
    synthetic: true,
    scale: 'smoke',
    epochs: 2,
  });
  assert.equal(a.id, b.id);
  assert.deepEqual(a.trials, ['adam-b64-lr1e-4', 'adam-lr1e-1']);
  assert.notEqual(defineSweep({ experiment: '2', synthetic: true, scale: 'smoke', epochs: 3 }).id, a.id);
  assert.equal(a.id, sweepId('adam-sweep', a.settings));
  assert.equal(jobId(a.id, 'adam-lr1e-1'), `${a.id}/adam-lr1e-1`);
  assert.throws(() => defineSweep({ experiment: '2', trials: ['nope'], synthetic: true }), /no trial "nope"/);
  assert.throws(() => defineSweep({ experiment: '2', synthetic: true, id: '../x' }), /invalid sweep id/);
  assert.throws(() => defineSweep({ experiment: '2' }), /no data given/);
});

const local: Record<string, string> = {};
let localId: string;

test(
  'local sweep: the trials one after the other, one run folder each, status and report; run again, it only reads',
  { timeout: 600_000 },
  async () => {
    const store = path.join(tmp, 'local');
    const r = await affect('sweep', 'adam-sweep', '--trials', TRIALS.join(','), ...settings(), '--out', store);
    assert.equal(r.code, 0, r.out);
    localId = /sweep (adam-sweep-[0-9a-f]{12})/.exec(r.out)![1];
    assert.match(r.out, /adam-lr1e-1: epoch 2\/2, loss \S+, val_loss \S+, ETA/);
    for (const t of TRIALS) {
      local[t] = historyOf(store, localId, t);
      assert.deepEqual(
        local[t]
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.split(',')[0]),
        ['0', '1'],
        t,
      );
      const rec = trialJson(store, localId, t);
      assert.equal(rec.state, 'completed');
      assert.equal(rec.attempts.length, 1);
      assert.equal(rec.result?.epochsRun, 2);
    }
    const report = fs.readFileSync(path.join(store, 'sweeps', localId, 'report.html'), 'utf8');
    // The classes are expressions (happy, sad) and the data real: each trial evaluated face-api's net on its test split too.
    for (const s of [
      'Curves of all trials',
      'This sweep vs the study',
      'ended at epoch 7',
      'face-api expression net (off the shelf, not trained here)',
      ...TRIALS,
    ])
      assert.ok(report.includes(s), s);
    // The curves are plots; the comparisons with the study are HTML tables.
    assert.ok((report.match(/class="affect-plot"/g) ?? []).length >= 2);
    assert.ok((report.match(/class="affect-table"/g) ?? []).length >= 4);

    const again = await affect('sweep', 'adam-sweep', '--trials', TRIALS.join(','), ...settings(), '--out', store);
    assert.equal(again.code, 0, again.out);
    assert.doesNotMatch(again.out, /epoch 1\/2/);
    for (const t of TRIALS) assert.equal(trialJson(store, localId, t).attempts.length, 1, t);
    const status = await affect('sweep', 'status', localId, '--out', store);
    assert.equal(status.code, 0, status.out);
    for (const t of TRIALS) assert.match(status.out, new RegExp(`${t}\\s+completed\\s+local\\s+2/2`));
  },
);

test(
  'local sweep: Ctrl-C stops the trial in progress, exits 130 and says how to resume; the same command finishes it',
  { timeout: 600_000 },
  async () => {
    const store = path.join(tmp, 'local-stop');
    const args = [
      'sweep',
      'adam-sweep',
      '--trials',
      'adam-b64-lr1e-4',
      ...settings().map((v, i, a) => (a[i - 1] === '--epochs' ? '30' : v)),
      '--out',
      store,
    ];
    const p = start(args);
    await waitFor('the first epoch', () => /epoch 1\/30/.test(p.output()), 240_000, p.output);
    p.child.kill('SIGINT');
    assert.equal(await p.exited, 130, p.output());
    assert.match(p.output(), /run the same command again to resume/);
    const id = /sweep (adam-sweep-[0-9a-f]{12})/.exec(p.output())![1];
    assert.notEqual(trialJson(store, id, 'adam-b64-lr1e-4').state, 'completed');

    const again = await affect(...args);
    assert.equal(again.code, 0, again.out);
    const rec = trialJson(store, id, 'adam-b64-lr1e-4');
    assert.equal(rec.state, 'completed');
    assert.ok(rec.attempts[rec.attempts.length - 1].fromEpoch >= 1, JSON.stringify(rec.attempts));
    const epochs = historyOf(store, id, 'adam-b64-lr1e-4')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => Number(l.split(',')[0]));
    // Every epoch once, in order, up to where the trial's EarlyStopping ended it.
    assert.deepEqual(
      epochs,
      Array.from({ length: rec.result!.epochsRun }, (_, i) => i),
    );
    assert.ok(epochs.length > rec.attempts[rec.attempts.length - 1].fromEpoch);
  },
);

// ---- the queue: real redis-server, real workers ----

const redisBin = [
  '/usr/bin/redis-server',
  '/usr/sbin/redis-server',
  '/usr/local/bin/redis-server',
  ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'redis-server')),
].find((f) => fs.existsSync(f));
const skip = redisBin
  ? false
  : 'redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)';

let redis: Proc | undefined;
let port = 0;
let url = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

async function startRedis(): Promise<void> {
  const dir = path.join(tmp, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  redis = start([], {}, redisBin, [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--requirepass',
    PASSWORD,
    '--daemonize',
    'no',
  ]);
  await waitFor(
    'redis-server to start',
    () => /Ready to accept connections/.test(redis!.output()),
    20_000,
    () => redis!.output(),
  );
}

async function stopRedis(): Promise<void> {
  redis!.child.kill('SIGTERM');
  assert.equal(await redis!.exited, 0, redis!.output());
}

function worker(name: string, lockSeconds: number, viaEnv: boolean): Proc {
  const store = path.join(tmp, 'queue');
  return viaEnv
    ? start(['worker', '--out', store, '--name', name, '--lock-seconds', String(lockSeconds)], { AFFECT_QUEUE: url })
    : start(['worker', '--queue', url, '--out', store, '--name', name, '--lock-seconds', String(lockSeconds)]);
}
const ready = (w: Proc) => waitFor('a worker to be ready', () => / ready: queue /.test(w.output()), 60_000, w.output);

async function withQueue<T>(f: (q: Queue) => Promise<T>): Promise<T> {
  const q = new Queue(QUEUE_NAME, { connection: { url } });
  try {
    return await f(q);
  } finally {
    await q.close();
  }
}
const jobState = (id: string, trial: string) =>
  withQueue(async (q) => (await q.getJob(jobId(id, trial)))?.getState() ?? 'absent');

let w1: Proc;
let w2: Proc;
let heir: Proc;
const queueStore = () => path.join(tmp, 'queue');

test(
  'queue: enqueued twice, 4 trials on 2 workers complete, one run folder each, the local histories',
  { skip, timeout: 600_000 },
  async () => {
    port = await freePort();
    url = `redis://:${PASSWORD}@127.0.0.1:${port}`;
    await startRedis();
    w1 = worker('w1', 30, false);
    w2 = worker('w2', 30, true);
    await Promise.all([ready(w1), ready(w2)]);

    const first = await affect(
      'sweep',
      'adam-sweep',
      '--trials',
      TRIALS.join(','),
      ...settings(),
      '--out',
      queueStore(),
      '--queue',
      url,
    );
    assert.equal(first.code, 0, first.out);
    assert.match(
      first.out,
      new RegExp(
        `sweep ${localId}: 4 trial\\(s\\) on redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}: 4 added, 0 already queued`,
      ),
    );
    const second = await affect(
      'sweep',
      'adam-sweep',
      '--trials',
      TRIALS.join(','),
      ...settings(),
      '--out',
      queueStore(),
      '--queue',
      url,
      '--wait',
    );
    assert.equal(second.code, 0, `${second.out}\n${w1.output()}\n${w2.output()}`);
    assert.match(second.out, /4 trial\(s\) on \S+: 0 added, 4 already queued/);
    assert.match(second.out, /report: .*report\.html/);
    const counts = await withQueue((q) => q.getJobCounts('completed', 'failed', 'wait', 'active', 'delayed'));
    assert.deepEqual(counts, { completed: 4, failed: 0, wait: 0, active: 0, delayed: 0 });
    for (const t of TRIALS)
      assert.equal(historyOf(queueStore(), localId, t), local[t], `${t}: the queued history equals the local one`);
    // The same report: every trial's state, epochs, best val_loss, test accuracy and figures (only the workers differ).
    const view = (store: string) => sweepStatus(store, localId).trials.map(({ worker: _w, ...t }) => t);
    assert.deepEqual(view(queueStore()), view(path.join(tmp, 'local')));
    assert.ok(/report\.html/.test(fs.readdirSync(path.join(queueStore(), 'sweeps', localId)).join(' ')));
  },
);

test("queue: two workers' running intervals overlap", { skip, timeout: 60_000 }, () => {
  const spans = TRIALS.map((t) => trialJson(queueStore(), localId, t).attempts[0]).map((a) => ({
    worker: a.worker,
    start: Date.parse(a.started),
    end: Date.parse(a.ended ?? ''),
  }));
  assert.deepEqual([...new Set(spans.map((s) => s.worker))].sort(), ['w1', 'w2']);
  const overlap = spans.some((a) => spans.some((b) => a.worker !== b.worker && a.start < b.end && b.start < a.end));
  assert.ok(overlap, `no two trials of different workers ran at the same time: ${JSON.stringify(spans)}`);
});

test(
  'runSweep (what notebook 02 calls): here or through the queue, each trial read back with its history',
  { skip, timeout: 120_000 },
  async () => {
    // The request the CLI's settings() make; both stores hold this sweep, finished, so nothing trains again.
    const req: SweepRequest = {
      experiment: 'adam-sweep',
      trials: TRIALS,
      scale: 'smoke',
      data,
      epochs: 2,
      batchSize: 8,
      imageSize: 12,
      trainPerClass: 3,
      seed: 5,
      backend: 'wasm',
      anyClasses: true,
    };
    const lines: string[] = [];
    const here = await runSweep(req, { out: path.join(tmp, 'local'), log: (l) => lines.push(l) });
    const queued = await runSweep(req, { out: queueStore(), queue: url, log: (l) => lines.push(l) });
    for (const r of [here, queued]) {
      assert.equal(r.sweep.id, localId);
      assert.deepEqual(
        r.trials.map((t) => [t.trial, t.state, t.history.epochs]),
        TRIALS.map((t) => [t, 'completed', [0, 1]]),
      );
      assert.ok(fs.existsSync(r.report));
    }
    assert.deepEqual(
      here.trials.map((t) => t.history),
      queued.trials.map((t) => t.history),
    );
    assert.ok(
      lines.some((l) =>
        new RegExp(
          `sweep ${localId}: 4 trial\\(s\\) on redis://:\\*\\*\\*@127\\.0\\.0\\.1:\\d+ \\(0 added, 4 already queued\\)`,
        ).test(l),
      ),
      lines.join('\n'),
    );
    assert.ok(!lines.join('\n').includes(PASSWORD));
  },
);

test(
  'queue: Redis stopped and restarted in the middle of a sweep: the sweep completes',
  { skip, timeout: 600_000 },
  async () => {
    const trials = TRIALS.slice(0, 2);
    const r = await affect(
      'sweep',
      'adam-sweep',
      '--trials',
      trials.join(','),
      ...settings(),
      '--id',
      'restart',
      '--out',
      queueStore(),
      '--queue',
      url,
    );
    assert.equal(r.code, 0, r.out);
    await waitFor('a trial to be running', () =>
      trials.some((t) => fs.existsSync(path.join(queueStore(), 'sweeps', 'restart', t, 'trial.json'))),
    );
    await stopRedis();
    await waitFor('the workers to notice', () => [w1, w2].every((w) => /is unreachable/.test(w.output())), 30_000);
    await startRedis();
    await waitFor(
      'the sweep to complete',
      async () => (await Promise.all(trials.map((t) => jobState('restart', t)))).every((s) => s === 'completed'),
      240_000,
      () => w1.output() + w2.output(),
    );
    for (const t of trials) assert.equal(historyOf(queueStore(), 'restart', t), local[t], t);
    for (const w of [w1, w2])
      assert.match(w.output(), /Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ is reachable again/);
  },
);

test(
  'queue: a worker SIGKILLed mid-trial; another resumes the trial from its checkpoint, as if never interrupted',
  { skip, timeout: 600_000 },
  async () => {
    // Stopped workers hand their trials back; these two had none. Short locks make a dead worker's trial free soon.
    for (const w of [w1, w2]) w.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([w1.exited, w2.exited]), [0, 0]);
    const doomed = worker('doomed', 2, false);
    await ready(doomed);
    const trial = TRIALS[0];
    const r = await affect(
      'sweep',
      'adam-sweep',
      '--trials',
      trial,
      ...settings(),
      '--id',
      'killed',
      '--out',
      queueStore(),
      '--queue',
      url,
    );
    assert.equal(r.code, 0, r.out);
    const checkpoint = () =>
      runFoldersOf(queueStore(), 'killed', trial).some((d) => fs.existsSync(path.join(d, 'checkpoints', 'epoch-0001')));
    await waitFor('the first epoch checkpoint', checkpoint, 240_000, doomed.output);
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    heir = worker('heir', 2, true);
    await waitFor(
      'the trial to complete',
      async () => (await jobState('killed', trial)) === 'completed',
      240_000,
      heir.output,
    );

    const rec = trialJson(queueStore(), 'killed', trial);
    assert.deepEqual(
      rec.attempts.map((a) => [a.worker, a.outcome]),
      [
        ['doomed', 'lost'],
        ['heir', 'completed'],
      ],
    );
    assert.equal(rec.attempts[1].fromEpoch, 1);
    assert.throws(() => process.kill(rec.attempts[0].pid, 0), /ESRCH/, "the dead worker's trial process stopped too");
    assert.equal(
      historyOf(queueStore(), 'killed', trial),
      local[trial],
      'no repeated epoch, and the same history as an uninterrupted run',
    );
    assert.match(
      fs.readFileSync(path.join(runFoldersOf(queueStore(), 'killed', trial)[0], 'run.log'), 'utf8'),
      /\(resumed\)/,
    );
  },
);

test('queue: a trial that cannot run fails once, with its message', { skip, timeout: 120_000 }, async () => {
  // A job naming a trial this version does not know (e.g. queued by a newer affect-lab).
  const sweep: SweepDefinition = {
    ...defineSweep({ experiment: 'adam-sweep', data, scale: 'smoke', id: 'bad' }),
    trials: ['no-such-trial'],
  };
  await withQueue((q) =>
    q.add(sweep.id, { sweep, trial: 'no-such-trial' }, { jobId: jobId(sweep.id, 'no-such-trial'), attempts: 3 }),
  );
  await waitFor(
    'the bad job to fail',
    async () => (await jobState('bad', 'no-such-trial')) === 'failed',
    60_000,
    heir.output,
  );
  const job = await withQueue((q) => q.getJob(jobId('bad', 'no-such-trial')));
  assert.equal(job!.attemptsMade, 1);
  assert.match(job!.failedReason, /experiment adam-sweep has no trial "no-such-trial"/);
  assert.equal(heir.output().match(/no-such-trial: failed/g)?.length, 1);

  // Data that is not there fails the same way: retrying would not make it appear.
  const missing = path.join(tmp, 'no-such-data');
  const nodata = defineSweep({ experiment: 'adam-sweep', data: missing, scale: 'smoke', id: 'nodata' });
  const trial = TRIALS[0];
  await withQueue((q) => q.add(nodata.id, { sweep: nodata, trial }, { jobId: jobId(nodata.id, trial), attempts: 3 }));
  await waitFor(
    'the job without data to fail',
    async () => (await jobState('nodata', trial)) === 'failed',
    60_000,
    heir.output,
  );
  const failed = await withQueue((q) => q.getJob(jobId('nodata', trial)));
  assert.equal(failed!.attemptsMade, 1);
  assert.ok(failed!.failedReason.includes(`data folder ${missing} does not exist`), failed!.failedReason);
  assert.equal(trialJson(queueStore(), 'nodata', trial).state, 'failed');
});

test(
  'queue: a worker stopped with SIGTERM abandons its trial at the next batch; another worker finishes it from the checkpoint',
  { skip, timeout: 1_200_000 },
  async () => {
    const trial = TRIALS[1];
    // 4 epochs of 3 batches: the stop lands while the trial trains, and is noticed within a batch.
    const longer = settings().map((a, i, all) =>
      all[i - 1] === '--epochs' ? '4' : all[i - 1] === '--batch-size' ? '2' : a,
    );

    const r = await affect(
      'sweep',
      'adam-sweep',
      '--trials',
      trial,
      ...longer,
      '--id',
      'stopped',
      '--out',
      queueStore(),
      '--queue',
      url,
    );
    assert.equal(r.code, 0, r.out);
    const checkpoint = () =>
      runFoldersOf(queueStore(), 'stopped', trial).some((d) =>
        fs.existsSync(path.join(d, 'checkpoints', 'epoch-0001')),
      );
    await waitFor('the first epoch checkpoint', checkpoint, 240_000, heir.output);
    heir.child.kill('SIGTERM');
    assert.equal(await heir.exited, 0, heir.output());
    assert.match(heir.output(), new RegExp(`${trial}: abandoned \\(stopped on request \\(the worker is stopping\\)`));
    assert.match(heir.output(), new RegExp(`${trial}: handed back to the queue`));
    assert.equal(await jobState('stopped', trial), 'waiting');
    const [runDir] = runFoldersOf(queueStore(), 'stopped', trial);
    assert.ok(!fs.existsSync(path.join(runDir, 'metrics.json')), 'the trial had not finished');
    assert.match(
      fs.readFileSync(path.join(runDir, 'run.log'), 'utf8'),
      /stopped on request \(the worker is stopping\)/,
    );
    const stopped = trialJson(queueStore(), 'stopped', trial);
    assert.deepEqual([stopped.state, stopped.attempts.map((a) => a.outcome)], ['waiting', ['abandoned']]);

    const finisher = worker('finisher', 2, true);
    await waitFor(
      'the trial to complete',
      async () => (await jobState('stopped', trial)) === 'completed',
      240_000,
      finisher.output,
    );
    const rec = trialJson(queueStore(), 'stopped', trial);
    assert.deepEqual(
      rec.attempts.map((a) => [a.worker, a.outcome]),
      [
        ['heir', 'abandoned'],
        ['finisher', 'completed'],
      ],
    );
    assert.ok(rec.attempts[1].fromEpoch >= 1, `resumed from epoch ${rec.attempts[1].fromEpoch}`);
    // Equality with an uninterrupted run is the SIGKILL test's; here: every epoch once.
    assert.deepEqual(
      historyOf(queueStore(), 'stopped', trial)
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(',')[0]),
      ['0', '1', '2', '3'],
      'no repeated epoch',
    );
    finisher.child.kill('SIGTERM');
    assert.equal(await finisher.exited, 0, finisher.output());
  },
);

test('queue: the password appears in no output, record or report', { skip }, () => {
  const leaks: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (fs.readFileSync(f).includes(PASSWORD)) leaks.push(f);
    }
  };
  walk(queueStore());
  for (const p of procs)
    if (p !== redis && p.output().includes(PASSWORD))
      leaks.push(`output of ${p.child.spawnargs.slice(1, 3).join(' ')}`);
  assert.deepEqual(leaks, []);
  assert.match(
    fs.readFileSync(path.join(queueStore(), 'sweeps', localId, 'sweep.json'), 'utf8'),
    /"queue": "redis:\/\/:\*\*\*@127\.0\.0\.1:\d+"/,
  );
});
