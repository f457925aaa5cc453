import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../lib/paths';
import {
  accuracyCurves, classDistribution, confusionHeatmap, displayHtml, figureHtml, htmlPage, learningRate, lossCurves, plotlySource, resetShow, resultsTable, scriptJson,
  sampleGrid, sweepCurves, writeHtmlPage, type Figure, type History,
} from '../lib/viz';
import { browserAvailable, launchChecker } from '../scripts/check-plots';

const LIB_MARK = 'plotly.js embedded by affect-lab';
const count = (s: string, sub: string) => s.split(sub).length - 1;

test('htmlPage: plotly.js embedded once, no CDN, every figure gets a plot div, text escaped', () => {
  const fig: Figure = { data: [{ type: 'bar', x: ['a'], y: [1] }], layout: {} };
  const page = htmlPage('Run <1>', [{ heading: 'A & B', text: 'first\n\nsecond <b>', figures: [fig, fig] }, { html: '<table id="t"></table>' }]);
  assert.equal(count(page, LIB_MARK), 1);
  assert.ok(page.includes(plotlySource().slice(0, 2000)));
  assert.doesNotMatch(page, /<script[^>]+src=/);
  assert.equal(count(page, 'class="affect-plot"'), 2);
  assert.ok(page.includes('<title>Run &lt;1&gt;</title>') && page.includes('<h2>A &amp; B</h2>') && page.includes('<p>second &lt;b&gt;</p>'));
  assert.ok(page.includes('<table id="t"></table>'));
});

test('figureHtml: figure text cannot end the script element early', () => {
  const html = figureHtml({ data: [{ type: 'bar', x: ['</script><b>x'], y: [1] }], layout: {} }, 'p1');
  assert.equal(count(html, '</script>'), 1);
  assert.ok(html.includes('\\u003c/script>\\u003cb>x'));
});

test('displayHtml: the first plot of a kernel carries plotly.js, later ones do not; resetShow embeds it again', () => {
  const fig: Figure = { data: [], layout: {} };
  resetShow();
  assert.equal(count(displayHtml(fig), LIB_MARK), 1);
  assert.equal(count(displayHtml(fig), LIB_MARK), 0);
  resetShow();
  assert.equal(count(displayHtml(fig), LIB_MARK), 1);
});

test('writeHtmlPage: writes the page atomically, creating folders', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-viz-'));
  try {
    const file = path.join(dir, 'a', 'report.html');
    writeHtmlPage(file, 'T', [{ text: 'x' }]);
    assert.equal(fs.readFileSync(file, 'utf8'), htmlPage('T', [{ text: 'x' }]));
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['report.html']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A page that inserts show() outputs the way the notebook front ends do. JupyterLab: innerHTML into a detached node, scripts
 * re-created (they run once attached), node attached later; here the second output is attached before the first, which
 * carries plotly.js, so the plot must wait for the library. Classic Notebook: jQuery-style, attached first, then each
 * script's text is evaluated globally (no document.currentScript).
 */
function frontEndPage(outputs: string[], style: 'lab' | 'classic'): string {
  const insert = style === 'lab'
    ? `outs.map(function (html) {
         var host = document.createElement('div'); host.innerHTML = html;
         host.querySelectorAll('script').forEach(function (old) { var s = document.createElement('script'); s.textContent = old.textContent; old.replaceWith(s); });
         return host;
       }).reverse().forEach(function (host, i) { setTimeout(function () { root.appendChild(host); }, 200 * (i + 1)); });`
    : `outs.forEach(function (html) {
         var host = document.createElement('div'); host.innerHTML = html; root.appendChild(host);
         host.querySelectorAll('script').forEach(function (s) { (0, eval)(s.textContent); });
       });`;
  return `<!DOCTYPE html><html><body><div id="root"></div>
<script id="outputs" type="application/json">${scriptJson(outputs)}</script>
<script>var root = document.getElementById('root'); var outs = JSON.parse(document.getElementById('outputs').textContent); ${insert}</script>
</body></html>`;
}

test('plots draw in headless Chromium', { skip: browserAvailable() ? false : 'Chromium (/usr/bin/chromium or AFFECT_CHROMIUM) or playwright-core not installed' }, async (t) => {
  // One browser for all page checks: starting Chromium is the slow part.
  const checker = await launchChecker();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-viz-'));
  try {
    await t.test('every figure type draws with data (screenshot: test-output/screenshots/viz-figures.png)', async () => {
      const h: History = { epochs: [0, 1, 2, 3, 4], logs: { loss: [2, 1.5, 1.2, 1.1, 1], val_loss: [2.1, 1.7, 1.4, 1.5, 1.6], acc: [0.2, 0.3, 0.4, 0.5, 0.6], val_acc: [0.2, 0.25, 0.35, 0.33, 0.3], lr: [0.1, 0.1, 0.01, 0.01, 0.001] } };
      const img = (r: number) => ({ rgb: new Uint8Array(16 * 16 * 3).map((_, i) => (i % 3 === 0 ? r : i % 256)), height: 16, width: 16, label: `class ${r}` });
      const figures = [
        classDistribution({ train: { a: 3, b: 5 }, test: { a: 1, b: 2 } }),
        sampleGrid([img(0), img(120), img(240)]),
        lossCurves(h),
        accuracyCurves(h),
        learningRate(h),
        confusionHeatmap([[499, 10], [11, 472]], ['WithoutMask', 'WithMask']),
        sweepCurves({ t1: h, t2: h }),
        resultsTable([{ name: 'face mask', run: 0.95, study: 0.9788, data: 'real sample' }]),
      ];
      const file = path.join(dir, 'figures.html');
      writeHtmlPage(file, 'All figure types', [{ figures }]);
      const report = await checker.check(file, { screenshot: path.join(repoRoot, 'test-output', 'screenshots', 'viz-figures.png') });
      assert.deepEqual(report.errors, []);
      assert.equal(report.plots.length, figures.length);
      for (const [i, p] of report.plots.entries()) {
        assert.ok(p.drawn, `figure ${i} did not draw: ${p.text}`);
        assert.ok(p.dataElements > 0, `figure ${i} drew no data`);
      }
    });
    for (const style of ['lab', 'classic'] as const) {
      await t.test(`show() outputs draw when inserted as ${style === 'lab' ? 'JupyterLab' : 'the classic Notebook'} inserts them`, async () => {
        const h: History = { epochs: [0, 1, 2], logs: { loss: [3, 2, 1], val_loss: [3, 2.5, 2.7] } };
        resetShow();
        const outputs = [displayHtml(lossCurves(h)), displayHtml(confusionHeatmap([[1, 2], [3, 4]], ['a', 'b']))];
        const file = path.join(dir, `${style}.html`);
        fs.writeFileSync(file, frontEndPage(outputs, style));
        const report = await checker.check(file, { expectedPlots: 2 });
        assert.deepEqual(report.errors, []);
        assert.equal(report.plots.length, 2);
        assert.ok(report.plots.every((p) => p.drawn && p.dataElements > 0), JSON.stringify(report.plots));
      });
    }
  } finally {
    await checker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
