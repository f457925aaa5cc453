/**
 * `affect export <run> --web <folder>`: a static page that runs a trained model in the browser. The folder holds
 * index.html, one script (lib/predict/web/page bundled by esbuild with tfjs and face-api's browser build), the model in
 * tfjs layers format, the detector's weights, tfjs' wasm binaries and the page's settings; nothing is fetched from elsewhere.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../atomic';
import { saveModel } from '../models';
import { escapeHtml } from '../viz/html';
import { faceApiModelDir } from './detector';
import { DEFAULT_FACE_OPTIONS, DETECTOR_NETS, type FaceOptions } from './faces';
import { loadPredictor } from './load';
import { WEB_CONFIG_FILE, type WebConfig } from './web-config';

export const WEB_SCRIPT = 'affect-web.js';
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

export interface ExportWebOptions {
  face?: Partial<FaceOptions>;
  /** Classes listed per face. Default 3. */
  top?: number;
  /** Page heading. Default: the run's experiment and trial, from its config.json. */
  title?: string;
  /** Minify the script. Default true. */
  minify?: boolean;
}

export interface ExportWebResult {
  dir: string;
  files: string[];
  /** Bytes of the bundled script. */
  scriptBytes: number;
}

/**
 * Bundles the page script: tfjs, its backends and face-api's browser build in; sharp and node:fs (imported, never
 * called, by lib/data/image) left out.
 */
async function bundle(outfile: string, minify: boolean): Promise<void> {
  const esbuild = await import('esbuild');
  const entry = require.resolve('./web/page');
  const nodeOnly: import('esbuild').Plugin = {
    name: 'node-only',
    setup(build) {
      build.onResolve({ filter: /^(sharp|node:fs|fs)$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
      build.onLoad({ filter: /.*/, namespace: 'node-only' }, () => ({
        contents: 'module.exports = {};',
        loader: 'js',
      }));
    },
  };
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify,
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [nodeOnly],
  });
  if (result.errors.length)
    throw new Error(`export: bundling the page failed: ${result.errors.map((e) => e.text).join('; ')}`);
}

function indexHtml(title: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
#drop{border:2px dashed #999;border-radius:8px;padding:2em;text-align:center;margin:1em 0}
#drop.over{border-color:#ff2d55;background:#fff0f3}
.result{border-top:1px solid #ddd;padding:1em 0}.result h2{font-size:1.05em}
canvas.photo{max-width:100%;max-height:480px}
canvas.crop,canvas.cam{width:160px;height:160px;image-rendering:pixelated;margin-right:8px}
.faces li.face{margin:0.6em 0}.probs{margin:0.2em 0;color:#555}
figure{margin:0.4em 0}figcaption{font-size:0.85em;color:#666}.error{color:#b00}
</style>
</head>
<body data-state="loading">
<h1 id="title">${escapeHtml(title)}</h1>
<p id="status">Loading the model... (this page must be served over HTTP, e.g. <code>npx http-server .</code> in its folder;
opened as a file it cannot load its model)</p>
<div id="drop">Drop photos here, or <input type="file" id="files" accept="image/*" multiple></div>
<p>Everything runs in this browser with TensorFlow.js: no photo leaves the machine.</p>
<div id="results"></div>
<script src="${WEB_SCRIPT}"></script>
</body>
</html>
`;
}

/** The page title for a model: its run's experiment and trial, from the config.json in `dir` or above it, when there is one. */
function runTitle(dir: string): string {
  for (const d of [dir, path.dirname(dir)]) {
    try {
      const config = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8')) as {
        run?: { experiment?: string; trial?: string };
      };
      if (config.run?.experiment) return `affect-lab: ${config.run.experiment} / ${config.run.trial ?? '?'}`;
    } catch {
      // no run record here
    }
  }
  return 'affect-lab: facial expression';
}

/**
 * Writes the page for the trained model in `runOrModel` (a run folder or a saved model folder) into `outDir`, which must
 * be new, empty, or an earlier export (then it is replaced).
 */
export async function exportWeb(
  runOrModel: string,
  outDir: string,
  opts: ExportWebOptions = {},
): Promise<ExportWebResult> {
  const dir = path.resolve(outDir);
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`export: ${outDir} exists and is not a folder`);
    const entries = fs.readdirSync(dir);
    if (entries.length > 0 && !entries.includes(WEB_CONFIG_FILE))
      throw new Error(
        `export: ${outDir} is not empty and holds no earlier export (${WEB_CONFIG_FILE}); choose a new or empty folder`,
      );
  }
  const predictor = await loadPredictor(runOrModel);
  fs.rmSync(dir, { recursive: true, force: true });
  const face = { ...DEFAULT_FACE_OPTIONS, ...opts.face };
  const config: WebConfig = {
    title: opts.title ?? runTitle(predictor.source),
    classes: predictor.classes,
    imageSize: predictor.imageSize,
    grayscale: predictor.grayscale,
    face,
    top: opts.top ?? 3,
  };
  fs.mkdirSync(path.join(dir, 'detector'), { recursive: true });
  try {
    await saveModel(predictor.model, path.join(dir, 'model'));
  } finally {
    predictor.model.dispose();
  }
  const prefix = DETECTOR_NETS[face.detector].files;
  for (const f of [`${prefix}-weights_manifest.json`, `${prefix}.bin`])
    fs.copyFileSync(path.join(faceApiModelDir(), f), path.join(dir, 'detector', f));
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  for (const f of WASM_FILES) fs.copyFileSync(path.join(wasmDir, f), path.join(dir, f));
  await bundle(path.join(dir, WEB_SCRIPT), opts.minify ?? true);
  writeFileAtomicSync(path.join(dir, WEB_CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
  writeFileAtomicSync(path.join(dir, 'index.html'), indexHtml(config.title));
  const files = (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    .sort();
  return { dir, files, scriptBytes: fs.statSync(path.join(dir, WEB_SCRIPT)).size };
}
