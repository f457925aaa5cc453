/** The spread of one trial over seeds: each seed's figure as a point, with the mean and one standard deviation either side. */
import type { Figure } from './types';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];

/** One metric over seeds (e.g. test accuracy), with its mean and sample standard deviation computed by the caller. */
export interface SpreadSeries {
  name: string;
  points: { seed: number; value: number }[];
  mean: number;
  /** Absent for a single seed. */
  sd?: number;
}

/**
 * Per-seed values as points (x: the seed), each series' mean as a line and mean ± one standard deviation as a shaded
 * band, both also in the legend; `reference` adds a dashed line such as a published single-run figure. Points are
 * labelled with their value.
 */
export function seedSpreadFigure(
  series: SpreadSeries[],
  opts: { title?: string; yTitle?: string; reference?: { value: number; label: string } } = {},
): Figure {
  if (series.length === 0 || series.every((s) => s.points.length === 0))
    throw new Error('seedSpreadFigure: no points to plot');
  const seeds = [...new Set(series.flatMap((s) => s.points.map((p) => p.seed)))].sort((a, b) => a - b).map(String);
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const data = series.map((s, i) => {
    const color = COLORS[i % COLORS.length];
    const line = {
      type: 'line',
      xref: 'paper',
      x0: 0,
      x1: 1,
      yref: 'y',
      y0: s.mean,
      y1: s.mean,
      line: { color, width: 2 },
    };
    shapes.push(line);
    if (s.sd !== undefined)
      shapes.push({
        type: 'rect',
        xref: 'paper',
        x0: 0,
        x1: 1,
        yref: 'y',
        y0: s.mean - s.sd,
        y1: s.mean + s.sd,
        fillcolor: color,
        opacity: 0.12,
        line: { width: 0 },
        layer: 'below',
      });
    const sd = s.sd === undefined ? '' : ` ± ${s.sd.toFixed(3)}`;
    return {
      type: 'scatter',
      mode: 'markers+text',
      // The mean in the legend rather than beside its line: two series' means are often too close to label apart.
      name: `${s.name}: mean ${s.mean.toFixed(3)}${sd}`,
      x: s.points.map((p) => String(p.seed)),
      y: s.points.map((p) => p.value),
      text: s.points.map((p) => p.value.toFixed(3)),
      textposition: 'middle right',
      textfont: { size: 9, color },
      marker: { color, size: 9 },
      hovertemplate: `seed %{x}: %{y:.4f}<extra>${s.name}</extra>`,
    };
  });
  if (opts.reference) {
    const r = opts.reference;
    shapes.push({
      type: 'line',
      xref: 'paper',
      x0: 0,
      x1: 1,
      yref: 'y',
      y0: r.value,
      y1: r.value,
      line: { color: '#555', width: 1.5, dash: 'dash' },
    });
    annotations.push({
      xref: 'paper',
      x: 0,
      xanchor: 'left',
      yref: 'y',
      y: r.value,
      yanchor: 'top',
      showarrow: false,
      text: r.label,
      font: { color: '#555', size: 11 },
    });
  }
  return {
    data,
    layout: {
      title: { text: opts.title ?? 'Spread over seeds' },
      xaxis: { title: { text: 'seed' }, type: 'category', categoryorder: 'array', categoryarray: seeds },
      yaxis: { title: { text: opts.yTitle ?? 'accuracy' } },
      shapes,
      annotations,
      legend: { orientation: 'h', y: -0.2 },
      height: 440,
    },
  };
}
