import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { makeRng, normal } from '../lib/random';
import { L1L2, l2Regularizer, sumOfSquares } from '../lib/models/common';

const SHAPE = [3, 3, 4, 5];

function weights(): tf.Tensor {
  const rng = makeRng('regularizer');
  return tf.tensor(
    Array.from({ length: tf.util.sizeFromShape(SHAPE) }, () => normal(rng)),
    SHAPE,
  );
}

/** The penalty and its gradient under `reg`, as plain numbers. */
function penaltyAndGrad(reg: { apply(x: tf.Tensor): tf.Scalar }): [number, Float32Array] {
  return tf.tidy(() => {
    const w = weights();
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => reg.apply(x))(w);
    return [value.dataSync()[0], grad.dataSync() as Float32Array];
  });
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`l2Regularizer gives Keras' penalty l2 * sum w² and gradient 2 * l2 * w on ${backend}`, async () => {
    await initBackend(backend);
    const [penalty, grad] = penaltyAndGrad(l2Regularizer(0.01));
    const w = weights();
    const values = w.dataSync() as Float32Array;
    w.dispose();
    const expected = 0.01 * values.reduce((a, v) => a + v * v, 0);
    assert.ok(Math.abs(penalty - expected) < 1e-5 * expected, `penalty ${penalty}, expected ${expected}`);
    grad.forEach((g, i) => assert.ok(Math.abs(g - 0.02 * values[i]) < 1e-6, `gradient ${i}: ${g}`));
    // tfjs' own regularizer agrees, and L1 terms still take tfjs' path.
    const [stock] = penaltyAndGrad(tf.regularizers.l2({ l2: 0.01 }));
    assert.ok(Math.abs(penalty - stock) < 1e-5 * stock);
    const [withL1] = penaltyAndGrad(new L1L2({ l1: 0.1, l2: 0.01 }));
    const [stockL1] = penaltyAndGrad(tf.regularizers.l1l2({ l1: 0.1, l2: 0.01 }));
    assert.ok(Math.abs(withL1 - stockL1) < 1e-5 * stockL1);
  });
}

test('a model saved with l2Regularizer loads back with the same regularizer class and factor', async () => {
  await initBackend('cpu');
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [3], units: 2, kernelRegularizer: l2Regularizer(0.003) })],
  });
  const json = model.toJSON(null, false) as unknown as { config: { layers: { config: Record<string, unknown> }[] } };
  assert.deepEqual(json.config.layers[0].config.kernel_regularizer, {
    class_name: 'L1L2',
    config: { l1: 0, l2: 0.003 },
  });
  const back = await tf.models.modelFromJSON({ modelTopology: json } as unknown as tf.io.ModelJSON);
  const reg = (back.layers[0] as unknown as { kernelRegularizer: unknown }).kernelRegularizer;
  assert.ok(reg instanceof L1L2);
  assert.equal((reg as unknown as { l2: number }).l2, 0.003);
  model.dispose();
  back.dispose();
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`sumOfSquares is sum w² on ${backend}`, async () => {
    await initBackend(backend);
    const w = weights();
    const values = Array.from(w.dataSync());
    const got = tf.tidy(() => sumOfSquares(w).dataSync()[0]);
    w.dispose();
    const expected = values.reduce((a, v) => a + v * v, 0);
    assert.ok(Math.abs(got - expected) < 1e-5 * expected, `${got} vs ${expected}`);
  });
}
