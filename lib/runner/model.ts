/** A run's model: the trial's registry model and top, its weights pretrained where the registry says so, else seeded. */
import type * as tf from '@tensorflow/tfjs';
import type { RunConfig } from '../experiments';
import { buildModel, modelEntry, topLayerCount, weightsAvailable } from '../models';
import { seedModelWeights } from '../train';

export interface ModelPlan {
  weights: 'pretrained' | 'random';
  /** Why the weights are not the published ones, for the run's NOTE. */
  note?: string;
}

/**
 * Which weights the run starts from. Pretrained weights that are not cached fail a quick or full run before anything
 * is written (the error names the command that fetches them); a smoke run, which checks the set-up rather than the
 * numbers, builds the same architecture with random weights and says so.
 */
export function planModel(cfg: RunConfig): ModelPlan {
  const entry = modelEntry(cfg.model.name);
  if (weightsAvailable(entry)) return { weights: 'pretrained' };
  const why = `${entry.name}'s ${entry.weights} weights are not cached (\`${entry.fetch}\` caches them)`;
  if (cfg.scale !== 'smoke') throw new Error(`${why}; only a smoke run can do without them`);
  return { weights: 'random', note: `${why}: the smoke run builds its architecture with random weights` };
}

/**
 * Builds the trial's model for `trainCounts.length` classes (`trainCounts`: training images per class, which the
 * majority baseline is made of); weights not loaded from a pretrained source are seeded from the run's seed.
 */
export async function assembleModel(cfg: RunConfig, trainCounts: number[], plan: ModelPlan): Promise<tf.LayersModel> {
  const { name, top, ...options } = cfg.model;
  const channels = cfg.data.grayscale ? 1 : 3;
  const classes = trainCounts.length;
  const model = await buildModel(name, {
    ...options,
    inputShape: [cfg.imageSize, cfg.imageSize, channels],
    outputUnits: classes,
    top,
    weights: plan.weights,
    classCounts: trainCounts,
  });
  if (modelEntry(name).weights === 'random' || plan.weights === 'random') {
    seedModelWeights(model, cfg.seed);
  } else {
    // A new top on pretrained weights is seeded too, so one seed gives one initial model.
    const topLayers = topLayerCount(top, classes);
    if (topLayers > 0) seedModelWeights(model, cfg.seed, new Set(model.layers.slice(-topLayers)));
  }
  return model;
}
