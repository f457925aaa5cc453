/** Every run of a run store as dashboard rows (`affect runs report`, runs/index.html) and for the notebooks' DataFrames. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../atomic';
import type { TrainHistory } from '../train';
import { dashboardPage, type DashboardRun } from '../viz';
import { readHistoryCsv } from './read';
import { listRuns, readJsonRecord, recordText } from './record';

/** How deep runs are looked for: `<experiment>/<trial>/<time>/`, and a sweep's `sweeps/<id>/<trial>/<experiment>/<trial>/<time>/`. */
const STORE_DEPTH = 6;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * The runs under `store` (training runs, sweep trials' runs, baseline records), newest first, each with its figures and
 * history; folder and report paths are relative to `store`. A run whose records cannot be read is listed with what could.
 */
export async function collectRuns(store = 'runs'): Promise<DashboardRun[]> {
  const root = path.resolve(store);
  const out: DashboardRun[] = [];
  for (const s of listRuns(root, STORE_DEPTH)) {
    const config = readJsonRecord(path.join(s.dir, 'config.json')) ?? {};
    const run = (config.run ?? {}) as Record<string, unknown>;
    const metrics = readJsonRecord(path.join(s.dir, 'metrics.json'));
    let history: TrainHistory;
    try {
      history = readHistoryCsv(path.join(s.dir, 'history.csv'));
    } catch {
      history = { epochs: [], logs: {} };
    }
    const val = (history.logs.val_loss ?? []).filter(Number.isFinite);
    const finalLoss = (metrics?.final as Record<string, unknown> | undefined)?.loss;
    const status: DashboardRun['status'] = !metrics
      ? 'incomplete'
      : typeof finalLoss === 'number' && !Number.isFinite(finalLoss)
        ? 'failed'
        : 'complete';
    const report = path.join(s.dir, 'report.html');
    out.push({
      dir: path.relative(root, s.dir) || '.',
      experiment: s.experiment,
      trial: s.trial,
      scale: s.scale,
      dataKind: s.dataKind,
      backend: recordText((config.backend as Record<string, unknown> | undefined)?.name, '?'),
      epochsRun: num(metrics?.epochsRun) ?? (history.epochs.length || undefined),
      epochs: num(run.epochs),
      bestValLoss: val.length ? Math.min(...val) : undefined,
      testAccuracy: s.testAccuracy,
      studyTestAccuracy: num((metrics?.published as Record<string, unknown> | undefined)?.testAccuracy),
      seconds: num(metrics?.trainSeconds),
      status,
      created: s.created,
      ...(fs.existsSync(report) ? { report: path.relative(root, report).split(path.sep).join('/') } : {}),
      history,
    });
  }
  return out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
}

/** Writes the dashboard of `store` to `file` (default `<store>/index.html`) and returns its path and the number of runs. */
export async function writeRunsDashboard(store = 'runs', file?: string): Promise<{ file: string; runs: number }> {
  if (!fs.existsSync(store) || !fs.statSync(store).isDirectory()) throw new Error(`run store ${store} is not a folder`);
  const target = path.resolve(file ?? path.join(store, 'index.html'));
  const runs = await collectRuns(store);
  // Links are relative to the store; a page written elsewhere gets them relative to its own folder.
  const rebase = (p: string) =>
    path
      .relative(path.dirname(target), path.join(path.resolve(store), p))
      .split(path.sep)
      .join('/');
  const rows = runs.map((r) => ({ ...r, dir: rebase(r.dir), ...(r.report ? { report: rebase(r.report) } : {}) }));
  writeFileAtomicSync(target, dashboardPage(`Runs in ${path.resolve(store)}`, rows));
  return { file: target, runs: runs.length };
}
