/**
 * HTML for figures: the embedded plotly.js library (never a CDN), a figure's div + draw script, tables as HTML, and
 * self-contained report pages.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import type { Figure } from './types';
import { writeFileAtomicSync } from '../atomic';

/**
 * The plotly.js bundle pages embed: the minified cartesian partial bundle (1.4 MB against 4.9 MB for the full minified
 * one), which has every trace type the figure builders draw except `table`; tables are drawn as HTML (tableHtml).
 */
export const PLOTLY_BUNDLE = 'plotly.js-cartesian-dist-min';

let cachedSource: string | undefined;
let cachedGzip: string | undefined;

/** The plotly.js bundle's source, read once; `</script` is escaped so the source can sit inside a <script> element. */
export function plotlySource(): string {
  cachedSource ??= fs.readFileSync(require.resolve(PLOTLY_BUNDLE), 'utf8').replace(/<\/script/gi, '<\\/script');
  return cachedSource;
}

/** A <script> element defining `window.Plotly`. */
export function plotlyLibraryScript(): string {
  return `<script type="text/javascript">/* plotly.js embedded by affect-lab */\n${plotlySource()}\n</script>`;
}

/** plotly.js gzipped and base64-encoded (about 0.63 MB), read and compressed once. */
function plotlyGzipBase64(): string {
  cachedGzip ??= zlib.gzipSync(plotlySource(), { level: 9 }).toString('base64');
  return cachedGzip;
}

/**
 * A <script> that defines `window.Plotly` from a gzipped copy of the library unless the page already has it: notebook
 * outputs carry one each, so every saved output draws on its own (whichever cells were cleared or re-run) while a
 * notebook of several plot outputs stays a few MB. Browsers unpack it with DecompressionStream (Chromium 80, Firefox
 * 113, Safari 16.4 and later); where that is missing the plots say so.
 */
export function plotlyLoaderScript(): string {
  return [
    '<script type="text/javascript">/* plotly.js (gzip, base64) embedded by affect-lab */',
    '(function () {',
    '  if (window.Plotly || window.affectPlotlyLoading) return;',
    '  if (typeof DecompressionStream === "undefined") { window.affectPlotlyError = "this ' +
      'browser cannot unpack the embedded plotly.js (no DecompressionStream): open the page in a ' +
      'current Chromium, Firefox or Safari"; return; }',
    `  var b64 = "${plotlyGzipBase64()}";`,
    '  var bytes = Uint8Array.from(atob(b64), function (c) { return c.charCodeAt(0); });',
    '  window.affectPlotlyLoading = new Response(new Blob([bytes]).stream().pipeThrough(new ' +
      'DecompressionStream("gzip"))).text().then(function (code) {',
    '    var s = document.createElement("script");',
    '    s.text = code;',
    '    document.head.appendChild(s);',
    '  }).catch(function (e) { window.affectPlotlyError = "plotly.js could not be unpacked: " ' +
      '+ e; }).finally(function () { window.affectPlotlyLoading = undefined; });',
    '})();',
    '</script>',
  ].join('\n');
}

/** JSON that is safe inside a <script> element (no `</script>` or `<!--` can end it early). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Text escaped for HTML element content and double-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

let counter = 0;

/** A fresh element id for a plot div (unique within this process, and random enough across kernels writing into one page). */
export function newPlotId(): string {
  counter += 1;
  return `affect-plot-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** How long a plot waits for plotly.js (unpacked by its own output's loader, or already in the page) before it says so. */
const WAIT_MS = 60_000;

/** Whether every trace of `fig` is a plotly `table`: such figures are drawn as HTML tables (the embedded bundle has no table trace). */
export function isTableFigure(fig: Figure): boolean {
  return fig.data.length > 0 && fig.data.every((t) => t.type === 'table');
}

/** What a table's header or cell holds (the figures put text and numbers there). */
type CellValue = string | number | boolean | null | undefined;

const cellText = (v: CellValue) => escapeHtml(v === undefined || v === null ? '' : String(v));

/**
 * A figure of plotly `table` traces as HTML `<table>`s: the layout title as caption, the header's values as column
 * headings, the cells' values (one array per column) as rows, a per-row fill colour (`cells.fill.color[0][row]`) as the
 * row's background. Text is escaped. The table carries the `affect-table` class.
 */
export function tableHtml(fig: Figure): string {
  if (!isTableFigure(fig)) throw new Error('tableHtml: the figure has traces that are not tables');
  const title = (fig.layout.title as { text?: string } | undefined)?.text;
  return fig.data
    .map((trace, k) => {
      const header = (trace.header as { values?: CellValue[] } | undefined)?.values ?? [];
      const cells = (trace.cells ?? {}) as { values?: CellValue[][]; fill?: { color?: unknown } };
      const columns = cells.values ?? [];
      const rows = Math.max(0, ...columns.map((c) => c.length));
      const color = cells.fill?.color;
      const fill = Array.isArray(color) && Array.isArray(color[0]) ? (color[0] as CellValue[]) : undefined;
      const body: string[] = [];
      for (let r = 0; r < rows; r++) {
        const bg =
          fill && typeof fill[r] === 'string' && fill[r] !== 'white' ? ` style="background:${cellText(fill[r])}"` : '';
        body.push(`<tr${bg}>${columns.map((c) => `<td>${cellText(c[r]).replace(/\n/g, '<br>')}</td>`).join('')}</tr>`);
      }
      return [
        '<table class="affect-table" style="border-collapse:collapse;font-size:0.9em;margin:0.5em 0 1em">',
        k === 0 && title
          ? `<caption style="text-align:left;font-weight:600;padding:0.3em 0">${escapeHtml(title)}</caption>`
          : '',
        header.length
          ? `<thead><tr style="background:#e8eef7">${header.map((h) => `<th>${cellText(h)}</th>`).join('')}</tr></thead>`
          : '',
        `<tbody>${body.join('')}</tbody>`,
        '</table>',
      ].join('');
    })
    .join('\n');
}

/** Cell borders and padding for affect-table tables, once per page or output. */
export const TABLE_STYLE =
  '<style>table.affect-table th,table.affect-table td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}</style>';

/**
 * A div plus a script that draws `fig` into it once `window.Plotly` exists and the div is in the document.
 * Waiting matters in notebooks: JupyterLab runs an output's scripts before attaching it, and the library is unpacked
 * asynchronously. Every plot div carries the `affect-plot` class so checks can count them. A figure of tables is drawn
 * as HTML tables instead (tableHtml), with no script.
 */
export function figureHtml(fig: Figure, id: string = newPlotId()): string {
  if (isTableFigure(fig)) return tableHtml(fig);
  const height = typeof fig.layout.height === 'number' ? fig.layout.height : 450;
  return [
    `<div id="${id}" class="affect-plot" style="width:100%;min-height:${height}px"></div>`,
    '<script type="text/javascript">',
    '(function () {',
    `  var id = ${scriptJson(id)}, fig = ${scriptJson(fig)}, started = Date.now();`,
    '  var script = document.currentScript;',
    '  function find() { return document.getElementById(id) || (script && script.parentNode && script.parentNode.querySelector("#" + id)); }',
    '  function draw() {',
    '    var el = find();',
    '    if (window.Plotly && el && el.isConnected) { window.Plotly.newPlot(el, fig.data, ' +
      'fig.layout, { responsive: true, displaylogo: false }); return; }',
    '    if (window.affectPlotlyError && !window.affectPlotlyLoading) { if (el) el.textContent = window.affectPlotlyError; return; }',
    `    if (Date.now() - started > ${WAIT_MS}) { if (el) el.textContent = "plotly.js did not ` +
      `load (this output carries it: is the notebook trusted?)."; return; }`,
    '    setTimeout(draw, 50);',
    '  }',
    '  draw();',
    '})();',
    '</script>',
  ].join('\n');
}

/** One part of a report page: a heading, then escaped text paragraphs, trusted raw HTML, and figures, in that order. */
export interface PageSection {
  heading?: string;
  /** Plain text; blank lines separate paragraphs. */
  text?: string;
  /** Raw HTML, inserted as is (the caller's own markup, e.g. a table). */
  html?: string;
  figures?: Figure[];
}

/** A self-contained HTML page (plotly.js embedded once, no network needed) for run reports. */
export function htmlPage(title: string, sections: PageSection[]): string {
  const body = sections.map((s) => {
    const parts: string[] = ['<section>'];
    if (s.heading) parts.push(`<h2>${escapeHtml(s.heading)}</h2>`);
    for (const para of (s.text ?? '').split(/\n\s*\n/).filter((p) => p.trim()))
      parts.push(`<p>${escapeHtml(para.trim())}</p>`);
    if (s.html) parts.push(s.html);
    for (const f of s.figures ?? []) parts.push(figureHtml(f));
    parts.push('</section>');
    return parts.join('\n');
  });
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 ' +
      '1em;color:#222}h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em}section{margin-bottom:1.5em}</style>',
    TABLE_STYLE,
    plotlyLibraryScript(),
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Writes htmlPage(title, sections) to `file` atomically (temp file + rename), creating its folder. */
export function writeHtmlPage(file: string, title: string, sections: PageSection[]): void {
  writeFileAtomicSync(file, htmlPage(title, sections));
}
