import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../lib/paths';
import {
  accuracyCurves,
  classDistribution,
  confusionHeatmap,
  displayHtml,
  figureHtml,
  htmlPage,
  learningRate,
  lossCurves,
  plotlySource,
  resultsTable,
  scriptJson,
  sampleGrid,
  sweepCurves,
  tableHtml,
  writeHtmlPage,
  type Figure,
  type History,
} from '../lib/viz';
import { browserAvailable, launchChecker } from '../scripts/check-plots';

const LIB_MARK = 'plotly.js embedded by affect-lab';
const LOADER_MARK = 'plotly.js (gzip, base64) embedded by affect-lab';
const MB = 1024 * 1024;
const count = (s: string, sub: string) => s.split(sub).length - 1;

test('htmlPage: plotly.js embedded once, no CDN, every figure gets a plot div, text escaped', () => {
  const fig: Figure = { data: [{ type: 'bar', x: ['a'], y: [1] }], layout: {} };
  const page = htmlPage('Run <1>', [
    { heading: 'A & B', text: 'first\n\nsecond <b>', figures: [fig, fig] },
    { html: '<table id="t"></table>' },
  ]);
  assert.equal(count(page, LIB_MARK), 1);
  assert.ok(page.includes(plotlySource().slice(0, 2000)));
  assert.doesNotMatch(page, /<script[^>]+src=/);
  assert.equal(count(page, 'class="affect-plot"'), 2);
  assert.ok(
    page.includes('<title>Run &lt;1&gt;</title>') &&
      page.includes('<h2>A &amp; B</h2>') &&
      page.includes('<p>second &lt;b&gt;</p>'),
  );
  assert.ok(page.includes('<table id="t"></table>'));
});

test('figureHtml: figure text cannot end the script element early', () => {
  const html = figureHtml({ data: [{ type: 'bar', x: ['</script><b>x'], y: [1] }], layout: {} }, 'p1');
  assert.equal(count(html, '</script>'), 1);
  assert.ok(html.includes('\\u003c/script>\\u003cb>x'));
});

test('displayHtml: every output with a plot carries the gzipped plotly.js loader; tables alone carry none', () => {
  const fig: Figure = { data: [{ type: 'scatter', x: [1], y: [1] }], layout: {} };
  const table = resultsTable([{ name: 'a', run: 0.5, study: 0.6, data: 'synthetic' }]);
  for (let i = 0; i < 2; i++) assert.equal(count(displayHtml(fig), LOADER_MARK), 1);
  const both = displayHtml(fig, fig, table);
  assert.equal(count(both, LOADER_MARK), 1, 'several figures in one output share one copy');
  assert.equal(count(both, 'class="affect-plot"'), 2);
  assert.equal(count(both, 'class="affect-table"'), 1);
  assert.equal(count(displayHtml(table), LOADER_MARK), 0);
  assert.throws(() => displayHtml(), /no figure given/);
});

test('page and output sizes: a report page with every figure type stays under 2 MB, a show() output under 1 MB', () => {
  const h: History = {
    epochs: [0, 1, 2],
    logs: {
      loss: [3, 2, 1],
      val_loss: [3, 2.5, 2.7],
      acc: [0.1, 0.2, 0.3],
      val_acc: [0.1, 0.15, 0.2],
      lr: [0.1, 0.1, 0.01],
    },
  };
  const figures = [
    lossCurves(h),
    accuracyCurves(h),
    learningRate(h),
    confusionHeatmap(
      [
        [1, 2],
        [3, 4],
      ],
      ['a', 'b'],
    ),
    resultsTable([{ name: 'x', run: 1, study: 1, data: 'synthetic' }]),
  ];
  const html = htmlPage('sizes', [{ figures }]);
  assert.equal(count(html, LIB_MARK), 1);
  const page = Buffer.byteLength(html);
  assert.ok(page < 2 * MB, `report page: ${(page / MB).toFixed(2)} MB`);
  const output = Buffer.byteLength(displayHtml(...figures));
  assert.ok(output < 1 * MB, `show() output: ${(output / MB).toFixed(2)} MB`);
});

test('tableHtml: a plotly table figure as an HTML table, text escaped, shaded rows kept', () => {
  const fig: Figure = {
    data: [
      {
        type: 'table',
        header: { values: ['name', 'v'] },
        cells: {
          values: [
            ['a<b', 'c'],
            ['1', '2'],
          ],
          fill: { color: [['#fff4e5', 'white']] },
        },
      },
    ],
    layout: { title: { text: 'T & U' } },
  };
  const html = tableHtml(fig);
  assert.match(html, /<caption[^>]*>T &amp; U<\/caption>/);
  assert.match(html, /<th>name<\/th><th>v<\/th>/);
  assert.match(
    html,
    /<tr style="background:#fff4e5"><td>a&lt;b<\/td><td>1<\/td><\/tr><tr><td>c<\/td><td>2<\/td><\/tr>/,
  );
  assert.equal(figureHtml(fig), html);
  assert.throws(() => tableHtml({ data: [{ type: 'bar' }], layout: {} }), /not tables/);
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
  const insert =
    style === 'lab'
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

test(
  'plots draw in headless Chromium',
  {
    skip: browserAvailable()
      ? false
      : 'Chromium (/usr/bin/chromium or AFFECT_CHROMIUM) or playwright-core not installed',
  },
  async (t) => {
    // One browser for all page checks: starting Chromium is the slow part.
    const checker = await launchChecker();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-viz-'));
    try {
      await t.test(
        'every figure type draws with data (screenshot: test-output/screenshots/viz-figures.png)',
        async () => {
          const h: History = {
            epochs: [0, 1, 2, 3, 4],
            logs: {
              loss: [2, 1.5, 1.2, 1.1, 1],
              val_loss: [2.1, 1.7, 1.4, 1.5, 1.6],
              acc: [0.2, 0.3, 0.4, 0.5, 0.6],
              val_acc: [0.2, 0.25, 0.35, 0.33, 0.3],
              lr: [0.1, 0.1, 0.01, 0.01, 0.001],
            },
          };
          const img = (r: number) => ({
            rgb: new Uint8Array(16 * 16 * 3).map((_, i) => (i % 3 === 0 ? r : i % 256)),
            height: 16,
            width: 16,
            label: `class ${r}`,
          });
          const figures = [
            classDistribution({ train: { a: 3, b: 5 }, test: { a: 1, b: 2 } }),
            sampleGrid([img(0), img(120), img(240)]),
            lossCurves(h),
            accuracyCurves(h),
            learningRate(h),
            confusionHeatmap(
              [
                [499, 10],
                [11, 472],
              ],
              ['WithoutMask', 'WithMask'],
            ),
            sweepCurves({ t1: h, t2: h }),
            resultsTable([{ name: 'face mask', run: 0.95, study: 0.9788, data: 'real sample' }]),
          ];
          const file = path.join(dir, 'figures.html');
          writeHtmlPage(file, 'All figure types', [{ figures }]);
          const report = await checker.check(file, {
            screenshot: path.join(repoRoot, 'test-output', 'screenshots', 'viz-figures.png'),
          });
          assert.deepEqual(report.errors, []);
          assert.equal(report.plots.length, figures.length - 1, 'every figure but the table is a plotly plot');
          assert.equal(report.tables, 1);
          for (const [i, p] of report.plots.entries()) {
            assert.ok(p.drawn, `figure ${i} did not draw: ${p.text}`);
            assert.ok(p.dataElements > 0, `figure ${i} drew no data`);
          }
        },
      );
      for (const style of ['lab', 'classic'] as const) {
        await t.test(
          `show() outputs draw when inserted as ${style === 'lab' ? 'JupyterLab' : 'the classic Notebook'} inserts them`,
          async () => {
            const h: History = { epochs: [0, 1, 2], logs: { loss: [3, 2, 1], val_loss: [3, 2.5, 2.7] } };
            // Each output carries plotly.js, and the later one is attached first: it must draw without the other.
            const outputs = [
              displayHtml(lossCurves(h)),
              displayHtml(
                confusionHeatmap(
                  [
                    [1, 2],
                    [3, 4],
                  ],
                  ['a', 'b'],
                ),
              ),
            ];
            const file = path.join(dir, `${style}.html`);
            fs.writeFileSync(file, frontEndPage(outputs, style));
            const report = await checker.check(file, { expectedPlots: 2 });
            assert.deepEqual(report.errors, []);
            assert.equal(report.plots.length, 2);
            assert.ok(
              report.plots.every((p) => p.drawn && p.dataElements > 0),
              JSON.stringify(report.plots),
            );
          },
        );
      }
      await t.test('a saved output draws alone: the page holds only a later plot output', async () => {
        const h: History = { epochs: [0, 1], logs: { loss: [2, 1] } };
        displayHtml(lossCurves(h));
        const file = path.join(dir, 'alone.html');
        fs.writeFileSync(
          file,
          frontEndPage([displayHtml(learningRate({ epochs: [0, 1], logs: { lr: [0.1, 0.01] } }))], 'classic'),
        );
        const report = await checker.check(file, { expectedPlots: 1 });
        assert.deepEqual(report.errors, []);
        assert.ok(
          report.plots.length === 1 && report.plots[0].drawn && report.plots[0].dataElements > 0,
          JSON.stringify(report.plots),
        );
      });
    } finally {
      await checker.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
