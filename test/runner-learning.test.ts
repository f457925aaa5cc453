/**
 * The study's network learns real images: experiment 5's quick run (ResNet-18 + VGG top, 48 px, 10 epochs) on the real
 * Face Mask 12K Validation images (400 WithMask, 400 WithoutMask; one folder, so the runner splits it seeded 75/25, then
 * 80/20) reaches a test accuracy of at least 0.85. Needs AFFECT_SAMPLE_DATA (see ../shared/data/README.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../lib/backend';
import { runExperiment } from '../lib/runner';

const THRESHOLD = 0.85;
const root = process.env.AFFECT_SAMPLE_DATA;
const data = root && path.join(root, 'face-mask-12k-validation');
const skip = !root
  ? 'AFFECT_SAMPLE_DATA is not set (the folder holding face-mask-12k-validation/)'
  : !fs.existsSync(data!)
    ? `${data} is missing`
    : false;

test(
  `face-mask at the quick scale on real images reaches test accuracy >= ${THRESHOLD}`,
  { skip, timeout: 900_000 },
  async () => {
    await initBackend();
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-learning-'));
    try {
      const r = await runExperiment({ experiment: 'face-mask', data: data!, scale: 'quick', outDir, quiet: true });
      assert.equal(r.metrics.dataKind, 'real sample');
      assert.deepEqual([r.config.model.name, r.config.model.top], ['resnet18', 'vgg']);
      assert.ok(
        r.metrics.testAccuracy >= THRESHOLD,
        `test accuracy ${r.metrics.testAccuracy} on ${r.evaluation.labels.length} real images`,
      );
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  },
);
