/**
 * The off-the-shelf baseline (lib/predict's face-api expression net) beside runs: evaluated on a run's own test split
 * for its report, and the test split a `baseline face-api` record is made on (a run folder's, or a dataset folder's).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findSplits, folderSource, scanImageFolder } from '../data';
import { ConfigError } from '../errors';
import type { RunConfig } from '../experiments';
import {
  evaluateExpressionBaseline,
  faceApiApplies,
  summarizeBaseline,
  type BaselineSummary,
  type BaselineTestSet,
} from '../predict';
import { resolveData, type ResolvedData } from './data';

/**
 * The baseline on a run's test split, or undefined where it does not apply (classes it has no expressions for) or was
 * not asked for. `when`: 'auto' (default) evaluates it on real data only: on the synthetic set it measures nothing of
 * interest. A failure to evaluate it is logged, never fails the run.
 */
export async function runBaseline(
  data: ResolvedData,
  when: boolean | 'auto' = 'auto',
  log: (line: string) => void = () => {},
): Promise<BaselineSummary | undefined> {
  const wanted = when === 'auto' ? data.kind !== 'synthetic' : when;
  if (!wanted || !faceApiApplies(data.classes)) return undefined;
  try {
    const summary = summarizeBaseline(await evaluateExpressionBaseline(data.test.source, data.test.indices));
    log(
      `  face-api expression baseline (off the shelf) on the same test split: accuracy ${summary.testAccuracy.toFixed(4)}`,
    );
    return summary;
  } catch (e) {
    log(`  face-api expression baseline skipped: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

/** The test split the baseline is recorded on: a run folder's own (from its config.json), or a dataset folder's Test split (or the folder itself). */
export async function baselineTestSet(target: string): Promise<BaselineTestSet> {
  const dir = path.resolve(target);
  const configFile = path.join(dir, 'config.json');
  if (fs.existsSync(configFile)) {
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as {
      run?: RunConfig;
      options?: { data?: string; synthetic?: boolean };
    };
    if (!config.run || !config.options)
      throw new ConfigError(`${configFile} has no run settings (run, options): not a run folder`);
    const data = await resolveData(config.run, config.options);
    const metrics = fs.existsSync(path.join(dir, 'metrics.json'))
      ? (JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8')) as { testAccuracy?: number })
      : {};
    const { experiment, trial, scale } = config.run;
    return {
      ...data.test,
      kind: data.kind,
      root: data.root,
      layout: `the test split of run ${dir}: ${data.layout}`,
      run: { dir, experiment, trial, scale, testAccuracy: metrics.testAccuracy },
    };
  }
  const test = findSplits(dir, ['Test'])['Test'] ?? dir;
  const scan = await scanImageFolder(test);
  return {
    source: folderSource(scan),
    indices: scan.entries.map((_, i) => i),
    kind: 'real sample',
    root: test,
    layout: `every image of ${test}`,
  };
}
