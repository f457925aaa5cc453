/** An experiment's trials as a table for the notebooks: what each trains and what the study published for it. */
import { findManifest } from '../data/manifest';
import {
  experimentLabel,
  getExperiment,
  type CallbackConfig,
  type EpochFigures,
  type PublishedResult,
} from '../experiments';
import type { Figure } from '../viz';

const num = (v: number | undefined) => (v === undefined ? '-' : String(v));
const pair = (a: number | undefined, b: number | undefined) =>
  a === undefined && b === undefined ? '-' : `${num(a)} / ${num(b)}`;

/** A last-epoch pair, followed by the best epoch's where the study published those too. */
const lastAndBest = (last: string, best: string | undefined) =>
  best === undefined ? last : `${last} (best epoch: ${best})`;

/**
 * One row of trialsTable's cells: [trial, settings, test accuracy, epochs run / best, loss train / val, accuracy train /
 * val, notes]; losses and accuracies are the last epoch's, then the best epoch's where published.
 */
export function trialRow(name: string, description: string, p: PublishedResult): string[] {
  const b = p.best;
  return [
    name,
    description,
    num(p.testAccuracy),
    pair(p.epochsRun, p.bestEpoch),
    lastAndBest(pair(p.loss, p.valLoss), b && pair(b.loss, b.valLoss)),
    lastAndBest(pair(p.acc, p.valAcc), b && pair(b.acc, b.valAcc)),
    p.notes ?? '',
  ];
}

/**
 * A plotly table of an experiment's trials with the study's published figures ('-' where it reported none); the row of
 * `highlight` (a trial name, e.g. the one this notebook runs) is shaded. An unknown experiment or trial is an error.
 */
export function trialsTable(experiment: string | number, opts: { highlight?: string; title?: string } = {}): Figure {
  const exp = getExperiment(experiment);
  if (opts.highlight !== undefined && !exp.trials.some((t) => t.name === opts.highlight)) {
    throw new Error(
      `trialsTable: experiment ${exp.name} has no trial "${opts.highlight}"; accepted: ${exp.trials.map((t) => t.name).join(', ')}`,
    );
  }
  const rows = exp.trials.map((t) => trialRow(t.name, t.description, t.published));
  const columns = rows[0].map((_, i) => rows.map((r) => r[i]));
  return {
    data: [
      {
        type: 'table',
        columnwidth: [2.2, 4.5, 1, 1.1, 1.3, 1.3, 2.4],
        header: {
          values: [
            'trial',
            'settings',
            'study: test accuracy',
            'epochs run / best',
            'loss train / val (last epoch)',
            'accuracy train / val (last epoch)',
            'notes',
          ],
          align: 'left',
          fill: { color: '#e8eef7' },
          font: { size: 12 },
        },
        cells: {
          values: columns,
          align: 'left',
          fill: { color: [exp.trials.map((t) => (t.name === opts.highlight ? '#fff4c2' : 'white'))] },
          font: { size: 11 },
        },
      },
    ],
    layout: {
      title: { text: opts.title ?? `${experimentLabel(exp, true)}: the published trials` },
      height: 140 + 62 * rows.length,
      margin: { l: 10, r: 10, t: 50, b: 10 },
    },
  };
}

const epochFigures = (f: EpochFigures) =>
  `loss ${pair(f.loss, f.valLoss)}, accuracy ${pair(f.acc, f.valAcc)} (train / val)`;

function callbacks(c: CallbackConfig): string {
  const es =
    c.earlyStopping &&
    `EarlyStopping(${c.earlyStopping.monitor}, patience ` +
      `${c.earlyStopping.patience}${c.earlyStopping.restoreBestWeights ? ', restoring the best weights' : ''})`;
  const rl =
    c.reduceLROnPlateau &&
    `ReduceLROnPlateau(${c.reduceLROnPlateau.monitor}, factor ${c.reduceLROnPlateau.factor}, patience ${c.reduceLROnPlateau.patience})`;
  const sd =
    c.stepDecay &&
    `LearningRateScheduler(lr x ${c.stepDecay.factor} from epoch ${c.stepDecay.epochs.map((e) => e + 1).join(', ')})`;
  const r = c.cosineDecayRestarts;
  const unit = r?.unit ?? 'iteration';
  const cr =
    r &&
    `CosineDecayRestarts(${r.initialLearningRate !== undefined ? `from lr ${r.initialLearningRate}, ` : ''}` +
      `every ${r.firstDecaySteps} ${unit}s, t_mul ${r.tMul}${r.start ? `, from ${unit} ${r.start}` : ''})`;
  return [es, rl, sd, cr].filter(Boolean).join(', ') || 'none';
}

/** The study's figures of one trial, one line each; nothing for a trial it published no figures for. */
function publishedLines(p: PublishedResult): string[] {
  const lines: string[] = [];
  if (p.testAccuracy !== undefined)
    lines.push(`test accuracy ${p.testAccuracy}${p.testLoss !== undefined ? ` (loss ${p.testLoss})` : ''}`);
  if (p.epochsRun !== undefined || p.bestEpoch !== undefined)
    lines.push(`epochs run ${num(p.epochsRun)}, best epoch (restored) ${num(p.bestEpoch)}`);
  if ([p.loss, p.valLoss, p.acc, p.valAcc].some((v) => v !== undefined))
    lines.push(`last epoch${p.epochsRun !== undefined ? ` (${p.epochsRun})` : ''}: ${epochFigures(p)}`);
  if (p.best) lines.push(`best epoch${p.bestEpoch !== undefined ? ` (${p.bestEpoch})` : ''}: ${epochFigures(p.best)}`);
  if (p.perClass)
    lines.push(
      `precision / recall: ${Object.entries(p.perClass)
        .map(([c, v]) => `${c} ${v.precision} / ${v.recall}`)
        .join(', ')}`,
    );
  if (p.confusion && p.confusionClasses)
    lines.push(`confusion matrix (rows true ${p.confusionClasses.join(', ')}): ${JSON.stringify(p.confusion)}`);
  if (p.notes) lines.push(`notes: ${p.notes}`);
  return lines;
}

/**
 * What the study did and found in one experiment, as text from the registry (lib/experiments) and the dataset
 * manifests (data-manifests/): the experiment, its datasets' sizes, its callbacks, and every trial's settings and
 * published figures. The notebooks print it so that no figure in their prose is typed by hand.
 */
export function studyFigures(experiment: string | number): string {
  const exp = getExperiment(experiment);
  const lines = [`${experimentLabel(exp, true)}, ${exp.title}: ${exp.description.replace(/\.$/, '')}.`];
  for (const name of new Set(exp.trials.map((t) => t.data.dataset))) {
    const m = findManifest(name);
    lines.push(
      `Dataset ${name}: ${m.splits.map((s) => `${s.name} ${s.total ?? '?'}`).join(', ')} images, ${m.classes.length} classes.`,
    );
  }
  for (const c of new Set(exp.trials.map((t) => callbacks(t.callbacks)))) lines.push(`Callbacks: ${c}.`);
  for (const v of new Set(
    exp.trials.map(
      (t) =>
        `Images ${t.imageSize}x${t.imageSize}; validation: ${t.data.validationFraction} of train where the data has no validation folder.`,
    ),
  ))
    lines.push(v);
  for (const t of exp.trials) {
    lines.push('', `${t.name}: ${t.description}`);
    const figures = publishedLines(t.published);
    lines.push(...(figures.length ? figures : ['no figures published']).map((l) => `  ${l}`));
  }
  return lines.join('\n');
}
