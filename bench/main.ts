/**
 * `npm run bench`: runs every benchmark section, writes bench/results.json (atomically) and its tables into the README's
 * bench block, and prints one table. `npm run bench -- --readme` only rewrites the README's block from
 * bench/results.json.
 * Installs nothing: what cannot be measured here (no tfjs-node, no PyTorch, ...) is listed as skipped.
 * Wall-clock figures depend on what else runs on the machine; each section takes medians of a few repeats.
 * `AFFECT_BENCH_SMOKE=1` runs every section once on tiny inputs and writes nothing (a check that the bench works).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { BenchRow, BenchSection } from './types';
import { benchAugment } from './augment';
import { benchData } from './data';
import { BENCH_BLOCK, benchReadmeTable, type BenchResults } from './readme';
import { MIN_RUN_S, SMOKE, WARM_S } from './timing';
import { torchProcessEnv } from './torch-env';
import { benchModels, benchTraining, findRate, fmt, type BenchModel, type Peer, type PeerModel } from './training';
import { writeFileAtomicSync } from '../lib/atomic';
import { repoRoot } from '../lib/paths';
import { replaceGeneratedBlock } from '../lib/runner/reproduction';

const PYTHON = '/usr/bin/python3';
const TORCH_THREADS = 2;

/**
 * Experiment 1's wasm section measured in a child process with `threads` threads for the native addon, or
 * why it failed. One thread pins wasm's pool to 1 too; more leaves wasm's pool to the backend's own choice (1 beside
 * the addon, every core without it), so that row is what users get.
 */
function childRun(threads: number): BenchSection | string {
  const env: NodeJS.ProcessEnv = { ...process.env, AFFECT_NATIVE_THREADS: String(threads) };
  if (threads === 1) env.AFFECT_WASM_THREADS = '1';
  else delete env.AFFECT_WASM_THREADS;
  const child = spawnSync(process.execPath, [path.join(__dirname, 'training.js')], {
    env,
    encoding: 'utf8',
    timeout: 600_000,
  });
  const last = child.stdout?.trim().split('\n').pop();
  if (child.status !== 0 || !last)
    return `${threads}-thread child run failed: ${(child.stderr || String(child.error)).trim().split('\n').pop()}`;
  return JSON.parse(last) as BenchSection;
}

/** The native addon's thread count as the child reported it (its status row), or that it was not in use. */
function nativeThreads(child: BenchSection): string {
  const row = child.rows.find((r) => r.unit === 'native threads');
  return row ? `native threads ${row.value}` : 'native addon not in use';
}

/**
 * Speed-up of the threaded wasm build together with the native addon's threads on experiment 1's ResNet-18:
 * thread counts are fixed once wasm and the addon initialise, so each count runs in a child process; 1 thread and all
 * cores alternate, twice each, and the best of each is kept, so that load from other jobs drifting during the bench
 * does not favour either.
 */
function benchThreads(): BenchSection {
  const cores = os.cpus().length;
  const net = benchModels()[0].name;
  const section: BenchSection = {
    name: `one core vs all ${cores} (wasm + native threads; ${net}, best of 2 alternating runs)`,
    rows: [],
    skipped: [],
  };
  if (cores < 2) {
    section.skipped.push('one core: nothing to compare');
    return section;
  }
  const best = new Map<string, BenchRow>();
  for (let round = 0; round < 2; round++) {
    for (const threads of [1, cores]) {
      const r = childRun(threads);
      if (typeof r === 'string') {
        section.skipped.push(r);
        return section;
      }
      for (const mode of ['forward', 'training'] as const) {
        const row = findRate(r, net, mode);
        const key = `${threads} ${mode}`;
        if (row && row.value > (best.get(key)?.value ?? 0))
          best.set(key, { ...row, target: undefined, notes: `${row.notes}, ${nativeThreads(r)}` });
      }
    }
  }
  for (const mode of ['forward', 'training'] as const) {
    const one = best.get(`1 ${mode}`);
    const all = best.get(`${cores} ${mode}`);
    if (!one || !all) {
      section.skipped.push(`${net} ${mode}: not measured`);
      continue;
    }
    section.rows.push(one, all, {
      metric: `${net} ${mode} speed-up, ${cores} threads vs 1`,
      value: all.value / one.value,
      unit: 'x',
    });
  }
  return section;
}

/** What torch_bench.py builds for one bench model: the same registry model, top, options, input and optimizer. */
function torchSpec(m: BenchModel): Record<string, unknown> {
  const t = m.trial;
  return {
    name: m.name,
    arch: t.model.name,
    top: t.model.top,
    frozen: t.model.frozen ?? false,
    freezeUpTo: t.model.freezeUpTo ?? null,
    flatten: t.model.flatten ?? false,
    dropout: t.model.dropoutRate ?? 0,
    l2: t.model.l2 ?? 0,
    classes: m.classes,
    channels: m.channels,
    size: m.size,
    batch: m.batch,
    optimizer: t.optimizer,
  };
}

/** Why PyTorch cannot be timed here, or undefined when it can. */
function torchMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  return probe.status === 0
    ? undefined
    : `PyTorch not measured: ${PYTHON} cannot import torch/torchvision (Debian python3-torch python3-torchvision not installed)`;
}

/** The longest wait for one answer of torch_bench.py (a load and warm-up of the largest model take well under a minute). */
const TORCH_ANSWER_S = 900;

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** The PyTorch section's name. */
const TORCH_SECTION = `PyTorch peer (each trial model at its input size and batch, ${TORCH_THREADS} threads, timed in turn with ours)`;

/**
 * PyTorch as the bench's peer: bench/torch_bench.py in a child process, one JSON request and answer per line. close()
 * ends it.
 */
function torchPeer(): Peer & { close(): void } {
  const torchEnv = torchProcessEnv(process.env);
  const child = spawn(PYTHON, [path.join(repoRoot, 'bench', 'torch_bench.py'), String(TORCH_THREADS)], {
    env: torchEnv.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  // A process that has died shows as the end of its output at the next answer; these say why.
  child.on('error', (e) => (stderr += e.message));
  child.stdin.on('error', () => undefined);
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ask = async (request: object): Promise<Record<string, unknown>> => {
    child.stdin.write(JSON.stringify(request) + '\n');
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill();
        reject(new Error(`torch_bench.py gave no answer within ${TORCH_ANSWER_S} s`));
      }, TORCH_ANSWER_S * 1000);
    });
    const line = await Promise.race([lines.next(), silent]).finally(() => clearTimeout(timer));
    if (line.done) throw new Error(`torch_bench.py ended: ${stderr.trim().split('\n').pop() ?? 'no output'}`);
    const answer = JSON.parse(line.value) as Record<string, unknown>;
    if (typeof answer.error === 'string') throw new Error(answer.error);
    return answer;
  };
  return {
    name: 'PyTorch',
    load: async (m) => {
      const a = await ask({ load: torchSpec(m) });
      // torch_bench.py reshapes torchvision's ResNets to lib/models' layout, so both sides run the same convolutions.
      const built = /^(cnn4|cnn5|small-bn-cnn)$/.test(m.trial.model.name)
        ? 'the same layers'
        : "torchvision backbone in lib/models' layout";
      const flops = a.flops_per_image as Partial<PeerModel['flops']> | undefined;
      const [forward, training] = [flops?.forward, flops?.training];
      if (!positive(forward) || !positive(training))
        throw new Error(`torch_bench.py answered no FLOPs: ${JSON.stringify(a)}`);
      return {
        flops: { forward, training },
        notes: `torch ${String(a.torch)}, ${String(a.threads)} threads, ${torchEnv.allocator}, ${built}`,
      };
    },
    warm: async (mode) => {
      await ask({ warm: mode, warm_s: WARM_S, min_run_s: SMOKE ? 0 : MIN_RUN_S });
    },
    time: async (mode) => {
      const a = await ask({ time: mode });
      if (!positive(a.seconds_per_call)) throw new Error(`torch_bench.py answered no time: ${JSON.stringify(a)}`);
      return a.seconds_per_call;
    },
    close: () => child.stdin.end(),
  };
}

function printTable(sections: BenchSection[]): void {
  const lines: string[][] = [['section', 'metric', 'value', 'unit', 'target', 'notes']];
  for (const s of sections) {
    for (const r of s.rows)
      lines.push([s.name, r.metric, fmt(r.value), r.unit, r.target === undefined ? '' : fmt(r.target), r.notes ?? '']);
    for (const k of s.skipped) lines.push([s.name, `SKIPPED: ${k}`, '', '', '', '']);
  }
  const widths = lines[0].map((_, c) => Math.min(60, Math.max(...lines.map((l) => l[c].length))));
  for (const l of lines)
    console.log(l.map((cell, c) => (c === l.length - 1 ? cell : cell.padEnd(widths[c]))).join(' | '));
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const sections: BenchSection[] = [];
  const step = async (name: string, fn: () => Promise<BenchSection | BenchSection[]>) => {
    console.error(`bench: ${name} ...`);
    try {
      const r = await fn();
      sections.push(...(Array.isArray(r) ? r : [r]));
    } catch (e) {
      sections.push({ name, rows: [], skipped: [`failed: ${(e as Error).message}`] });
    }
  };
  await step('data pipeline', benchData);
  await step('augmentation', benchAugment);
  // PyTorch times each model in turn with ours, run for run: load on these machines drifts over a bench run, and a
  // ratio is only as good as the two measurements are close in time.
  const missing = torchMissing();
  const peer = missing ? undefined : torchPeer();
  try {
    await step('training speed', () => benchTraining(peer ? { peer, peerSection: TORCH_SECTION } : {}));
  } finally {
    peer?.close();
  }
  if (missing) sections.push({ name: TORCH_SECTION, rows: [], skipped: [missing] });
  await step('wasm threads', async () => benchThreads());

  const result = {
    started,
    finished: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      node: process.version,
      note: 'other jobs may have shared the cores',
    },
    sections,
  };
  printTable(sections);
  if (SMOKE) {
    console.log('\nsmoke run (AFFECT_BENCH_SMOKE=1): nothing written');
    return;
  }
  writeFileAtomicSync(RESULTS, JSON.stringify(result, null, 2) + '\n');
  writeReadmeBlock(result);
  console.log(`\nwritten: ${path.relative(process.cwd(), RESULTS)}, and its tables into README.md`);
}

const RESULTS = path.join(repoRoot, 'bench', 'results.json');

/** The README's bench block from `result`. */
function writeReadmeBlock(result: BenchResults): void {
  const readme = path.join(repoRoot, 'README.md');
  const text = replaceGeneratedBlock(
    fs.readFileSync(readme, 'utf8'),
    BENCH_BLOCK,
    benchReadmeTable(result),
    readme,
    'npm run bench',
  );
  writeFileAtomicSync(readme, text);
}

const entry = process.argv.includes('--readme')
  ? async () => {
      writeReadmeBlock(JSON.parse(fs.readFileSync(RESULTS, 'utf8')) as BenchResults);
      console.log('README.md: bench block rewritten from bench/results.json');
    }
  : main;
entry().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
