/**
 * Real-data check of the runner: the 4-layer CNN (the quick scale of experiment 5) on the real Face Mask 12K Validation
 * images (800: 400 WithMask, 400 WithoutMask), all of them, split seeded 75/25 into train/test (then 80/20 train/validation).
 * Usage: AFFECT_SAMPLE_DATA=/work/shared/data node dist/scripts/real-face-mask.js [--image-size 64] [--epochs 12] [--backend wasm]
 * Prints the test accuracy and exits 1 below 0.90.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BACKEND_NAMES } from '../lib/backend';
import { parseArgs, UsageError, type CommandSpec } from '../lib/cli/args';
import { runExperiment } from '../lib/train/run';

const THRESHOLD = 0.9;

// Parsed with the CLI's parser, so a bad value (`--epochs x`) is a usage error rather than a NaN passed to training.
const SPEC: CommandSpec = {
  path: ['real-face-mask'],
  summary: 'cnn4 (quick scale of experiment 5) on the real Face Mask 12K Validation images; exits 1 below 0.90 test accuracy',
  options: [
    { name: 'image-size', type: 'number', default: 64, description: 'image side in pixels' },
    { name: 'epochs', type: 'number', default: 12, description: 'epochs' },
    { name: 'seed', type: 'number', default: 27, description: 'seed of the split, weights and shuffles' },
    { name: 'backend', type: 'string', choices: BACKEND_NAMES, description: 'tfjs backend (default: the fastest that can train)' },
    { name: 'out', type: 'string', description: 'folder for the run folder (default: a new temp folder)' },
  ],
  run: async () => undefined,
};

async function main(argv: string[]): Promise<number> {
  const root = process.env.AFFECT_SAMPLE_DATA;
  if (!root) {
    console.error('real-face-mask: set AFFECT_SAMPLE_DATA to the folder holding face-mask-12k-validation/ (e.g. /work/shared/data)');
    return 2;
  }
  let o;
  try {
    o = parseArgs(SPEC, argv).options;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`real-face-mask: ${e.message}`);
    return 2;
  }
  const result = await runExperiment({
    experiment: 'face-mask',
    data: path.join(root, 'face-mask-12k-validation'),
    scale: 'quick',
    imageSize: o['image-size'] as number,
    epochs: o.epochs as number,
    trainPerClass: 0,
    testPerClass: 0,
    seed: o.seed as number,
    backend: o.backend as string | undefined,
    outDir: (o.out as string | undefined) ?? fs.mkdtempSync(path.join(os.tmpdir(), 'affect-real-face-mask-')),
  });
  const acc = result.metrics.testAccuracy;
  console.log(`real-face-mask: cnn4 on ${result.evaluation.labels.length} real test images: accuracy ${acc.toFixed(4)} (threshold ${THRESHOLD}) -> ${acc >= THRESHOLD ? 'PASS' : 'FAIL'}`);
  return acc >= THRESHOLD ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e) => {
    console.error(`real-face-mask: ${(e as Error).message}`);
    process.exitCode = 1;
  },
);
