/**
 * A reproduction record: the small, committable account of one finished run beside the study. It copies the run's
 * records (config.json, history.csv, metrics.json, confusion.csv), draws the curves as a static SVG, and writes a
 * README.md whose every number comes from those records or from the experiment registry, so nothing is typed by hand.
 * Model weights and images are never copied.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../atomic';
import { describeBackend, type BackendReport } from '../backend';
import { EXPERIMENTS, experimentLabel, getTrial, type EpochFigures, type PublishedResult } from '../experiments';
import { accuracyCurves, browserUnavailable, figuresToSvg, lossCurves, type History } from '../viz';
import { parseHistoryCsv } from './read';

export interface ReproductionOptions {
  /** Markdown prose for the README's "Deviations and notes" section (what differs from the study, and why). */
  notes?: string;
  /** Also draw curves.svg (needs Chromium; default true, skipped with a note when Chromium is missing). */
  svg?: boolean;
}

/** The record files copied from the run folder, in the order the README lists them; OPTIONAL_RECORD_FILES when the run has them. */
export const RECORD_FILES = ['config.json', 'history.csv', 'metrics.json', 'confusion.csv'] as const;
export const OPTIONAL_RECORD_FILES = ['ensemble-confusion.csv'] as const;

interface RunFiles {
  config: {
    created?: string;
    run: {
      experiment: string;
      trial: string;
      scale: string;
      description: string;
      epochs: number;
      batchSize: number;
      imageSize: number;
      callbacks?: { earlyStopping?: unknown };
    };
    backend: BackendReport;
    seed: number;
    classes: string[];
    data: { kind: string; root: string; counts: { train: number; validation: number; test: number } };
    versions?: Record<string, string>;
  };
  metrics: {
    testAccuracy: number;
    testLoss: number;
    epochsRun: number;
    bestEpoch?: number;
    stopReason?: string;
    trainSeconds: number;
    dataKind: string;
    perClass: { name: string; precision: number; recall: number; f1: number; support: number }[];
    ensemble?: {
      testAccuracy: number;
      testLoss: number;
      members: number;
      memberAt: number[];
      unit: string;
      memberAccuracies: number[];
      perClass: { name: string; recall: number }[];
    };
    /** face-api's off-the-shelf expression net on the same test images. */
    baseline?: { testAccuracy: number; images: number };
  };
  history: History;
  confusion: { classes: string[]; matrix: number[][] };
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new Error(
      `${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (e as Error).message.split('\n')[0]}`,
    );
  }
}

/** confusion.csv (`true\predicted,<classes>` then one row per true class) as classes and counts. */
export function parseConfusionCsv(text: string, file = 'confusion.csv'): { classes: string[]; matrix: number[][] } {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const classes = lines[0].split(',').slice(1);
  const matrix = lines.slice(1).map((l) => l.split(',').slice(1).map(Number));
  if (
    matrix.length !== classes.length ||
    matrix.some((r) => r.length !== classes.length || r.some((v) => !Number.isInteger(v)))
  ) {
    throw new Error(`${file}: expected a ${classes.length}x${classes.length} matrix of counts`);
  }
  return { classes, matrix };
}

function readRun(runDir: string): RunFiles {
  const file = (f: string) => path.join(runDir, f);
  if (!fs.existsSync(file('metrics.json')))
    throw new Error(`${runDir}: the run has not finished (no metrics.json); resume it first`);
  const metrics = readJson<RunFiles['metrics']>(file('metrics.json'));
  const config = readJson<RunFiles['config']>(file('config.json'));
  // A model evaluated as built (the majority baseline, 0 epochs) has a history of its header only.
  const history = parseHistoryCsv(fs.readFileSync(file('history.csv'), 'utf8'), file('history.csv'), {
    allowEmpty: metrics.epochsRun === 0,
  });
  if (metrics.bestEpoch !== undefined) history.bestEpoch = metrics.bestEpoch - 1;
  const confusion = parseConfusionCsv(fs.readFileSync(file('confusion.csv'), 'utf8'), file('confusion.csv'));
  return { config, metrics, history, confusion };
}

const fixed = (v: number | undefined, digits = 4) =>
  v === undefined || Number.isNaN(v) ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(digits);
const diff = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || Number.isInteger(a) ? '' : `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(4)}`;

/** The run's logged figures of one 1-based epoch. */
function epochFigures(h: History, epoch: number | undefined): EpochFigures {
  if (epoch === undefined) return {};
  const i = h.epochs.indexOf(epoch - 1);
  if (i < 0) return {};
  const at = (k: string) => h.logs[k]?.[i];
  return { loss: at('loss'), valLoss: at('val_loss'), acc: at('acc'), valAcc: at('val_acc') };
}

/** Markdown rows "name | this run | study | difference" comparing like with like: best epoch with best, last with last. */
export function comparisonRows(run: RunFiles, p: PublishedResult): string[] {
  const last = run.history.epochs.length;
  const best = epochFigures(run.history, run.metrics.bestEpoch);
  const lastFigures = epochFigures(run.history, run.history.epochs[last - 1] + 1);
  const row = (name: string, a: number | undefined, b: number | undefined) =>
    `| ${name} | ${fixed(a)} | ${fixed(b)} | ${diff(a, b)} |`;
  const figures = (label: string, mine: EpochFigures, theirs: EpochFigures | undefined) => [
    row(`${label}: train loss`, mine.loss, theirs?.loss),
    row(`${label}: val loss`, mine.valLoss, theirs?.valLoss),
    row(`${label}: train accuracy`, mine.acc, theirs?.acc),
    row(`${label}: val accuracy`, mine.valAcc, theirs?.valAcc),
  ];
  const e = run.metrics.ensemble;
  return [
    `| | this run | ${p.source ? 'published' : 'study'} | difference |`,
    '|---|---|---|---|',
    row('test accuracy', run.metrics.testAccuracy, p.testAccuracy),
    ...(e || p.ensemble
      ? [
          row(
            `test accuracy, snapshot ensemble (${e?.members ?? 0} / ${p.ensemble?.members ?? '-'} members)`,
            e?.testAccuracy,
            p.ensemble?.testAccuracy,
          ),
        ]
      : []),
    ...(run.metrics.baseline
      ? [
          row(
            'test accuracy, face-api expression net (off the shelf, same test images)',
            run.metrics.baseline.testAccuracy,
            undefined,
          ),
        ]
      : []),
    row('test loss', run.metrics.testLoss, p.testLoss),
    row('epochs run', run.metrics.epochsRun, p.epochsRun),
    // A run without a best epoch on either side (no EarlyStopping, none published) has only its last epoch to compare.
    ...(last > 0 && (run.metrics.bestEpoch !== undefined || p.bestEpoch !== undefined)
      ? [
          row('best epoch (lowest val_loss)', run.metrics.bestEpoch, p.bestEpoch),
          ...figures(`best epoch (${fixed(run.metrics.bestEpoch)} / ${fixed(p.bestEpoch)})`, best, p.best),
        ]
      : []),
    ...(last > 0 ? figures(`last epoch (${last} / ${fixed(p.epochsRun)})`, lastFigures, p) : []),
  ];
}

/** The run's confusion matrix beside the study's, both with rows = true class, in the run's class order. */
function confusionTable(run: RunFiles, p: PublishedResult): string[] {
  const { classes, matrix } = run.confusion;
  const theirs = (i: number, j: number) => {
    if (!p.confusion || !p.confusionClasses) return undefined;
    const a = p.confusionClasses.indexOf(classes[i]);
    const b = p.confusionClasses.indexOf(classes[j]);
    return a < 0 || b < 0 ? undefined : p.confusion[a][b];
  };
  if (!p.confusion) {
    return [
      `| true \\ predicted | ${classes.join(' | ')} |`,
      `|---|${classes.map(() => '---').join('|')}|`,
      ...classes.map((c, i) => `| ${c} | ${matrix[i].join(' | ')} |`),
    ];
  }
  return [
    `| true \\ predicted | ${classes.map((c) => `${c} (run / study)`).join(' | ')} |`,
    `|---|${classes.map(() => '---').join('|')}|`,
    ...classes.map(
      (c, i) => `| ${c} | ${classes.map((_, j) => `${matrix[i][j]} / ${theirs(i, j) ?? '-'}`).join(' | ')} |`,
    ),
  ];
}

/** The ensemble's members and its recall per class beside the single network's: where averaging helped. */
function ensembleTable(run: RunFiles): string[] {
  const e = run.metrics.ensemble;
  if (!e) return [];
  return [
    `Snapshot ensemble: the mean softmax of ${e.members} snapshots (taken at ${e.unit} ` +
      `${e.memberAt.join(', ')}); its confusion matrix is in \`ensemble-confusion.csv\`. Each ` +
      `member alone: ${e.memberAccuracies.map((a) => fixed(a)).join(', ')}.`,
    '',
    '| class | recall, last network | recall, ensemble | gain |',
    '|---|---|---|---|',
    ...run.metrics.perClass.map((c) => {
      const r = e.perClass.find((x) => x.name === c.name)?.recall;
      return `| ${c.name} | ${fixed(c.recall)} | ${fixed(r)} | ${diff(r, c.recall)} |`;
    }),
    '',
  ];
}

function perClassTable(run: RunFiles, p: PublishedResult): string[] {
  if (!p.perClass) {
    return [
      '| class | precision | recall | f1 | support |',
      '|---|---|---|---|---|',
      ...run.metrics.perClass.map(
        (c) => `| ${c.name} | ${fixed(c.precision)} | ${fixed(c.recall)} | ${fixed(c.f1)} | ${c.support} |`,
      ),
    ];
  }
  return [
    '| class | precision (run / study) | recall (run / study) | support |',
    '|---|---|---|---|',
    ...run.metrics.perClass.map((c) => {
      const s = p.perClass?.[c.name];
      return `| ${c.name} | ${fixed(c.precision)} / ${fixed(s?.precision)} | ${fixed(c.recall)} / ${fixed(s?.recall)} | ${c.support} |`;
    }),
  ];
}

const duration = (s: number) => {
  const min = Math.round(s / 60);
  return min >= 60 ? `${Math.floor(min / 60)} h ${min % 60} min` : `${min} min`;
};

/**
 * From config.json's creation to metrics.json's last write; a resumed run's trainSeconds counts only its last process,
 * so that is said apart.
 */
function wallTime(runDir: string, created: string | undefined, trainSeconds: number): string {
  const log = path.join(runDir, 'run.log');
  const resumes = fs.existsSync(log) ? (fs.readFileSync(log, 'utf8').match(/\(resumed\)/g) ?? []).length : 0;
  const start = created ? Date.parse(created) : NaN;
  const end = fs.statSync(path.join(runDir, 'metrics.json')).mtimeMs;
  const total = Number.isFinite(start)
    ? `Wall time from start to finish ${duration((end - start) / 1000)}`
    : 'Wall time not recorded';
  return resumes === 0
    ? `${total}; training ${duration(trainSeconds)} of it (validation included).`
    : `${total}, including ${resumes} stop(s) and resume(s); the last process trained for ${duration(trainSeconds)}.`;
}

/** The machine this process runs on, in one line. */
export function describeMachine(): string {
  const cpus = os.cpus();
  return (
    `${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ` +
    `${process.version}`
  );
}

/**
 * Writes the reproduction record of the finished run in `runDir` to `outDir` (created; only the record's own files
 * are replaced). Returns the files written and, when the SVG could not be drawn, why.
 */
export async function writeReproduction(
  runDir: string,
  outDir: string,
  opts: ReproductionOptions = {},
): Promise<{ files: string[]; skipped?: string }> {
  const src = path.resolve(runDir);
  const dst = path.resolve(outDir);
  const run = readRun(src);
  if (dst === src || dst.startsWith(src + path.sep))
    throw new Error(`reproduction folder ${dst} must not be inside the run folder ${src}`);
  const { experiment, trial } = getTrial(run.config.run.experiment, run.config.run.trial);
  const p = trial.published;
  fs.mkdirSync(dst, { recursive: true });
  const files: string[] = [];
  for (const f of [...RECORD_FILES, ...OPTIONAL_RECORD_FILES.filter((o) => fs.existsSync(path.join(src, o)))]) {
    writeFileAtomicSync(path.join(dst, f), fs.readFileSync(path.join(src, f)));
    files.push(f);
  }
  let skipped: string | undefined;
  if (opts.svg !== false && run.history.epochs.length > 0) {
    skipped = browserUnavailable();
    if (!skipped) {
      const svgs = await figuresToSvg([lossCurves(run.history), accuracyCurves(run.history)]);
      ['loss.svg', 'accuracy.svg'].forEach((f, i) => {
        writeFileAtomicSync(path.join(dst, f), svgs[i]);
        files.push(f);
      });
    }
  }
  const c = run.config;
  const m = run.metrics;
  // fit restores the best weights only when EarlyStopping stops the run (TF Keras 2's behaviour), and only if told to.
  const es = trial.callbacks.earlyStopping;
  const restored = m.bestEpoch !== undefined && m.stopReason !== undefined && es?.restoreBestWeights === true;
  const who = p.source ? 'the published run' : 'the study';
  let epochsLine = `- ${m.epochsRun} epochs run, no EarlyStopping: the test figures are the last epoch's.`;
  if (es) {
    const why = es.restoreBestWeights ? 'EarlyStopping did not stop the run' : 'restore_best_weights=False';
    const weights = restored
      ? `its weights restored (${m.stopReason})`
      : `not restored (${why}), so the test figures are the last epoch's`;
    const best = p.bestEpoch !== undefined ? `, best ${fixed(p.bestEpoch)} restored` : '';
    const published = p.epochsRun !== undefined ? `; ${who}: ${fixed(p.epochsRun)} run${best}` : '';
    epochsLine = `- ${m.epochsRun} epochs run, best epoch (lowest val_loss) ${fixed(m.bestEpoch)}, ${weights}${published}.`;
  }
  const e = m.ensemble;
  const lines = [
    `# Reproduction: ${experimentLabel(experiment)}, trial ${trial.name}, at ${c.run.scale} scale`,
    '',
    `${c.run.description}. Data: ${m.dataKind} (${path.basename(c.data.root)}: train ` +
      `${c.data.counts.train}, validation ${c.data.counts.validation}, test ` +
      `${c.data.counts.test}; classes ${c.classes.join(', ')}). Seed ${c.seed}.`,
    ...(p.source ? ['', `Published figures: ${p.source}${p.notes ? `: ${p.notes}` : ''}.`] : []),
    '',
    `- Test accuracy **${fixed(m.testAccuracy)}** (published ${fixed(p.testAccuracy)}), test loss ${fixed(m.testLoss)}.`,
    ...(e || p.ensemble
      ? [
          `- Snapshot ensemble of ${e?.members ?? 0}: test accuracy **${fixed(e?.testAccuracy)}** ` +
            `(published ${fixed(p.ensemble?.testAccuracy)} with ${p.ensemble?.members ?? '-'}).`,
        ]
      : []),
    m.epochsRun === 0 ? '- Nothing trained (0 epochs): the model was evaluated as built.' : epochsLine,
    `- Machine: ${describeMachine()}; ${describeBackend(c.backend)}.`,
    `- ${wallTime(src, c.created, m.trainSeconds)}`,
    '',
    `## This run beside ${who}`,
    '',
    m.epochsRun === 0
      ? 'Nothing was trained, so only the test figures compare.'
      : m.bestEpoch === undefined && p.bestEpoch === undefined
        ? `The published test figures are those of ${p.source ? 'its final network' : 'the last epoch'}; this run's are those of its last epoch.`
        : `Like with like: the figures at the best epoch beside the published best epoch, the last ` +
          `epoch's beside the last. The published test figures are those of ` +
          `${p.bestEpoch !== undefined ? 'its restored best epoch' : 'its final network'}; this run's are ` +
          `${restored ? 'those of its restored best epoch too' : 'those of its last epoch'}.`,
    '',
    ...comparisonRows(run, p),
    '',
    '## Test set',
    '',
    ...confusionTable(run, p),
    '',
    ...perClassTable(run, p),
    '',
    ...ensembleTable(run),
  ];
  if (files.includes('loss.svg')) lines.push('## Curves', '', '![loss](loss.svg)', '', '![accuracy](accuracy.svg)', '');
  if (opts.notes) lines.push('## Deviations and notes', '', opts.notes.trim(), '');
  lines.push(
    '## Files',
    '',
    `${RECORD_FILES.map((f) => `\`${f}\``).join(', ')}: the run's own records, copied ` +
      `unchanged from its run folder (\`config.json\` holds every resolved setting and the ` +
      `package versions). This README is generated from them and from the experiment registry by ` +
      `\`affect runs record\`.`,
    '',
  );
  writeFileAtomicSync(path.join(dst, 'README.md'), lines.join('\n'));
  files.push('README.md');
  return skipped ? { files, skipped } : { files };
}

/**
 * One markdown table of reproduction records (folders written by writeReproduction): each record's trial, data, test
 * accuracy and ensemble accuracy beside the published figures, epochs and wall time, with a link to its README
 * (relative to `linkBase`). Every number comes from the record's files or the registry.
 */
export function reproductionTable(recordDirs: readonly string[], linkBase = '.'): string {
  const rows = recordDirs.map((dir) => {
    const config = readJson<RunFiles['config']>(path.join(dir, 'config.json'));
    const m = readJson<RunFiles['metrics']>(path.join(dir, 'metrics.json'));
    const { experiment, trial } = getTrial(config.run.experiment, config.run.trial);
    const p = trial.published;
    const pair = (a: number | undefined, b: number | undefined) =>
      a === undefined && b === undefined ? '' : `${fixed(a)} / ${fixed(b)}`;
    const link = path.relative(linkBase, path.join(dir, 'README.md')).split(path.sep).join('/');
    return (
      `| ${experiment.number !== undefined ? `${experiment.number} ` : ''}${experiment.name} / ` +
      `${trial.name} | ${m.dataKind}, ${path.basename(config.data.root)} (train ` +
      `${config.data.counts.train}, test ${config.data.counts.test}) | ` +
      `${pair(m.testAccuracy, p.testAccuracy)} | ` +
      `${pair(m.ensemble?.testAccuracy, p.ensemble?.testAccuracy)} | ` +
      `${m.baseline ? fixed(m.baseline.testAccuracy) : ''} | ${m.epochsRun} | ` +
      `[${path.basename(dir)}](${link}) |`
    );
  });
  return [
    '| experiment / trial | data | test accuracy: run / published | snapshot ensemble: run / ' +
      'published | face-api expression net, same test images | epochs | record |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** Where the generated block `name` of `text` starts (after its start marker's line) and ends, if it has one. */
function blockBounds(text: string, name: string): [number, number] | undefined {
  const a = text.indexOf(`<!-- ${name}:start`);
  const close = a < 0 ? -1 : text.indexOf('-->', a);
  const b = close < 0 ? -1 : text.indexOf(`<!-- ${name}:end -->`, close);
  return a < 0 || close < 0 || b < close ? undefined : [close + 3, b];
}

/**
 * `text` with the generated block `name` (between its start and end markers) replaced by `content`; an absent block
 * is an error that names the marker lines to add, `by` being the command that writes it.
 */
export function replaceGeneratedBlock(
  text: string,
  name: string,
  content: string,
  file = 'README.md',
  by = 'affect runs table',
): string {
  const bounds = blockBounds(text, name);
  if (!bounds) {
    throw new Error(
      `${file} has no generated block "${name}": add the lines\n` +
        `<!-- ${name}:start (generated by ${by}; do not edit) -->\n<!-- ${name}:end -->`,
    );
  }
  return `${text.slice(0, bounds[0])}\n${content}\n${text.slice(bounds[1])}`;
}

/** The content of the generated block `name` in `text`, or undefined when it has none. */
export function generatedBlock(text: string, name: string): string | undefined {
  const bounds = blockBounds(text, name);
  return bounds && text.slice(...bounds).trim();
}

/**
 * The record folders under `root` (each a folder with metrics.json, at any depth), in the registry's order of
 * experiments and trials, so a table of them reads like the study.
 */
export function listReproductions(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    if (fs.existsSync(path.join(dir, 'metrics.json')) && fs.existsSync(path.join(dir, 'config.json'))) found.push(dir);
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
  };
  if (!fs.existsSync(root)) throw new Error(`reproductions folder ${root} does not exist`);
  walk(root);
  const order = (dir: string) => {
    const run = readJson<RunFiles['config']>(path.join(dir, 'config.json')).run;
    const e = EXPERIMENTS.findIndex((x) => x.name === run.experiment);
    const t = e < 0 ? -1 : EXPERIMENTS[e].trials.findIndex((x) => x.name === run.trial);
    return [e, t, dir] as const;
  };
  return found
    .map(order)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2].localeCompare(b[2]))
    .map((o) => o[2]);
}
