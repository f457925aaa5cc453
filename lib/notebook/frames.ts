/**
 * Runs and histories as danfojs DataFrames, for notebooks (filter, group, describe as in pandas), and showFrame to show
 * one inline as an HTML table.
 */
import * as path from 'node:path';
import type * as Danfo from 'danfojs-node';
import { repoRoot } from '../paths';
import { collectRuns, readRun, type RunView } from '../runner';
import { TABLE_STYLE, escapeHtml, showHtml } from '../viz';

// danfojs-node takes about a second to load: only on first use.
let danfo: typeof Danfo | undefined;
const dfd = (): typeof Danfo => (danfo ??= require('danfojs-node') as typeof Danfo);

/** The columns of runsFrame, in order. */
export const RUN_FRAME_COLUMNS = [
  'experiment',
  'trial',
  'scale',
  'dataKind',
  'backend',
  'epochsRun',
  'epochs',
  'bestValLoss',
  'testAccuracy',
  'studyTestAccuracy',
  'seconds',
  'status',
  'created',
  'dir',
] as const;

/**
 * Every run of the run store (default <repository>/runs; sweeps' runs included), newest first, one row each, with the
 * columns of RUN_FRAME_COLUMNS: numbers are NaN where a run has none (unfinished, or not published). An empty store is
 * an error naming it.
 * Example: `const runs = await nb.runsFrame(); nb.showFrame(runs.query(runs['scale'].eq('quick')))`.
 */
export async function runsFrame(store: string = path.join(repoRoot, 'runs')): Promise<Danfo.DataFrame> {
  const runs = await collectRuns(store);
  if (runs.length === 0) throw new Error(`runsFrame: no runs in ${path.resolve(store)}`);
  const data: Record<string, (string | number)[]> = {};
  for (const c of RUN_FRAME_COLUMNS) {
    data[c] = runs.map((r) => {
      const v = r[c];
      return v === undefined ? NaN : v;
    });
  }
  return new (dfd().DataFrame)(data);
}

/**
 * A run's history, one row per epoch: `epoch` (from 1, as plots and Keras print it), then every logged metric (loss,
 * acc, val_loss, val_acc, lr, ...). `run` is a runTrial result, a run read back with runner.readRun, or a run folder.
 */
export async function historyFrame(run: Pick<RunView, 'history'> | string): Promise<Danfo.DataFrame> {
  const history = typeof run === 'string' ? (await readRun(run)).history : run.history;
  if (history.epochs.length === 0)
    throw new Error(`historyFrame: ${typeof run === 'string' ? run : 'the run'} has no epochs`);
  return new (dfd().DataFrame)({ epoch: history.epochs.map((e) => e + 1), ...history.logs });
}

/** What a DataFrame cell holds. */
type Cell = number | string | boolean | null | undefined;

const cell = (v: Cell) =>
  typeof v === 'number'
    ? Number.isNaN(v)
      ? '-'
      : Number.isInteger(v)
        ? String(v)
        : v.toFixed(4)
    : v === null || v === undefined
      ? '-'
      : String(v);

/** A DataFrame (or Series) as an HTML table: its index first when it is not 0, 1, 2, ...; at most `rows` rows (default 50). */
export function frameHtml(df: Danfo.DataFrame | Danfo.Series, opts: { rows?: number; title?: string } = {}): string {
  const limit = opts.rows ?? 50;
  const frame = df as Danfo.DataFrame;
  const isSeries = !Array.isArray((frame.values as Cell[] | Cell[][])[0]);
  const columns = isSeries ? [String((df as Danfo.Series).columns?.[0] ?? 'value')] : frame.columns;
  const values = isSeries ? (df.values as Cell[]).map((v) => [v]) : (frame.values as Cell[][]);
  const index = df.index;
  const showIndex = index.some((v, i) => v !== i);
  const head = `<tr>${showIndex ? '<th></th>' : ''}${columns.map((c) => `<th>${escapeHtml(String(c))}</th>`).join('')}</tr>`;
  const body = values
    .slice(0, limit)
    .map(
      (row, i) =>
        `<tr>${showIndex ? `<th>${escapeHtml(String(index[i]))}</th>` : ''}${row.map((v) => `<td>${escapeHtml(cell(v))}</td>`).join('')}</tr>`,
    );
  const more =
    values.length > limit
      ? `<p>${values.length - limit} more row(s) not shown (showFrame(df, { rows: ${values.length} }) shows all)</p>`
      : '';
  const caption = opts.title
    ? `<caption style="text-align:left;font-weight:600;padding:0.3em 0">${escapeHtml(opts.title)}</caption>`
    : '';
  return (
    `${TABLE_STYLE}<table class="affect-table" ` +
    `style="border-collapse:collapse;font-size:0.9em">${caption}<thead>${head}</thead><tbody>${body.join('')}</tbody></table>${more}`
  );
}

/** Shows a DataFrame or Series inline in a notebook as an HTML table (see frameHtml). */
export function showFrame(df: Danfo.DataFrame | Danfo.Series, opts: { rows?: number; title?: string } = {}): void {
  showHtml(frameHtml(df, opts));
}
