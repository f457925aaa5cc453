/** `affect run` (one trial of the study, end to end) and `affect runs list|report|compare|record` (the run folders it writes). */
import * as fs from 'node:fs';
import { BACKEND_NAMES } from '../backend';
import { experimentChoices, type Scale } from '../experiments';
import * as path from 'node:path';
import { ConfigError, DataError, RunAborted, RunFailure } from '../errors';
import { LockedError, checkNotInside } from '../fs';
import {
  compareRuns,
  formatComparison,
  formatRunsTable,
  listRuns,
  runExperiment,
  writeRunsDashboard,
  type RunOptions,
} from '../runner';
import { listReproductions, replaceGeneratedBlock, reproductionTable, writeReproduction } from '../runner/reproduction';
import { writeFileAtomicSync } from '../atomic';
import { UsageError, readOptionFile, type CommandSpec, type ParsedArgs } from './args';
import { SYNTHETIC_OPTION, TRIAL_OVERRIDE_OPTIONS, scaleOption } from './trial-options';

/** A number option that must be a positive integer (0 allowed where `zero` says what it means). */
function positiveInt(args: ParsedArgs, name: string, zero?: string): number | undefined {
  const v = args.options[name] as number | undefined;
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 0 || (v === 0 && !zero))
    throw new UsageError(`option --${name} must be a positive integer${zero ? ` (or 0: ${zero})` : ''}, got ${v}`);
  return v;
}

/** RunOptions keys whose flag is spelled differently. */
const FLAG: Record<string, string> = {
  outDir: 'out',
  batchSize: 'batch-size',
  imageSize: 'image-size',
  trainPerClass: 'train-per-class',
  anyClasses: 'any-classes',
  featureCache: 'no-feature-cache',
};

/**
 * Runs the trial with Ctrl-C (SIGINT) and SIGTERM wired to its abort signal: the first stops it after the current batch,
 * a second at once; either way the console says how to resume. Exit 130 when stopped.
 */
async function runWithInterrupt(opts: RunOptions): Promise<number> {
  const controller = new AbortController();
  let runDir: string | undefined;
  const how = () => (runDir ? `; to continue from its last finished epoch:\n  affect run --resume ${runDir}` : '');
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      console.error(`\n${sig} again: stopping now${how()}`);
      process.exit(130);
    }
    console.error(`\n${sig}: stopping after the current batch (${sig} again to stop at once)${how()}`);
    controller.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runExperiment({ ...opts, signal: controller.signal, onRunDir: (d) => (runDir = d) });
    return 0;
  } catch (e) {
    if (e instanceof RunAborted) {
      console.error(`affect run: stopped${how()}`);
      return 130;
    }
    // A failure mid-run (a full disk, a lost mount) leaves the last finished epoch: say how to go on once it is fixed.
    const resumable =
      runDir &&
      !(e instanceof ConfigError || e instanceof DataError || e instanceof RunFailure || e instanceof LockedError);
    if (
      resumable &&
      fs.existsSync(path.join(runDir!, 'config.json')) &&
      !fs.existsSync(path.join(runDir!, 'metrics.json'))
    ) {
      (e as Error).message +=
        `\nthe run folder ${runDir} keeps its last finished epoch; once the cause is fixed, continue with:\n  affect run --resume ${runDir}`;
    }
    throw e;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

const experimentList = experimentChoices();

export const runCommands: CommandSpec[] = [
  {
    path: ['run'],
    summary: 'Run one trial of the study (train, evaluate, write runs/<experiment>/<trial>/<time>/ with a report.html)',
    positionals: [{ name: 'experiment', description: `experiment name or number: ${experimentList}`, optional: true }],
    options: [
      {
        name: 'trial',
        type: 'string',
        description: "trial name (default: the experiment's default trial; an unknown name lists the accepted ones)",
      },
      {
        name: 'data',
        type: 'string',
        description:
          'dataset folder: Train/Validation/Test (or train/test) folders of class folders, or one folder of class folders; ' +
          'or a FER2013 CSV (emotion,pixels,Usage)',
      },
      SYNTHETIC_OPTION,
      scaleOption(
        "full: as published; quick: the trial's own network at 48 px on a subset for a few epochs " +
          '(minutes); smoke: the published set-up on a handful of tiny images for one epoch',
      ),
      ...TRIAL_OVERRIDE_OPTIONS,
      { name: 'lr', type: 'number', description: 'override the learning rate (> 0)' },
      {
        name: 'seed',
        type: 'number',
        default: 27,
        description: 'seed of splits, initial weights, shuffles and augmentation',
      },
      {
        name: 'backend',
        type: 'string',
        choices: BACKEND_NAMES,
        description: 'tfjs backend (default: the fastest that can train)',
      },
      {
        name: 'no-feature-cache',
        type: 'boolean',
        description:
          'with a frozen backbone, run it on every batch instead of training the top on its features computed once',
      },
      {
        name: 'resume',
        type: 'string',
        description:
          'continue the interrupted run in this run folder (with its own settings; other options given must agree with them)',
      },
      { name: 'out', type: 'string', default: 'runs', description: 'folder for run folders' },
    ],
    async run(args) {
      const resume = args.options.resume as string | undefined;
      const experiment = args.positionals[0];
      if (!experiment && !resume) throw new UsageError(`missing argument <experiment>; accepted: ${experimentList}`);
      if (!resume && !args.options.data && !args.options.synthetic)
        throw new UsageError('give a dataset folder with --data DIR, or --synthetic');
      if (args.options.data && args.options.synthetic)
        throw new UsageError('give either --data or --synthetic, not both');
      const seed = args.options.seed as number;
      if (!Number.isInteger(seed)) throw new UsageError(`option --seed must be an integer, got ${seed}`);
      const lr = args.options.lr as number | undefined;
      if (lr !== undefined && !(lr > 0)) throw new UsageError(`option --lr must be a number > 0, got ${lr}`);
      const data = args.options.data as string | undefined;
      const opts = {
        experiment: experiment ?? '',
        trial: args.options.trial as string | undefined,
        // Absolute, so that a resume from another folder finds the same data.
        data: data === undefined ? undefined : path.resolve(data),
        synthetic: args.options.synthetic === true,
        scale: args.options.scale as Scale,
        seed,
        backend: args.options.backend as string | undefined,
        outDir: args.options.out as string,
        resume,
        epochs: positiveInt(args, 'epochs'),
        batchSize: positiveInt(args, 'batch-size'),
        imageSize: positiveInt(args, 'image-size'),
        trainPerClass: positiveInt(args, 'train-per-class', 'all'),
        lr,
        anyClasses: args.options['any-classes'] === true ? true : undefined,
        featureCache: args.options['no-feature-cache'] === true ? false : undefined,
      };
      // A resume takes the run's own settings: pass only what was typed, so a default is not taken for a contradiction.
      const typed = (key: string) =>
        !resume || key === 'resume' || key === 'experiment' || args.given?.has(FLAG[key] ?? key);
      // Unset overrides must not be passed as undefined keys over the trial's values.
      const clean = Object.fromEntries(
        Object.entries(opts).filter(([k, v]) => v !== undefined && typed(k)),
      ) as typeof opts;
      // A ConfigError (unknown trial, invalid setting) exits 2, a RunFailure (NaN loss) 1: see main().
      return runWithInterrupt(clean);
    },
  },
  {
    path: ['runs', 'list'],
    summary: 'List run folders: experiment, trial, scale, date, data kind, test accuracy',
    options: [{ name: 'dir', type: 'string', default: 'runs', description: 'folder holding the run folders' }],
    async run(args) {
      console.log(formatRunsTable(listRuns(args.options.dir as string)));
      return 0;
    },
  },
  {
    path: ['runs', 'report'],
    summary:
      'Write the runs dashboard, <dir>/index.html: every run as a sortable, filterable table, overlaid curves, links to reports',
    options: [
      { name: 'dir', type: 'string', default: 'runs', description: 'the run store' },
      { name: 'out', type: 'string', description: 'the page to write (default <dir>/index.html)' },
    ],
    async run(args) {
      const r = await writeRunsDashboard(args.options.dir as string, args.options.out as string | undefined);
      console.log(`${r.runs} run(s): ${r.file}`);
      return 0;
    },
  },
  {
    path: ['runs', 'compare'],
    summary: 'Compare two run folders: config differences and metrics side by side',
    positionals: [
      { name: 'A', description: 'a run folder' },
      { name: 'B', description: 'another run folder' },
    ],
    options: [],
    async run(args) {
      console.log(formatComparison(compareRuns(args.positionals[0], args.positionals[1])));
      return 0;
    },
  },
  {
    path: ['runs', 'record'],
    summary: 'Write a reproduction record of a finished run: its records, curves as SVG, a README beside the study',
    positionals: [
      { name: 'RUN', description: 'a finished run folder' },
      { name: 'OUT', description: 'the record folder (e.g. reproductions/face-mask)' },
    ],
    options: [
      {
        name: 'notes',
        type: 'string',
        description: 'a Markdown file for the README\'s "Deviations and notes" section',
      },
      { name: 'no-svg', type: 'boolean', default: false, description: 'do not draw the curves (they need Chromium)' },
    ],
    async run(args) {
      const notesFile = args.options.notes as string | undefined;
      const notes = notesFile === undefined ? undefined : readOptionFile('notes', notesFile);
      checkNotInside({ path: args.positionals[1], what: 'record folder OUT' }, [
        { path: args.positionals[0], what: 'run folder RUN' },
      ]);
      const r = await writeReproduction(args.positionals[0], args.positionals[1], {
        notes,
        svg: !args.options['no-svg'],
      });
      console.log(`wrote ${r.files.join(', ')} to ${args.positionals[1]}`);
      if (r.skipped) console.log(`curves not drawn: ${r.skipped}`);
      return 0;
    },
  },
  {
    path: ['runs', 'table'],
    summary:
      'A Markdown table of the reproduction records beside the published figures; --readme rewrites its generated block',
    options: [
      {
        name: 'records',
        type: 'string',
        default: 'reproductions',
        description: 'the folder holding the reproduction records',
      },
      {
        name: 'readme',
        type: 'string',
        description: 'a Markdown file whose "reproductions" block (between its generated markers) gets the table',
      },
    ],
    async run(args) {
      const root = args.options.records as string;
      const readme = args.options.readme as string | undefined;
      const table = reproductionTable(listReproductions(root), readme ? path.dirname(readme) : '.');
      if (!readme) {
        console.log(table);
        return 0;
      }
      writeFileAtomicSync(
        readme,
        replaceGeneratedBlock(readOptionFile('readme', readme), 'reproductions', table, readme),
      );
      console.log(`wrote the reproductions table (${table.split('\n').length - 2} records) into ${readme}`);
      return 0;
    },
  },
];
