/**
 * Real-data check of the runner: the 4-layer CNN (the quick scale of experiment 5) on the real Face Mask 12K Validation
 * images (800: 400 WithMask, 400 WithoutMask), all of them, split seeded 75/25 into train/test (then 80/20 train/validation).
 * Usage: AFFECT_SAMPLE_DATA=/work/shared/data node dist/scripts/real-face-mask.js [--image-size 64] [--epochs 12] [--backend wasm]
 * Prints the test accuracy and exits 1 below 0.90.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runExperiment } from '../lib/train/run';

const THRESHOLD = 0.9;

async function main(argv: string[]): Promise<number> {
  const root = process.env.AFFECT_SAMPLE_DATA;
  if (!root) {
    console.error('real-face-mask: set AFFECT_SAMPLE_DATA to the folder holding face-mask-12k-validation/ (e.g. /work/shared/data)');
    return 2;
  }
  const arg = (name: string, dflt: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
  };
  const out = arg('out', fs.mkdtempSync(path.join(os.tmpdir(), 'affect-real-face-mask-')));
  const result = await runExperiment({
    experiment: 'face-mask',
    data: path.join(root, 'face-mask-12k-validation'),
    scale: 'quick',
    imageSize: Number(arg('image-size', '64')),
    epochs: Number(arg('epochs', '12')),
    trainPerClass: 0,
    testPerClass: 0,
    seed: Number(arg('seed', '27')),
    backend: argv.includes('--backend') ? arg('backend', '') : undefined,
    outDir: out,
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
