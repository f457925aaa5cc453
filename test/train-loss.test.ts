/**
 * The loss with TF Keras' semantics: from the logits when the model ends in a softmax, so a saturated wrong
 * prediction still trains (tfjs' compiled loss gives a zero gradient there), and equal to Keras' reference values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { batchNorm, conv2d, l2Regularizer } from '../lib/models/common';
import { setRandomWeights } from './kernel-checks';
import {
  compileModel,
  frozenBackboneEnd,
  l2Coefficients,
  lossAndAccuracy,
  lossHead,
  releaseStepFolds,
  sparseCrossentropy,
  sparseCrossentropyFromLogits,
  trainStep,
} from '../lib/train';

/** float64 reference: -log(softmax(z)[y]). */
function refFromLogits(z: number[], y: number): number {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
  return lse - z[y];
}

/** Input [2] -> Dense(3) -> softmax, either as a Softmax layer or as the Dense's activation. */
function saturated(form: 'layer' | 'dense'): tf.LayersModel {
  const input = tf.input({ shape: [2] });
  let x = tf.layers
    .dense({ units: 3, activation: form === 'dense' ? 'softmax' : 'linear', name: 'logits' })
    .apply(input) as tf.SymbolicTensor;
  if (form === 'layer') x = tf.layers.softmax().apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: x });
  // Class 0's logit is 60 above the others for every input: probabilities of classes 1 and 2 underflow towards 0.
  model.getLayer('logits').setWeights([
    tf.tensor2d([
      [10, -10, -10],
      [10, -10, -10],
    ]),
    tf.tensor1d([20, 0, 0]),
  ]);
  return model;
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`${backend}: a saturated wrong softmax still trains (Softmax layer and softmax Dense); tfjs' compiled loss does not`, async () => {
    await initBackend(backend);
    const xs = tf.tensor2d([
      [1, 1],
      [1, 1],
    ]);
    const ys = tf.tensor1d([1, 2]);
    for (const form of ['layer', 'dense'] as const) {
      // What tfjs' own loss does: clipped at 1e-7, the loss is -ln(1e-7) and nothing moves.
      const stock = saturated(form);
      compileModel(stock, { kind: 'sgd', lr: 0.01 });
      const before = stock.getWeights().map((w) => w.arraySync());
      const stockLoss = (await stock.trainOnBatch(xs, ys)) as number[];
      assert.ok(Math.abs(stockLoss[0] + Math.log(1e-7)) < 1e-3, `${form}: stock loss ${stockLoss[0]}`);
      assert.deepEqual(
        stock.getWeights().map((w) => w.arraySync()),
        before,
        `${form}: tfjs' loss moved the weights`,
      );

      const model = saturated(form);
      compileModel(model, { kind: 'sgd', lr: 0.01 });
      assert.equal(lossHead(model).fromLogits, true);
      const [loss, acc] = await trainStep(model, xs, ys);
      // logits (40, -20, -20): loss = logsumexp - z_y = 60 + log(1 + 2e-60) for both samples.
      assert.ok(Math.abs(loss - refFromLogits([40, -20, -20], 1)) < 1e-3, `${form}: loss ${loss}`);
      assert.equal(acc, 0);
      const [kernel, bias] = model
        .getLayer('logits')
        .getWeights()
        .map((w) => w.arraySync() as number[] | number[][]);
      // dL/dz = p - onehot = (1, -0.5, -0.5) averaged over the batch; SGD lr 0.01 moves the bias by -0.01 * that.
      assert.ok(Math.abs((bias as number[])[0] - (20 - 0.01)) < 1e-5, `${form}: bias ${JSON.stringify(bias)}`);
      assert.ok(Math.abs((bias as number[])[1] - 0.005) < 1e-6);
      assert.ok(Math.abs((kernel as number[][])[0][1] - (-10 + 0.005)) < 1e-5);
      // predict still returns probabilities.
      const p = model.predict(xs) as tf.Tensor;
      assert.ok(Math.abs(p.sum(-1).dataSync()[0] - 1) < 1e-6);
      tf.dispose([p, ...stock.weights.map((w) => w.read()), ...model.weights.map((w) => w.read())]);
    }
    tf.dispose([xs, ys]);
  });
}

test("reference values: Keras' documented example on probabilities, and logits against a float64 transcription", async () => {
  await initBackend('cpu');
  // keras.losses.SparseCategoricalCrossentropy docs: y_true [1, 2], y_pred [[0.05, 0.95, 0], [0.1, 0.8, 0.1]] -> 1.177.
  const probs = sparseCrossentropy(
    tf.tensor1d([1, 2]),
    tf.tensor2d([
      [0.05, 0.95, 0],
      [0.1, 0.8, 0.1],
    ]),
  );
  assert.ok(Math.abs(probs.mean().dataSync()[0] - 1.177) < 5e-4, `${probs.mean().dataSync()[0]}`);
  const z = [
    [2.5, -1, 0.3, 4],
    [-3, -3, 7, 0.01],
    [100, 0, -100, 50],
  ];
  const y = [3, 0, 2];
  const got = sparseCrossentropyFromLogits(tf.tensor1d(y), tf.tensor2d(z)).dataSync();
  z.forEach((row, i) =>
    assert.ok(
      Math.abs(got[i] - refFromLogits(row, y[i])) < 1e-4 * Math.max(1, refFromLogits(row, y[i])),
      `${i}: ${got[i]}`,
    ),
  );
});

test('the loss from logits has the gradient (softmax - onehot) * dloss per sample, on cpu and wasm', async () => {
  const z = [
    [2.5, -1, 0.3, 4],
    [-3, -3, 7, 0.01],
    [100, 0, -100, 50],
  ];
  const y = [3, 0, 2];
  // A different weight per sample, so that a gradient not scaled by its own sample's dloss shows.
  const weights = [0.5, -2, 3];
  for (const backend of ['cpu', 'wasm'] as const) {
    await initBackend(backend);
    const grad = tf.grad((t: tf.Tensor) =>
      tf.sum(tf.mul(sparseCrossentropyFromLogits(tf.tensor1d(y), t), tf.tensor1d(weights))),
    );
    const got = grad(tf.tensor2d(z)).arraySync() as number[][];
    z.forEach((row, i) => {
      const m = Math.max(...row);
      const total = row.reduce((a, v) => a + Math.exp(v - m), 0);
      row.forEach((v, j) => {
        const want = weights[i] * (Math.exp(v - m) / total - (j === y[i] ? 1 : 0));
        assert.ok(Math.abs(got[i][j] - want) < 1e-5, `${backend} [${i}][${j}]: ${got[i][j]} vs ${want}`);
      });
    });
  }
});

test('trainStep equals tfjs trainOnBatch where the two losses agree (unsaturated, with L2 on a trained and a frozen layer), for SGD and Adam, on cpu and wasm', async () => {
  const build = () => {
    const input = tf.input({ shape: [4] });
    const h = tf.layers
      .dense({
        units: 5,
        activation: 'relu',
        kernelRegularizer: tf.regularizers.l2({ l2: 0.01 }),
        kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
      })
      .apply(input) as tf.SymbolicTensor;
    const h2 = tf.layers
      .dense({
        units: 5,
        activation: 'relu',
        kernelRegularizer: tf.regularizers.l2({ l2: 0.02 }),
        biasRegularizer: l2Regularizer(0.03),
        biasInitializer: tf.initializers.constant({ value: 0.1 }),
        kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }),
      })
      .apply(h);
    const out = tf.layers
      .dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) })
      .apply(h2) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    // The first layer's penalty counts in the loss, but its weights do not train.
    model.layers[1].trainable = false;
    return model;
  };
  // The penalties move into the optimizer's update (the native pass on wasm); trainOnBatch differentiates them on the tape.
  const xs = () =>
    tf.tensor2d([
      [0.1, -0.4, 1, 0.3],
      [0.5, 0.5, -0.2, 0],
      [-1, 0.2, 0.3, 0.7],
    ]);
  const ys = () => tf.tensor1d([2, 0, 1]);
  for (const backend of ['cpu', 'wasm'] as const) {
    await initBackend(backend);
    for (const optimizer of [
      { kind: 'sgd' as const, lr: 0.1, momentum: 0.9 },
      { kind: 'adam' as const, lr: 0.01 },
    ]) {
      const what = `${backend} ${optimizer.kind}`;
      const [x, y] = [xs(), ys()];
      const a = build();
      const b = build();
      const opt = compileModel(a, optimizer);
      compileModel(b, optimizer);
      // trainStep takes the penalties into the optimizer's step.
      let fused = 0;
      const step = opt.applyGradientsWithL2.bind(opt);
      opt.applyGradientsWithL2 = (grads, coefficients) => {
        fused++;
        return step(grads, coefficients);
      };
      assert.deepEqual(
        [...(l2Coefficients(a) ?? [])].map(([, l2]) => l2),
        [0.01, 0.02, 0.03],
        `${what}: the coefficients, the frozen weight's included`,
      );
      for (let i = 0; i < 3; i++) {
        const [la] = await trainStep(a, x, y);
        const lb = ((await b.trainOnBatch(x, y)) as number[])[0];
        assert.ok(Math.abs(la - lb) < 1e-5, `${what} step ${i}: ${la} vs ${lb}`);
      }
      assert.equal(fused, 3, `${what}: steps through applyGradientsWithL2`);
      const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
      const wb = b.getWeights().map((w) => Array.from(w.dataSync()));
      wa.forEach((w, i) => w.forEach((v, j) => assert.ok(Math.abs(v - wb[i][j]) < 1e-5, `${what} weight ${i}[${j}]`)));
      tf.dispose([x, y]);
      a.dispose();
      b.dispose();
    }
  }
});

test('l2Coefficients: pure L2 penalties by variable, nested models included; undefined where a penalty is anything else', async () => {
  await initBackend('cpu');
  const dense = (regularizer?: unknown) =>
    tf.layers.dense({ units: 2, kernelRegularizer: regularizer as ReturnType<typeof tf.regularizers.l2> });
  // Compiled, as trainStep needs: compiling builds a Sequential (an unbuilt one has no calls of its layers yet).
  const model = (regularizer: unknown, extra?: (m: tf.LayersModel) => void) => {
    const m = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [3] }), dense(regularizer), dense()] });
    extra?.(m);
    compileModel(m, { kind: 'sgd' });
    return m;
  };
  const unbuilt = tf.sequential({
    layers: [tf.layers.dense({ units: 2, inputShape: [3], kernelRegularizer: l2Regularizer(0.5) })],
  });
  assert.equal(unbuilt.built, false);
  assert.equal(l2Coefficients(unbuilt), undefined, 'an unbuilt Sequential');
  compileModel(unbuilt, { kind: 'sgd' });
  assert.deepEqual([...(l2Coefficients(unbuilt)?.values() ?? [])], [0.5], 'once compiled');
  // The kernel of a model's first Dense layer (the input layer has no weights).
  const kernelName = (m: tf.LayersModel) =>
    (m.layers.find((l) => l.getClassName() === 'Dense')?.getWeights()[0] as tf.Variable).name;
  const plain = model(undefined);
  assert.deepEqual(l2Coefficients(plain), new Map());
  const l2 = model(l2Regularizer(0.5));
  assert.deepEqual(l2Coefficients(l2), new Map([[kernelName(l2), 0.5]]));
  // A nested model's penalties count in the outer model's loss: its weights are listed.
  const inner = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [3] }), dense(l2Regularizer(0.25))] });
  const top = dense(l2Regularizer(0.5));
  const x = tf.input({ shape: [3] });
  const outer = tf.model({ inputs: x, outputs: top.apply(inner.apply(x)) as tf.SymbolicTensor });
  assert.deepEqual(
    l2Coefficients(outer),
    new Map([
      [kernelName(inner), 0.25],
      [(top.getWeights()[0] as tf.Variable).name, 0.5],
    ]),
  );
  // Every listed penalty is one calculateLosses counts, and no other: tfjs leaves out the penalties of a Sequential
  // added to a Sequential, and so does l2Coefficients.
  const stacked = tf.sequential({
    layers: [
      tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [3] }), dense(l2Regularizer(0.25))] }),
      dense(l2Regularizer(0.5)),
    ],
  });
  compileModel(stacked, { kind: 'sgd' });
  for (const m of [l2, outer, stacked]) {
    const losses = m.calculateLosses();
    assert.equal(l2Coefficients(m)?.size, losses.length, `${m.name}: the penalties calculateLosses counts`);
    tf.dispose(losses);
  }
  // A penalised layer called twice in the model counts twice in calculateLosses: left to the tape.
  const input = tf.input({ shape: [2] });
  const shared = dense(l2Regularizer(0.5));
  const twice = tf.model({
    inputs: input,
    outputs: shared.apply(shared.apply(input)) as tf.SymbolicTensor,
  });
  for (const [what, m] of [
    ['an L1 term', model(tf.regularizers.l1l2({ l1: 0.1, l2: 0.5 }))],
    ['an L1 regularizer', model(tf.regularizers.l1({ l1: 0.1 }))],
    ['a loss added by hand', model(l2Regularizer(0.5), (m) => m.layers[1].addLoss(() => tf.scalar(1)))],
    ['a penalised layer called twice', twice],
  ] as const)
    assert.equal(l2Coefficients(m), undefined, what);
  for (const m of [plain, l2, outer, stacked, twice, unbuilt]) m.dispose();
});

test('a frozen backbone runs off the tape with the same steps as tfjs trainOnBatch; unfrozen, it trains again', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await initBackend(backend);
    const build = () => {
      const input = tf.input({ shape: [5, 5, 2] });
      let h = tf.layers
        .conv2d({
          filters: 4,
          kernelSize: 3,
          kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }),
          name: 'conv',
        })
        .apply(input) as tf.SymbolicTensor;
      // Frozen, in inference mode: the backbone's batch norm folds into the convolution off the tape.
      const bn = batchNorm({ name: 'bn' });
      h = bn.apply(h) as tf.SymbolicTensor;
      h = tf.layers.activation({ activation: 'relu' }).apply(h) as tf.SymbolicTensor;
      h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
      h = tf.layers
        .dense({ units: 4, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) })
        .apply(h) as tf.SymbolicTensor;
      const out = tf.layers
        .dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) })
        .apply(h) as tf.SymbolicTensor;
      const m = tf.model({ inputs: input, outputs: out });
      m.getLayer('conv').trainable = false;
      bn.trainable = false;
      const stats = [
        [1.5, 0.5, -1, 2],
        [0.2, -0.3, 0.1, 0],
        [0.1, -0.2, 0.3, 0.05],
        [0.5, 2, 0.8, 1.2],
      ];
      const values = stats.map((v) => tf.tensor1d(v));
      bn.setWeights(values);
      tf.dispose(values);
      return m;
    };
    const xs = tf.randomUniform([4, 5, 5, 2], -1, 1, 'float32', 8);
    const ys = tf.tensor1d([2, 0, 1, 1]);
    const a = build();
    const b = build();
    assert.equal(frozenBackboneEnd(a), 4, 'the backbone ends at the pooling layer');
    compileModel(a, { kind: 'sgd', lr: 0.1 });
    compileModel(b, { kind: 'sgd', lr: 0.1 });
    const conv = a.getLayer('conv').getWeights()[0].dataSync().slice();
    const { kernels } = await tf.profile(async () => {
      await trainStep(a, xs, ys);
    });
    assert.ok(!kernels.some((k) => k.name === 'FusedBatchNorm'), `${backend}: batch norm folded`);
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      if (i > 0) await trainStep(a, xs, ys);
      await b.trainOnBatch(xs, ys);
    }
    assert.equal(tf.memory().numTensors, tensors, `${backend}: steps leave no tensors behind`);
    const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
    const wb = b.getWeights().map((w) => Array.from(w.dataSync()));
    wa.forEach((w, i) => w.forEach((v, j) => assert.ok(Math.abs(v - wb[i][j]) < 1e-5, `${backend} weight ${i}[${j}]`)));
    assert.deepEqual(a.getLayer('conv').getWeights()[0].dataSync(), conv, `${backend}: the frozen layer stayed`);
    // The folded filter and bias are kept between steps, until released.
    releaseStepFolds(a);
    assert.equal(tf.memory().numTensors, tensors - 2, `${backend}: the folded copies released`);
    // Unfrozen between steps, the backbone is back on the tape and trains.
    a.getLayer('conv').trainable = true;
    assert.equal(frozenBackboneEnd(a), undefined);
    compileModel(a, { kind: 'sgd', lr: 0.1 });
    await trainStep(a, xs, ys);
    assert.notDeepEqual(a.getLayer('conv').getWeights()[0].dataSync(), conv, `${backend}: the unfrozen layer trained`);
    tf.dispose([xs, ys]);
    a.dispose();
    b.dispose();
  }
});

test('frozen layers inside a model that trains keep their folds across steps, folded again after their weights change in place; the steps match tfjs trainOnBatch', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await initBackend(backend);
    // A frozen stem (conv, batch norm, ReLU: one fold) before a trainable convolution: no frozen backbone to run
    // off the tape, so the fold happens inside the taped forward pass.
    const build = () => {
      const input = tf.input({ shape: [6, 6, 2] });
      const stem = conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'stem', trainable: false });
      const bn = batchNorm({ name: 'bn', trainable: false });
      let h = tf.layers.reLU().apply(bn.apply(stem.apply(input))) as tf.SymbolicTensor;
      h = conv2d({ filters: 3, kernelSize: 3, name: 'body' }).apply(h) as tf.SymbolicTensor;
      h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
      const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }).apply(h) as tf.SymbolicTensor;
      const m = tf.model({ inputs: input, outputs: out });
      // Small: a saturated softmax would train differently under tfjs' loss (from probabilities) than under ours.
      setRandomWeights(m, 'train-loss-partly-frozen', 0.3);
      return m;
    };
    const xs = tf.randomUniform([4, 6, 6, 2], -1, 1, 'float32', 9);
    const ys = tf.tensor1d([2, 0, 1, 1]);
    const [a, b] = [build(), build()];
    assert.equal(frozenBackboneEnd(a), undefined, 'the body trains: no frozen backbone');
    // Plain SGD: recompiling (tfjs collects trainable weights when compiling) loses no optimizer state.
    const compile = () => {
      compileModel(a, { kind: 'sgd', lr: 0.2 });
      compileModel(b, { kind: 'sgd', lr: 0.2 });
    };
    const stem = () => a.getLayer('stem').getWeights()[0].dataSync().slice();
    compile();
    await trainStep(a, xs, ys);
    await b.trainOnBatch(xs, ys);
    const tensors = tf.memory().numTensors;
    const { kernels } = await tf.profile(async () => {
      await trainStep(a, xs, ys);
    });
    await b.trainOnBatch(xs, ys);
    assert.equal(tf.memory().numTensors, tensors, `${backend}: the folded filter and bias kept, nothing else`);
    assert.ok(!kernels.some((k) => k.name === 'Rsqrt'), `${backend}: the folds were not computed again`);
    const frozenStem = stem();
    // The stem trains through tfjs' own step (our optimizer: in place on wasm with the addon), then freezes again:
    // the next trainStep must fold its new weights.
    for (const m of [a, b]) m.getLayer('stem').trainable = true;
    compile();
    for (const m of [a, b]) await m.trainOnBatch(xs, ys);
    assert.notDeepEqual(stem(), frozenStem, `${backend}: the unfrozen stem trained`);
    for (const m of [a, b]) m.getLayer('stem').trainable = false;
    compile();
    const [lossA] = await trainStep(a, xs, ys);
    const [lossB] = (await b.trainOnBatch(xs, ys)) as number[];
    assert.ok(Math.abs(lossA - lossB) < 1e-6, `${backend}: the loss after freezing again, ${lossA} vs ${lossB}`);
    await trainStep(a, xs, ys);
    await b.trainOnBatch(xs, ys);
    const [wa, wb] = [a, b].map((m) => m.getWeights().map((w) => Array.from(w.dataSync())));
    wa.forEach((w, i) =>
      w.forEach((v, j) =>
        assert.ok(Math.abs(v - wb[i][j]) < 1e-4, `${backend} weight ${i}[${j}]: ${v} vs ${wb[i][j]}`),
      ),
    );
    releaseStepFolds(a);
    tf.dispose([xs, ys]);
    a.dispose();
    b.dispose();
  }
});

test('lossHead: models that do not end in a softmax use the probability form', async () => {
  await initBackend('cpu');
  const sig = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 3, activation: 'sigmoid' })] });
  assert.equal(lossHead(sig).fromLogits, false);
  const lin = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [2], units: 3 }), tf.layers.activation({ activation: 'softmax' })],
  });
  assert.equal(lossHead(lin).fromLogits, true);
  await assert.rejects(
    trainStep(
      tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2 })] }),
      tf.zeros([1, 2]),
      tf.zeros([1]),
    ),
    /not compiled/,
  );
});

test('lossHead.infer is forward in inference mode with batch norm folded, for both kinds of head', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await initBackend(backend);
    for (const activation of ['softmax', 'sigmoid'] as const) {
      const input = tf.input({ shape: [6, 6, 2] });
      const bn = batchNorm({});
      let h = tf.layers.conv2d({ filters: 3, kernelSize: 3, useBias: false }).apply(input) as tf.SymbolicTensor;
      h = tf.layers.activation({ activation: 'relu' }).apply(bn.apply(h)) as tf.SymbolicTensor;
      h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
      const out = tf.layers.dense({ units: 4, activation }).apply(h) as tf.SymbolicTensor;
      const model = tf.model({ inputs: input, outputs: out });
      const stats = [
        [1.5, 0.5, -1],
        [0.2, -0.3, 0.1],
        [0.4, -0.2, 0.3],
        [0.5, 2, 0.8],
      ].map((v) => tf.tensor1d(v));
      bn.setWeights(stats);
      const head = lossHead(model);
      const xs = tf.randomUniform([3, 6, 6, 2], -1, 1, 'float32', 3);
      const want = head.forward(xs, false);
      const { kernels, result } = await tf.profile(() => head.infer(xs));
      const got = result as tf.Tensor;
      assert.equal(head.fromLogits, activation === 'softmax');
      assert.deepEqual(got.shape, want.shape);
      const [g, w] = [await got.data(), await want.data()];
      w.forEach((v, i) => assert.ok(Math.abs(g[i] - v) < 1e-5, `${backend} ${activation}: output ${i}`));
      assert.ok(!kernels.some((k) => k.name === 'FusedBatchNorm'), `${backend} ${activation}: batch norm folded`);
      tf.dispose([...stats, xs, want, got]);
      model.dispose();
    }
  }
});

test('evaluation after native in-place weight updates folds the new weights (trainable conv, frozen batch norm)', async () => {
  await initBackend('wasm');
  const input = tf.input({ shape: [6, 6, 2] });
  const bn = batchNorm({});
  let h = tf.layers.conv2d({ filters: 3, kernelSize: 3 }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.flatten().apply(bn.apply(h)) as tf.SymbolicTensor;
  const model = tf.model({
    inputs: input,
    outputs: tf.layers.dense({ units: 2, activation: 'softmax' }).apply(h) as tf.SymbolicTensor,
  });
  bn.trainable = false;
  compileModel(model, { kind: 'sgd', lr: 0.5 });
  const xs = tf.randomUniform([4, 6, 6, 2], -1, 1, 'float32', 4);
  const ys = tf.tensor1d([0, 1, 1, 0]);
  const source = () => [{ xs: xs.clone(), ys: ys.clone() }];
  const expected = () =>
    tf.tidy(
      () => tf.mean(lossHead(model).perSample(tf.cast(ys, 'int32'), lossHead(model).forward(xs, false))).dataSync()[0],
    );
  const before = await lossAndAccuracy(model, source);
  assert.ok(Math.abs(before.loss - expected()) < 1e-5, 'before training');
  for (let i = 0; i < 3; i++) await trainStep(model, xs, ys);
  const after = await lossAndAccuracy(model, source);
  assert.ok(Math.abs(after.loss - before.loss) > 1e-3, 'the steps changed the loss');
  assert.ok(Math.abs(after.loss - expected()) < 1e-5, `after training: ${after.loss} vs ${expected()}`);
  tf.dispose([xs, ys]);
  model.optimizer.dispose();
  model.dispose();
});
