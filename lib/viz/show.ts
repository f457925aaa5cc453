/** Inline display in a tslab notebook: the first plot of a kernel carries plotly.js, later ones only their div and draw script. */
import { figureHtml, plotlyLibraryScript } from './html';
import type { Figure } from './types';

let libraryEmbedded = false;

/** The HTML show() would display now: the library first when it has not been embedded in this kernel yet. Marks it embedded. */
export function displayHtml(fig: Figure): string {
  const html = libraryEmbedded ? figureHtml(fig) : plotlyLibraryScript() + '\n' + figureHtml(fig);
  libraryEmbedded = true;
  return html;
}

/** Makes the next show() embed plotly.js again (after clearing the notebook's outputs without restarting the kernel). */
export function resetShow(): void {
  libraryEmbedded = false;
}

interface TslabDisplay {
  html(s: string): void;
}

/** tslab's display, present only inside a tslab kernel (tslab is loaded lazily so the library works without it). */
function tslabDisplay(): TslabDisplay {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('tslab') as { display: TslabDisplay }).display;
  } catch (e) {
    throw new Error(`show(): needs the tslab kernel (require('tslab') failed: ${(e as Error).message}); outside a notebook use htmlPage()/writeHtmlPage()`);
  }
}

/** Shows a figure inline in a tslab notebook (JupyterLab, classic Notebook and nbconvert's HTML export). */
export function show(fig: Figure): void {
  const display = tslabDisplay();
  display.html(displayHtml(fig));
}
