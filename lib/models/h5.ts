/**
 * Keras `.h5` weight files (what `model.save_weights` writes and `keras.applications` downloads), read and written
 * with h5wasm. Layout: root attribute `layer_names`; per layer a group `/<layer>` with attribute `weight_names`
 * (e.g. `conv1_conv/kernel:0`) and the datasets at `/<layer>/<weight name>`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type * as H5 from 'h5wasm';
import { NamedArray, AssignReport, setWeightsByName } from './io';

type H5Module = typeof H5;

// h5wasm is an ES module; TypeScript compiles `import()` to `require()` for CommonJS, so import it at run time.
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- on purpose: see the line above
const importEsm = new Function('specifier', 'return import(specifier)') as (
  s: string,
) => Promise<{ default: H5Module }>;
let h5: Promise<H5Module> | undefined;
async function h5wasm(): Promise<H5Module> {
  h5 ??= importEsm('h5wasm/node').then(async (m) => {
    await m.default.ready;
    return m.default;
  });
  return h5;
}

function strings(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value == null ? [] : [value];
  return list.map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v)));
}

/** Our weight name for a Keras one: `conv1_conv/kernel:0` -> `conv1_conv/kernel`. */
const tfjsName = (kerasName: string) => kerasName.replace(/:\d+$/, '');

/** Every weight in a Keras `.h5` weights file, keyed `<layer>/<weight>` (the `:0` suffix dropped). */
export async function readKerasH5Weights(file: string): Promise<Map<string, NamedArray>> {
  if (!fs.existsSync(file)) throw new Error(`models: h5 weights file ${file} does not exist`);
  const lib = await h5wasm();
  const f = new lib.File(file, 'r');
  try {
    // A full-model file keeps the weights under /model_weights.
    const rootEntity = f.keys().includes('model_weights') ? f.get('model_weights') : f;
    if (!(rootEntity instanceof lib.Group)) throw new Error(`models: ${file}: /model_weights is not a group`);
    const root = rootEntity;
    const layerNames = root.attrs['layer_names'] ? strings(root.attrs['layer_names'].value) : root.keys();
    const out = new Map<string, NamedArray>();
    for (const layer of layerNames) {
      const g = root.get(layer);
      if (!(g instanceof lib.Group))
        throw new Error(`models: ${file}: layer "${layer}" listed in layer_names has no group`);
      const names = g.attrs['weight_names'] ? strings(g.attrs['weight_names'].value) : [];
      for (const name of names) {
        const d = g.get(name);
        if (!(d instanceof lib.Dataset)) throw new Error(`models: ${file}: dataset /${layer}/${name} is missing`);
        const v = d.value;
        if (!(v instanceof Float32Array || v instanceof Float64Array))
          throw new Error(`models: ${file}: /${layer}/${name} is not a float array`);
        out.set(tfjsName(name), { shape: d.shape ?? [], data: v instanceof Float32Array ? v : Float32Array.from(v) });
      }
    }
    return out;
  } finally {
    f.close();
  }
}

/** Writes `model`'s weights in Keras' `.h5` layout (atomically: temp file + rename), so Keras' `load_weights` reads them by name. */
export async function writeKerasH5Weights(model: tf.LayersModel, file: string): Promise<void> {
  const lib = await h5wasm();
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const f = new lib.File(tmp, 'w');
  try {
    const layers = model.layers.filter((l) => l.weights.length > 0);
    f.create_attribute(
      'layer_names',
      layers.map((l) => l.name),
    );
    f.create_attribute('backend', 'tensorflow');
    // h5wasm does not create intermediate groups: make each level of a path such as `conv1/conv` (DenseNet's names) in turn.
    const groupAt = (base: H5.Group, parts: string[]) =>
      parts.reduce((parent, part) => {
        const existing = parent.get(part);
        return existing instanceof lib.Group ? existing : parent.create_group(part);
      }, base);
    for (const layer of layers) {
      const g = groupAt(f, layer.name.split('/'));
      const names = layer.weights.map((w) => `${w.originalName}:0`);
      g.create_attribute('weight_names', names);
      layer.weights.forEach((w, i) => {
        const parts = names[i].split('/');
        const parent = groupAt(g, parts.slice(0, -1));
        const values = w.read().dataSync() as Float32Array;
        parent.create_dataset({ name: parts[parts.length - 1], data: values, shape: w.shape as number[], dtype: '<f' });
      });
    }
  } finally {
    f.close();
  }
  fs.renameSync(tmp, file);
}

/** Sets `model`'s weights from a Keras `.h5` weights file by layer name; missing or mis-shaped tensors are errors. */
export async function loadKerasH5Weights(model: tf.LayersModel, file: string): Promise<AssignReport> {
  return setWeightsByName(model, await readKerasH5Weights(file), file);
}
