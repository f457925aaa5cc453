/**
 * Executes every notebook in notebooks/ through real Jupyter with the tslab kernel at the quick scale (the list is read at run
 * time, so new notebooks are included), then opens each HTML export in headless Chromium and checks that every show() drew a
 * plot with data. Executed notebooks: test-output/notebooks/<name>/; screenshots: test-output/screenshots/<name>.png.
 * Notebooks import the compiled library: run `npx tsc -p .` (or `npm run build`) first.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../lib/paths';
import {
  NotebookRunError,
  declaredParams,
  jupyterMissing,
  listNotebooks,
  readNotebook,
  resolveNotebook,
  runNotebook,
  type Notebook,
} from '../lib/notebook';
import { browserAvailable, launchChecker, type PlotChecker } from '../scripts/check-plots';

const skip = jupyterMissing();

// One Chromium for all notebooks, started on first use.
let checker: Promise<PlotChecker> | undefined;
after(async () => {
  if (checker) await (await checker).close();
});

/** Outputs of show(): display_data whose HTML holds a plot div. */
function countShowOutputs(nb: Notebook): number {
  let n = 0;
  for (const c of nb.cells) {
    for (const o of c.outputs ?? []) {
      const html = (o.data as Record<string, string | string[]> | undefined)?.['text/html'];
      const text = Array.isArray(html) ? html.join('') : (html ?? '');
      n += text.split('class="affect-plot"').length - 1;
    }
  }
  return n;
}

const probe = (cells: [string, string][]): Notebook => ({
  cells: cells.map(([src, tag], i) => ({
    cell_type: 'code',
    metadata: i === 0 ? { tags: [tag] } : {},
    source: src,
    outputs: [],
    execution_count: null,
  })),
  metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
  nbformat: 4,
  nbformat_minor: 5,
});

test(
  'runNotebook: a failing cell rejects with its index and message; the executed notebook shows where',
  { skip, timeout: 120_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-nbrun-'));
    try {
      const file = path.join(dir, 'fails.ipynb');
      fs.writeFileSync(
        file,
        JSON.stringify(
          probe([
            ['const n = 1;', 'parameters'],
            ['console.log("ran " + n);', ''],
            ['throw new Error("boom " + n);', ''],
            ['console.log("never");', ''],
          ]),
        ),
      );
      const err = await runNotebook(file, { params: { n: '7' }, outDir: path.join(dir, 'out') }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof NotebookRunError, `expected a NotebookRunError, got ${String(err)}`);
      assert.equal(err.result.failedCell, 2);
      assert.match(err.message, /cell 3 failed: .*Error: boom 7/);
      const executed = readNotebook(err.result.executed);
      assert.equal(executed.cells[3].execution_count, null, 'cells after the failure do not run');
      assert.ok(fs.existsSync(err.result.html));
      await assert.rejects(
        runNotebook(file, { params: { m: 1 }, outDir: path.join(dir, 'out2') }),
        /unknown parameter\(s\) m; the parameters cell declares: n/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

/**
 * Notebooks run at their default, the quick scale, where that takes a minute or so (data, the FER small nets, the seed
 * spread). The others run at smoke (every cell, plot and helper, one epoch): the ResNet notebooks train for several minutes
 * each at quick (ResNet-50s among them, whose ImageNet weights a machine may lack), and face-mask's quick run is trained
 * elsewhere: runner-learning asserts that it learns on the real set, notebook-live runs the notebook's quick cell.
 */
const QUICK = new Set(['00-data', '06-fer-small-cnn', '07-fer-learning-rates', '09-small-data-variance']);

for (const name of listNotebooks()) {
  const scale = QUICK.has(name) ? 'quick' : 'smoke';
  test(
    `notebook ${name} runs top to bottom at the ${scale} scale and every plot draws`,
    { skip, timeout: 1_200_000 },
    async () => {
      const declared = declaredParams(readNotebook(resolveNotebook(name))).map((p) => p.name);
      const params: Record<string, string> = declared.includes('scale') ? { scale } : {};
      const outDir = path.join(repoRoot, 'test-output', 'notebooks', name);
      fs.rmSync(outDir, { recursive: true, force: true });
      const r = await runNotebook(name, { params, outDir });
      const shows = countShowOutputs(readNotebook(r.executed));
      // Pages must stay light: plotly.js travels gzipped with each output that draws (about 0.63 MB each).
      for (const file of [r.executed, r.html]) {
        const mb = fs.statSync(file).size / 2 ** 20;
        assert.ok(mb <= 4, `${path.basename(file)} weighs ${mb.toFixed(2)} MB (at most 4)`);
      }
      if (!browserAvailable()) {
        console.log(`# ${name}: Chromium or playwright-core missing, plots not checked in a browser`);
        return;
      }
      checker ??= launchChecker();
      const report = await (
        await checker
      ).check(r.html, {
        expectedPlots: shows,
        screenshot: path.join(repoRoot, 'test-output', 'screenshots', `${name}.png`),
      });
      assert.deepEqual(report.errors, [], 'page errors in the HTML export');
      assert.equal(report.plots.length, shows, 'plot divs in the HTML export vs show() outputs in the notebook');
      for (const [i, p] of report.plots.entries()) {
        assert.ok(p.drawn, `${name}: plot ${i + 1} did not draw${p.text ? `: ${p.text}` : ''}`);
        assert.ok(p.dataElements > 0, `${name}: plot ${i + 1} drew no data`);
      }
    },
  );
}
