/**
 * Grad-CAM points where the evidence is: a tiny conv net learns a synthetic face task whose class is decided by one
 * region, the mouth (a horizontal bar, "smile", against a vertical one, "open mouth"; both classes have the same two
 * eyes), and for the images of the smiling class most of the heatmap's mass falls in the mouth area. Trains for a few
 * seconds on the wasm backend, with seeded weights and data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { makeRng } from '../lib/random';
import { buildModel } from '../lib/models';
import { defaultCamLayer, gradCam, gradCamFigure, massInside, overlayHeatmap } from '../lib/predict';

const SIZE = 32;
/** Where the mouth is drawn (anywhere inside this box). */
const MOUTH = { x: 8, y: 21, width: 16, height: 8 };
const BACKGROUND = 80;

function fill(img: Float32Array, x0: number, y0: number, w: number, h: number): void {
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) img[y * SIZE + x] = 230;
}

/** Gray 32x32 faces: noise, two 3x3 eyes at a random height, and a mouth: class 1 a 10x3 bar, class 0 a 3x8 bar. */
function faces(n: number, seed: string): { xs: tf.Tensor4D; ys: tf.Tensor1D; labels: number[] } {
  const rng = makeRng(seed);
  const data = new Float32Array(n * SIZE * SIZE);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const img = data.subarray(i * SIZE * SIZE, (i + 1) * SIZE * SIZE);
    for (let k = 0; k < img.length; k++) img[k] = BACKGROUND + 30 * rng();
    const ey = 5 + Math.floor(rng() * 4);
    const ex = 7 + Math.floor(rng() * 4);
    fill(img, ex, ey, 3, 3);
    fill(img, ex + 12, ey, 3, 3);
    const label = i % 2;
    const [w, h] = label === 1 ? [10, 3] : [3, 8];
    fill(
      img,
      MOUTH.x + Math.floor(rng() * (MOUTH.width - w + 1)),
      MOUTH.y + Math.floor(rng() * (MOUTH.height - h + 1)),
      w,
      h,
    );
    labels.push(label);
  }
  return { xs: tf.tensor4d(data, [n, SIZE, SIZE, 1]), ys: tf.tensor1d(labels), labels };
}

function tinyNet(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const input = tf.input({ shape: [SIZE, SIZE, 1] });
  // Centred on the background, so that 'same' padding draws no edge around the image.
  let x = tf.layers.rescaling({ scale: 1 / 255, offset: -BACKGROUND / 255 - 0.06 }).apply(input) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({
      filters: 8,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      name: 'conv1',
      kernelInitializer: init(1),
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({
      filters: 16,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      name: 'conv2',
      kernelInitializer: init(2),
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: 2, activation: 'softmax', name: 'predictions', kernelInitializer: init(3) })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

test('Grad-CAM puts most of its mass on the region that decides the class', async () => {
  await initBackend('wasm');
  const model = tinyNet();
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy' });
  const train = faces(240, 'gradcam-train');
  await model.fit(train.xs, train.ys, { epochs: 20, batchSize: 32, shuffle: false, verbose: 0 });
  const test = faces(40, 'gradcam-test');
  const acc = tf.tidy(
    () =>
      tf.mean(tf.equal(tf.argMax(model.predict(test.xs) as tf.Tensor, -1), tf.cast(test.ys, 'int32'))).dataSync()[0],
  );
  assert.ok(acc >= 0.95, `the net must learn the task first: test accuracy ${acc}`);

  assert.equal(defaultCamLayer(model).name, 'conv2');
  // The mouth area, widened by 2 px: the heatmap is upsampled from 16x16, so evidence spreads a little.
  const region = { x: MOUTH.x - 2, y: MOUTH.y - 2, width: MOUTH.width + 4, height: MOUTH.height + 4 };
  const areaShare = (region.width * region.height) / (SIZE * SIZE);
  const shares: number[] = [];
  for (let i = 0; i < test.labels.length; i++) {
    if (test.labels[i] !== 1) continue;
    const x = tf.slice(test.xs, [i, 0, 0, 0], [1, SIZE, SIZE, 1]);
    const cam = gradCam(model, x, { classIndex: 1 });
    x.dispose();
    assert.equal(cam.layer, 'conv2');
    assert.equal(cam.heatmap.length, SIZE * SIZE);
    const peak = cam.heatmap.indexOf(Math.max(...cam.heatmap));
    assert.ok(Math.abs(cam.heatmap[peak] - 1) < 1e-5, 'heatmap is normalised to a maximum of 1');
    const [py, px] = [Math.floor(peak / SIZE), peak % SIZE];
    assert.ok(
      px >= region.x && px < region.x + region.width && py >= region.y && py < region.y + region.height,
      `image ${i}: the peak (${px}, ${py}) is outside the mouth area`,
    );
    shares.push(massInside(cam, region));
  }
  const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
  const shown = shares.map((s) => s.toFixed(2)).join(' ');
  // The area is 24% of the image: a heatmap blind to the evidence would put about that much there.
  assert.ok(
    mean > 0.55,
    `mean share of heatmap mass in the mouth area ${mean.toFixed(3)} (area ${areaShare.toFixed(2)}; per image: ${shown})`,
  );
  assert.ok(Math.min(...shares) > 1.5 * areaShare, `every image: ${shown}`);

  // The model is left as it was: the wrapped call is removed, and a second pass gives the same map.
  const x0 = tf.slice(test.xs, [1, 0, 0, 0], [1, SIZE, SIZE, 1]);
  const a = gradCam(model, x0, { classIndex: 1 });
  const b = gradCam(model, x0, { layer: 'conv2' });
  assert.deepEqual(
    Array.from(a.heatmap),
    Array.from(b.heatmap),
    'the default class (the predicted one) and layer give the same map',
  );
  assert.ok(!Object.prototype.hasOwnProperty.call(model.getLayer('conv2'), 'call'));
  assert.throws(() => gradCam(model, x0, { layer: 'gap' }), /not \[batch, height, width, channels\]/);
  x0.dispose();
  tf.dispose([train.xs, train.ys, test.xs, test.ys]);
  model.dispose();
});

test('overlay and figure: heatmap blended in jet colours, one row of face + overlay per face', () => {
  const rgb = new Uint8Array(4 * 3).fill(100);
  const heat = Float32Array.from([0, 0.5, 1, 0]);
  const out = overlayHeatmap(rgb, heat, 0.5);
  assert.deepEqual(Array.from(out.subarray(0, 3)), [50, 50, 114]); // 0: dark blue
  assert.deepEqual(Array.from(out.subarray(6, 9)), [114, 50, 50]); // 1: dark red
  const fig = gradCamFigure([
    { rgb, size: 2, heatmap: heat, label: 'a.png: happy 90%' },
    { rgb, size: 2, heatmap: heat, label: 'b' },
  ]);
  assert.equal(fig.data.filter((d) => d.type === 'image').length, 4);
  assert.equal(fig.data.filter((d) => d.type === 'heatmap').length, 2);
  assert.deepEqual(fig.data.find((d) => d.type === 'heatmap')!.z, [
    [0, 0.5],
    [1, 0],
  ]);
});

test('Grad-CAM runs on the zoo models at their last convolutional stage', async () => {
  await initBackend('wasm');
  for (const name of ['cnn4', 'resnet18', 'resnet50-imagenet']) {
    const model = await buildModel(name, { inputShape: [64, 64, 3], outputUnits: 3, weights: 'random' });
    const layer = defaultCamLayer(model);
    const shape = layer.outputShape as number[];
    // The last layer with a spatial map: what follows only pools, flattens or is dense.
    const after = model.layers.slice(model.layers.indexOf(layer) + 1);
    assert.ok(
      after.every((l) => (l.outputShape as number[]).length === 2 || /Pool|Flatten/.test(l.getClassName())),
      `${name}: ${layer.name} is followed by ${after.map((l) => l.getClassName()).join(', ')}`,
    );
    const x = tf.randomUniform<tf.Rank.R4>([1, 64, 64, 3], 0, 255, 'float32', 3);
    const cam = gradCam(model, x);
    assert.equal(cam.heatmap.length, 64 * 64);
    assert.ok(
      cam.heatmap.every((v) => Number.isFinite(v) && v >= 0 && v <= 1),
      `${name}: heatmap values in 0..1`,
    );
    assert.ok(shape[1] > 1, `${name}: ${layer.name} is ${JSON.stringify(shape)}`);
    x.dispose();
    model.dispose();
  }
});
