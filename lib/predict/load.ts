/** Loading a trained model for prediction: from a run folder (config.json + model/) or a saved model folder (model.json). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel } from '../models';
import { checkPredictor, type Predictor, type PredictorInfo } from './classify';

/** What a run's config.json says about its model's input and classes, or undefined when `dir` holds no config.json. */
function runInfo(dir: string): PredictorInfo | undefined {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) return undefined;
  let config: { classes?: unknown; run?: { imageSize?: unknown; data?: { grayscale?: unknown } } };
  try {
    config = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof config;
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const { classes, run } = config;
  if (!Array.isArray(classes) || !classes.every((c) => typeof c === 'string') || typeof run?.imageSize !== 'number') {
    throw new Error(`${file} has no class list (classes) or input size (run.imageSize): not a run record`);
  }
  return { classes, imageSize: run.imageSize, grayscale: run.data?.grayscale === true };
}

/**
 * Loads a run folder's model with its class order, input size and colour mode (from its config.json), or a saved model
 * folder (`model.json` + weights): its record is the config.json of the run folder holding it when there is one, else
 * the model's own input shape, with classes named by their index.
 */
export async function loadPredictor(target: string): Promise<Predictor> {
  const dir = path.resolve(target);
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(`${target} is not a folder (expected a run folder or a saved model folder)`);
  let modelDir: string;
  let info: PredictorInfo | undefined;
  if (fs.existsSync(path.join(dir, 'model.json'))) {
    modelDir = dir;
    info = runInfo(path.dirname(dir));
  } else if (fs.existsSync(path.join(dir, 'config.json'))) {
    modelDir = path.join(dir, 'model');
    if (!fs.existsSync(path.join(modelDir, 'model.json')))
      throw new Error(
        `run ${target} has no saved model (${path.join(modelDir, 'model.json')} is missing): the run has not finished`,
      );
    info = runInfo(dir);
  } else {
    throw new Error(`${target} is neither a run folder (config.json + model/) nor a saved model folder (model.json)`);
  }
  const model = await loadModel(modelDir);
  const shape = model.inputs[0].shape;
  const resolved = info ?? {
    classes: Array.from(
      { length: model.outputs[0].shape[model.outputs[0].shape.length - 1] ?? 0 },
      (_, i) => `class ${i}`,
    ),
    imageSize: shape[1] ?? 0,
    grayscale: shape[3] === 1,
  };
  try {
    checkPredictor(model, resolved, target);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { ...resolved, model, source: dir };
}
