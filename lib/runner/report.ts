/** What a run says about itself: its settings in one line, its figures beside the study's, and report.html. */
import { describeBackend, type BackendReport } from '../backend';
import { describeModel, type RunConfig } from '../experiments';
import type { Evaluation, TrainHistory } from '../train';
import { accuracyCurves, confusionHeatmap, escapeHtml, learningRate, lossCurves, resultsTable, writeHtmlPage, type ResultRow } from '../viz';
import type { ResolvedData } from './data';
import type { RunMetrics } from './run';

/** The settings in force after scale and overrides, in one line. */
export function describeSettings(cfg: RunConfig): string {
  const o = cfg.optimizer;
  const opt = [`${o.kind} lr ${o.lr}`, o.momentum ? `momentum ${o.momentum}` : '', o.nesterov ? 'nesterov' : '', o.weightDecay ? `weight decay ${o.weightDecay}` : ''].filter(Boolean).join(' ');
  const m = cfg.model;
  const model = `${describeModel(m)}${m.normalize ? '' : ' (no rescaling)'}${m.l2 ? `, L2 ${m.l2}` : ''}`;
  const subset = cfg.trainPerClass || cfg.testPerClass ? `, at most ${cfg.trainPerClass ?? 'all'} train / ${cfg.testPerClass ?? 'all'} test images per class` : '';
  const extra = [cfg.data.grayscale ? 'grayscale' : '', cfg.data.augment ? 'on-the-fly augmentation' : ''].filter(Boolean).join(', ');
  return `${model}; ${cfg.imageSize} px; ${opt}; batch ${cfg.batchSize}; up to ${cfg.epochs} epochs${subset}${extra ? `; ${extra}` : ''}`;
}

/** This run's figures next to the study's published ones, one row each (test accuracy, loss, epochs, final train/val figures), for viz.resultsTable. */
export function studyComparison(metrics: RunMetrics): ResultRow[] {
  const p = metrics.published;
  const row = (name: string, run: number | undefined, study: number | undefined, note?: string): ResultRow => ({ name, run, study, data: metrics.dataKind, ...(note ? { note } : {}) });
  return [
    row('test accuracy', metrics.testAccuracy, p.testAccuracy),
    row('test loss', metrics.testLoss, p.testLoss),
    row('epochs run', metrics.epochsRun, p.epochsRun, p.notes),
    row('best epoch (val_loss)', metrics.bestEpoch, p.bestEpoch),
    row('final train loss', metrics.final.loss, p.loss),
    row('final val loss', metrics.final.val_loss, p.valLoss),
    row('final train acc', metrics.final.acc, p.acc),
    row('final val acc', metrics.final.val_acc, p.valAcc),
  ];
}

/** report.html: what ran, this run vs the study, the curves, the confusion matrix and the classification report. */
export function writeReport(file: string, cfg: RunConfig, metrics: RunMetrics, history: TrainHistory, ev: Evaluation, data: ResolvedData, backend: BackendReport): void {
  const p = metrics.published;
  const rows = studyComparison(metrics);
  const warnings = [
    data.kind === 'synthetic' ? 'SYNTHETIC DATA: generated images, not the study\'s; the numbers below are not comparable with the study.' : '',
    cfg.note ? `NOTE: ${cfg.note}.` : '',
  ].filter(Boolean);
  const figures = [lossCurves(history), accuracyCurves(history)];
  if (history.logs.lr) figures.push(learningRate(history));
  const confusion = [confusionHeatmap(ev.confusion, data.classes, { title: 'Confusion matrix (this run)' })];
  if (p.confusion && p.confusionClasses) confusion.push(confusionHeatmap(p.confusion, p.confusionClasses, { title: 'Confusion matrix (study)' }));
  writeHtmlPage(file, `${cfg.experiment} / ${cfg.trial} (${cfg.scale})`, [
    {
      heading: 'Run',
      text: [...warnings, cfg.description, `Settings: ${describeSettings(cfg)}.`, `Data: ${data.root} (${data.kind}; ${data.layout}). Classes: ${data.classes.join(', ')}. Train ${data.counts.train}, validation ${data.counts.validation}, test ${data.counts.test}.`, `Seed ${cfg.seed}; ${describeBackend(backend)}; ${metrics.trainSeconds.toFixed(1)} s of training.${metrics.stopReason ? ` ${metrics.stopReason}.` : ''}`].join('\n\n'),
    },
    { heading: 'This run vs the study', figures: [resultsTable(rows)] },
    { heading: 'Training curves', figures },
    { heading: 'Test set', figures: confusion, html: `<pre>${escapeHtml(ev.reportText)}</pre>` },
  ]);
}
