/** An experiment's trials as a table for the notebooks: what each trains and what the study published for it. */
import { getExperiment, type PublishedResult } from '../experiments';
import type { Figure } from '../viz';

const num = (v: number | undefined) => (v === undefined ? '-' : String(v));
const pair = (a: number | undefined, b: number | undefined) => (a === undefined && b === undefined ? '-' : `${num(a)} / ${num(b)}`);

/** One row of trialsTable's cells: [trial, settings, test accuracy, epochs run / best, loss train / val, accuracy train / val, notes]. */
export function trialRow(name: string, description: string, p: PublishedResult): string[] {
  return [name, description, num(p.testAccuracy), pair(p.epochsRun, p.bestEpoch), pair(p.loss, p.valLoss), pair(p.acc, p.valAcc), p.notes ?? ''];
}

/**
 * A plotly table of an experiment's trials with the study's published figures ('-' where it reported none); the row of
 * `highlight` (a trial name, e.g. the one this notebook runs) is shaded. An unknown experiment or trial is an error.
 */
export function trialsTable(experiment: string | number, opts: { highlight?: string; title?: string } = {}): Figure {
  const exp = getExperiment(experiment);
  if (opts.highlight !== undefined && !exp.trials.some((t) => t.name === opts.highlight)) {
    throw new Error(`trialsTable: experiment ${exp.name} has no trial "${opts.highlight}"; accepted: ${exp.trials.map((t) => t.name).join(', ')}`);
  }
  const rows = exp.trials.map((t) => trialRow(t.name, t.description, t.published));
  const columns = rows[0].map((_, i) => rows.map((r) => r[i]));
  return {
    data: [{
      type: 'table',
      columnwidth: [2.2, 4.5, 1, 1.1, 1.3, 1.3, 2.4],
      header: { values: ['trial', 'settings', 'study: test accuracy', 'epochs run / best', 'loss train / val', 'accuracy train / val', 'notes'], align: 'left', fill: { color: '#e8eef7' }, font: { size: 12 } },
      cells: { values: columns, align: 'left', fill: { color: [exp.trials.map((t) => (t.name === opts.highlight ? '#fff4c2' : 'white'))] }, font: { size: 11 } },
    }],
    layout: { title: { text: opts.title ?? `Experiment ${exp.number} (${exp.name}): the study's trials` }, height: 140 + 62 * rows.length, margin: { l: 10, r: 10, t: 50, b: 10 } },
  };
}
