/**
 * The runs dashboard (`affect runs report`, runs/index.html) over a small run store: rows, figures and links, then in
 * headless Chromium: one table row per run, sorting, filtering, and the overlay drawing the chosen runs' curves.
 * Also the notebooks' DataFrames of runs and histories. Screenshot: test-output/screenshots/runs-dashboard.png.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../lib/cli/main';
import { frameHtml, historyFrame, runsFrame } from '../lib/notebook';
import { repoRoot } from '../lib/paths';
import { collectRuns, writeRunsDashboard } from '../lib/runner';
import { CHROMIUM, browserUnavailable } from '../lib/viz';

let store: string;

interface FakeRun {
  dir: string;
  experiment: string;
  trial: string;
  scale: string;
  created: string;
  kind: string;
  loss?: number[];
  valLoss?: number[];
  testAccuracy?: number;
}

/** A run folder as the runner writes it (config.json, history.csv, metrics.json, confusion.csv, report.html); no metrics when testAccuracy is absent. */
function writeRun(r: FakeRun): void {
  const dir = path.join(store, r.dir);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      created: r.created,
      run: { experiment: r.experiment, trial: r.trial, scale: r.scale, epochs: 8 },
      backend: { name: 'wasm' },
      classes: ['a', 'b'],
      data: { kind: r.kind },
    }),
  );
  if (r.loss) {
    const rows = r.loss.map(
      (l, i) => `${i},${(0.5 + i / 10).toFixed(2)},${l},${(0.4 + i / 10).toFixed(2)},${r.valLoss![i]}`,
    );
    fs.writeFileSync(path.join(dir, 'history.csv'), ['epoch,acc,loss,val_acc,val_loss', ...rows].join('\n') + '\n');
  }
  if (r.testAccuracy === undefined) return;
  const final = { loss: r.loss!.at(-1), val_loss: r.valLoss!.at(-1) };
  fs.writeFileSync(
    path.join(dir, 'metrics.json'),
    JSON.stringify({
      testAccuracy: r.testAccuracy,
      testLoss: 0.5,
      epochsRun: r.loss!.length,
      final,
      dataKind: r.kind,
      trainSeconds: 95.5,
      published: { testAccuracy: 0.9788 },
    }),
  );
  fs.writeFileSync(path.join(dir, 'confusion.csv'), 'true\\predicted,a,b\na,3,1\nb,0,4\n');
  fs.writeFileSync(path.join(dir, 'report.html'), '<!DOCTYPE html><title>report</title>');
}

before(() => {
  store = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-dashboard-'));
  writeRun({
    dir: 'face-mask/resnet18-vgg/2026-11-30T10-00-00Z',
    experiment: 'face-mask',
    trial: 'resnet18-vgg',
    scale: 'quick',
    created: '2026-11-30T10:00:00.000Z',
    kind: 'synthetic',
    loss: [0.9, 0.5, 0.3],
    valLoss: [1, 0.7, 0.6],
    testAccuracy: 0.95,
  });
  writeRun({
    dir: 'baseline/resnet18-original/2026-11-30T11-00-00Z',
    experiment: 'baseline',
    trial: 'resnet18-original',
    scale: 'smoke',
    created: '2026-11-30T11:00:00.000Z',
    kind: 'real sample',
    loss: [2, 1.8],
    valLoss: [2.1, 2.2],
    testAccuracy: 0.31,
  });
  // A sweep's trial run sits deeper in the store.
  writeRun({
    dir: 'sweeps/adam-sweep-abc/adam-lr1e-1/adam-sweep/adam-lr1e-1/2026-11-30T12-00-00Z',
    experiment: 'adam-sweep',
    trial: 'adam-lr1e-1',
    scale: 'quick',
    created: '2026-11-30T12:00:00.000Z',
    kind: 'synthetic',
    loss: [2.08, 2.08],
    valLoss: [2.08, 2.09],
    testAccuracy: 0.125,
  });
  // Interrupted in its second epoch: a history, no metrics.
  writeRun({
    dir: 'face-mask/resnet18-vgg/2026-11-30T13-00-00Z',
    experiment: 'face-mask',
    trial: 'resnet18-vgg',
    scale: 'full',
    created: '2026-11-30T13:00:00.000Z',
    kind: 'full Kaggle set',
    loss: [0.4],
    valLoss: [0.45],
  });
});

after(() => fs.rmSync(store, { recursive: true, force: true }));

test('collectRuns: every run of the store, sweeps included, newest first, with its figures, status and report link', async () => {
  const runs = await collectRuns(store);
  assert.deepEqual(
    runs.map((r) => [r.trial, r.scale, r.status]),
    [
      ['resnet18-vgg', 'full', 'incomplete'],
      ['adam-lr1e-1', 'quick', 'complete'],
      ['resnet18-original', 'smoke', 'complete'],
      ['resnet18-vgg', 'quick', 'complete'],
    ],
  );
  const mask = runs[3];
  assert.deepEqual(
    [
      mask.bestValLoss,
      mask.testAccuracy,
      mask.studyTestAccuracy,
      mask.epochsRun,
      mask.epochs,
      mask.seconds,
      mask.backend,
    ],
    [0.6, 0.95, 0.9788, 3, 8, 95.5, 'wasm'],
  );
  assert.equal(mask.report, 'face-mask/resnet18-vgg/2026-11-30T10-00-00Z/report.html');
  assert.equal(runs[0].report, undefined);
  assert.deepEqual(mask.history.epochs, [0, 1, 2]);
});

test('affect runs report writes <store>/index.html; a missing store is an error', async () => {
  const logs: string[] = [];
  const log = console.log;
  console.log = (s: string) => logs.push(s);
  try {
    assert.equal(await main(['runs', 'report', '--dir', store]), 0);
    assert.equal(await main(['runs', 'report', '--dir', path.join(store, 'nope')]), 1);
  } finally {
    console.log = log;
  }
  assert.match(logs.join('\n'), /4 run\(s\): .*index\.html/);
  const page = fs.readFileSync(path.join(store, 'index.html'), 'utf8');
  assert.ok(Buffer.byteLength(page) < 2 * 2 ** 20);
  assert.doesNotMatch(page, /<script[^>]+src=/);
});

test('runsFrame and historyFrame: DataFrames to filter, group and describe; frameHtml shows them as tables', async () => {
  const runs = await runsFrame(store);
  assert.deepEqual(runs.shape, [4, 14]);
  // danfo's types give eq() numbers only; it compares strings too.
  const quick = runs.query(runs.column('scale').eq('quick' as unknown as number));
  assert.deepEqual(quick.column('trial').values, ['adam-lr1e-1', 'resnet18-vgg']);
  const mean = runs.groupby(['experiment']).col(['testAccuracy']).mean();
  assert.ok(mean.columns.includes('testAccuracy_mean'));
  const h = await historyFrame(path.join(store, 'face-mask/resnet18-vgg/2026-11-30T10-00-00Z'));
  assert.deepEqual(h.column('epoch').values, [1, 2, 3]);
  assert.deepEqual(h.column('val_loss').values, [1, 0.7, 0.6]);
  const html = frameHtml(h, { title: 'history' });
  assert.match(html, /<caption[^>]*>history<\/caption><thead><tr><th>epoch<\/th><th>acc<\/th>/);
  assert.match(frameHtml(h, { rows: 1 }), /2 more row\(s\) not shown/);
  await assert.rejects(
    runsFrame(path.join(store, 'baseline', 'resnet18-original', 'x')),
    /runs folder .* does not exist/,
  );
});

test(
  'the dashboard in Chromium: rows = runs, sort, filter, and the overlay draws the chosen curves',
  { skip: browserUnavailable() ?? false, timeout: 120_000 },
  async () => {
    const { file } = await writeRunsDashboard(store);
    const { chromium } = require('playwright-core') as typeof import('playwright-core');
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-dash-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
      viewport: { width: 1300, height: 900 },
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.route('**/*', (route) =>
        /^(file|data):/.test(route.request().url()) ? route.continue() : route.abort(),
      );
      await page.goto('file://' + file);
      const visible = () =>
        page.$$eval('#runs tbody tr', (rows) =>
          rows.filter((r) => (r as HTMLElement).style.display !== 'none').map((r) => r.children[2].textContent),
        );
      const traces = () => page.$$eval('#overlay .scatterlayer .trace', (t) => t.length);
      assert.deepEqual(await visible(), ['resnet18-vgg', 'adam-lr1e-1', 'resnet18-original', 'resnet18-vgg']);
      // Before any choice, the newest complete run is drawn.
      await page.waitForFunction(() => document.querySelectorAll('#overlay .scatterlayer .trace').length > 0);
      assert.equal(await traces(), 1);
      // Sort by test accuracy (ascending; runs without one last), then descending.
      await page.click('th[data-key="testAccuracy"]');
      assert.deepEqual(await visible(), ['adam-lr1e-1', 'resnet18-original', 'resnet18-vgg', 'resnet18-vgg']);
      await page.click('th[data-key="testAccuracy"]');
      assert.deepEqual((await visible()).slice(0, 3), ['resnet18-vgg', 'resnet18-original', 'adam-lr1e-1']);
      // Filter: every word must match somewhere in the row.
      await page.fill('#filter', 'face-mask quick');
      assert.deepEqual(await visible(), ['resnet18-vgg']);
      await page.fill('#filter', '');
      // Choose two runs: the overlay draws exactly their curves, then the chosen metric.
      const boxes = await page.$$('#runs tbody tr input.choose');
      await boxes[0].check();
      await boxes[1].check();
      await page.waitForFunction(() => document.querySelectorAll('#overlay .scatterlayer .trace').length === 2);
      const names = await page.$$eval('#overlay .legendtext', (t) => t.map((e) => e.textContent));
      assert.equal(names.length, 2);
      await page.selectOption('#metric', 'acc');
      await page.waitForFunction(() =>
        (document.querySelector('#overlay .gtitle')?.textContent ?? '').startsWith('training accuracy'),
      );
      assert.equal(await traces(), 2);
      // Report links point at the runs' report.html files.
      const hrefs = await page.$$eval('#runs tbody a', (as) => as.map((a) => (a as HTMLAnchorElement).href));
      assert.equal(hrefs.length, 3);
      for (const h of hrefs) assert.ok(fs.existsSync(decodeURIComponent(new URL(h).pathname)), h);
      await page.screenshot({
        path: path.join(repoRoot, 'test-output', 'screenshots', 'runs-dashboard.png'),
        fullPage: true,
      });
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  },
);
