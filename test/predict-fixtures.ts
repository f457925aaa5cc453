/**
 * Fixtures for the predict tests, from the real sample images (AFFECT_SAMPLE_DATA): a finished run folder (a tiny
 * grayscale CNN trained for a few seconds on CK+ happy against surprise (about 0.97 on held-out CK+ images), saved as the runner saves its model) and test
 * photos (several real faces composited onto one larger picture, a picture with no face, pre-cropped faces, bad files).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { decodeImage } from '../lib/data';
import { cnn4, saveModel } from '../lib/models';
import { inputBatch } from '../lib/predict';

export const CLASSES = ['happy', 'surprise'];
export const SIZE = 48;

/** Writes a run folder (config.json + model/) with a cnn4 trained on `per` CK+ images per class; returns its path. */
export async function makeRun(dir: string, sample: string, per = 40): Promise<string> {
  const images: Uint8Array[] = [];
  const labels: number[] = [];
  const lists = CLASSES.map((c) =>
    fs
      .readdirSync(path.join(sample, 'ck-plus-48', c))
      .sort()
      .slice(0, per)
      .map((f) => path.join(sample, 'ck-plus-48', c, f)),
  );
  // Classes interleaved: fit's batches (unshuffled, for a repeatable model) then hold both.
  for (let i = 0; i < per; i++) {
    for (const [label, list] of lists.entries()) {
      images.push(await decodeImage(list[i], { size: SIZE }));
      labels.push(label);
    }
  }
  const model = cnn4({
    inputShape: [SIZE, SIZE, 1],
    outputUnits: CLASSES.length,
    normalize: true,
    kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }),
  });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
  const xs = inputBatch(images, SIZE, true);
  const ys = tf.tensor1d(labels);
  await model.fit(xs, ys, { epochs: 6, batchSize: 16, shuffle: false, verbose: 0 });
  tf.dispose([xs, ys]);
  const run = path.join(dir, 'run');
  await saveModel(model, path.join(run, 'model'));
  model.dispose();
  const config = {
    created: new Date().toISOString(),
    run: { experiment: 'predict-test', trial: 'cnn4-gray', imageSize: SIZE, data: { grayscale: true } },
    classes: CLASSES,
  };
  fs.writeFileSync(path.join(run, 'config.json'), JSON.stringify(config, null, 2));
  return run;
}

/** Where each real face was pasted into group.png. */
export interface Placement {
  x: number;
  y: number;
  side: number;
}

export interface Photos {
  dir: string;
  /** 1000x520: three real faces (face-mask-12k Validation crops of about 120 px, upscaled to 200 px) on a plain background. */
  group: string;
  placements: Placement[];
  /** 400x300 smooth noise: no face. */
  noFace: string;
  /** Pre-cropped faces as the datasets hold them (48 px CK+). */
  crops: string[];
}

/** The first `n` face-mask-12k Validation WithoutMask crops of at least 110 px, by name. */
async function largeCrops(sample: string, n: number): Promise<string[]> {
  const folder = path.join(sample, 'face-mask-12k-validation', 'WithoutMask');
  const out: string[] = [];
  for (const f of fs.readdirSync(folder).sort()) {
    const meta = await sharp(path.join(folder, f)).metadata();
    if ((meta.width ?? 0) >= 110) out.push(path.join(folder, f));
    if (out.length === n) break;
  }
  return out;
}

/** Writes the test photos into `dir`. */
export async function makePhotos(dir: string, sample: string): Promise<Photos> {
  fs.mkdirSync(dir, { recursive: true });
  const placements: Placement[] = [
    { x: 60, y: 60, side: 200 },
    { x: 400, y: 260, side: 200 },
    { x: 740, y: 90, side: 200 },
  ];
  const faces = await largeCrops(sample, placements.length);
  const layers = await Promise.all(
    faces.map(async (f, i) => ({
      input: await sharp(f).removeAlpha().resize(placements[i].side, placements[i].side).png().toBuffer(),
      left: placements[i].x,
      top: placements[i].y,
    })),
  );
  const group = path.join(dir, 'group.png');
  await sharp({ create: { width: 1000, height: 520, channels: 3, background: { r: 205, g: 195, b: 180 } } })
    .composite(layers)
    .png()
    .toFile(group);
  const w = 400;
  const h = 300;
  const noise = Buffer.alloc(w * h * 3);
  let s = 12345;
  for (let i = 0; i < noise.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    noise[i] = 100 + ((s >> 16) % 60);
  }
  const noFace = path.join(dir, 'no-face.png');
  await sharp(noise, { raw: { width: w, height: h, channels: 3 } })
    .blur(3)
    .png()
    .toFile(noFace);
  const crops: string[] = [];
  for (const c of CLASSES) {
    const folder = path.join(sample, 'ck-plus-48', c);
    // Images past the ones the model trained on.
    const f = fs.readdirSync(folder).sort()[60];
    crops.push(path.join(dir, `crop-${c}.png`));
    fs.copyFileSync(path.join(folder, f), crops.at(-1)!);
  }
  return { dir, group, placements, noFace, crops };
}
