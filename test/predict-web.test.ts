/**
 * `affect export --web`: the exported folder, served on 127.0.0.1 and opened in Debian's Chromium (playwright-core),
 * works without any other host, takes real photos through its file picker, and shows for each face the label
 * `affect predict` gives for the same image, with a Grad-CAM overlay. Also checks the `--explain` page draws.
 * Needs AFFECT_SAMPLE_DATA and Chromium; skips without them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../lib/backend';
import {
  DEFAULT_FACE_OPTIONS,
  WEB_CONFIG_FILE,
  exportWeb,
  loadPredictor,
  predictFiles,
  writeExplainPage,
  type ImageResult,
  type Predictor,
  type WebConfig,
} from '../lib/predict';
import { CHROMIUM, browserUnavailable } from '../lib/viz/svg';
import { launchChecker } from '../scripts/check-plots';
import { SKIP_SAMPLE, sampleData, tempDir } from './data-fixtures';
import { makePhotos, makeRun, type Photos } from './predict-fixtures';

const sample = sampleData();
const skip = !sample ? SKIP_SAMPLE : (browserUnavailable() ?? false);

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
};

/** A static file server for `root` on 127.0.0.1 (an ephemeral port). */
async function serve(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(root, rel.endsWith('/') ? rel + 'index.html' : rel);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface ShownFace {
  label: string;
  probability: number;
}

describe('the exported web page', { skip }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let run: string;
  let photos: Photos;
  let predictor: Predictor;
  let expected: ImageResult[];
  let files: string[];

  before(async () => {
    await initBackend('wasm');
    tmp = tempDir('affect-web-');
    run = await makeRun(tmp.dir, sample!);
    photos = await makePhotos(path.join(tmp.dir, 'photos'), sample!);
    files = [photos.group, photos.noFace, ...photos.crops];
    predictor = await loadPredictor(run);
    expected = [];
    for await (const r of predictFiles(predictor, files, { ...DEFAULT_FACE_OPTIONS, top: 3, explain: true }))
      expected.push(r);
  });
  after(() => {
    predictor?.model.dispose();
    tmp?.cleanup();
  });

  test('export writes a self-contained folder: page, one script, model, detector weights, wasm binaries', async () => {
    const out = path.join(tmp.dir, 'web');
    const r = await exportWeb(run, out);
    for (const f of [
      'index.html',
      'affect-web.js',
      WEB_CONFIG_FILE,
      'model/model.json',
      'model/weights.bin',
      'detector/ssd_mobilenetv1_model.bin',
      'detector/ssd_mobilenetv1_model-weights_manifest.json',
      'tfjs-backend-wasm.wasm',
    ]) {
      assert.ok(r.files.includes(f), `${f} in ${r.files.join(', ')}`);
    }
    const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    assert.deepEqual(html.match(/<script[^>]*>/g), ['<script src="affect-web.js">'], 'one script, no other source');
    assert.doesNotMatch(html + fs.readFileSync(path.join(out, WEB_CONFIG_FILE), 'utf8'), /https?:\/\//);
    const config = JSON.parse(fs.readFileSync(path.join(out, WEB_CONFIG_FILE), 'utf8')) as WebConfig;
    assert.deepEqual(
      [config.classes, config.imageSize, config.grayscale, config.title],
      [['happy', 'surprise'], 48, true, 'affect-lab: predict-test / cnn4-gray'],
    );
    // An earlier export is replaced; any other non-empty folder is refused.
    await exportWeb(run, out, { face: { detector: 'tiny' } });
    assert.ok(
      fs.existsSync(path.join(out, 'detector', 'tiny_face_detector_model.bin')) &&
        !fs.existsSync(path.join(out, 'detector', 'ssd_mobilenetv1_model.bin')),
    );
    await assert.rejects(exportWeb(run, photos.dir), /is not empty and holds no earlier export/);
  });

  test('served on 127.0.0.1 and opened in Chromium (WebGL, then wasm), it labels real photos as affect predict does', async () => {
    const out = path.join(tmp.dir, 'web-page');
    await exportWeb(run, out);
    const server = await serve(out);
    const { chromium } = await import('playwright-core');
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-web-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
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
    });
    try {
      const backends: string[] = [];
      for (const query of ['', '?backend=wasm']) {
        const page = await context.newPage();
        const errors: string[] = [];
        const elsewhere: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        // Offline: anything not from the local server is refused (and recorded).
        await page.route('**/*', (route) => {
          const url = route.request().url();
          if (url.startsWith(server.url) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
          elsewhere.push(url);
          return route.abort();
        });
        await page.goto(server.url + query);
        await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 120_000 });
        assert.equal(
          await page.getAttribute('body', 'data-state'),
          'ready',
          `${await page.textContent('#status')}; ${errors.join('; ')}`,
        );
        await page.setInputFiles('#files', files);
        await page.waitForSelector('body[data-state="done"]', { timeout: 180_000 });
        const shown = await page.$$eval('.result', (cards) =>
          cards.map((c) => ({
            file: c.getAttribute('data-file'),
            detected: c.getAttribute('data-detected'),
            error: c.classList.contains('error') ? c.textContent : null,
            faces: Array.from(c.querySelectorAll('li.face')).map((f) => ({
              label: f.getAttribute('data-label')!,
              probability: Number(f.getAttribute('data-probability')),
            })),
            overlays: c.querySelectorAll('canvas.cam').length,
          })),
        );
        const backend = (await page.getAttribute('body', 'data-backend'))!;
        backends.push(backend);
        assert.deepEqual(errors, []);
        assert.deepEqual(elsewhere, []);
        assert.equal(shown.length, files.length);
        for (const [i, r] of expected.entries()) {
          const s = shown[i];
          assert.equal(s.file, path.basename(files[i]));
          assert.equal(s.error, null);
          const want: ShownFace[] = r.prediction!.faces.map((f) => ({
            label: f.top[0].label,
            probability: f.top[0].probability,
          }));
          assert.equal(s.detected, String(r.prediction!.detected), s.file);
          assert.deepEqual(
            s.faces.map((f) => f.label),
            want.map((f) => f.label),
            `${s.file} on ${backend}: page ${JSON.stringify(s.faces)}, CLI ${JSON.stringify(want)}`,
          );
          s.faces.forEach((f, k) =>
            assert.ok(
              Math.abs(f.probability - want[k].probability) < 0.01,
              `${s.file} face ${k + 1} on ${backend}: page ${f.probability}, CLI ${want[k].probability}`,
            ),
          );
          assert.equal(s.overlays, want.length, 'a Grad-CAM overlay per face');
        }
        assert.equal(shown[0].faces.length, 3);
        if (process.env.AFFECT_SCREENSHOT && !query)
          await page.screenshot({ path: process.env.AFFECT_SCREENSHOT, fullPage: true });
        await page.close();
      }
      assert.equal(backends[1], 'wasm');
    } finally {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
      await server.close();
    }
  });

  test('the --explain page draws a Grad-CAM figure per ten faces', async () => {
    const file = writeExplainPage(tmp.dir, expected, run);
    const checker = await launchChecker();
    try {
      const report = await checker.check(file, { expectedPlots: 1 });
      assert.deepEqual(report.errors, []);
      assert.equal(report.plots.length, 1);
      assert.ok(report.plots[0].drawn && report.plots[0].dataElements >= 10, JSON.stringify(report.plots));
    } finally {
      await checker.close();
    }
  });
});
