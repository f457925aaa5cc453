import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { RESNET_DEPTHS, ResNetDepth, resnet, resnet18, resnet50, summaryText, paramCounts } from '../lib/models';

before(async () => {
  await initBackend('cpu');
});

// Parameter counts from the architecture alone (no tfjs): Keras convs have biases; BN has gamma, beta (trainable)
// and moving mean, variance (not).
const conv = (k: number, cin: number, cout: number) => k * k * cin * cout + cout;
const bn = (c: number) => 4 * c;
const STAGES: Record<ResNetDepth, number[]> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
  152: [3, 8, 36, 3],
};

function expectedCounts(depth: ResNetDepth, units: number): { total: number; nonTrainable: number } {
  const bottleneck = depth >= 50;
  let total = conv(7, 3, 64) + bn(64);
  let bnChannels = 64;
  let cin = 64;
  STAGES[depth].forEach((blocks, stage) => {
    const f = 64 * 2 ** stage;
    const cout = bottleneck ? 4 * f : f;
    for (let b = 0; b < blocks; b++) {
      if (bottleneck) {
        total += conv(1, cin, f) + bn(f) + conv(3, f, f) + bn(f) + conv(1, f, cout) + bn(cout);
        bnChannels += 2 * f + cout;
      } else {
        total += conv(3, cin, f) + bn(f) + conv(3, f, f) + bn(f);
        bnChannels += 2 * f;
      }
      if (b === 0 && (bottleneck || stage > 0)) {
        total += conv(1, cin, cout) + bn(cout);
        bnChannels += cout;
      }
      cin = cout;
    }
  });
  total += cin * units + units;
  return { total, nonTrainable: 2 * bnChannels };
}

test('the analytic count reproduces the published ResNet-50 figures', () => {
  assert.deepEqual(expectedCounts(50, 1000), { total: 25_636_712, nonTrainable: 53_120 });
});

test('every depth: parameter counts match the architecture; final feature map at 96x96 is 3x3 (18/34) or 2x2 (50+)', () => {
  for (const depth of RESNET_DEPTHS) {
    const model = resnet(depth, { inputShape: [96, 96, 3] });
    const want = expectedCounts(depth, 1000);
    const got = paramCounts(model);
    assert.equal(got.total, want.total, `resnet${depth} total`);
    assert.equal(got.nonTrainable, want.nonTrainable, `resnet${depth} non-trainable`);
    const side = depth >= 50 ? 2 : 3;
    assert.deepEqual(
      (model.getLayer('avg_pool').input as tf.SymbolicTensor).shape,
      [null, side, side, depth >= 50 ? 2048 : 512],
      `resnet${depth}`,
    );
    model.dispose();
  }
});

test('ResNet-50 at 224x224x3 with 1000 outputs: 25,636,712 parameters in both variants (as Keras ResNet50)', () => {
  for (const variant of ['study', 'paper'] as const) {
    const model = resnet50({ inputShape: [224, 224, 3], variant });
    assert.equal(model.countParams(), 25_636_712, variant);
    assert.equal(paramCounts(model).nonTrainable, 53_120, variant);
    model.dispose();
  }
});

test('study variant keeps its quirks; paper variant follows He et al. (Keras layout)', () => {
  const shape = (m: tf.LayersModel, name: string) => m.getLayer(name).outputShape;
  const names = (m: tf.LayersModel) => m.layers.map((l) => l.name);
  const s18 = resnet18({ inputShape: [96, 96, 3] });
  const p18 = resnet18({ inputShape: [96, 96, 3], variant: 'paper' });
  assert.deepEqual(shape(s18, 'conv1_conv'), [null, 45, 45, 64]); // valid 7x7/2
  assert.deepEqual(shape(s18, 'pool1_pool'), [null, 22, 22, 64]); // valid 3x3/2
  assert.ok(names(s18).includes('conv2_block1_2_relu')); // ReLU before the add
  assert.ok(!names(s18).includes('conv1_pad'));
  assert.deepEqual(shape(p18, 'conv1_conv'), [null, 48, 48, 64]);
  assert.deepEqual(shape(p18, 'pool1_pool'), [null, 24, 24, 64]);
  assert.ok(names(p18).includes('conv1_pad') && names(p18).includes('pool1_pad'));
  assert.ok(!names(p18).includes('conv2_block1_2_relu'));
  assert.deepEqual(shape(s18, 'conv2_block2_out'), [null, 22, 22, 64]); // basic stage 1: stride 1, no projection
  assert.ok(!names(s18).includes('conv2_block1_0_conv'));
  assert.equal(s18.getLayer('conv1_conv').getConfig().useBias, true);
  const s50 = resnet50({ inputShape: [96, 96, 3], includeTop: false });
  const p50 = resnet50({ inputShape: [96, 96, 3], includeTop: false, variant: 'paper' });
  assert.deepEqual(shape(s50, 'conv2_block1_out'), [null, 11, 11, 256]); // stride 2 even in stage 1
  assert.deepEqual(shape(p50, 'conv2_block1_out'), [null, 24, 24, 256]);
  assert.deepEqual(s50.getLayer('conv2_block1_1_conv').getConfig().strides, [2, 2]);
  assert.deepEqual(s50.getLayer('conv2_block1_0_conv').getConfig().strides, [2, 2]);
  assert.deepEqual(names(s50).slice(0, 9), [
    'input_1',
    'conv1_conv',
    'conv1_bn',
    'conv1_relu',
    'pool1_pool',
    'conv2_block1_1_conv',
    'conv2_block1_1_bn',
    'conv2_block1_1_relu',
    'conv2_block1_2_conv',
  ]);
  for (const m of [s18, p18, s50, p50]) m.dispose();
});

test('options: kernelRegularizer reaches every conv and Dense kernel', () => {
  const kernels = (m: tf.LayersModel) => m.layers.filter((l) => ['Conv2D', 'Dense'].includes(l.getClassName()));
  const plain = resnet18({ inputShape: [32, 32, 3], outputUnits: 3 });
  const reg = resnet18({
    inputShape: [32, 32, 3],
    outputUnits: 3,
    kernelRegularizer: tf.regularizers.l2({ l2: 1e-4 }),
  });
  assert.equal(kernels(reg).length, 21); // 17 convs + 3 projections + Dense
  for (const l of kernels(reg)) {
    const r = l.getConfig().kernelRegularizer as { className: string; config: { l1: number; l2: number } };
    assert.deepEqual([r.className, r.config.l1, r.config.l2], ['L1L2', 0, 1e-4], l.name); // tfjs serialises l2() as L1L2
  }
  for (const l of kernels(plain)) assert.equal(l.getConfig().kernelRegularizer, null, l.name);
  plain.dispose();
  reg.dispose();
});

test('options: kernelInitializer is used (default heUniform)', () => {
  const dflt = resnet18({ inputShape: [32, 32, 3], outputUnits: 3 });
  const init = dflt.getLayer('conv1_conv').getConfig().kernelInitializer as {
    className: string;
    config: Record<string, unknown>;
  };
  assert.equal(init.className, 'VarianceScaling');
  assert.deepEqual([init.config.scale, init.config.mode, init.config.distribution], [2, 'fanIn', 'uniform']);
  const ones = resnet18({ inputShape: [32, 32, 3], outputUnits: 3, kernelInitializer: 'ones' });
  for (const name of ['conv1_conv', 'conv5_block2_2_conv', 'predictions']) {
    assert.equal(ones.getLayer(name).getWeights()[0].min().dataSync()[0], 1, name);
    assert.equal(ones.getLayer(name).getWeights()[0].max().dataSync()[0], 1, name);
  }
  dflt.dispose();
  ones.dispose();
});

test('options: normalize adds Rescaling(1/255); afterInput (layer, list, function) comes after it', () => {
  const inbound = (m: tf.LayersModel, name: string) =>
    m.getLayer(name).inboundNodes[0].inboundLayers.map((l) => l.name);
  const plain = resnet18({ inputShape: [32, 32, 3], outputUnits: 3 });
  assert.ok(!plain.layers.some((l) => l.getClassName() === 'Rescaling'));
  assert.deepEqual(inbound(plain, 'conv1_conv'), ['input_1']);
  const one = resnet18({
    inputShape: [32, 32, 3],
    outputUnits: 3,
    normalize: true,
    afterInput: tf.layers.gaussianNoise({ stddev: 0.1, name: 'noise' }),
  });
  assert.equal(one.getLayer('rescaling').getConfig().scale, 1 / 255);
  assert.deepEqual(inbound(one, 'rescaling'), ['input_1']);
  assert.deepEqual(inbound(one, 'noise'), ['rescaling']);
  assert.deepEqual(inbound(one, 'conv1_conv'), ['noise']);
  const list = resnet18({
    inputShape: [32, 32, 3],
    outputUnits: 3,
    normalize: true,
    afterInput: [
      tf.layers.gaussianNoise({ stddev: 0.1, name: 'a' }),
      tf.layers.gaussianNoise({ stddev: 0.1, name: 'b' }),
    ],
  });
  assert.deepEqual(inbound(list, 'a'), ['rescaling']);
  assert.deepEqual(inbound(list, 'conv1_conv'), ['b']);
  const fn = resnet18({
    inputShape: [32, 32, 3],
    outputUnits: 3,
    afterInput: (x) => tf.layers.gaussianNoise({ stddev: 0.1, name: 'f' }).apply(x) as tf.SymbolicTensor,
  });
  assert.deepEqual(inbound(fn, 'f'), ['input_1']);
  assert.deepEqual(inbound(fn, 'conv1_conv'), ['f']);
  for (const m of [plain, one, list, fn]) m.dispose();
});

test('options: flatten vs average pooling, dropout, includeTop=false shapes, softmax output', () => {
  const gap = resnet18({ inputShape: [64, 64, 3], includeTop: false });
  assert.deepEqual(gap.outputs[0].shape, [null, 512]);
  assert.ok(
    gap.layers.some((l) => l.name === 'avg_pool') &&
      !gap.layers.some((l) => l.name === 'flatten' || l.name === 'dropout'),
  );
  // 64 -> 29 (valid 7x7/2) -> 14 (valid 3x3/2) -> 14 -> 7 -> 4 -> 2
  const flat = resnet18({ inputShape: [64, 64, 3], includeTop: false, flatten: true, dropoutRate: 0.2 });
  assert.deepEqual(flat.outputs[0].shape, [null, 2 * 2 * 512]);
  assert.equal(flat.getLayer('dropout').getConfig().rate, 0.2);
  assert.ok(!flat.layers.some((l) => l.name === 'avg_pool'));
  const flat50 = resnet50({ inputShape: [64, 64, 3], includeTop: false, flatten: true });
  assert.deepEqual(flat50.outputs[0].shape, [null, 1 * 1 * 2048]);
  const top = resnet18({ inputShape: [32, 32, 3], outputUnits: 5 });
  assert.deepEqual(top.outputs[0].shape, [null, 5]);
  assert.deepEqual(
    top.layers.slice(-2).map((l) => l.getClassName()),
    ['Dense', 'Softmax'],
  );
  const sums = tf.tidy(
    () =>
      (top.predict(tf.randomUniform([3, 32, 32, 3], 0, 255, 'float32', 1)) as tf.Tensor).sum(1).arraySync() as number[],
  );
  for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5, `row sum ${s}`);
  assert.throws(() => resnet18({ inputShape: [32, 32, 3], dropoutRate: 1 }), /dropoutRate/);
  assert.throws(() => resnet(20 as ResNetDepth, { inputShape: [32, 32, 3] }), /depth 20/);
  assert.throws(() => resnet18({ inputShape: [32, 32] as unknown as [number, number, number] }), /inputShape/);
  for (const m of [gap, flat, flat50, top]) m.dispose();
});

test('summaryText reads like Keras: columns, connections, parameter totals', () => {
  const model = resnet18({ inputShape: [96, 96, 3], outputUnits: 8 });
  const text = summaryText(model);
  const lines = text.split('\n');
  assert.equal(lines[0], 'Model: "resnet18"');
  assert.match(lines[2], /^ Layer \(type\) +Output Shape +Param # +Connected to$/);
  assert.ok(lines.some((l) => /^ input_1 \(InputLayer\) +\[\(None, 96, 96, 3\)\] +0 +\[\]$/.test(l)));
  assert.ok(lines.some((l) => /^ conv1_conv \(Conv2D\) +\(None, 45, 45, 64\) +9472 +\['input_1\[0\]\[0\]'\]$/.test(l)));
  const add = lines.findIndex((l) => l.startsWith(' conv3_block1_add (Add)'));
  assert.ok(add > 0);
  assert.match(lines.slice(add, add + 3).join(''), /conv3_block1_0_bn\[0\]\[0\]'.*conv3_block1_2_relu\[0\]\[0\]'/s);
  const c = paramCounts(model);
  assert.equal(c.total, expectedCounts(18, 8).total);
  assert.ok(text.includes(`Total params: ${c.total.toLocaleString('en-US')}`));
  assert.ok(text.includes(`Trainable params: ${(c.total - 9600).toLocaleString('en-US')}`));
  assert.ok(text.includes('Non-trainable params: 9,600'));
  model.dispose();
});
