/**
 * A sweep's report.html, from the run store alone (so a local and a queued sweep give the same page): every trial's
 * state, the curves of all trials side by side, and each trial's figures beside the study's published ones.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { experimentLabel, getExperiment, getTrial } from '../experiments';
import {
  escapeHtml,
  resultsTable,
  sweepCurves,
  writeHtmlPage,
  type DataKind,
  type History,
  type PageSection,
  type ResultRow,
} from '../viz';
import { baselineResultRow, type BaselineSummary } from '../predict';
import { sweepDir } from './definition';
import { readHistory } from './store';
import { runFolder, statusRows, sweepStatus, type TrialStatus } from './status';

function dataKindOf(runDir: string | undefined, synthetic: boolean): DataKind {
  try {
    return (JSON.parse(fs.readFileSync(path.join(runDir!, 'config.json'), 'utf8')) as { data: { kind: DataKind } }).data
      .kind;
  } catch {
    return synthetic ? 'synthetic' : 'real sample';
  }
}

/** The off-the-shelf baseline that a trial's run evaluated on its test split (every trial of a sweep has the same one). */
function baselineOf(runDirs: (string | undefined)[]): BaselineSummary | undefined {
  for (const dir of runDirs) {
    try {
      const b = (JSON.parse(fs.readFileSync(path.join(dir!, 'metrics.json'), 'utf8')) as { baseline?: BaselineSummary })
        .baseline;
      if (b) return b;
    } catch {
      // Not finished (or not started): no metrics yet.
    }
  }
  return undefined;
}

const CELL_STYLE = 'border:1px solid #ccc;padding:2px 6px;text-align:left';
const finite = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Writes `<out>/sweeps/<id>/report.html` and returns its path. */
export function writeSweepReport(out: string, id: string): string {
  const { sweep, trials } = sweepStatus(out, id);
  const exp = getExperiment(sweep.experiment);
  const runs = trials.map((t) => ({ t, dir: runFolder(out, id, t) }));
  const kind = dataKindOf(runs.find((r) => r.dir)?.dir, !!sweep.settings.synthetic);
  const histories: Record<string, History> = {};
  for (const { t, dir } of runs) {
    const h = dir ? readHistory(dir) : undefined;
    if (h?.epochs.length)
      histories[t.trial] = { ...h, ...(t.result?.bestEpoch ? { bestEpoch: t.result.bestEpoch - 1 } : {}) };
  }

  const s = sweep.settings;
  const overrides = (['epochs', 'batchSize', 'imageSize', 'trainPerClass', 'testPerClass'] as const)
    .filter((k) => s[k] !== undefined)
    .map((k) => `${k} ${s[k]}`);
  const text = [
    kind === 'synthetic'
      ? "SYNTHETIC DATA: generated images, not the study's; the numbers below are not comparable with the study."
      : '',
    `${experimentLabel(exp, true)}, ${exp.title}: ${exp.description}.`,
    `Scale ${s.scale}, seed ${s.seed}${overrides.length ? `, ${overrides.join(', ')}` : ''}, ` +
      `backend ${s.backend ?? "each worker's default"}; data: ` +
      `${s.synthetic ? 'the synthetic set' : s.data} ` +
      `(${kind}).${sweep.queue ? ` Queued on ${sweep.queue}.` : ' Run locally, one trial after the other.'}`,
    s.scale === 'full'
      ? ''
      : `The study's figures are from its full-scale runs; at the ${s.scale} scale the comparison shows directions, not matching numbers.`,
  ]
    .filter(Boolean)
    .join('\n\n');

  const table = statusRows(trials);
  const tr = (row: string[], i: number) => {
    const tag = i ? 'td' : 'th';
    const cells = row.map((c) => `<${tag} style="${CELL_STYLE}">${escapeHtml(c)}</${tag}>`);
    return `<tr>${cells.join('')}</tr>`;
  };
  const html = `<table style="border-collapse:collapse;font-size:0.9em">${table.map(tr).join('')}</table>`;

  const rows = (
    value: (t: TrialStatus) => number | undefined,
    study: (p: ReturnType<typeof getTrial>['trial']['published']) => number | undefined,
    notes = false,
  ): ResultRow[] =>
    trials.map((t) => {
      const p = getTrial(exp, t.trial).trial.published;
      return {
        name: t.trial,
        run: value(t),
        study: study(p),
        data: kind,
        ...(notes && p.notes ? { note: p.notes } : {}),
      };
    });
  const baseline = baselineOf(runs.map((r) => r.dir));
  const baselineRow = baseline
    ? [baselineResultRow({ accuracy: baseline.testAccuracy, mapping: baseline.mapping }, kind)]
    : [];
  const study = [
    resultsTable(
      [
        ...rows(
          (t) => finite(t.result?.testAccuracy),
          (p) => p.testAccuracy,
        ),
        ...baselineRow,
      ],
      { metric: 'test accuracy', title: 'Test accuracy: each trial vs the study' },
    ),
    resultsTable(
      rows(
        (t) => finite(t.result?.finalValLoss),
        (p) => p.valLoss,
      ),
      { metric: 'final val loss', title: 'Last epoch validation loss: each trial vs the study' },
    ),
    resultsTable(
      rows(
        (t) => finite(t.result?.finalLoss),
        (p) => p.loss,
      ),
      { metric: 'final train loss', title: 'Last epoch training loss: each trial vs the study' },
    ),
    resultsTable(
      rows(
        (t) => finite(t.result?.epochsRun),
        (p) => p.epochsRun,
        true,
      ),
      { metric: 'epochs run', title: "Epochs run, with the study's notes" },
    ),
  ];
  const names = Object.keys(histories);
  const curves: PageSection = names.length
    ? {
        heading: 'Curves of all trials',
        figures: [
          sweepCurves(histories, { metric: 'loss', title: `Loss per trial (${kind})` }),
          sweepCurves(histories, { metric: 'acc', title: `Accuracy per trial (${kind})` }),
        ],
      }
    : { heading: 'Curves of all trials', text: 'No trial has finished an epoch yet.' };

  const file = path.join(sweepDir(out, id), 'report.html');
  writeHtmlPage(file, `Sweep ${id}: ${experimentLabel(exp)}, ${trials.length} trials`, [
    { heading: 'Sweep', text },
    { heading: 'Trials', html },
    curves,
    { heading: 'This sweep vs the study', figures: study },
  ]);
  return file;
}
