/** `affect run` (one trial of the study, end to end) and `affect runs list|compare|record` (the run folders it writes). */
import * as fs from 'node:fs';
import { BACKEND_NAMES } from '../backend';
import { EXPERIMENTS, SCALES, type Scale } from '../experiments';
import { compareRuns, formatComparison, formatRunsTable, listRuns, runExperiment } from '../runner';
import { writeReproduction } from '../runner/reproduction';
import { UsageError, type CommandSpec, type ParsedArgs } from './args';

/** A number option that must be a positive integer (0 allowed where `zero` says what it means). */
function positiveInt(args: ParsedArgs, name: string, zero?: string): number | undefined {
  const v = args.options[name] as number | undefined;
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 0 || (v === 0 && !zero)) throw new UsageError(`option --${name} must be a positive integer${zero ? ` (or 0: ${zero})` : ''}, got ${v}`);
  return v;
}

const experimentList = EXPERIMENTS.map((e) => `${e.number} ${e.name}`).join(', ');

export const runCommands: CommandSpec[] = [
  {
    path: ['run'],
    summary: 'Run one trial of the study (train, evaluate, write runs/<experiment>/<trial>/<time>/ with a report.html)',
    positionals: [{ name: 'experiment', description: `experiment name or number: ${experimentList}`, optional: true }],
    options: [
      { name: 'trial', type: 'string', description: "trial name (default: the experiment's default trial; an unknown name lists the accepted ones)" },
      { name: 'data', type: 'string', description: 'dataset folder: Train/Validation/Test (or train/test) folders of class folders, or one folder of class folders' },
      { name: 'synthetic', type: 'boolean', description: 'train on the generated synthetic set (marked SYNTHETIC DATA everywhere)' },
      { name: 'scale', type: 'string', choices: SCALES, default: 'quick', description: "full: as published; quick: the trial's own network at 48 px on a subset for a few epochs (minutes); smoke: the published set-up on a handful of tiny images for one epoch" },
      { name: 'epochs', type: 'number', description: 'override the number of epochs' },
      { name: 'batch-size', type: 'number', description: 'override the batch size' },
      { name: 'lr', type: 'number', description: 'override the learning rate (> 0)' },
      { name: 'image-size', type: 'number', description: 'override the image side in pixels' },
      { name: 'train-per-class', type: 'number', description: 'use at most N training images per class (0: all)' },
      { name: 'seed', type: 'number', default: 27, description: 'seed of splits, initial weights, shuffles and augmentation' },
      { name: 'backend', type: 'string', choices: BACKEND_NAMES, description: 'tfjs backend (default: the fastest that can train)' },
      { name: 'resume', type: 'string', description: 'continue the interrupted run in this run folder' },
      { name: 'out', type: 'string', default: 'runs', description: 'folder for run folders' },
    ],
    async run(args) {
      const resume = args.options.resume as string | undefined;
      const experiment = args.positionals[0];
      if (!experiment && !resume) throw new UsageError(`missing argument <experiment>; accepted: ${experimentList}`);
      if (!resume && !args.options.data && !args.options.synthetic) throw new UsageError('give a dataset folder with --data DIR, or --synthetic');
      if (args.options.data && args.options.synthetic) throw new UsageError('give either --data or --synthetic, not both');
      const seed = args.options.seed as number;
      if (!Number.isInteger(seed)) throw new UsageError(`option --seed must be an integer, got ${seed}`);
      const lr = args.options.lr as number | undefined;
      if (lr !== undefined && !(lr > 0)) throw new UsageError(`option --lr must be a number > 0, got ${lr}`);
      const opts = {
        experiment: experiment ?? '',
        trial: args.options.trial as string | undefined,
        data: args.options.data as string | undefined,
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
      };
      // Unset overrides must not be passed as undefined keys over the trial's values.
      const clean = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as typeof opts;
      // A ConfigError (unknown trial, invalid setting) exits 2, a RunFailure (NaN loss) 1: see main().
      await runExperiment(clean);
      return 0;
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
      { name: 'notes', type: 'string', description: 'a Markdown file for the README\'s "Deviations and notes" section' },
      { name: 'no-svg', type: 'boolean', default: false, description: 'do not draw the curves (they need Chromium)' },
    ],
    async run(args) {
      const notesFile = args.options.notes as string | undefined;
      let notes: string | undefined;
      if (notesFile !== undefined) {
        try {
          notes = fs.readFileSync(notesFile, 'utf8');
        } catch (e) {
          throw new UsageError(`--notes ${notesFile}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        }
      }
      const r = await writeReproduction(args.positionals[0], args.positionals[1], { notes, svg: !args.options['no-svg'] });
      console.log(`wrote ${r.files.join(', ')} to ${args.positionals[1]}`);
      if (r.skipped) console.log(`curves not drawn: ${r.skipped}`);
      return 0;
    },
  },
];
