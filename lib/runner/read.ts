/** Reading a finished run folder back (config.json, metrics.json, history.csv, confusion.csv) to show or compare it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCsv } from '../data/csv';
import type { RunConfig } from '../experiments';
import type { TrainHistory } from '../train';
import type { RunView } from './report';
import type { RunMetrics } from './run-experiment';

/** A finished run as read from its folder: what its figures are drawn from, and where and when it ran. */
export interface StoredRun extends RunView {
  runDir: string;
  /** ISO time the run started. */
  created: string;
  /** The backend it trained on (tensorflow, wasm or cpu). */
  backend: string;
}

function readJsonFile<T>(file: string, what: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${what}: ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${what}: ${file} is not valid JSON (${(e as Error).message})`);
  }
}

/** How parseHistoryCsv treats a file with no epochs and a last row cut short. */
export interface HistoryCsvOptions {
  /** A header alone is no epochs rather than an error. Default false. */
  allowEmpty?: boolean;
  /** A last row with the wrong number of cells (a run killed while appending it, which a resumed run writes again) is left out. Default false. */
  dropTornLast?: boolean;
}

/** history.csv (the CSV logger's `epoch,<keys...>` rows, 0-based epochs as Keras' CSVLogger) as a history; empty cells are NaN. */
export function parseHistoryCsv(text: string, file = 'history.csv', o: HistoryCsvOptions = {}): TrainHistory {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0 || (lines.length < 2 && !o.allowEmpty)) throw new Error(`${file}: no epochs`);
  const [head, ...rows] = lines.map((l) => l.split(','));
  if (head[0] !== 'epoch') throw new Error(`${file}: the first column must be "epoch", found "${head[0]}"`);
  if (o.dropTornLast && rows.length > 0 && rows[rows.length - 1].length !== head.length) rows.pop();
  const keys = head.slice(1);
  const h: TrainHistory = { epochs: [], logs: Object.fromEntries(keys.map((k) => [k, [] as number[]])) };
  rows.forEach((cells, r) => {
    if (cells.length !== head.length)
      throw new Error(`${file}: line ${r + 2} has ${cells.length} cells, the header ${head.length}`);
    h.epochs.push(Number(cells[0]));
    keys.forEach((k, i) => h.logs[k].push(cells[i + 1] === '' ? NaN : Number(cells[i + 1])));
  });
  return h;
}

/** A run folder's history.csv as a history: none yet (no file) is no epochs, a torn last row is left out. */
export function readHistoryCsv(file: string): TrainHistory {
  if (!fs.existsSync(file)) return { epochs: [], logs: {} };
  return parseHistoryCsv(fs.readFileSync(file, 'utf8'), file, { allowEmpty: true, dropTornLast: true });
}

/** confusion.csv (rows true class, columns predicted, headed by class names) as a matrix in `classes` order. */
async function readConfusionCsv(file: string, classes: string[]): Promise<number[][]> {
  const table = await readCsv(file);
  const columns = table.columns.slice(1);
  if (columns.join('\n') !== classes.join('\n'))
    throw new Error(`${file}: its columns (${columns.join(', ')}) are not the run's classes (${classes.join(', ')})`);
  return table.rows.map((r) => r.slice(1).map(Number));
}

/**
 * A finished run folder (runs/<experiment>/<trial>/<time>/) read back; an unfinished one (no metrics.json) is an error
 * naming the folder.
 */
export async function readRun(dir: string): Promise<StoredRun> {
  const runDir = path.resolve(dir);
  const what = `run folder ${runDir}`;
  const config = readJsonFile<{ created?: string; run?: RunConfig; classes?: string[]; backend?: { name?: string } }>(
    path.join(runDir, 'config.json'),
    what,
  );
  if (!config.run || !config.classes)
    throw new Error(
      `${what}: config.json has no run settings or classes (not a run folder, or the run stopped before its data was read)`,
    );
  if (!fs.existsSync(path.join(runDir, 'metrics.json')))
    throw new Error(`${what}: the run has not finished (no metrics.json)`);
  const metrics = readJsonFile<RunMetrics>(path.join(runDir, 'metrics.json'), what);
  const history = readHistoryCsv(path.join(runDir, 'history.csv'));
  if (metrics.bestEpoch !== undefined) history.bestEpoch = metrics.bestEpoch - 1;
  const confusion = await readConfusionCsv(path.join(runDir, 'confusion.csv'), config.classes);
  return {
    runDir,
    created: config.created ?? '',
    backend: config.backend?.name ?? '?',
    config: config.run,
    classes: config.classes,
    metrics,
    history,
    evaluation: { confusion },
  };
}
