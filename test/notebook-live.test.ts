/**
 * The notebooks as a person uses them: the classic Jupyter Notebook server (Debian's `jupyter-notebook`) on 127.0.0.1
 * with a token, over a trusted copy of two notebooks in test-output/live-ui/, driven in Debian's Chromium with playwright-core.
 * 05-face-mask (quick scale, two epochs on 80 training images per class) and 01-baseline (smoke scale) are run cell by cell with Shift-Enter, waiting for each cell;
 * then: no error output, every plot drew an SVG with data, the training progress updated in place; a plot cell re-run
 * replaces its figures; a kernel restart and Run All works again; after saving, a page reload draws the saved plots
 * with nothing re-run. Screenshots: test-output/screenshots/live-*.png. Skips, saying why, without the server, the tslab
 * kernel, Chromium or playwright-core.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  cellSource,
  findJupyter,
  injectParameters,
  jupyterMissing,
  readNotebook,
  resolveNotebook,
  writeNotebook,
} from '../lib/notebook';
import { repoRoot } from '../lib/paths';
import { CHROMIUM, browserUnavailable } from '../lib/viz';
import type { BrowserContext, Page } from 'playwright-core';

const SERVER = process.env.AFFECT_JUPYTER_NOTEBOOK ?? 'jupyter-notebook';

function serverMissing(): string | undefined {
  const r = spawnSync(SERVER, ['--version'], { encoding: 'utf8' });
  return r.status === 0
    ? undefined
    : `the classic Jupyter Notebook server (${SERVER}) is not installed (Debian: apt-get install jupyter-notebook; or set AFFECT_JUPYTER_NOTEBOOK)`;
}

const skip = jupyterMissing() || serverMissing() || browserUnavailable() || false;
// Inside the repository, so that the notebooks' `import ... from 'affect-lab'` resolves as in notebooks/.
const work = path.join(repoRoot, 'test-output', 'live-ui');
const shots = path.join(repoRoot, 'test-output', 'screenshots');
const DATA_SELECTOR = '.main-svg .trace, .main-svg .imagelayer image, .main-svg .hm image';

let server: ChildProcess | undefined;
let context: BrowserContext | undefined;
let profile: string | undefined;
let base = '';
let origin = '';
let token = '';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

before(async () => {
  if (skip) return;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  // Two epochs of the quick scale on fewer images are enough to see the progress update in place, as a person
  // shortening a run would.
  const mask = readNotebook(resolveNotebook('05-face-mask'));
  const runCell = mask.cells.find((c) => cellSource(c).includes('nb.runTrial('));
  assert.ok(runCell, '05-face-mask has a runTrial cell');
  runCell.source = cellSource(runCell).replace(
    'backend: backend }',
    'backend: backend, epochs: 2, trainPerClass: 80 }',
  );
  assert.match(cellSource(runCell), /epochs: 2, trainPerClass: 80 \}/);
  writeNotebook(path.join(work, '05-face-mask.ipynb'), mask);
  writeNotebook(
    path.join(work, '01-baseline.ipynb'),
    injectParameters(readNotebook(resolveNotebook('01-baseline')), { scale: 'smoke' }),
  );
  // Trusted as a user trusts their own notebooks (`jupyter trust`, File > Trust Notebook): the server then signs them on
  // save, and their saved outputs' scripts (the plots) run when they are reopened.
  for (const f of ['05-face-mask.ipynb', '01-baseline.ipynb']) {
    const signed = spawnSync(findJupyter().python, ['-m', 'nbformat.sign', path.join(work, f)], { encoding: 'utf8' });
    assert.equal(signed.status, 0, `jupyter trust ${f}: ${signed.stderr}`);
  }
  const port = await freePort();
  token = crypto.randomBytes(16).toString('hex');
  const args = [
    '--no-browser',
    '--ip=127.0.0.1',
    `--port=${port}`,
    `--NotebookApp.token=${token}`,
    `--notebook-dir=${work}`,
    '--NotebookApp.port_retries=0',
  ];
  if (process.getuid?.() === 0) args.push('--allow-root');
  const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-jupyter-runtime-'));
  server = spawn(SERVER, args, {
    env: { ...process.env, PATH: findJupyter().pathEnv, JUPYTER_RUNTIME_DIR: runtime },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  server.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  base = origin = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/api/status?token=${token}`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 120 || server.exitCode !== null) throw new Error(`the Notebook server did not start:\n${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-live-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    viewport: { width: 1300, height: 1000 },
  });
  // Only the local server: plots must not need the network.
  await context.route('**/*', (route) =>
    /^(https?:\/\/127\.0\.0\.1:|data:|blob:|about:)/.test(route.request().url()) ? route.continue() : route.abort(),
  );
  base = `${base}/notebooks/%s?token=${token}`;
});

after(async () => {
  await context?.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    if (server.exitCode === null) server.kill('SIGKILL');
  }
});

/** The part of the classic Notebook's page API (window.Jupyter) these tests use. */
interface JupyterCell {
  cell_type: string;
  element: HTMLElement[];
  /** A number once run, '*' while queued or running, absent before. */
  input_prompt_number?: number | string;
  get_text(): string;
  set_text(text: string): void;
}
interface JupyterNotebook {
  _fully_loaded: boolean;
  dirty: boolean;
  kernel?: { is_connected?(): boolean };
  ncells(): number;
  get_cells(): JupyterCell[];
  get_cell(index: number): JupyterCell;
  get_selected_index(): number;
  select(index: number): void;
  command_mode(): void;
  focus_cell(): void;
  clear_all_output(): void;
  restart_run_all(options: { confirm: boolean }): void;
  save_notebook(): void;
}
/** window.Jupyter is there once the page's scripts have loaded (hence `?.` where a test waits for them). */
type JupyterWindow = Window & { Jupyter: { notebook: JupyterNotebook } };

async function openNotebook(name: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base.replace('%s', `${name}.ipynb`));
  await page.waitForFunction(
    () => {
      const J = (window as unknown as JupyterWindow).Jupyter;
      return (
        J?.notebook?._fully_loaded &&
        J.notebook.kernel?.is_connected?.() &&
        document.querySelector('#kernel_indicator_icon.kernel_idle_icon')
      );
    },
    undefined,
    { timeout: 120_000 },
  );
  return { page, errors };
}

/** A screenshot of the whole notebook (the classic UI scrolls inside #site, which a full-page shot would cut). */
async function screenshot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => {
    const site = document.querySelector<HTMLElement>('#site');
    if (site) site.style.height = 'auto';
    document.body.style.overflow = 'visible';
  });
  await page.screenshot({ path: path.join(shots, name), fullPage: true });
}

/** Waits until every code cell has run (a number in its prompt, none `*`) and the kernel is idle. */
async function waitAllRun(page: Page, timeout: number): Promise<void> {
  await page.waitForFunction(
    () => {
      const nb = (window as unknown as JupyterWindow).Jupyter.notebook;
      // Empty cells (the one Shift-Enter adds below the last) never get a number.
      const code = nb.get_cells().filter((c) => c.cell_type === 'code' && c.get_text().trim() !== '');
      return (
        code.every((c) => typeof c.input_prompt_number === 'number') &&
        document.querySelector('#kernel_indicator_icon.kernel_idle_icon')
      );
    },
    undefined,
    { timeout, polling: 500 },
  );
}

interface PageState {
  errors: string[];
  plots: { id: string; drawn: boolean; data: number; cell: number }[];
}

async function pageState(page: Page): Promise<PageState> {
  return page.evaluate((sel) => {
    const nb = (window as unknown as JupyterWindow).Jupyter.notebook;
    const cells: HTMLElement[] = nb.get_cells().map((c) => c.element[0]);
    return {
      errors: Array.from(document.querySelectorAll('.output_error')).map((e) => (e.textContent ?? '').slice(0, 300)),
      plots: Array.from(document.querySelectorAll('.affect-plot')).map((d) => ({
        id: d.id,
        drawn: d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg') !== null,
        data: d.querySelectorAll(sel).length,
        cell: cells.findIndex((c) => c.contains(d)),
      })),
    };
  }, DATA_SELECTOR);
}

/** Waits for every plot div on the page to be drawn by plotly (each output unpacks the library itself). */
async function waitPlotsDrawn(page: Page, expected: number): Promise<PageState> {
  await page
    .waitForFunction(
      (n) => {
        const divs = Array.from(document.querySelectorAll('.affect-plot'));
        return (
          divs.length >= n &&
          divs.every((d) => d.classList.contains('js-plotly-plot') || (d.textContent ?? '').length > 0)
        );
      },
      expected,
      { timeout: 60_000, polling: 200 },
    )
    .catch(() => undefined);
  return pageState(page);
}

function assertPlots(state: PageState, what: string): void {
  assert.deepEqual(state.errors, [], `${what}: error outputs`);
  assert.ok(state.plots.length > 0, `${what}: no plots`);
  for (const p of state.plots)
    assert.ok(
      p.drawn && p.data > 0,
      `${what}: plot ${p.id} in cell ${p.cell + 1} drew ${p.drawn ? 'no data' : 'nothing'}`,
    );
}

/**
 * Runs the notebook from its first cell with Shift-Enter, one cell at a time, waiting for each; while the cell that
 * trains runs, samples its progress entries. Returns the texts each progress entry showed.
 */
async function runCellByCell(page: Page, cellTimeout: number): Promise<Map<string, Set<string>>> {
  const progress = new Map<string, Set<string>>();
  const count: number = await page.evaluate(() => (window as unknown as JupyterWindow).Jupyter.notebook.ncells());
  await page.evaluate(() => {
    const nb = (window as unknown as JupyterWindow).Jupyter.notebook;
    nb.select(0);
    nb.command_mode();
    nb.focus_cell();
  });
  for (let i = 0; i < count; i++) {
    const info = await page.evaluate((k) => {
      const nb = (window as unknown as JupyterWindow).Jupyter.notebook;
      const c = nb.get_cell(k);
      return { selected: nb.get_selected_index(), type: c.cell_type, text: c.get_text() };
    }, i);
    assert.equal(info.selected, i, 'Shift-Enter moves to the next cell');
    await page.keyboard.press('Shift+Enter');
    if (info.type !== 'code') continue;
    const deadline = Date.now() + cellTimeout;
    for (;;) {
      const s = await page.evaluate((k) => {
        const nb = (window as unknown as JupyterWindow).Jupyter.notebook;
        const c = nb.get_cell(k);
        const entries = Array.from(c.element[0].querySelectorAll<HTMLElement>('.output_subarea'))
          .map((e) => e.innerText.trim())
          .filter((t) => /^Epoch \d+\/\d+/.test(t));
        return {
          done:
            typeof c.input_prompt_number === 'number' &&
            !!document.querySelector('#kernel_indicator_icon.kernel_idle_icon'),
          entries,
        };
      }, i);
      for (const e of s.entries) {
        const key = e.split(' ')[1];
        if (!progress.has(key)) progress.set(key, new Set());
        progress.get(key)!.add(e);
      }
      if (s.done) break;
      if (Date.now() > deadline)
        throw new Error(`cell ${i + 1} did not finish within ${cellTimeout / 1000} s: ${info.text.slice(0, 200)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  return progress;
}

/** The progress entries the training cell ends with: one per epoch, never one per update. */
async function progressEntries(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('.output_subarea'))
      .map((e) => e.innerText.trim())
      .filter((t) => /^Epoch \d+\/\d+/.test(t)),
  );
}

test(
  'live UI: 05-face-mask cell by cell, re-run, restart and Run All, save and reload',
  { skip, timeout: 1_800_000 },
  async () => {
    const { page, errors } = await openNotebook('05-face-mask');
    const progress = await runCellByCell(page, 900_000);
    const first = await waitPlotsDrawn(page, 1);
    assertPlots(first, 'cell by cell');
    await screenshot(page, 'live-05-face-mask.png');

    // Progress: one entry per epoch, each rewritten in place (some entry showed more than one text while training).
    const entries = await progressEntries(page);
    const epochs = new Set(entries.map((e) => e.split(' ')[1]));
    assert.ok(entries.length >= 2, `progress entries: ${entries.length}`);
    assert.equal(entries.length, epochs.size, `one progress entry per epoch, got ${entries.join(' | ')}`);
    assert.ok(
      [...progress.values()].some((texts) => texts.size > 1),
      'no progress entry was updated in place while training',
    );

    // Re-running a plot cell replaces its figures: as many plots as before, new ones.
    const curvesCell = await page.evaluate(() => {
      const nb = (window as unknown as JupyterWindow).Jupyter.notebook;
      return nb.get_cells().findIndex((c) => c.get_text().includes("showRun(run, 'curves'"));
    });
    assert.ok(curvesCell > 0, 'the curves cell');
    const before = first.plots.filter((p) => p.cell === curvesCell);
    assert.ok(before.length >= 2);
    const oldPrompt = await page.evaluate((k) => {
      const nb = (window as unknown as JupyterWindow).Jupyter.notebook;
      nb.select(k);
      nb.command_mode();
      nb.focus_cell();
      return nb.get_cell(k).input_prompt_number;
    }, curvesCell);
    await page.keyboard.press('Shift+Enter');
    await page.waitForFunction(
      ([k, old]) => {
        const n = (window as unknown as JupyterWindow).Jupyter.notebook.get_cell(k).input_prompt_number;
        return typeof n === 'number' && n !== old && document.querySelector('#kernel_indicator_icon.kernel_idle_icon');
      },
      [curvesCell, oldPrompt] as const,
      { timeout: 120_000 },
    );
    const rerun = await waitPlotsDrawn(page, first.plots.length);
    const after = rerun.plots.filter((p) => p.cell === curvesCell);
    assert.equal(after.length, before.length, 'a re-run plot cell has as many plots as before (replaced, not added)');
    assert.ok(
      after.every((p) => !before.some((b) => b.id === p.id)),
      'the re-run drew new plots',
    );
    assert.equal(rerun.plots.length, first.plots.length);
    assertPlots(rerun, 're-run');

    // Restart the kernel and run everything again, at the smoke scale this time (edited in the parameters cell).
    await page.evaluate(() => {
      const nb = (window as unknown as JupyterWindow).Jupyter.notebook;
      const p = nb.get_cell(0);
      p.set_text(p.get_text().replace(/const scale: string = '[a-z]+'/, "const scale: string = 'smoke'"));
      nb.clear_all_output();
      nb.restart_run_all({ confirm: false });
    });
    // Run All queues every code cell (prompt `*`) once the kernel is back; then wait for the last to finish.
    await page.waitForFunction(
      () =>
        (window as unknown as JupyterWindow).Jupyter.notebook.get_cells().some((c) => c.input_prompt_number === '*'),
      undefined,
      { timeout: 120_000, polling: 100 },
    );
    await waitAllRun(page, 900_000);
    const again = await waitPlotsDrawn(page, first.plots.length);
    assertPlots(again, 'restart and Run All');
    assert.equal(again.plots.length, first.plots.length);

    // Save, reload: the saved outputs draw on their own (each carries plotly.js), nothing re-run.
    await page.evaluate(() => (window as unknown as JupyterWindow).Jupyter.notebook.save_notebook());
    await page.waitForFunction(() => !(window as unknown as JupyterWindow).Jupyter.notebook.dirty, undefined, {
      timeout: 60_000,
    });
    // Saved outputs run their scripts on reopening only in a trusted notebook: trust it as File > Trust Notebook does
    // (the classic server signs a notebook on save only when it counts every output as the user's own).
    const trusted = await fetch(`${origin}/api/contents/05-face-mask.ipynb/trust`, {
      method: 'POST',
      headers: { Authorization: `token ${token}` },
    });
    assert.ok(trusted.ok, `trusting the notebook: HTTP ${trusted.status}`);
    const saved = readNotebook(path.join(work, '05-face-mask.ipynb'));
    const savedMb = fs.statSync(path.join(work, '05-face-mask.ipynb')).size / 2 ** 20;
    assert.ok(savedMb <= 4, `the saved notebook weighs ${savedMb.toFixed(2)} MB`);
    assert.ok(saved.cells.some((c) => (c.outputs ?? []).length > 0));
    await page.reload();
    await page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?._fully_loaded, undefined, {
      timeout: 120_000,
    });
    const reloaded = await waitPlotsDrawn(page, again.plots.length);
    assertPlots(reloaded, 'after save and reload');
    assert.equal(reloaded.plots.length, again.plots.length);
    await screenshot(page, 'live-05-face-mask-reloaded.png');
    assert.deepEqual(errors, [], 'page errors');
    await page.close();
  },
);

test('live UI: an affect notebook (01-baseline, smoke scale) cell by cell', { skip, timeout: 900_000 }, async () => {
  const { page, errors } = await openNotebook('01-baseline');
  await runCellByCell(page, 600_000);
  assertPlots(await waitPlotsDrawn(page, 1), '01-baseline cell by cell');
  await screenshot(page, 'live-01-baseline.png');
  assert.deepEqual(errors, [], 'page errors');
  await page.close();
});
