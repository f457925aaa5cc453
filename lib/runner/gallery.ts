/** The test images a run got wrong, read back from its own test split, for a gallery with true and predicted labels. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunConfig } from '../experiments';
import { makeRng, shuffled } from '../random';
import type { SampleImage } from '../viz';
import { resolveData } from './data';
import { makeRunLog } from './log';

export interface MisclassifiedOptions {
  /** At most this many images. Default 16. */
  limit?: number;
  /** Which of the misclassified images are shown when there are more than `limit`: a seeded pick. Default the run's seed. */
  seed?: number | string;
}

/**
 * Up to `limit` test images that `run` misclassified, each labelled "true → predicted", at the run's input size.
 * The run's test split is resolved again from its config.json (same folder, same seed, hence the same images in the
 * same order as its evaluation's predictions); a run whose data folder is gone is an error naming it.
 */
export async function misclassifiedImages(
  run: {
    runDir: string;
    config: RunConfig;
    classes: string[];
    evaluation: { predictions: number[]; labels: number[] };
  },
  opts: MisclassifiedOptions = {},
): Promise<SampleImage[]> {
  const saved = JSON.parse(fs.readFileSync(path.join(run.runDir, 'config.json'), 'utf8')) as {
    options?: { data?: string; synthetic?: boolean; anyClasses?: boolean };
  };
  const o = saved.options ?? {};
  const data = await resolveData(
    run.config,
    { data: o.data, synthetic: o.synthetic, anyClasses: o.anyClasses },
    makeRunLog(true),
  );
  const { predictions, labels } = run.evaluation;
  if (data.test.indices.length !== labels.length) {
    throw new Error(
      `${run.runDir}: its data now gives ${data.test.indices.length} test images, the run ` +
        `evaluated ${labels.length}; the data folder changed since the run`,
    );
  }
  const wrong = labels.flatMap((t, i) => (predictions[i] !== t ? [i] : []));
  const picked = shuffled(makeRng(`${opts.seed ?? run.config.seed}/misclassified`), wrong)
    .slice(0, opts.limit ?? 16)
    .sort((a, b) => a - b);
  const size = run.config.imageSize;
  const out: SampleImage[] = [];
  for (const i of picked) {
    const rgb = await data.test.source.read(data.test.indices[i], [size, size]);
    out.push({ rgb, height: size, width: size, label: `${run.classes[labels[i]]} → ${run.classes[predictions[i]]}` });
  }
  return out;
}
