/** HTML for figures: the embedded plotly.js library (never a CDN), a figure's div + draw script, and self-contained report pages. */
import * as fs from 'node:fs';
import type { Figure } from './types';
import { writeFileAtomic } from '../atomic';

let cachedSource: string | undefined;

/** plotly.js-dist's bundle, read once; `</script` is escaped so the source can sit inside a <script> element. */
export function plotlySource(): string {
  cachedSource ??= fs.readFileSync(require.resolve('plotly.js-dist'), 'utf8').replace(/<\/script/gi, '<\\/script');
  return cachedSource;
}

/** A <script> element defining `window.Plotly`. */
export function plotlyLibraryScript(): string {
  return `<script type="text/javascript">/* plotly.js embedded by affect-lab */\n${plotlySource()}\n</script>`;
}

/** JSON that is safe inside a <script> element (no `</script>` or `<!--` can end it early). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
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

/** How long a plot waits for plotly.js (loaded by an earlier output) before it says so in place of the plot. */
const WAIT_MS = 120_000;

/**
 * A div plus a script that draws `fig` into it once `window.Plotly` exists and the div is in the document.
 * Waiting matters in notebooks: JupyterLab runs an output's scripts before attaching it, and the library arrives with the first plot only.
 * Every plot div carries the `affect-plot` class so checks can count them.
 */
export function figureHtml(fig: Figure, id: string = newPlotId()): string {
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
    '    if (window.Plotly && el && el.isConnected) { window.Plotly.newPlot(el, fig.data, fig.layout, { responsive: true, displaylogo: false }); return; }',
    `    if (Date.now() - started > ${WAIT_MS}) { if (el) el.textContent = "plotly.js did not load: run the notebook from the top (the first plot embeds it) or call viz.resetShow()."; return; }`,
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
    for (const para of (s.text ?? '').split(/\n\s*\n/).filter((p) => p.trim())) parts.push(`<p>${escapeHtml(para.trim())}</p>`);
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
    '<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em}section{margin-bottom:1.5em}</style>',
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
  writeFileAtomic(file, htmlPage(title, sections));
}
