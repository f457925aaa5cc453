/**
 * One trial over many seeds, for results that depend on the initialisation (tiny sets): each seed is an ordinary local
 * sweep of that one trial (`<out>/sweeps/<id>-s<seed>/`, resumable like any sweep), and the spread over the seeds (mean,
 * standard deviation, min, max, worst and best seed) is written to `<out>/seed-sweeps/<id>/` as seeds.json, a page
 * (spread.html) and, where headless Chromium is available, the figure as spread.svg.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../atomic';
import { ConfigError } from '../errors';
import { getTrial, type PublishedResult } from '../experiments';
import { writeJsonAtomic } from '../runner';
import {
  browserUnavailable,
  escapeHtml,
  figuresToSvg,
  seedSpreadFigure,
  writeHtmlPage,
  type Figure,
  type SpreadSeries,
} from '../viz';
import { checkSweepId, defineSweep, type SweepRequest, type SweepSettings } from './definition';
import { runSweepLocal } from './local';
import { readHistory } from './store';
import { runFolder, sweepStatus } from './status';

/** `count` consecutive seeds from `first`: 27, 28, ... A count below 1 or a non-integer is a ConfigError. */
export function seedList(first: number, count: number): number[] {
  if (!Number.isInteger(first)) throw new ConfigError(`invalid seed: ${first}; must be an integer`);
  if (!(Number.isInteger(count) && count >= 1))
    throw new ConfigError(`invalid seeds: ${count}; must be a positive integer (the number of seeds)`);
  return Array.from({ length: count }, (_, i) => first + i);
}

/** Summary of one figure over seeds. `sd` is the sample standard deviation (n - 1), absent for one seed. */
export interface Spread {
  n: number;
  mean: number;
  sd?: number;
  min: number;
  max: number;
  /** The seed with the lowest value (the first such seed on ties). */
  worstSeed: number;
  /** The seed with the highest value (the first such seed on ties). */
  bestSeed: number;
}

/** Mean, sample standard deviation, min and max of per-seed values, and the seeds that gave the min and the max. */
export function seedSpread(values: readonly { seed: number; value: number }[]): Spread {
  const ok = values.filter((v) => Number.isFinite(v.value));
  if (ok.length === 0) throw new Error('seedSpread: no finite value to summarise');
  const n = ok.length;
  const mean = ok.reduce((s, v) => s + v.value, 0) / n;
  let worst = ok[0];
  let best = ok[0];
  for (const v of ok) {
    if (v.value < worst.value) worst = v;
    if (v.value > best.value) best = v;
  }
  const spread: Spread = { n, mean, min: worst.value, max: best.value, worstSeed: worst.seed, bestSeed: best.seed };
  if (n > 1) spread.sd = Math.sqrt(ok.reduce((s, v) => s + (v.value - mean) ** 2, 0) / (n - 1));
  return spread;
}

export interface SeedSweepRequest extends Omit<SweepRequest, 'trials' | 'seed' | 'id'> {
  /** Default: the experiment's default trial. */
  trial?: string;
  seeds: number[];
  /** Default: derived from the experiment, trial and settings (not the seeds, so more seeds later reuse the runs made). */
  id?: string;
}

/** One seed's run: its sweep, run folder and figures, or why it has none. */
export interface SeedRun {
  seed: number;
  sweep: string;
  /** Relative to the run store. */
  runDir?: string;
  testAccuracy?: number;
  /** The last epoch's validation accuracy. */
  valAccuracy?: number;
  /** The highest validation accuracy of any epoch (what a single published run usually quotes). */
  bestValAccuracy?: number;
  epochsRun?: number;
  /** Seconds the seed's run spent training (its metrics.json), to 0.1 s. */
  trainSeconds?: number;
  /** A NaN-stopped run's message or the error that stopped the seed; such seeds are left out of the spread. */
  failure?: string;
}

export interface SeedSweepResult {
  id: string;
  experiment: string;
  trial: string;
  settings: Omit<SweepSettings, 'seed'>;
  seeds: SeedRun[];
  /** Over the seeds that finished without a failure. */
  test: Spread;
  validation?: Spread;
  bestValidation?: Spread;
  published: PublishedResult;
  /** Wall time of this call, seconds (finished seeds read from the store count nothing). */
  seconds: number;
  /** Absolute paths of what was written (not in seeds.json itself, whose folder holds them). */
  files: { json: string; page: string; svg?: string };
  /** Why spread.svg was not drawn, when it was not. */
  svgSkipped?: string;
}

/** `<experiment>-<trial>-<12 hex digits>` of the settings without the seed; each seed's sweep adds `-s<seed>`. */
export function seedSweepId(experiment: string, trial: string, settings: Omit<SweepSettings, 'seed'>): string {
  const canonical = JSON.stringify(Object.fromEntries(Object.entries(settings).sort(([a], [b]) => (a < b ? -1 : 1))));
  return `${experiment}-${trial}-${crypto.createHash('sha256').update(`${experiment}\n${trial}\n${canonical}`).digest('hex').slice(0, 12)}`;
}

/** The folder of a seed sweep's summary: `<out>/seed-sweeps/<id>`. */
export const seedSweepDir = (out: string, id: string): string =>
  path.join(path.resolve(out), 'seed-sweeps', checkSweepId(id));

/**
 * Runs `req.trial` once per seed, one after the other (a seed already finished in the store is read, an interrupted one
 * resumes), then summarises the spread and writes it. Settings shared by every seed that are wrong throw a ConfigError
 * before anything runs; a seed that fails is recorded with its message and left out of the spread; `signal` stops the
 * seed in progress at its next batch (RunAborted), to resume when the same seeds run again.
 */
export async function runSeedSweep(
  req: SeedSweepRequest,
  o: { out: string; log?: (line: string) => void; signal?: AbortSignal },
): Promise<SeedSweepResult> {
  const log = o.log ?? console.log;
  const started = Date.now();
  if (req.seeds.length === 0) throw new ConfigError('invalid seeds: []; give at least one seed');
  if (new Set(req.seeds).size !== req.seeds.length)
    throw new ConfigError(`invalid seeds: ${JSON.stringify(req.seeds)}; a seed is repeated`);
  const { experiment: exp, trial: t } = getTrial(req.experiment, req.trial);
  const { seeds, trial: _trial, id: givenId, ...shared } = req;
  // Every seed's sweep validated before any runs: a bad setting fails all of them alike.
  const defs = seeds.map((seed) => defineSweep({ ...shared, experiment: exp.name, trials: [t.name], seed }));
  const { seed: _seed, ...settings } = defs[0].settings;
  const id = givenId === undefined ? seedSweepId(exp.name, t.name, settings) : checkSweepId(givenId);
  const runs: SeedRun[] = [];
  for (const [k, seed] of seeds.entries()) {
    const sweep = checkSweepId(`${id}-s${seed}`);
    log(`seed ${seed} (${k + 1}/${seeds.length}): sweep ${sweep}`);
    const r = await runSweepLocal(
      { ...shared, experiment: exp.name, trials: [t.name], seed, id: sweep },
      { out: o.out, log: (line) => log(`  seed ${seed}: ${line}`), ...(o.signal ? { signal: o.signal } : {}) },
    );
    const outcome = r.trials[0];
    const status = sweepStatus(o.out, sweep).trials.find((s) => s.trial === t.name);
    const dir = status ? runFolder(o.out, sweep, status) : undefined;
    const run: SeedRun = { seed, sweep, ...(dir ? { runDir: path.relative(path.resolve(o.out), dir) } : {}) };
    const failure = outcome.error ?? outcome.result?.failure;
    if (failure) run.failure = failure;
    if (outcome.result) {
      run.testAccuracy = outcome.result.testAccuracy;
      run.epochsRun = outcome.result.epochsRun;
    }
    const valAcc = dir ? (readHistory(dir).logs.val_acc ?? []).filter(Number.isFinite) : [];
    if (valAcc.length)
      Object.assign(run, { valAccuracy: valAcc[valAcc.length - 1], bestValAccuracy: Math.max(...valAcc) });
    const metricsFile = dir ? path.join(dir, 'metrics.json') : undefined;
    if (metricsFile && fs.existsSync(metricsFile)) {
      const seconds = (JSON.parse(fs.readFileSync(metricsFile, 'utf8')) as { trainSeconds?: number }).trainSeconds;
      if (typeof seconds === 'number') run.trainSeconds = Math.round(seconds * 10) / 10;
    }
    const summary = run.failure
      ? `failed: ${run.failure}`
      : `test accuracy ${run.testAccuracy?.toFixed(4)}, last val acc ${run.valAccuracy?.toFixed(4) ?? '-'}`;
    log(`seed ${seed}: ${summary}`);
    runs.push(run);
  }
  const ok = runs.filter((r) => !r.failure && typeof r.testAccuracy === 'number');
  if (ok.length === 0)
    throw new Error(
      `seed sweep ${id}: no seed finished (${runs.map((r) => `seed ${r.seed}: ${r.failure}`).join('; ')})`,
    );
  const of = (key: 'testAccuracy' | 'valAccuracy' | 'bestValAccuracy') =>
    ok.filter((r) => typeof r[key] === 'number').map((r) => ({ seed: r.seed, value: r[key]! }));
  const validation = of('valAccuracy');
  const bestValidation = of('bestValAccuracy');
  const dir = seedSweepDir(o.out, id);
  const result: SeedSweepResult = {
    id,
    experiment: exp.name,
    trial: t.name,
    settings,
    seeds: runs,
    test: seedSpread(of('testAccuracy')),
    ...(validation.length ? { validation: seedSpread(validation) } : {}),
    ...(bestValidation.length ? { bestValidation: seedSpread(bestValidation) } : {}),
    published: t.published,
    seconds: (Date.now() - started) / 1000,
    files: { json: path.join(dir, 'seeds.json'), page: path.join(dir, 'spread.html') },
  };
  const figure = spreadFigure(result);
  const missing = browserUnavailable();
  if (missing) result.svgSkipped = missing;
  else {
    try {
      const [svg] = await figuresToSvg([figure]);
      result.files.svg = path.join(dir, 'spread.svg');
      fs.mkdirSync(dir, { recursive: true });
      writeFileAtomicSync(result.files.svg, svg);
    } catch (e) {
      result.svgSkipped = (e as Error).message;
    }
  }
  // The file names are fixed and the store may be mounted elsewhere: the record keeps no absolute paths.
  writeJsonAtomic(result.files.json, { ...result, files: undefined });
  writeSpreadPage(result, figure);
  return result;
}

/** The seed sweep's figure: test accuracy and last-epoch validation accuracy per seed, with the published figure as a line. */
export function spreadFigure(
  r: Pick<SeedSweepResult, 'experiment' | 'trial' | 'seeds' | 'test' | 'validation' | 'published'>,
): Figure {
  const ok = r.seeds.filter((s) => !s.failure);
  const series: SpreadSeries[] = [
    {
      name: 'test accuracy',
      points: ok
        .filter((s) => typeof s.testAccuracy === 'number')
        .map((s) => ({ seed: s.seed, value: s.testAccuracy! })),
      mean: r.test.mean,
      ...(r.test.sd === undefined ? {} : { sd: r.test.sd }),
    },
  ];
  if (r.validation) {
    series.push({
      name: 'validation accuracy (last epoch)',
      points: ok.filter((s) => typeof s.valAccuracy === 'number').map((s) => ({ seed: s.seed, value: s.valAccuracy! })),
      mean: r.validation.mean,
      ...(r.validation.sd === undefined ? {} : { sd: r.validation.sd }),
    });
  }
  const p = r.published;
  const value = p.testAccuracy ?? p.valAcc;
  const reference =
    value === undefined
      ? undefined
      : { value, label: `published, one run: ${p.testAccuracy !== undefined ? 'test' : 'val'} acc ${value}` };
  return seedSpreadFigure(series, {
    title: `${r.experiment} / ${r.trial}: ${ok.length} seeds`,
    ...(reference ? { reference } : {}),
  });
}

const fmt = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));

/** One line per figure: mean +- sd, min (worst seed), max (best seed). */
export function formatSpread(r: Pick<SeedSweepResult, 'test' | 'validation' | 'bestValidation'>): string {
  const line = (name: string, s: Spread) =>
    `${name.padEnd(24)} mean ${fmt(s.mean)}  sd ${fmt(s.sd)}  min ${fmt(s.min)} (seed ` +
    `${s.worstSeed})  max ${fmt(s.max)} (seed ${s.bestSeed})  n ${s.n}`;
  return [
    line('test accuracy', r.test),
    ...(r.validation ? [line('val accuracy (last)', r.validation)] : []),
    ...(r.bestValidation ? [line('val accuracy (best)', r.bestValidation)] : []),
  ].join('\n');
}

function writeSpreadPage(r: SeedSweepResult, figure: Figure): void {
  const rows = [
    ['seed', 'test acc', 'val acc (last)', 'val acc (best)', 'epochs', 'run folder / failure'],
    ...r.seeds.map((s) => [
      String(s.seed),
      fmt(s.testAccuracy),
      fmt(s.valAccuracy),
      fmt(s.bestValAccuracy),
      String(s.epochsRun ?? '-'),
      s.failure ?? s.runDir ?? '',
    ]),
  ];
  const tr = (row: string[], i: number) => {
    const tag = i ? 'td' : 'th';
    return `<tr>${row.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('')}</tr>`;
  };
  const table = `<table class="affect-table">${rows.map(tr).join('')}</table>`;
  const s = r.settings;
  const published = {
    ...(r.published.testAccuracy !== undefined ? { testAccuracy: r.published.testAccuracy } : {}),
    ...(r.published.valAcc !== undefined ? { valAcc: r.published.valAcc } : {}),
  };
  const text = [
    `${r.experiment} / ${r.trial} over ${r.seeds.length} seeds ` +
      `(${r.seeds.map((x) => x.seed).join(', ')}); scale ${s.scale}; data ` +
      `${s.synthetic ? 'SYNTHETIC DATA' : s.data}.`,
    `<pre>${escapeHtml(formatSpread(r))}</pre>`,
    `Published: ${escapeHtml(JSON.stringify(published))}. ${escapeHtml(r.published.notes ?? '')}`,
  ];
  writeHtmlPage(r.files.page, `Seed sweep ${r.id}`, [
    { heading: 'Spread over seeds', html: text.join('<br>'), figures: [figure] },
    { heading: 'Seeds', html: table },
  ]);
}
