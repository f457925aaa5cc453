/** Notebook calls that look inside a finished run: its snapshot ensemble's gain, and the test images it got wrong. */
import { misclassifiedImages, type MisclassifiedOptions, type RunResult, type RunView } from '../runner';
import { ensembleGain, sampleGrid, show } from '../viz';

/**
 * Prints the snapshot ensemble's test accuracy beside the last network's and the published ones, each member's own
 * accuracy, and shows the recall per class of both. A run without an ensemble says so.
 */
export function showEnsemble(run: RunView): void {
  const m = run.metrics;
  const e = m.ensemble;
  if (!e) {
    console.log(
      `${run.config.trial}: no snapshot ensemble (the trial takes no snapshots, or the run ended before the first)`,
    );
    return;
  }
  const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));
  const p = m.published;
  console.log(
    [
      `last network: test accuracy ${f(m.testAccuracy)} (published ${f(p.testAccuracy)})`,
      `snapshot ensemble of ${e.members} (${e.unit} ${e.memberAt.join(', ')}): ` +
        `${f(e.testAccuracy)} (published ${f(p.ensemble?.testAccuracy)} with ${p.ensemble?.members ?? '-'}); gain ` +
        `${e.testAccuracy - m.testAccuracy >= 0 ? '+' : ''}${(e.testAccuracy - m.testAccuracy).toFixed(4)}`,
      `each member alone: ${e.memberAccuracies.map(f).join(', ')}`,
    ].join('\n'),
  );
  show(ensembleGain(m.perClass, e.perClass));
}

/** Shows up to `limit` test images the run misclassified (default 16), titled "true → predicted", as one figure. */
export async function showMisclassified(run: RunResult, opts: MisclassifiedOptions = {}): Promise<void> {
  const images = await misclassifiedImages(run, opts);
  if (images.length === 0) {
    console.log(`${run.config.trial}: no misclassified test image`);
    return;
  }
  show(
    sampleGrid(images, {
      columns: 8,
      cellSize: 100,
      title:
        `Misclassified test images (true → predicted), ${images.length} of ` +
        `${run.evaluation.labels.filter((t, i) => run.evaluation.predictions[i] !== t).length}`,
    }),
  );
}
