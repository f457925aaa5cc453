/**
 * Static SVG files of figures, drawn by plotly.js itself in headless Chromium (Plotly.toImage), for records that
 * must stay small and readable without a browser or a notebook (the committed reproduction records).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Figure } from './types';
import { isTableFigure, plotlySource } from './html';

/** The Chromium binary the viz and notebook checks drive; AFFECT_CHROMIUM overrides Debian's path. */
export const CHROMIUM = process.env.AFFECT_CHROMIUM ?? '/usr/bin/chromium';

/** Why headless Chromium cannot be driven here (no Chromium, no playwright-core), or undefined when it can. */
export function browserUnavailable(): string | undefined {
  try {
    require.resolve('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm ci installs it)';
  }
  return fs.existsSync(CHROMIUM)
    ? undefined
    : `no Chromium at ${CHROMIUM} (Debian: apt-get install chromium; or set AFFECT_CHROMIUM)`;
}

/** The two plotly.js calls made in the page. */
interface PlotlyPage {
  newPlot(div: HTMLElement | null, data: unknown, layout: object, config: object): Promise<unknown>;
  toImage(div: HTMLElement | null, opts: { format: 'svg'; width: number; height: number }): Promise<string>;
}

/** Each figure as a standalone SVG document, `width` x its own layout height (default 420) pixels. */
export async function figuresToSvg(figures: Figure[], opts: { width?: number } = {}): Promise<string[]> {
  const missing = browserUnavailable();
  if (missing) throw new Error(`figuresToSvg: ${missing}`);
  const table = figures.findIndex(isTableFigure);
  if (table >= 0)
    throw new Error(`figuresToSvg: figure ${table + 1} is a table (tables are drawn as HTML, not by plotly)`);
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-svg-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  try {
    const page = await context.newPage();
    await page.route('**/*', (route) =>
      /^(about|data):/.test(route.request().url()) ? route.continue() : route.abort(),
    );
    await page.setContent('<html><body><div id="plot"></div></body></html>');
    await page.addScriptTag({ content: plotlySource() });
    const width = opts.width ?? 760;
    const out: string[] = [];
    for (const f of figures) {
      const height = typeof f.layout.height === 'number' ? f.layout.height : 420;
      const url = await page.evaluate(
        async ({ fig, width, height }) => {
          const P = (window as unknown as { Plotly: PlotlyPage }).Plotly;
          const div = document.getElementById('plot');
          await P.newPlot(div, fig.data, { ...fig.layout, width, height }, { staticPlot: true });
          return await P.toImage(div, { format: 'svg', width, height });
        },
        { fig: f, width, height },
      );
      const comma = url.indexOf(',');
      const body = url.slice(comma + 1);
      out.push(
        url.slice(0, comma).endsWith(';base64')
          ? Buffer.from(body, 'base64').toString('utf8')
          : decodeURIComponent(body),
      );
    }
    return out;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
