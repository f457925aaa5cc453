/** What a run says about itself: its settings in one line, its figures beside the study's, and report.html. */
import { describeBackend, type BackendReport } from '../backend';
import { describeModel, type RunConfig } from '../experiments';
import { baselineResultRow } from '../predict';
import type { Evaluation, TrainHistory } from '../train';
import {
  accuracyCurves,
  confusionHeatmap,
  escapeHtml,
  learningRate,
  lossCurves,
  resultsTable,
  writeHtmlPage,
  type Figure,
  type ResultRow,
} from '../viz';
import type { ResolvedData } from './data';
import type { RunMetrics, RunResult } from './run-experiment';

/** The settings in force after scale and overrides, in one line. */
export function describeSettings(cfg: RunConfig): string {
  const o = cfg.optimizer;
  const opt = [
    `${o.kind} lr ${o.lr}`,
    o.momentum ? `momentum ${o.momentum}` : '',
    o.nesterov ? 'nesterov' : '',
    o.weightDecay ? `weight decay ${o.weightDecay}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const m = cfg.model;
  const model =
    `${describeModel(m)}${m.normalize ? '' : ' (no rescaling)'}` +
    `${m.standardize ? ', per-image standardization' : ''}${m.l2 ? `, L2 ${m.l2}` : ''}`;
  const subset =
    cfg.trainPerClass || cfg.testPerClass
      ? `, at most ${cfg.trainPerClass ?? 'all'} train / ${cfg.testPerClass ?? 'all'} test images per class`
      : '';
  const extra = [cfg.data.grayscale ? 'grayscale' : '', cfg.data.augment ? 'on-the-fly augmentation' : '']
    .filter(Boolean)
    .join(', ');
  return `${model}; ${cfg.imageSize} px; ${opt}; batch ${cfg.batchSize}; up to ${cfg.epochs} epochs${subset}${extra ? `; ${extra}` : ''}`;
}

/**
 * This run's figures next to the study's published ones, one row each (test accuracy, loss, epochs, final train/val
 * figures), and the off-the-shelf face-api baseline's test accuracy when the run evaluated it, for viz.resultsTable.
 */
export function studyComparison(metrics: RunMetrics): ResultRow[] {
  const p = metrics.published;
  const row = (name: string, run: number | undefined, study: number | undefined, note?: string): ResultRow => ({
    name,
    run,
    study,
    data: metrics.dataKind,
    ...(note ? { note } : {}),
  });
  return [
    row('test accuracy', metrics.testAccuracy, p.testAccuracy),
    row('test loss', metrics.testLoss, p.testLoss),
    row('epochs run', metrics.epochsRun, p.epochsRun, p.notes),
    row('best epoch (val_loss)', metrics.bestEpoch, p.bestEpoch),
    row('final train loss', metrics.final.loss, p.loss),
    row('final val loss', metrics.final.val_loss, p.valLoss),
    row('final train acc', metrics.final.acc, p.acc),
    row('final val acc', metrics.final.val_acc, p.valAcc),
    ...(metrics.ensemble || p.ensemble
      ? [
          row(
            `test accuracy: snapshot ensemble (${metrics.ensemble?.members ?? 0} members; published ${p.ensemble?.members ?? '-'})`,
            metrics.ensemble?.testAccuracy,
            p.ensemble?.testAccuracy,
          ),
        ]
      : []),
    ...(metrics.baseline
      ? [
          {
            ...baselineResultRow(
              { accuracy: metrics.baseline.testAccuracy, mapping: metrics.baseline.mapping },
              metrics.dataKind,
            ),
            name: 'test accuracy: face-api expression net (off the shelf, not trained here)',
            study: p.testAccuracy,
          },
        ]
      : []),
  ];
}

/** This run's test accuracy and the face-api baseline's on the same images (empty when the run did not evaluate it). */
export function baselineComparison(metrics: RunMetrics): ResultRow[] {
  if (!metrics.baseline) return [];
  return [
    { name: 'this run', run: metrics.testAccuracy, data: metrics.dataKind },
    baselineResultRow({ accuracy: metrics.baseline.testAccuracy, mapping: metrics.baseline.mapping }, metrics.dataKind),
  ];
}

/** What a run's figures are drawn from: a RunResult, or a finished run folder read back with readRun. */
export interface RunView extends Pick<RunResult, 'config' | 'classes' | 'metrics' | 'history'> {
  evaluation: Pick<RunResult['evaluation'], 'confusion'>;
}

/** A run's figures, in the groups a notebook shows between its prose and report.html shows in its sections. */
export interface RunFigures {
  /** Loss, then accuracy, training vs validation per epoch, the best epoch marked; none for a model trained 0 epochs. */
  curves: Figure[];
  /** The learning rate per epoch; absent when the history has no `lr` log. */
  learningRate?: Figure;
  /** This run's test confusion matrix, then the study's where it published one. */
  confusion: Figure[];
  /** This run's figures beside the study's (a table). */
  comparison: Figure;
}

/** The figures of a run, drawn the same way in report.html and in the notebooks (lib/notebook's showRun). */
export function runFigures(run: RunView): RunFigures {
  const kind = run.metrics.dataKind;
  const p = run.metrics.published;
  const confusion = [
    confusionHeatmap(run.evaluation.confusion, run.classes, {
      title: `Confusion matrix, test set: this run (${kind})`,
    }),
  ];
  if (p.confusion && p.confusionClasses) {
    const images = p.confusion.flat().reduce((a, b) => a + b, 0);
    confusion.push(
      confusionHeatmap(p.confusion, p.confusionClasses, {
        title: `Confusion matrix: the study (its full test set, ${images} images)`,
      }),
    );
  }
  const trained = run.history.epochs.length > 0;
  return {
    curves: trained
      ? [
          lossCurves(run.history, { title: `Loss per epoch (${kind})` }),
          accuracyCurves(run.history, { title: `Accuracy per epoch (${kind})` }),
        ]
      : [],
    ...(trained && run.history.logs.lr ? { learningRate: learningRate(run.history) } : {}),
    confusion,
    comparison: resultsTable(studyComparison(run.metrics), {
      metric: 'value',
      title: `This run (${run.config.trial}, ${run.config.scale} scale, ${kind}) vs the study`,
    }),
  };
}

/** report.html: what ran, this run vs the study, the curves, the confusion matrix and the classification report. */
export function writeReport(
  file: string,
  cfg: RunConfig,
  metrics: RunMetrics,
  history: TrainHistory,
  ev: Evaluation,
  data: ResolvedData,
  backend: BackendReport,
): void {
  const warnings = [
    data.kind === 'synthetic'
      ? "SYNTHETIC DATA: generated images, not the study's; the numbers below are not comparable with the study."
      : '',
    cfg.note ? `NOTE: ${cfg.note}.` : '',
    data.classesDiffer
      ? `OTHER CLASSES: the trial's dataset has ${data.expectedClasses!.join(', ')}; this data has ` +
        `${data.classes.join(', ')} (accepted with anyClasses). The study's figures do not apply, ` +
        `so there is no comparison with them.`
      : '',
  ].filter(Boolean);
  const f = runFigures({ config: cfg, classes: data.classes, metrics, history, evaluation: ev });
  // A model with nothing to train (the majority baseline) has no curves.
  const figures = [...f.curves, ...(f.learningRate ? [f.learningRate] : [])];
  writeHtmlPage(file, `${cfg.experiment} / ${cfg.trial} (${cfg.scale})`, [
    {
      heading: 'Run',
      text: [
        ...warnings,
        cfg.description,
        `Settings: ${describeSettings(cfg)}.`,
        `Data: ${data.root} (${data.kind}; ${data.layout}). Classes: ${data.classes.join(', ')}. ` +
          `Train ${data.counts.train}, validation ${data.counts.validation}, test ` +
          `${data.counts.test}.`,
        `Seed ${cfg.seed}; ${describeBackend(backend)}; ${metrics.trainSeconds.toFixed(1)} s of ` +
          `training.${metrics.stopReason ? ` ${metrics.stopReason}.` : ''}`,
      ].join('\n\n'),
    },
    ...(data.classesDiffer ? [] : [{ heading: 'This run vs the study', figures: [f.comparison] }]),
    // Other classes than the study's: the off-the-shelf baseline, on the same test images, is still a fair comparison.
    ...(data.classesDiffer && metrics.baseline
      ? [
          {
            heading: 'This run vs the off-the-shelf baseline',
            figures: [resultsTable(baselineComparison(metrics), { title: 'Test accuracy on the same test images' })],
          },
        ]
      : []),
    figures.length
      ? { heading: 'Training curves', figures }
      : { heading: 'Training curves', text: 'No training: the model was evaluated as built (0 epochs).' },
    { heading: 'Test set', figures: f.confusion, html: `<pre>${escapeHtml(ev.reportText)}</pre>` },
  ]);
}
