/**
 * Opens an HTML file (a report page or a notebook's HTML export) in headless Chromium, waits for every affect-lab plot to draw,
 * and reports what each drew; optionally saves a full-page screenshot. Used by the viz and notebook tests; also runnable:
 *   node dist/scripts/check-plots.js page.html [screenshot.png]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CHROMIUM, browserUnavailable } from '../lib/viz/svg';

export interface PlotReport {
  id: string;
  /** Plotly drew into the div (it has the js-plotly-plot class and a .main-svg). */
  drawn: boolean;
  /** Trace, image and table elements in the plot: zero means an empty plot. */
  dataElements: number;
  /** Text of the div when it did not draw (e.g. the "plotly.js did not load" notice). */
  text: string;
}

export interface PageReport {
  plots: PlotReport[];
  /** HTML tables drawn by affect-lab (tableHtml), which need no plotly. */
  tables: number;
  /** Uncaught page errors. */
  errors: string[];
}

/** Whether the Chromium binary and playwright-core are present (tests skip otherwise). */
export function browserAvailable(): boolean {
  return browserUnavailable() === undefined;
}

// Marks that count as "data drawn": scatter/bar traces, image traces, heatmap images, tables.
const DATA_SELECTOR = '.main-svg .trace, .main-svg .imagelayer image, .main-svg .hm image, .main-svg .table .cell-text';

export interface PlotChecker {
  check(
    htmlFile: string,
    opts?: { screenshot?: string; timeoutMs?: number; expectedPlots?: number },
  ): Promise<PageReport>;
  close(): Promise<void>;
}

/** Starts one headless Chromium (fresh profile) for several checks; close() ends it and removes the profile. */
export async function launchChecker(): Promise<PlotChecker> {
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1200, height: 900 },
  });
  const check: PlotChecker['check'] = async (htmlFile, opts = {}) => {
    const timeout = opts.timeoutMs ?? 90_000;
    const page = await context.newPage();
    try {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // Plots must not need the network: block everything that is not the file itself (nbconvert's templates link CDNs for require.js/MathJax).
      await page.route('**/*', (route) =>
        /^(file|data):/.test(route.request().url()) ? route.continue() : route.abort(),
      );
      await page.goto('file://' + path.resolve(htmlFile), { waitUntil: 'domcontentloaded', timeout });
      await page
        .waitForFunction(
          // Front ends may insert outputs after load, so wait for the expected number of plots before judging them.
          (expected) => {
            const divs = Array.from(document.querySelectorAll('.affect-plot'));
            return (
              divs.length >= expected &&
              divs.every((d) => d.classList.contains('js-plotly-plot') || (d.textContent ?? '').length > 0)
            );
          },
          opts.expectedPlots ?? 1,
          { timeout, polling: 100 },
        )
        .catch(() => undefined); // report what did draw rather than only a timeout
      const tables = await page.evaluate(() => document.querySelectorAll('table.affect-table').length);
      const plots = await page.evaluate((sel) => {
        return Array.from(document.querySelectorAll('.affect-plot')).map((d) => ({
          id: d.id,
          drawn: d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg') !== null,
          dataElements: d.querySelectorAll(sel).length,
          text: d.classList.contains('js-plotly-plot') ? '' : (d.textContent ?? '').slice(0, 200),
        }));
      }, DATA_SELECTOR);
      if (opts.screenshot) {
        fs.mkdirSync(path.dirname(opts.screenshot), { recursive: true });
        await page.screenshot({ path: opts.screenshot, fullPage: true });
      }
      return { plots, tables, errors };
    } finally {
      await page.close();
    }
  };
  return {
    check,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** One check in its own browser. */
export async function checkPlots(
  htmlFile: string,
  opts: Parameters<PlotChecker['check']>[1] = {},
): Promise<PageReport> {
  const checker = await launchChecker();
  try {
    return await checker.check(htmlFile, opts);
  } finally {
    await checker.close();
  }
}

if (require.main === module) {
  const [file, shot] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dist/scripts/check-plots.js page.html [screenshot.png]');
    process.exit(2);
  }
  void checkPlots(file, { screenshot: shot }).then((r) => {
    console.log(JSON.stringify(r, null, 2));
    process.exitCode = r.errors.length || r.plots.some((p) => !p.drawn || p.dataElements === 0) ? 1 : 0;
  });
}
