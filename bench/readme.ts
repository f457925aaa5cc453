/**
 * The README's speed tables, generated from one bench run (bench/results.json) so that no figure is typed by hand:
 * every trial model's training rate beside PyTorch's in the same run, the projected full-scale wall times and the
 * speed-ups the targets name, and where the profiled training steps spend their time.
 */
import type { BenchRow, BenchSection } from './types';
import { findGflops, findRate } from './training';

/** bench/results.json as bench/main.ts writes it. */
export interface BenchResults {
  started: string;
  finished: string;
  machine: { cpus: number; model?: string; node: string; note?: string };
  sections: BenchSection[];
}

/** The README block `npm run bench` rewrites. */
export const BENCH_BLOCK = 'bench';

const sectionOf = (r: BenchResults, prefix: string) => r.sections.find((s) => s.name.startsWith(prefix));
const rowOf = (s: BenchSection | undefined, metric: string) => s?.rows.find((r) => r.metric === metric);

/** A number with about three significant digits and thousands separators. */
function num(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const rateCell = (rate?: BenchRow, gflops?: BenchRow) =>
  rate ? `${num(rate.value)}${gflops ? ` (${num(gflops.value)} GFLOP/s)` : ''}` : 'not measured';

/** The trial models the wasm section measured, in its order: the nets of its training GFLOP/s rows. */
function benchedNets(wasm: BenchSection): string[] {
  const nets = wasm.rows.flatMap((r) => {
    const m = /^(.*) training GFLOP\/s, /.exec(r.metric);
    return m && r.unit === 'GFLOP/s' ? [m[1]] : [];
  });
  // Once each: the addon-off comparison measures a net again.
  return [...new Set(nets)];
}

function modelTable(wasm: BenchSection, torch: BenchSection | undefined): string[] {
  const lines = [
    '| trial model (experiments) | batch | training: affect-lab, images/s | training: PyTorch, images/s | ratio of ' +
      'GFLOP/s (target 1.0) | forward: ratio of GFLOP/s |',
    '|---|---|---|---|---|---|',
  ];
  for (const net of benchedNets(wasm)) {
    const ours = findRate(wasm, net, 'training');
    const batch = /batch (\d+)$/.exec(ours?.metric ?? '')?.[1] ?? '-';
    const theirs = rowOf(torch, `${net} training, PyTorch`);
    const ratio = (mode: string) => rowOf(torch, `${net} ${mode}, wasm / PyTorch GFLOP/s`)?.value;
    lines.push(
      `| ${net} | ${batch} | ${rateCell(ours, findGflops(wasm, net, 'training'))} | ` +
        `${rateCell(theirs, rowOf(torch, `${net} training GFLOP/s, PyTorch`))} | ${num(ratio('training'))} | ` +
        `${num(ratio('forward'))} |`,
    );
  }
  return lines;
}

function figureTable(wasm: BenchSection): string[] {
  const lines = ['| figure | measured | target |', '|---|---|---|'];
  const add = (r: BenchRow | undefined, label = r?.metric) => {
    if (r)
      lines.push(
        `| ${label} | ${num(r.value)} ${r.unit} | ${r.target === undefined ? '' : `${num(r.target)} ${r.unit}`} |`,
      );
  };
  // Projected wall times, then every speed-up (the addon, native matrix products, the feature cache).
  for (const r of wasm.rows.filter((x) => x.metric.startsWith('projected full-scale run, '))) add(r);
  for (const r of wasm.rows.filter((x) => x.unit === 'x')) add(r);
  return lines;
}

/** Per profiled model: the step's wall time, its five slowest kernels, the optimizer's update, what is outside kernels. */
function profileLines(wasm: BenchSection): string[] {
  const steps = [
    ...new Set(wasm.rows.flatMap((r) => /^(.*) training step \(one, profiled\), /.exec(r.metric)?.[1] ?? [])),
  ];
  return steps.map((net) => {
    const prefix = `${net} training step (one, profiled), `;
    const part = (name: string) => rowOf(wasm, prefix + name)?.value;
    // The native update runs outside kernels; tfjs' ops are kernels.
    const fused = rowOf(wasm, `${prefix}optimizer update`)?.notes?.startsWith('fused') ?? false;
    const kernels = wasm.rows
      .filter((r) => r.metric.startsWith(`${prefix}kernel `))
      .slice(0, 5)
      .map((r) => `${r.metric.slice(prefix.length + 'kernel '.length)} ${num(r.value)}`);
    return (
      `- ${net}: ${num(part('wall time'))} ms a step; slowest kernels (ms) ${kernels.join(', ')}; the optimizer's ` +
      `update ${num(part('optimizer update'))} ms; outside kernels (tfjs's autograd and layers${
        fused ? ', and the fused ' + 'update' : ''
      }) ${num(part('outside kernels'))} ms.`
    );
  });
}

/** The README's bench block from one run's results; a run without a wasm training section gives a note instead. */
export function benchReadmeTable(results: BenchResults): string {
  const wasm = sectionOf(results, 'training speed: wasm');
  const torch = sectionOf(results, 'PyTorch peer');
  const { machine } = results;
  const torchVersion = /torch ([^,]+),/.exec(torch?.rows[0]?.notes ?? '')?.[1];
  const head =
    `Measured by \`npm run bench\` from ${results.started} to ${results.finished} on ${machine.cpus} x ${machine.model ?? 'CPU'}, ` +
    `Node ${machine.node}; PyTorch ${torchVersion ?? 'not measured'} in the same run. Every figure is in \`bench/results.json\`.`;
  if (!wasm) return `${head}\n\nThe run measured no training on wasm.`;
  return [head, '', ...modelTable(wasm, torch), '', ...figureTable(wasm), '', ...profileLines(wasm)].join('\n');
}
