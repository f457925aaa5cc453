/**
 * The exported web page's script (bundled with tfjs and face-api by `affect export --web`): a person picks or drops photos
 * and sees each face boxed with its predicted class, the probabilities and the Grad-CAM overlay, all computed in the
 * browser by the same modules as `affect predict`. The page marks its state on <body data-state="loading|ready|busy|done|error">.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as faceapiBrowser from '@vladmandic/face-api/dist/face-api.esm-nobundle.js';
import '../../models/common'; // the zoo's custom layers, so the model deserialises
import type { RgbImage } from '../../data/resize';
import { predictPhotos, type PhotoPrediction, type Predictor } from '../classify';
import { DETECTOR_NETS, faceApiDetector, type FaceApi, type FaceDetector } from '../faces';
import { overlayHeatmap } from '../gradcam';
import { WEB_CONFIG_FILE, type WebConfig } from '../web-config';

const faceapi = faceapiBrowser as unknown as FaceApi;
const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
const setState = (s: string) => (document.body.dataset.state = s);

/** WebGL where the browser has it, else wasm (its binaries sit beside the page), else plain JS; `?backend=NAME` asks for one. */
async function chooseBackend(): Promise<string> {
  setWasmPaths(new URL('./', location.href).href);
  const asked = new URLSearchParams(location.search).get('backend');
  for (const name of asked ? [asked] : ['webgl', 'wasm', 'cpu']) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // try the next one
    }
  }
  throw new Error(`no TensorFlow.js backend could start${asked ? ` (asked for ${asked})` : ''}`);
}

/** A picked file as RGB pixels as stored (no colour management, alpha dropped), as the CLI decodes it. */
async function decodeFile(file: Blob): Promise<RgbImage> {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const { width, height } = bitmap;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i];
    data[j + 1] = rgba[i + 1];
    data[j + 2] = rgba[i + 2];
  }
  return { data, height, width };
}

function rgbCanvas(rgb: Uint8Array, width: number, height: number, className: string): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.className = className;
  const img = new ImageData(width, height);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    img.data[i] = rgb[j];
    img.data[i + 1] = rgb[j + 1];
    img.data[i + 2] = rgb[j + 2];
    img.data[i + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(img, 0, 0);
  return canvas;
}

function el(tag: string, attrs: Record<string, string> = {}, text?: string): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

/** One photo's card: the photo with numbered boxes, then per face its class, probabilities and Grad-CAM overlay. */
function renderResult(name: string, img: RgbImage, pred: PhotoPrediction): HTMLElement {
  const card = el('section', {
    class: 'result',
    'data-file': name,
    'data-faces': String(pred.faces.length),
    'data-detected': String(pred.detected),
  });
  card.append(el('h2', {}, name));
  const photo = rgbCanvas(img.data, img.width, img.height, 'photo');
  const ctx = photo.getContext('2d')!;
  const line = Math.max(2, Math.round(Math.max(img.width, img.height) / 300));
  pred.faces.forEach((f, i) => {
    if (!pred.detected) return;
    ctx.strokeStyle = '#ff2d55';
    ctx.lineWidth = line;
    ctx.strokeRect(f.box.x, f.box.y, f.box.width, f.box.height);
    ctx.fillStyle = '#ff2d55';
    ctx.font = `${8 * line}px sans-serif`;
    ctx.fillText(`${i + 1} ${f.top[0].label}`, f.box.x + line, f.box.y + 9 * line);
  });
  card.append(photo);
  if (pred.faces.length === 0) card.append(el('p', { class: 'none' }, 'No face found.'));
  const list = el('ol', { class: 'faces' });
  for (const f of pred.faces) {
    const item = el('li', {
      class: 'face',
      'data-label': f.top[0].label,
      'data-probability': f.top[0].probability.toFixed(6),
    });
    item.append(el('strong', { class: 'label' }, f.top[0].label));
    const probs = el('ul', { class: 'probs' });
    for (const t of f.top) probs.append(el('li', {}, `${t.label} ${(100 * t.probability).toFixed(1)}%`));
    item.append(probs);
    if (f.explanation) {
      const { rgb, size, heatmap } = f.explanation;
      const figure = el('figure');
      const empty = heatmap.every((v) => v === 0);
      const caption = empty
        ? "face as the model sees it; Grad-CAM is empty: no region raised this class's score"
        : 'face as the model sees it; Grad-CAM';
      figure.append(
        rgbCanvas(rgb, size, size, 'crop'),
        rgbCanvas(overlayHeatmap(rgb, heatmap), size, size, 'cam'),
        el('figcaption', {}, caption),
      );
      item.append(figure);
    }
    list.append(item);
  }
  card.append(list);
  return card;
}

async function main(): Promise<void> {
  setState('loading');
  const status = $('#status');
  const config = (await (await fetch(WEB_CONFIG_FILE)).json()) as WebConfig;
  document.title = config.title;
  $('#title').textContent = config.title;
  const backend = await chooseBackend();
  const model = await tf.loadLayersModel('model/model.json');
  const predictor: Predictor = { ...config, model, source: 'model/' };
  const net = DETECTOR_NETS[config.face.detector].net;
  await faceapi.nets[net].loadFromUri!('detector');
  const detect: FaceDetector = faceApiDetector(faceapi, config.face.detector, config.face.minConfidence);
  status.textContent =
    `Ready: classes ${config.classes.join(', ')}; ${config.imageSize} ` +
    `px${config.grayscale ? ' grayscale' : ''}; TensorFlow.js ${tf.version.tfjs} on ${backend}.`;
  document.body.dataset.backend = backend;
  setState('ready');

  const results = $('#results');
  const run = async (files: File[]) => {
    setState('busy');
    results.replaceChildren();
    for (const file of files) {
      try {
        const img = await decodeFile(file);
        const [pred] = await predictPhotos(
          predictor,
          [img],
          { ...config.face, top: config.top, explain: true },
          detect,
        );
        results.append(renderResult(file.name, img, pred));
      } catch (e) {
        results.append(
          el('section', { class: 'result error', 'data-file': file.name }, `${file.name}: ${(e as Error).message}`),
        );
      }
    }
    setState('done');
  };
  const input = $<HTMLInputElement>('#files');
  input.addEventListener('change', () => void run(Array.from(input.files ?? [])));
  const drop = $('#drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void run(Array.from(e.dataTransfer?.files ?? []));
  });
}

main().catch((e) => {
  $('#status').textContent = `Failed to start: ${(e as Error).message}`;
  setState('error');
});
