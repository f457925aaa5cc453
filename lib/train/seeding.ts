/**
 * Deterministic initialisation. tfjs initialisers take a seed but layers are usually built without one
 * (they then draw from Math.random), so `seedModelWeights` re-initialises every weight from its layer's own
 * initializer config with a seed derived from (seed, weight position): same seed, same architecture ->
 * identical weights on every backend (tfjs draws initial values in JavaScript, not in backend kernels).
 * Call it right after building a model, before compiling/training.
 */
import * as tf from '@tensorflow/tfjs';
import { makeRng, randInt } from '../random';

/** Layer-config key of the initializer of a weight, from the weight's base name. */
const INITIALIZER_KEY: Record<string, string> = {
  kernel: 'kernelInitializer',
  bias: 'biasInitializer',
  gamma: 'gammaInitializer',
  beta: 'betaInitializer',
  moving_mean: 'movingMeanInitializer',
  moving_variance: 'movingVarianceInitializer',
  depthwise_kernel: 'depthwiseInitializer',
  pointwise_kernel: 'pointwiseInitializer',
  recurrent_kernel: 'recurrentInitializer',
  embeddings: 'embeddingsInitializer',
};

interface InitConfig {
  className: string;
  config: Record<string, unknown>;
}

/** Per-epoch shuffle seed convention: `shuffleSeed(seed, epoch)` seeds epoch `epoch`'s order (tf.data or makeRng). */
export function shuffleSeed(seed: number | string, epoch: number): string {
  return `${seed}/shuffle/epoch-${epoch}`;
}

/**
 * Re-initialises `model`'s weights deterministically from `seed` (see the module comment): all of them, or only those
 * of `layers` (e.g. a new top on a pretrained backbone), each seeded by its position in the whole model.
 */
export function seedModelWeights(
  model: tf.LayersModel,
  seed: number | string,
  layers?: ReadonlySet<tf.layers.Layer>,
): void {
  let index = 0;
  for (const layer of model.layers) {
    if (layers && !layers.has(layer)) {
      index += layer.weights.length;
      continue;
    }
    const config = layer.getConfig() as Record<string, unknown>;
    for (const w of layer.weights) {
      const position = index++;
      const base = w.originalName.split('/').pop() as string;
      const key = INITIALIZER_KEY[base];
      const init = key ? (config[key] as InitConfig | undefined) : undefined;
      if (!init || typeof init.className !== 'string') {
        throw new Error(
          `seedModelWeights: layer "${layer.name}" weight "${w.originalName}" has no known ` +
            `initializer (looked for ${key ?? 'a kernel/bias/... name'})`,
        );
      }
      const factoryName = init.className[0].toLowerCase() + init.className.slice(1);
      const factory = (
        tf.initializers as unknown as Record<
          string,
          (a?: object) => { apply(shape: number[], dtype?: tf.DataType): tf.Tensor }
        >
      )[factoryName];
      if (!factory)
        throw new Error(`seedModelWeights: unsupported initializer ${init.className} (layer "${layer.name}")`);
      const weightSeed = randInt(makeRng(`${seed}/weights/${position}`), 2 ** 31 - 1);
      const initializer = factory({ ...init.config, seed: weightSeed });
      const value = tf.tidy(() => initializer.apply(w.shape as number[], w.dtype));
      w.write(value);
      value.dispose();
    }
  }
}

/**
 * tfjs ops called without a seed (Dropout's masks, the augmentation layers' draws) seed themselves from Math.random.
 * While an epoch of a seeded fit trains, Math.random is a generator seeded by (seed, epoch), so those draws repeat on
 * every run and after a resume (which restarts at an epoch boundary). Returns the function that restores Math.random.
 */
export function seedUnseededOps(seed: number | string, epoch: number): () => void {
  const original = Math.random;
  const rng = makeRng(`${seed}/ops/epoch-${epoch}`);
  Math.random = () => rng();
  return () => {
    Math.random = original;
  };
}
