/** `affect sweep` (every trial of an experiment, locally or queued), `affect sweep status|report`, and `affect worker`. */
import { BACKEND_NAMES } from '../backend';
import { experimentChoices, type Scale } from '../experiments';
import {
  defaultQueueUrl,
  enqueueSweep,
  followSweep,
  formatSpread,
  formatStatus,
  openQueue,
  queueStates,
  readSweepRecord,
  redactUrl,
  redactor,
  runSeedSweep,
  runSweepLocal,
  seedList,
  startWorker,
  sweepStatus,
  writeSweepReport,
  type QueueState,
  type SweepRequest,
} from '../sweep';
import { RunAborted } from '../errors';
import { UsageError, type CommandSpec, type ParsedArgs } from './args';
import { SYNTHETIC_OPTION, TRIAL_OVERRIDE_OPTIONS, scaleOption } from './trial-options';

const STOPPED = Symbol('stopped');

/**
 * Runs `work` with Ctrl-C and SIGTERM wired to its signal: the trial in progress stops at its next batch (RunAborted),
 * the console says that the same command resumes it, and the result is STOPPED (exit 130, as for `affect run`).
 */
async function whileInterruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T | typeof STOPPED> {
  const stop = new AbortController();
  const onSignal = () => stop.abort('interrupted');
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work(stop.signal);
  } catch (e) {
    if (!(e instanceof RunAborted)) throw e;
    console.error(`\nstopped: ${e.message}; run the same command again to resume the trial from its last epoch`);
    return STOPPED;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const experimentList = experimentChoices();

function positiveInt(args: ParsedArgs, name: string, zero?: string): number | undefined {
  const v = args.options[name] as number | undefined;
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 0 || (v === 0 && !zero))
    throw new UsageError(`option --${name} must be a positive integer${zero ? ` (or 0: ${zero})` : ''}, got ${v}`);
  return v;
}

const queueOption = {
  name: 'queue',
  type: 'string',
  description: 'redis://[user:password@]host:port[/db] or rediss:// (TLS); default $AFFECT_QUEUE',
} as const;
const outOption = {
  name: 'out',
  type: 'string',
  default: 'runs',
  description: 'the run store (sweeps/<id>/ in it); shared by every worker',
} as const;

function printStatus(out: string, id: string, queue?: Map<string, QueueState>): boolean {
  const { sweep, trials } = sweepStatus(out, id, queue);
  console.log(formatStatus(sweep, trials, out));
  return trials.every((t) => t.state === 'completed');
}

export const sweepCommands: CommandSpec[] = [
  {
    path: ['sweep'],
    summary: 'Run trials of an experiment: one after the other here, or as jobs on a queue for `affect worker`s',
    positionals: [{ name: 'experiment', description: `experiment name or number: ${experimentList}` }],
    options: [
      {
        name: 'trials',
        type: 'string',
        description: 'comma-separated trial names (default: every trial of the experiment)',
      },
      {
        name: 'data',
        type: 'string',
        description: 'dataset folder (or FER2013 CSV), at the same path on every worker',
      },
      SYNTHETIC_OPTION,
      scaleOption('smoke, quick or full, for every trial (see affect run --help)'),
      ...TRIAL_OVERRIDE_OPTIONS,
      { name: 'seed', type: 'number', default: 27, description: 'seed of every trial' },
      {
        name: 'backend',
        type: 'string',
        choices: BACKEND_NAMES,
        description: "tfjs backend of every trial (default: each machine's fastest)",
      },
      {
        name: 'id',
        type: 'string',
        description: 'sweep id (default: derived from the experiment and settings, so the same sweep gets the same id)',
      },
      outOption,
      queueOption,
      { name: 'local', type: 'boolean', description: 'run here even when $AFFECT_QUEUE is set' },
      {
        name: 'wait',
        type: 'boolean',
        description: 'with a queue: follow the sweep until it ends (a line per trial and epoch), then write its report',
      },
      {
        name: 'seeds',
        type: 'number',
        description:
          "run one trial (--trials names it; default the experiment's default) with N seeds, --seed, " +
          '--seed+1, ...; print mean, sd, min, max and the worst and best seed; writes ' +
          '<out>/seed-sweeps/<id>/ (here only, not queued)',
      },
    ],
    async run(args) {
      if (!args.options.data && !args.options.synthetic)
        throw new UsageError('give a dataset folder with --data DIR, or --synthetic');
      if (args.options.data && args.options.synthetic)
        throw new UsageError('give either --data or --synthetic, not both');
      const seed = args.options.seed as number;
      if (!Number.isInteger(seed)) throw new UsageError(`option --seed must be an integer, got ${seed}`);
      const req: SweepRequest = {
        experiment: args.positionals[0],
        ...(args.options.trials
          ? {
              trials: String(args.options.trials)
                .split(',')
                .map((t) => t.trim())
                .filter(Boolean),
            }
          : {}),
        scale: args.options.scale as Scale,
        seed,
      };
      const optional = {
        data: args.options.data as string | undefined,
        synthetic: args.options.synthetic === true ? true : undefined,
        backend: args.options.backend as string | undefined,
        id: args.options.id as string | undefined,
        epochs: positiveInt(args, 'epochs'),
        batchSize: positiveInt(args, 'batch-size'),
        imageSize: positiveInt(args, 'image-size'),
        trainPerClass: positiveInt(args, 'train-per-class', 'all'),
        anyClasses: args.options['any-classes'] === true ? true : undefined,
      };
      // Unset options must not become undefined keys: they would change the sweep's id.
      Object.assign(req, Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)));
      const out = args.options.out as string;
      if (args.options.local && args.options.queue) throw new UsageError('give either --queue or --local, not both');
      const seeds = positiveInt(args, 'seeds');
      if (seeds !== undefined) {
        if (args.options.queue || args.options.wait)
          throw new UsageError('--seeds runs the seeds here, one after the other: give it without --queue or --wait');
        const { trials, seed: first, ...shared } = req;
        if (trials && trials.length > 1)
          throw new UsageError(`--seeds runs one trial; --trials names ${trials.length}`);
        const r = await whileInterruptible((signal) =>
          runSeedSweep(
            { ...shared, ...(trials ? { trial: trials[0] } : {}), seeds: seedList(first!, seeds) },
            { out, signal },
          ),
        );
        if (r === STOPPED) return 130;
        console.log('');
        console.log(
          `seed sweep ${r.id}: ${r.experiment} / ${r.trial}, ${r.seeds.length} seeds, ${r.seeds.filter((x) => x.failure).length} failed`,
        );
        console.log(formatSpread(r));
        console.log(`records: ${r.files.json}`);
        console.log(`page: ${r.files.page}${r.files.svg ? `\nfigure: ${r.files.svg}` : ''}`);
        return r.seeds.some((x) => x.failure) ? 1 : 0;
      }
      const queue = args.options.local ? undefined : ((args.options.queue as string | undefined) ?? defaultQueueUrl());
      if (!queue) {
        const r = await whileInterruptible((signal) => runSweepLocal(req, { out, signal }));
        if (r === STOPPED) return 130;
        console.log('');
        const ok = printStatus(out, r.sweep.id);
        console.log(`report: ${r.report}`);
        return ok ? 0 : 1;
      }
      const q = await enqueueSweep(req, { queue, out });
      console.log(
        `sweep ${q.sweep.id}: ${q.sweep.trials.length} trial(s) on ${redactUrl(queue)}: ${q.added.length} added, ${q.existing.length} already queued`,
      );
      if (!args.options.wait) {
        console.log(`follow it with: affect sweep status ${q.sweep.id} --out ${out}`);
        return 0;
      }
      const states = await followSweep(queue, q.sweep);
      console.log('');
      const ok = printStatus(out, q.sweep.id, states);
      console.log(`report: ${writeSweepReport(out, q.sweep.id)}`);
      return ok ? 0 : 1;
    },
  },
  {
    path: ['sweep', 'status'],
    summary: "A sweep's trials: state, worker, epochs, best validation loss, test accuracy",
    positionals: [{ name: 'id', description: 'the sweep id that `affect sweep` printed' }],
    options: [
      outOption,
      { ...queueOption, description: `${queueOption.description}; without one, the run store's view` },
    ],
    async run(args) {
      const [id] = args.positionals;
      const out = args.options.out as string;
      const url = (args.options.queue as string | undefined) ?? defaultQueueUrl();
      let states: Map<string, QueueState> | undefined;
      if (url) {
        try {
          const queue = await openQueue(url, 5000);
          try {
            states = await queueStates(queue, readSweepRecord(out, id));
          } finally {
            await queue.close();
          }
        } catch (e) {
          console.error(`(queue not consulted: ${redactor(url)((e as Error).message)})`);
        }
      }
      printStatus(out, id, states);
      return 0;
    },
  },
  {
    path: ['sweep', 'report'],
    summary: "Write a sweep's report.html: every trial's curves side by side, its figures beside the study's",
    positionals: [{ name: 'id', description: 'the sweep id that `affect sweep` printed' }],
    options: [outOption],
    async run(args) {
      console.log(writeSweepReport(args.options.out as string, args.positionals[0]));
      return 0;
    },
  },
  {
    path: ['worker'],
    summary: 'Take trials from a sweep queue and run them (Ctrl-C / SIGTERM hands the trials in progress back)',
    options: [
      {
        ...queueOption,
        description: `${queueOption.description} (prefer the variable: a password in the command line shows in ps)`,
      },
      outOption,
      { name: 'concurrency', type: 'number', default: 1, description: 'trials run at once' },
      {
        name: 'lock-seconds',
        type: 'number',
        default: 30,
        description: "a dead worker's trial is taken over within about twice this",
      },
      { name: 'name', type: 'string', description: 'worker name in records (default: hostname:pid)' },
    ],
    async run(args) {
      const queue = (args.options.queue as string | undefined) ?? defaultQueueUrl();
      if (!queue) throw new UsageError('give the queue with --queue redis://... or $AFFECT_QUEUE');
      const concurrency = positiveInt(args, 'concurrency')!;
      const lockSeconds = args.options['lock-seconds'] as number;
      if (!(lockSeconds > 0)) throw new UsageError(`option --lock-seconds must be > 0, got ${lockSeconds}`);
      const w = startWorker({
        queue,
        out: args.options.out as string,
        concurrency,
        lockSeconds,
        ...(args.options.name ? { name: args.options.name as string } : {}),
      });
      await new Promise<void>((resolve) => {
        const onSignal = (sig: NodeJS.Signals) => {
          // A second signal while handing back: leave now (the lock's expiry returns the trials instead).
          process.once(sig, () => process.exit(130));
          void w.stop().then(resolve);
        };
        process.once('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
      });
      // With Redis away, its client would keep the process alive retrying.
      process.exit(0);
    },
  },
];
