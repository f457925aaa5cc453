/**
 * Inline display in a tslab notebook. Every output that draws a plot carries plotly.js itself (gzipped, unpacked once per
 * page), so a saved notebook's plots draw whichever cells were cleared, re-run or reordered; tables are plain HTML.
 */
import { TABLE_STYLE, figureHtml, isTableFigure, plotlyLoaderScript } from './html';
import type { Figure } from './types';

/** The HTML one show() output holds: the figures in order, with the plotly.js loader when any of them is a plot. */
export function displayHtml(...figs: Figure[]): string {
  if (figs.length === 0) throw new Error('show(): no figure given');
  const parts = figs.map((f) => figureHtml(f));
  if (figs.some((f) => isTableFigure(f))) parts.unshift(TABLE_STYLE);
  if (figs.some((f) => !isTableFigure(f))) parts.unshift(plotlyLoaderScript());
  return parts.join('\n');
}

interface TslabDisplay {
  html(s: string): void;
}

/** tslab's display, present only inside a tslab kernel (tslab is loaded lazily so the library works without it). */
function tslabDisplay(): TslabDisplay {
  try {
    return (require('tslab') as { display: TslabDisplay }).display;
  } catch (e) {
    throw new Error(
      `show(): needs the tslab kernel (require('tslab') failed: ${(e as Error).message}); outside a notebook use htmlPage()/writeHtmlPage()`,
    );
  }
}

/**
 * Shows figures inline in a tslab notebook (JupyterLab, classic Notebook and nbconvert's HTML export), as one output.
 * Several figures in one call share one copy of plotly.js (about 0.63 MB per output that has plots).
 */
export function show(...figs: Figure[]): void {
  tslabDisplay().html(displayHtml(...figs));
}

/** Shows raw HTML (e.g. a table from tableHtml or a DataFrame's) inline in a tslab notebook. */
export function showHtml(html: string): void {
  tslabDisplay().html(html);
}
