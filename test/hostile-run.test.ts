/**
 * Hostile and careless input to `affect run`: class sets that do not match the trial, run folders aimed into the data,
 * data that changes under a resume, resumes with contradicting options, two writers on one run folder, options that no
 * machine holds, and Ctrl-C.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../lib/backend';
import { ConfigError, DataError } from '../lib/errors';
import { resolveTrial } from '../lib/experiments';
import { LockedError } from '../lib/fs';
import { resolveData, runExperiment, type RunOptions } from '../lib/runner';
import { hashTree, tempDir } from './data-fixtures';
import { affect, spawnAffect } from './fault-fixtures';

let dir: string;
let cleanup: () => void;

/** `root/<class>/<n>.png` for each class: 12x12 squares, a grey level per class. */
async function classes(root: string, names: readonly string[], n = 6): Promise<string> {
  for (const [k, c] of names.entries()) {
    fs.mkdirSync(path.join(root, c), { recursive: true });
    for (let i = 0; i < n; i++) {
      const v = (40 + 50 * k + 3 * i) % 256;
      await sharp({
        create: { width: 12, height: 12, channels: 3, background: { r: v, g: 255 - v, b: (v * 3) % 256 } },
      })
        .png()
        .toFile(path.join(root, c, `${i}.png`));
    }
  }
  return root;
}

const MASK = ['WithMask', 'WithoutMask'];
const FER = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise'];
let mask: string;
let three: string;

before(async () => {
  ({ dir, cleanup } = tempDir('affect-hostile-run-'));
  mask = await classes(path.join(dir, 'mask'), MASK, 10);
  three = await classes(path.join(dir, 'three'), ['a', 'b', 'c'], 8);
  await initBackend('wasm');
});
after(() => cleanup());

const quick = (data: string, o: Partial<RunOptions> = {}): RunOptions => ({
  experiment: 'baseline',
  data,
  scale: 'smoke',
  imageSize: 12,
  epochs: 2,
  batchSize: 4,
  trainPerClass: 0,
  seed: 5,
  backend: 'wasm',
  outDir: path.join(dir, 'runs'),
  quiet: true,
  baseline: false,
  ...o,
});

/** A trial at the smoke scale on every image (the smoke scale's 2 per class leave no validation image). */
const cfgOf = (experiment: string) =>
  resolveTrial(experiment, undefined, 'smoke', 5, { trainPerClass: 0, testPerClass: 0 });

test('class sets: a count or names other than the trial expects are refused with both lists; an extra class only in Test, or a single class, too', async () => {
  const refused: [string, string, RegExp][] = [
    [
      'face-mask',
      three,
      /the data's classes do not match trial face-mask\/resnet18-vgg: it expects 2 \(WithMask, WithoutMask; dataset face-mask-12k\), .*three has 3 \(a, b, c\)/,
    ],
    [
      'face-mask',
      await classes(path.join(dir, 'renamed'), ['Mask', 'NoMask']),
      /expects 2 \(WithMask, WithoutMask.*renamed has 2 \(Mask, NoMask\)/,
    ],
    [
      'baseline',
      await classes(path.join(dir, 'fer'), FER, 4),
      /trial baseline\/resnet18-original: it expects 8 \(anger, contempt, .*\), .*fer has 7 \(angry, disgust/,
    ],
    ['baseline', mask, /expects 8 .* has 2 \(WithMask, WithoutMask\)/],
  ];
  for (const [experiment, data, re] of refused) {
    const cfg = cfgOf(experiment);
    await assert.rejects(
      resolveData(cfg, { data }),
      (e: Error) => e instanceof ConfigError && re.test(e.message) && /anyClasses \(--any-classes\)/.test(e.message),
      `${experiment} on ${data}`,
    );
    const ok = await resolveData(cfg, { data, anyClasses: true });
    assert.equal(ok.classesDiffer, true);
  }
  // A FER trial that drops disgust expects the six others.
  const fer6 = cfgOf('fer-small-cnn');
  const six = await resolveData(fer6, { data: path.join(dir, 'fer') });
  assert.deepEqual([six.classes, six.classesDiffer], [FER.filter((c) => c !== 'disgust'), undefined]);
  const noFear = await classes(
    path.join(dir, 'fer-nofear'),
    FER.filter((c) => c !== 'fear'),
    4,
  );
  await assert.rejects(
    resolveData(fer6, { data: noFear }),
    /expects 6 \(angry, fear, happy, neutral, sad, surprise; dataset fer2013, without disgust\), .* has 5 \(angry, happy, neutral, sad, surprise\)/,
  );

  const mask5 = cfgOf('face-mask');
  const split = path.join(dir, 'split-extra');
  await classes(path.join(split, 'Train'), MASK, 3);
  await classes(path.join(split, 'Test'), [...MASK, 'Other'], 2);
  await assert.rejects(
    resolveData(mask5, { data: split, anyClasses: true }),
    (e: Error) => e instanceof DataError && /Test has the class folder\(s\) Other, which .*Train lacks/.test(e.message),
  );
  const single = await classes(path.join(dir, 'single'), ['WithMask'], 4);
  await assert.rejects(
    resolveData(mask5, { data: single, anyClasses: true }),
    /has one class \(WithMask\); a classifier needs at least 2 classes/,
  );
  const oneLeft = await classes(path.join(dir, 'fer-two'), ['angry', 'disgust'], 2);
  await assert.rejects(
    resolveData(fer6, { data: oneLeft, anyClasses: true }),
    /has one class \(angry\) once disgust is dropped; a classifier needs at least 2 classes/,
  );
});

test('a refused class set leaves no run folder; accepted with anyClasses, the run has no "vs the study" comparison', async () => {
  const out = path.join(dir, 'runs-classes');
  await assert.rejects(runExperiment(quick(three, { outDir: out })), ConfigError);
  assert.deepEqual(fs.readdirSync(path.join(out, 'baseline', 'resnet18-original')), [], 'no run folder left behind');
  const r = await runExperiment(quick(three, { outDir: out, anyClasses: true, epochs: 1 }));
  const config = JSON.parse(fs.readFileSync(path.join(r.runDir, 'config.json'), 'utf8')) as {
    data: { classesDiffer?: boolean; expectedClasses: string[] };
  };
  assert.equal(config.data.classesDiffer, true);
  assert.equal(config.data.expectedClasses.length, 8);
  const report = fs.readFileSync(path.join(r.runDir, 'report.html'), 'utf8');
  assert.ok(!report.includes('This run vs the study'), 'no comparison section');
  assert.match(
    report,
    /OTHER CLASSES: the trial&#39;s dataset has anger, contempt|OTHER CLASSES: the trial's dataset has anger, contempt/,
  );
  assert.match(fs.readFileSync(path.join(r.runDir, 'run.log'), 'utf8'), /study: not comparable \(other classes\)/);
  assert.ok(!fs.existsSync(path.join(r.runDir, 'run.lock')), 'the lock is released');
});

test('a run folder is never written inside the data folder, however --out is spelt (inside, a link, `..`, the data itself)', async () => {
  const data = await classes(path.join(dir, 'contain'), MASK, 4);
  const before = hashTree(data);
  fs.symlinkSync(data, path.join(dir, 'contain-link'));
  for (const outDir of [
    path.join(data, 'runs'),
    path.join(dir, 'contain-link', 'runs'),
    path.join(dir, 'x', '..', 'contain', 'WithMask'),
    data,
    path.relative(process.cwd(), path.join(data, 'r')),
  ]) {
    await assert.rejects(
      runExperiment(quick(data, { experiment: 'face-mask', outDir })),
      (e: Error) =>
        e instanceof ConfigError &&
        /output folder \(outDir, --out\) .* is inside the data folder .*: its run folders would become part of the data/.test(
          e.message,
        ),
      outDir,
    );
  }
  // Run folders go to <out>/<experiment>/<trial>/: an output there holding the data is refused too.
  const nested = await classes(path.join(dir, 'nest', 'face-mask', 'resnet18-vgg', 'data'), MASK, 2);
  await assert.rejects(
    runExperiment(quick(nested, { experiment: 'face-mask', outDir: path.join(dir, 'nest') })),
    /the run folders would go to .*nest\/face-mask\/resnet18-vgg, which holds the data folder/,
  );
  assert.deepEqual(hashTree(data), before, 'the data folder is untouched');
  const cli = await affect(
    dir,
    'run',
    'face-mask',
    '--data',
    'contain',
    '--out',
    'contain-link/runs',
    '--backend',
    'wasm',
  );
  assert.equal(cli.code, 2, cli.err);
  assert.match(cli.err, /--out\) contain-link\/runs is inside the data folder/);
});

/** A run killed at the start of epoch 2, as after a crash: config.json and the epoch-1 checkpoint. */
async function crashedRun(data: string, outDir: string, o: Partial<RunOptions> = {}): Promise<string> {
  const crash: RunOptions['progress'] = {
    message: () => {},
    epochBegin: (e) => {
      if (e === 1) throw new Error('simulated crash');
    },
  };
  await assert.rejects(
    runExperiment({ ...quick(data, { outDir, epochs: 3, ...o }), progress: crash }),
    /simulated crash/,
  );
  const trial = path.join(outDir, o.experiment ?? 'baseline', 'resnet18-original');
  return path.join(trial, fs.readdirSync(trial)[0]);
}

test('--resume refuses data that changed (an image added, one removed, one renamed, one rewritten) and options that contradict the run', async () => {
  const data = await classes(path.join(dir, 'changing'), ['a', 'b', 'c'], 6);
  const run = await crashedRun(data, path.join(dir, 'runs-change'), { anyClasses: true });
  const resume = (o: Partial<RunOptions> = {}) => runExperiment({ experiment: '', resume: run, quiet: true, ...o });
  const png = fs.readFileSync(path.join(data, 'a', '0.png'));
  const changes: [string, () => void, () => void, RegExp][] = [
    [
      'added',
      () => fs.writeFileSync(path.join(data, 'a', 'new.png'), png),
      () => fs.rmSync(path.join(data, 'a', 'new.png')),
      /the data changed since the run started: (train|validation|test) had \d+ images, now \d+/,
    ],
    [
      'removed',
      () => fs.renameSync(path.join(data, 'b', '1.png'), path.join(dir, 'b1.png')),
      () => fs.renameSync(path.join(dir, 'b1.png'), path.join(data, 'b', '1.png')),
      /the data changed since the run started: .*had \d+ images, now \d+/,
    ],
    [
      'renamed',
      () => fs.renameSync(path.join(data, 'c', '2.png'), path.join(data, 'c', '2b.png')),
      () => fs.renameSync(path.join(data, 'c', '2b.png'), path.join(data, 'c', '2.png')),
      /the same number of images, but files were renamed, replaced or changed in size \(dataset fingerprint [0-9a-f]{12}\.\.\. then/,
    ],
    [
      'rewritten',
      () => fs.appendFileSync(path.join(data, 'a', '3.png'), Buffer.alloc(7)),
      () => fs.truncateSync(path.join(data, 'a', '3.png'), fs.statSync(path.join(data, 'a', '3.png')).size - 7),
      /files were renamed, replaced or changed in size/,
    ],
  ];
  for (const [name, change, undo, re] of changes) {
    change();
    await assert.rejects(
      resume(),
      (e: Error) =>
        e instanceof ConfigError &&
        e.message.startsWith(`cannot resume ${run}: the data changed`) &&
        re.test(e.message),
      name,
    );
    undo();
  }
  const contradictions: [Partial<RunOptions>, RegExp][] = [
    [{ experiment: 'face-mask' }, /experiment: given "face-mask", the run has "baseline"/],
    [{ epochs: 9 }, /epochs: given 9, the run has 3/],
    [{ data: mask }, /data: given ".*mask", the run has ".*changing"/],
    [{ seed: 6, imageSize: 16 }, /seed: given 6, the run has 5; imageSize: given 16, the run has 12/],
  ];
  for (const [o, re] of contradictions) {
    await assert.rejects(
      resume(o),
      (e: Error) =>
        e instanceof ConfigError &&
        re.test(e.message) &&
        /a resume continues the run with the settings it started with/.test(e.message),
      JSON.stringify(o),
    );
  }
  const cli = await affect(dir, 'run', '--resume', run, '--epochs', '7', '--scale', 'full');
  assert.equal(cli.code, 2, cli.err);
  assert.match(
    cli.err,
    /cannot resume .* with other settings \(scale: given "full", the run has "smoke"; epochs: given 7, the run has 3\)/,
  );
  // Agreeing options, and the number or the name of the experiment, are accepted.
  const r = await resume({ experiment: '1', epochs: 3, data: path.relative(process.cwd(), data) });
  assert.equal(r.history.epochs.length, 3);
});

test('one writer per run folder: a live owner (another process, or this one) refuses a resume; a dead one is taken over', async () => {
  const run = await crashedRun(mask, path.join(dir, 'runs-lock'), { anyClasses: true });
  const lock = path.join(run, 'run.lock');
  // A live process of this host holds the run folder.
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  fs.writeFileSync(
    lock,
    JSON.stringify({ pid: sleeper.pid, host: os.hostname(), started: new Date().toISOString(), command: 'affect run' }),
  );
  try {
    await assert.rejects(
      runExperiment({ experiment: '', resume: run, quiet: true }),
      (e: Error) => e instanceof LockedError && e.message.includes(`pid ${sleeper.pid} on ${os.hostname()}`),
    );
    const cli = await affect(dir, 'run', '--resume', run);
    assert.equal(cli.code, 1, cli.err);
    assert.match(
      cli.err,
      /run\.lock is held by affect run \(pid \d+ on .*\); only one process may write this folder at a time/,
    );
    assert.ok(!fs.existsSync(path.join(run, 'metrics.json')));
  } finally {
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper.once('exit', r));
  }
  // Two resumes at once in this process: the second is refused while the first runs; the first finishes alone.
  const [first, second] = await Promise.allSettled([
    runExperiment({ experiment: '', resume: run, quiet: true }),
    new Promise((r) => setTimeout(r, 50)).then(() => runExperiment({ experiment: '', resume: run, quiet: true })),
  ]);
  assert.equal(first.status, 'fulfilled', String((first as PromiseRejectedResult).reason));
  assert.equal(second.status, 'rejected');
  assert.ok(second.reason instanceof LockedError || /already finished/.test(String(second.reason)));
  assert.match(fs.readFileSync(path.join(run, 'run.log'), 'utf8'), /took over the lock of a stopped run \(pid \d+/);
  const history = fs.readFileSync(path.join(run, 'history.csv'), 'utf8').trim().split('\n');
  assert.deepEqual(
    history.slice(1).map((l) => l.split(',')[0]),
    ['0', '1', '2'],
    'one history (Keras numbers epochs from 0), no interleaved or repeated epoch',
  );
  assert.ok(!fs.existsSync(lock), 'released at the end');
});

test('options no machine holds are refused before any work, naming the option (exit 2)', async () => {
  for (const [o, re] of [
    [
      { imageSize: 100_000 },
      /batchSize 4 \(4 in use\) at imageSize 100000 px needs about [\d.]+ GiB for one training step/,
    ],
    [{ imageSize: 4096, batchSize: 4096 }, /batchSize 4096 \(\d+ in use\) at imageSize 4096 px needs about/],
  ] as [Partial<RunOptions>, RegExp][]) {
    await assert.rejects(
      runExperiment(quick(mask, { experiment: 'face-mask', outDir: path.join(dir, 'runs-huge'), ...o })),
      (e: Error) =>
        e instanceof ConfigError && re.test(e.message) && /lower --image-size or --batch-size/.test(e.message),
    );
  }
  assert.deepEqual(
    fs.readdirSync(path.join(dir, 'runs-huge', 'face-mask', 'resnet18-vgg')),
    [],
    'no run folder left behind',
  );
  const cli = await affect(
    dir,
    'run',
    'face-mask',
    '--data',
    'mask',
    '--image-size',
    '50000',
    '--backend',
    'wasm',
    '--out',
    'runs-huge-cli',
  );
  assert.equal(cli.code, 2, cli.err);
  assert.match(
    cli.err,
    /imageSize 50000 px needs about .* more than the wasm backend's 4 GiB memory: lower --image-size or --batch-size/,
  );
});

test('Ctrl-C during affect run stops after the batch and prints how to resume; the resume finishes the run', async () => {
  const child = spawnAffect(
    dir,
    'run',
    'baseline',
    '--data',
    'three',
    '--any-classes',
    '--scale',
    'smoke',
    '--train-per-class',
    '0',
    // Epochs enough that the run is still training when the signal comes after the first checkpoint.
    '--epochs',
    '6',
    '--image-size',
    '12',
    '--batch-size',
    '4',
    '--backend',
    'wasm',
    '--out',
    'runs-int',
  );
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const trial = path.join(dir, 'runs-int', 'baseline', 'resnet18-original');
  const started = Date.now();
  while (Date.now() - started < 120_000) {
    const runs = fs.existsSync(trial) ? fs.readdirSync(trial) : [];
    if (runs.length && fs.existsSync(path.join(trial, runs[0], 'checkpoints'))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  const run = path.join(trial, fs.readdirSync(trial)[0]);
  assert.equal(code, 130, err);
  assert.match(
    err,
    new RegExp(
      `SIGINT: stopping after the current batch[^]*affect run --resume ${run.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`,
    ),
  );
  assert.ok(!fs.existsSync(path.join(run, 'run.lock')), 'the lock is released on the way out');
  const done = await affect(dir, 'run', '--resume', run, '--epochs', '6');
  assert.equal(done.code, 0, done.err);
});
