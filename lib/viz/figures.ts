/** Figure builders: each returns a plain plotly `{ data, layout }` spec, so a test can check what will be drawn. */
import type { DataKind, Figure, History } from './types';
import { pngDataUrl } from './png';

const TRAIN_COLOR = '#1f77b4';
const VAL_COLOR = '#ff7f0e';

/** Images per class, either one set (`{ happy: 10, sad: 4 }`) or per split (`{ train: {...}, test: {...} }`) as grouped bars. */
export function classDistribution(
  counts: Record<string, number> | Record<string, Record<string, number>>,
  opts: { title?: string } = {},
): Figure {
  const values = Object.values(counts);
  if (values.length === 0) throw new Error('classDistribution: no classes to plot (counts is empty)');
  const perSplit = values.every((v) => typeof v === 'object' && v !== null);
  if (!perSplit && !values.every((v) => typeof v === 'number')) {
    throw new Error('classDistribution: counts must map class -> number, or split -> (class -> number), not a mix');
  }
  const splits: Record<string, Record<string, number>> = perSplit
    ? (counts as Record<string, Record<string, number>>)
    : { images: counts as Record<string, number> };
  const classes = [...new Set(Object.values(splits).flatMap((c) => Object.keys(c)))].sort();
  const data = Object.entries(splits).map(([split, c]) => ({
    type: 'bar',
    name: split,
    x: classes,
    y: classes.map((k) => c[k] ?? 0),
    text: classes.map((k) => String(c[k] ?? 0)),
    textposition: 'auto',
  }));
  return {
    data,
    layout: {
      title: { text: opts.title ?? 'Images per class' },
      barmode: 'group',
      showlegend: perSplit,
      xaxis: { title: { text: 'class' } },
      yaxis: { title: { text: 'images' } },
      height: 400,
    },
  };
}

export interface SampleImage {
  /** `height x width x 3` RGB bytes, row-major. */
  rgb: Uint8Array;
  height: number;
  width: number;
  label: string;
}

/** A grid of images with their labels as titles; images are embedded as PNG data URLs in plotly image traces. */
export function sampleGrid(
  images: SampleImage[],
  opts: { columns?: number; title?: string; cellSize?: number } = {},
): Figure {
  if (images.length === 0) throw new Error('sampleGrid: no images given');
  const columns = Math.min(opts.columns ?? 8, images.length);
  const rows = Math.ceil(images.length / columns);
  const cell = opts.cellSize ?? 110;
  const data: Figure['data'] = [];
  const layout: Figure['layout'] = {
    title: { text: opts.title ?? 'Sample images' },
    grid: { rows, columns, pattern: 'independent', xgap: 0.05, ygap: 0.25 },
    height: rows * (cell + 30) + 80,
    width: columns * cell + 80,
    margin: { l: 20, r: 20, t: 60, b: 10 },
    annotations: [] as unknown[],
  };
  images.forEach((img, i) => {
    const n = i === 0 ? '' : String(i + 1);
    data.push({
      type: 'image',
      source: pngDataUrl(img.rgb, img.height, img.width),
      xaxis: `x${n}`,
      yaxis: `y${n}`,
      hovertemplate: `${img.label}<extra></extra>`,
    });
    const axis = { visible: false, showgrid: false };
    layout[`xaxis${n}`] = axis;
    layout[`yaxis${n}`] = { ...axis, scaleanchor: `x${n}` };
    (layout.annotations as unknown[]).push({
      text: img.label,
      showarrow: false,
      xref: `x${n} domain`,
      yref: `y${n} domain`,
      x: 0.5,
      y: 1,
      yanchor: 'bottom',
      font: { size: 11 },
    });
  });
  return { data, layout };
}

/**
 * Recall per class of a single network and of an ensemble of it, side by side, with the gain in each bar's hover:
 * which classes averaging snapshots helped.
 */
export function ensembleGain(
  single: { name: string; recall: number }[],
  ensemble: { name: string; recall: number }[],
  opts: { title?: string } = {},
): Figure {
  const names = single.map((c) => c.name);
  const theirs = names.map((n) => {
    const e = ensemble.find((c) => c.name === n);
    if (!e) throw new Error(`ensembleGain: the ensemble has no class "${n}"`);
    return e.recall;
  });
  const mine = single.map((c) => c.recall);
  return {
    data: [
      {
        type: 'bar',
        name: 'last network',
        x: names,
        y: mine,
        hovertemplate: '%{x}: %{y:.3f}<extra>last network</extra>',
      },
      {
        type: 'bar',
        name: 'snapshot ensemble',
        x: names,
        y: theirs,
        customdata: theirs.map((r, i) => r - mine[i]),
        hovertemplate: '%{x}: %{y:.3f} (%{customdata:+.3f})<extra>ensemble</extra>',
      },
    ],
    layout: {
      title: { text: opts.title ?? 'Recall per class: last network vs snapshot ensemble' },
      barmode: 'group',
      yaxis: { title: { text: 'recall' }, range: [0, 1] },
      height: 380,
    },
  };
}

/** The epoch the history kept: `bestEpoch`, else the epoch with the lowest val_loss (what EarlyStopping restores), else none. */
export function bestEpochOf(history: History): number | undefined {
  if (history.bestEpoch !== undefined) return history.bestEpoch;
  const v = history.logs.val_loss;
  if (!v || v.length === 0) return undefined;
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] < v[best]) best = i;
  return history.epochs[best];
}

// Histories count epochs from 0 (as Keras' History.epoch); plots number them from 1, as Keras prints them and the study reports them.
const displayEpochs = (h: History) => h.epochs.map((e) => e + 1);

function shownBest(h: History): number | undefined {
  const best = bestEpochOf(h);
  return best === undefined ? undefined : best + 1;
}

/** An epoch axis with whole-number ticks (about ten of them), so short histories do not show epoch 1.5. */
function epochAxis(epochs: number[]): Record<string, unknown> {
  return { title: { text: 'epoch' }, tick0: 1, dtick: Math.max(1, Math.ceil(epochs.length / 10)) };
}

function requireLog(history: History, key: string, who: string): number[] {
  const v = history.logs[key];
  if (!v)
    throw new Error(`${who}: history has no "${key}" log; it has: ${Object.keys(history.logs).join(', ') || '(none)'}`);
  if (v.length !== history.epochs.length) {
    throw new Error(`${who}: history log "${key}" has ${v.length} values for ${history.epochs.length} epochs`);
  }
  return v;
}

/** Train vs validation curves of one metric, with the best epoch marked by a dashed vertical line and a note. */
function trainValCurves(history: History, key: string, label: string, who: string, title?: string): Figure {
  const train = requireLog(history, key, who);
  const data: Figure['data'] = [
    {
      type: 'scatter',
      mode: 'lines+markers',
      name: `train ${label}`,
      x: displayEpochs(history),
      y: train,
      line: { color: TRAIN_COLOR },
    },
  ];
  if (history.logs[`val_${key}`]) {
    data.push({
      type: 'scatter',
      mode: 'lines+markers',
      name: `validation ${label}`,
      x: displayEpochs(history),
      y: requireLog(history, `val_${key}`, who),
      line: { color: VAL_COLOR },
    });
  }
  const best = shownBest(history);
  const layout: Figure['layout'] = {
    title: { text: title ?? `${label[0].toUpperCase()}${label.slice(1)} per epoch` },
    xaxis: epochAxis(history.epochs),
    yaxis: { title: { text: label } },
    height: 400,
  };
  if (best !== undefined) {
    layout.shapes = [
      {
        type: 'line',
        xref: 'x',
        yref: 'paper',
        x0: best,
        x1: best,
        y0: 0,
        y1: 1,
        line: { dash: 'dash', color: '#555', width: 1.5 },
      },
    ];
    layout.annotations = [
      { xref: 'x', yref: 'paper', x: best, y: 1, yanchor: 'bottom', text: `best epoch ${best}`, showarrow: false },
    ];
  }
  return { data, layout };
}

/** Training vs validation loss per epoch; the best epoch marked. */
export function lossCurves(history: History, opts: { title?: string } = {}): Figure {
  return trainValCurves(history, 'loss', 'loss', 'lossCurves', opts.title);
}

/** Training vs validation accuracy per epoch; the best epoch marked. */
export function accuracyCurves(history: History, opts: { title?: string } = {}): Figure {
  return trainValCurves(history, 'acc', 'accuracy', 'accuracyCurves', opts.title);
}

/** The learning rate per epoch on a log axis (shows ReduceLROnPlateau's steps). */
export function learningRate(history: History, opts: { title?: string } = {}): Figure {
  const lr = requireLog(history, 'lr', 'learningRate');
  return {
    data: [
      {
        type: 'scatter',
        mode: 'lines+markers',
        name: 'learning rate',
        x: displayEpochs(history),
        y: lr,
        line: { shape: 'hv' },
      },
    ],
    layout: {
      title: { text: opts.title ?? 'Learning rate per epoch' },
      xaxis: epochAxis(history.epochs),
      yaxis: { title: { text: 'learning rate' }, type: 'log' },
      height: 350,
    },
  };
}

/** A confusion matrix (rows = true class, columns = predicted) as a heatmap annotated with its counts. */
export function confusionHeatmap(matrix: number[][], classes: string[], opts: { title?: string } = {}): Figure {
  const n = classes.length;
  if (matrix.length !== n || matrix.some((r) => r.length !== n)) {
    throw new Error(
      `confusionHeatmap: matrix must be ${n}x${n} for ${n} classes, got ${matrix.length}x${matrix[0]?.length ?? 0}`,
    );
  }
  const max = Math.max(1, ...matrix.flat());
  const annotations = matrix.flatMap((row, i) =>
    row.map((v, j) => ({
      x: classes[j],
      y: classes[i],
      text: String(v),
      showarrow: false,
      font: { color: v > max / 2 ? 'white' : 'black' },
    })),
  );
  return {
    data: [
      {
        type: 'heatmap',
        z: matrix,
        x: classes,
        y: classes,
        colorscale: [
          [0, '#f7fbff'],
          [1, '#08306b'],
        ],
        hovertemplate: 'true %{y}<br>predicted %{x}<br>%{z}<extra></extra>',
      },
    ],
    layout: {
      title: { text: opts.title ?? 'Confusion matrix' },
      xaxis: { title: { text: 'predicted' }, type: 'category' },
      // First class at the top, as confusion matrices are printed.
      yaxis: { title: { text: 'true' }, type: 'category', autorange: 'reversed' },
      annotations,
      height: Math.max(350, 60 * n + 150),
    },
  };
}

/** One subplot per trial (side by side, wrapping after `columns`), each with train vs validation of `metric` (default loss). */
export function sweepCurves(
  histories: Record<string, History>,
  opts: { metric?: string; columns?: number; title?: string } = {},
): Figure {
  const names = Object.keys(histories);
  if (names.length === 0) throw new Error('sweepCurves: no histories given');
  const metric = opts.metric ?? 'loss';
  const columns = Math.min(opts.columns ?? 4, names.length);
  const rows = Math.ceil(names.length / columns);
  const data: Figure['data'] = [];
  const annotations: unknown[] = [];
  const shapes: unknown[] = [];
  const layout: Figure['layout'] = {
    title: { text: opts.title ?? `${metric} per trial` },
    grid: { rows, columns, pattern: 'independent', ygap: 0.35 },
    height: rows * 280 + 80,
  };
  names.forEach((name, i) => {
    const h = histories[name];
    const n = i === 0 ? '' : String(i + 1);
    const series: [string, string][] = [
      [metric, TRAIN_COLOR],
      [`val_${metric}`, VAL_COLOR],
    ];
    for (const [key, color] of series) {
      if (!h.logs[key]) continue;
      data.push({
        type: 'scatter',
        mode: 'lines',
        name: key.startsWith('val_') ? 'validation' : 'train',
        legendgroup: key,
        showlegend: i === 0,
        x: displayEpochs(h),
        y: requireLog(h, key, 'sweepCurves'),
        xaxis: `x${n}`,
        yaxis: `y${n}`,
        line: { color },
      });
    }
    layout[`xaxis${n}`] = epochAxis(h.epochs);
    annotations.push({
      text: name,
      showarrow: false,
      xref: `x${n} domain`,
      yref: `y${n} domain`,
      x: 0.5,
      y: 1.02,
      yanchor: 'bottom',
      font: { size: 12 },
    });
    const best = shownBest(h);
    if (best !== undefined)
      shapes.push({
        type: 'line',
        xref: `x${n}`,
        yref: `y${n} domain`,
        x0: best,
        x1: best,
        y0: 0,
        y1: 1,
        line: { dash: 'dash', color: '#555', width: 1 },
      });
  });
  if (!data.length) throw new Error(`sweepCurves: no history has a "${metric}" log`);
  layout.annotations = annotations;
  layout.shapes = shapes;
  return { data, layout };
}

export interface ResultRow {
  /** Experiment or trial, e.g. "ResNet-18, original labels". */
  name: string;
  /** The metric this run measured (e.g. test accuracy); undefined when not run. */
  run?: number;
  /** The study's published value; undefined when the study did not report one. */
  study?: number;
  /** Which data this run used. */
  data: DataKind;
  note?: string;
}

// Counts (epochs, images) read as integers; rates and losses with `digits` decimals.
const fmt = (v: number | undefined, digits: number) =>
  v === undefined || !Number.isFinite(v) ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(digits);

/** This run next to the study, as a plotly table; the last column says which data the run used (a synthetic run's numbers are not comparable). */
export function resultsTable(
  rows: ResultRow[],
  opts: { metric?: string; digits?: number; title?: string } = {},
): Figure {
  if (rows.length === 0) throw new Error('resultsTable: no rows given');
  const metric = opts.metric ?? 'test accuracy';
  const digits = opts.digits ?? 4;
  const diff = rows.map((r) =>
    r.run !== undefined && r.study !== undefined
      ? (r.run - r.study >= 0 ? '+' : '') + fmt(r.run - r.study, digits)
      : '-',
  );
  const columns = [
    rows.map((r) => r.name),
    rows.map((r) => fmt(r.run, digits)),
    rows.map((r) => fmt(r.study, digits)),
    diff,
    rows.map((r) => r.data),
    rows.map((r) => r.note ?? ''),
  ];
  return {
    data: [
      {
        type: 'table',
        columnwidth: [3, 1.2, 1.2, 1.2, 1.5, 3],
        header: {
          values: ['', `this run: ${metric}`, `study: ${metric}`, 'difference', 'data used', 'note'],
          align: 'left',
          fill: { color: '#e8eef7' },
          font: { size: 12 },
        },
        cells: {
          values: columns,
          align: 'left',
          fill: { color: [rows.map((r) => (r.data === 'synthetic' ? '#fff4e5' : 'white'))] },
          font: { size: 12 },
        },
      },
    ],
    layout: {
      title: { text: opts.title ?? 'This run vs the study' },
      height: 120 + 30 * rows.length,
      margin: { l: 10, r: 10, t: 50, b: 10 },
    },
  };
}
