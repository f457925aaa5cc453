/**
 * Run folders: runs/<experiment>/<trial>/<timestamp>/ holding config.json, history.csv, metrics.json, confusion.csv,
 * the model, run.log and report.html; and reading them back for `affect runs list` and `affect runs compare`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TrainHistory } from '../train';

export { confusionCsv, createRunDir, packageVersions, runTimestamp, writeJsonAtomic } from '../run-folder';

/** SHA-256 of the sorted `relPath<TAB>size` lines: the same files give the same fingerprint wherever the folder lives. */
export function datasetFingerprint(files: readonly { relPath: string; size: number }[]): string {
  const lines = files.map((f) => `${f.relPath}\t${f.size}`).sort();
  return crypto.createHash('sha256').update(lines.join('\n')).digest('hex');
}

/** history.csv: one row per epoch (1-based, as Keras prints), a column per logged metric. */
export function historyCsv(history: Pick<TrainHistory, 'epochs' | 'logs'>): string {
  const keys = Object.keys(history.logs);
  const rows = history.epochs.map((e, i) =>
    [String(e + 1), ...keys.map((k) => String(history.logs[k][i] ?? ''))].join(','),
  );
  return [['epoch', ...keys].join(','), ...rows].join('\n') + '\n';
}

/** What config.json and metrics.json hold, as far as `runs list` and `runs compare` read them. */
export interface RunSummary {
  dir: string;
  experiment: string;
  trial: string;
  scale: string;
  created: string;
  dataKind: string;
  testAccuracy?: number;
  /** False when metrics.json is missing (an interrupted or running run). */
  complete: boolean;
}

/** A record's field as text: a string, number or boolean as written, anything else (absent, null, an object) as `absent`. */
export function recordText(v: unknown, absent: string): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : absent;
}

/** A JSON record file, or undefined when it is missing or unreadable (a run still being written). */
export function readJsonRecord(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Every run folder (one holding config.json) under `dir`, oldest first, looking `maxDepth` folders down (default 4:
 * `<experiment>/<trial>/<time>/`; a sweep's runs, `sweeps/<id>/<trial>/<experiment>/<trial>/<time>/`, need 6).
 */
export function listRuns(dir = 'runs', maxDepth = 4): RunSummary[] {
  if (!fs.existsSync(dir)) throw new Error(`runs folder ${dir} does not exist`);
  const out: RunSummary[] = [];
  const walk = (d: string, depth: number) => {
    const config = readJsonRecord(path.join(d, 'config.json'));
    if (config) {
      const run = (config.run ?? {}) as Record<string, unknown>;
      const metrics = readJsonRecord(path.join(d, 'metrics.json'));
      out.push({
        dir: d,
        experiment: recordText(run.experiment, '?'),
        trial: recordText(run.trial, '?'),
        scale: recordText(run.scale, '?'),
        created: recordText(config.created, ''),
        dataKind: recordText((config.data as Record<string, unknown> | undefined)?.kind, '?'),
        testAccuracy: typeof metrics?.testAccuracy === 'number' ? metrics.testAccuracy : undefined,
        complete: metrics !== undefined,
      });
      return;
    }
    if (depth >= maxDepth) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory() && !e.name.startsWith('.')) walk(path.join(d, e.name), depth + 1);
  };
  walk(path.resolve(dir), 0);
  return out.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
}

/** A fixed-width text table of rows (first row the header). */
function textTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatRunsTable(runs: RunSummary[], relativeTo = process.cwd()): string {
  if (runs.length === 0) return '(no runs)';
  const rows = runs.map((r) => [
    r.experiment,
    r.trial,
    r.scale,
    r.created.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    r.dataKind,
    r.testAccuracy !== undefined ? r.testAccuracy.toFixed(4) : r.complete ? '-' : 'incomplete',
    path.relative(relativeTo, r.dir) || '.',
  ]);
  return textTable([['experiment', 'trial', 'scale', 'date', 'data', 'test acc', 'folder'], ...rows]);
}

/** Leaves of a JSON value as dotted keys, e.g. run.optimizer.lr; arrays are compared whole. */
function flattenJson(value: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flattenJson(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = JSON.stringify(value);
  }
  return out;
}

export interface RunComparison {
  a: string;
  b: string;
  /** config.json keys whose values differ (or exist in one run only). */
  config: { key: string; a?: string; b?: string }[];
  /** Every metrics.json scalar, side by side. */
  metrics: { key: string; a?: string; b?: string }[];
}

/** Config differences and metrics side by side for two run folders. */
export function compareRuns(a: string, b: string): RunComparison {
  const load = (d: string, f: string, required: boolean) => {
    const v = readJsonRecord(path.join(d, f));
    if (!v && required) throw new Error(`${path.join(d, f)} is missing or not JSON: is ${d} a run folder?`);
    return v ?? {};
  };
  const [ca, cb] = [flattenJson(load(a, 'config.json', true)), flattenJson(load(b, 'config.json', true))];
  // Timestamps and folders always differ; they would bury the differences that matter.
  const ignore = new Set(['created', 'runDir']);
  const keys = [...new Set([...Object.keys(ca), ...Object.keys(cb)])]
    .filter((k) => !ignore.has(k) && ca[k] !== cb[k])
    .sort();
  const metricKeys = (m: Record<string, unknown>) =>
    Object.keys(flattenJson(m)).filter((k) => !k.startsWith('published.'));
  const [ma, mb] = [load(a, 'metrics.json', false), load(b, 'metrics.json', false)];
  const [fa, fb] = [flattenJson(ma), flattenJson(mb)];
  const mk = [...new Set([...metricKeys(ma), ...metricKeys(mb)])].filter((k) => !/\[/.test(fa[k] ?? fb[k] ?? ''));
  return {
    a,
    b,
    config: keys.map((key) => ({ key, a: ca[key], b: cb[key] })),
    metrics: mk.map((key) => ({ key, a: fa[key], b: fb[key] })),
  };
}

export function formatComparison(c: RunComparison): string {
  // Long values (descriptions) are cut so the two columns stay readable; config.json has them whole.
  const cut = (v: string | undefined) => (v === undefined ? '(absent)' : v.length > 60 ? v.slice(0, 57) + '...' : v);
  const rows = (list: RunComparison['config']) => list.map((r) => [r.key, cut(r.a), cut(r.b)]);
  return [
    `A: ${c.a}`,
    `B: ${c.b}`,
    '',
    'config differences:',
    c.config.length ? textTable([['key', 'A', 'B'], ...rows(c.config)]) : '(none)',
    '',
    'metrics:',
    c.metrics.length ? textTable([['metric', 'A', 'B'], ...rows(c.metrics)]) : '(none)',
  ].join('\n');
}
