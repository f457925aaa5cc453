/** A run's snapshot ensemble: the test figures of the mean softmax of its last snapshots, beside the single network's. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { evaluateEnsemble, type BatchSource, type ClassScores, type SnapshotCallback } from '../train';
import type { RunLog } from './log';
import { confusionCsv } from './record';

/** What metrics.json keeps of the ensemble (its confusion matrix goes to ensemble-confusion.csv). */
export interface EnsembleMetrics {
  testAccuracy: number;
  testLoss: number;
  members: number;
  /** When each member was taken, in `unit`s from the start of training. */
  memberAt: number[];
  unit: 'iteration' | 'epoch';
  memberAccuracies: number[];
  perClass: ClassScores[];
}

/**
 * Evaluates the snapshots `callback` took during the run on `test` and writes ensemble-confusion.csv into `runDir`.
 * A run too short for a single snapshot has no ensemble: it says so and returns undefined.
 */
export async function evaluateRunEnsemble(
  model: tf.LayersModel,
  callback: SnapshotCallback,
  settings: { every: number; unit: 'iteration' | 'epoch' },
  test: BatchSource,
  classes: string[],
  runDir: string,
  log: RunLog,
): Promise<EnsembleMetrics | undefined> {
  const snapshots = callback.snapshots();
  if (snapshots.length === 0) {
    log(`  no snapshot ensemble: the run ended before its first snapshot (every ${settings.every} ${settings.unit}s)`);
    return undefined;
  }
  const e = await evaluateEnsemble(model, snapshots, test, classes);
  fs.writeFileSync(path.join(runDir, 'ensemble-confusion.csv'), confusionCsv(e.confusion, classes));
  log(
    `  snapshot ensemble of ${e.members} (at ${settings.unit} ${e.memberAt.join(', ')}): test ` +
      `accuracy ${e.accuracy.toFixed(4)}; members ` +
      `${e.memberAccuracies.map((a) => a.toFixed(4)).join(', ')}`,
  );
  return {
    testAccuracy: e.accuracy,
    testLoss: e.loss,
    members: e.members,
    memberAt: e.memberAt,
    unit: settings.unit,
    memberAccuracies: e.memberAccuracies,
    perClass: e.perClass,
  };
}
