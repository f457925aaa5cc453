/**
 * Saving and loading models to a folder (`model.json` + `weights.bin`, tfjs' layers format) with our own
 * IOHandler (no tf.node, no file:// scheme), and assigning weights by layer name from any named source.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomicSync } from '../atomic';
import './common'; // registers the zoo's custom layers, so saved models deserialise

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

/** An IOHandler reading and writing `<dir>/model.json` and `<dir>/weights.bin`; each file is written atomically. */
export function folderHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer)
        throw new Error(`models: saving to ${dir}: binary topologies are not supported`);
      fs.mkdirSync(dir, { recursive: true });
      const weightData = artifacts.weightData
        ? tf.io.concatenateArrayBuffers(([] as ArrayBuffer[]).concat(artifacts.weightData))
        : new ArrayBuffer(0);
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      // Weights first: model.json is what marks a folder as a saved model.
      writeFileAtomicSync(path.join(dir, WEIGHTS_FILE), new Uint8Array(weightData));
      writeFileAtomicSync(path.join(dir, MODEL_FILE), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const file = path.join(dir, MODEL_FILE);
      if (!fs.existsSync(file)) throw new Error(`models: no saved model in ${dir} (${MODEL_FILE} missing)`);
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(fs.readFileSync(file, 'utf8')) as tf.io.ModelJSON;
      } catch (e) {
        throw new Error(`models: ${file} is not valid JSON (${(e as Error).message}); the saved model is damaged`);
      }
      const { specs, data } = readWeightShards(file, json.weightsManifest ?? []);
      // tfjs would report a short or long weights file as a tensor "with N values": say which file and why.
      const expected = specs.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1) * weightBytes(w), 0);
      if (Number.isFinite(expected) && expected !== data.byteLength) {
        throw new Error(
          `models: weights in ${dir} hold ${data.byteLength} bytes, ${file} describes ${expected}: ` +
            `the weights file is truncated or belongs to another model`,
        );
      }
      return tf.io.getModelArtifactsForJSON(json, async () => [specs, data]);
    },
  };
}

/**
 * The weight specs of a `model.json` (`jsonFile`) and its weight files (paths relative to it), read in order into one
 * buffer. The concatenation is the only copy: the buffer is handed on as it is, not sliced again.
 */
export function readWeightShards(
  jsonFile: string,
  manifest: tf.io.WeightsManifestConfig,
): { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const shards: Buffer[] = [];
  for (const group of manifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const shard = path.join(path.dirname(jsonFile), p);
      if (!fs.existsSync(shard)) throw new Error(`models: ${jsonFile} names weights file ${p}, which is missing`);
      shards.push(fs.readFileSync(shard));
    }
  }
  const all = Buffer.concat(shards);
  // Small buffers come from Node's shared pool: only then is a slice (a copy) needed.
  const whole = all.byteOffset === 0 && all.byteLength === all.buffer.byteLength;
  return {
    specs,
    data: whole ? all.buffer : all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
  };
}

/** Bytes per value of a stored weight (NaN for strings, whose size is not fixed). */
function weightBytes(w: tf.io.WeightsManifestEntry): number {
  const dtype = w.quantization?.dtype ?? w.dtype;
  return ({ float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 } as Record<string, number>)[dtype] ?? NaN;
}

/** Saves architecture + weights (and the optimizer's state when `includeOptimizer`; the model must be compiled) to `dir`. */
export async function saveModel(
  model: tf.LayersModel,
  dir: string,
  opts: { includeOptimizer?: boolean } = {},
): Promise<void> {
  await model.save(folderHandler(dir), { includeOptimizer: opts.includeOptimizer ?? false });
}

/** Loads a model saved by `saveModel`; a model saved with its optimizer comes back compiled with the optimizer's state. */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(folderHandler(dir));
  } catch (e) {
    const msg = (e as Error).message;
    // tfjs' own errors (e.g. "Shape mismatch: [4,3] vs. [3,4]") do not say which model.
    throw msg.startsWith('models:') ? e : new Error(`models: loading the model in ${dir} failed: ${msg}`);
  }
}

/** A tensor by weight name (`<layer>/<weight>`, e.g. `conv1_conv/kernel`), with its shape and values. */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

export interface AssignReport {
  /** Weights set. */
  assigned: number;
  /** Source names no weight of the model asked for (e.g. a top the model does not have). */
  unused: string[];
}

/**
 * Sets every weight of `model` from `source`, matched by `<layer name>/<weight name>` (tfjs' original,
 * unsuffixed names). Any missing or mis-shaped tensor is an error naming `sourceName` and the weight;
 * nothing is assigned unless everything matches.
 */
export function setWeightsByName(
  model: tf.LayersModel,
  source: Map<string, NamedArray>,
  sourceName: string,
): AssignReport {
  const plan: { layer: tf.layers.Layer; values: tf.Tensor[] }[] = [];
  const used = new Set<string>();
  const problems: string[] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const values: tf.Tensor[] = [];
    for (const w of layer.weights) {
      const key = w.originalName;
      const found = source.get(key);
      if (!found) problems.push(`missing ${key} ${JSON.stringify(w.shape)}`);
      else if (!tf.util.arraysEqual(found.shape, w.shape as number[]))
        problems.push(`${key} has shape ${JSON.stringify(found.shape)}, the model expects ${JSON.stringify(w.shape)}`);
      else {
        used.add(key);
        if (problems.length === 0) values.push(tf.tensor(found.data, found.shape, 'float32'));
      }
    }
    plan.push({ layer, values });
  }
  if (problems.length) {
    plan.forEach((p) => tf.dispose(p.values));
    const shown = problems.slice(0, 10).join('; ') + (problems.length > 10 ? `; and ${problems.length - 10} more` : '');
    throw new Error(`models: weights from ${sourceName} do not fit model "${model.name}": ${shown}`);
  }
  for (const p of plan) {
    p.layer.setWeights(p.values);
    tf.dispose(p.values);
  }
  return { assigned: used.size, unused: [...source.keys()].filter((k) => !used.has(k)) };
}
