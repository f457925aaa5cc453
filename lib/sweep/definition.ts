/**
 * A sweep: trials of one experiment run with the same settings. Its id is derived from the experiment and the settings
 * (not the trial list), so enqueueing it again, or with more trials, names the same jobs and the same run store folders.
 */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import { getExperiment, resolveTrial, type Scale, type TrialOverrides } from '../experiments';

/** What every trial of a sweep is run with: runExperiment's options minus the experiment, trial and where to write. */
export interface SweepSettings extends Omit<TrialOverrides, 'lr'> {
  scale: Scale;
  seed: number;
  /** An absolute dataset folder path, the same on every worker; or `synthetic`. */
  data?: string;
  synthetic?: boolean;
  /** tensorflow, wasm or cpu; unset: each worker's own best backend. */
  backend?: string;
  /** Accept data whose classes differ from the trial's dataset (runExperiment's anyClasses). */
  anyClasses?: boolean;
}

export interface SweepDefinition {
  id: string;
  /** The experiment's canonical name ('adam-sweep', not '2'). */
  experiment: string;
  /** In the experiment's order. */
  trials: string[];
  settings: SweepSettings;
}

export interface SweepRequest extends Partial<SweepSettings> {
  experiment: string;
  /** Default: every trial of the experiment. */
  trials?: string[];
  /** Default: derived from the experiment and settings. */
  id?: string;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Validates a request (every trial resolved as its runs will be) and fixes its id; errors are ConfigErrors naming the option. */
export function defineSweep(req: SweepRequest): SweepDefinition {
  const exp = getExperiment(req.experiment);
  if (!req.data && !req.synthetic)
    throw new ConfigError('no data given: set `data` to a dataset folder, or `synthetic` to use the synthetic set');
  if (req.data && req.synthetic) throw new ConfigError('give either `data` or `synthetic`, not both');
  const settings: SweepSettings = {
    scale: req.scale ?? 'quick',
    seed: req.seed ?? 27,
    ...(req.data ? { data: path.resolve(req.data) } : { synthetic: true }),
  };
  for (const k of [
    'backend',
    'epochs',
    'batchSize',
    'imageSize',
    'trainPerClass',
    'testPerClass',
    'anyClasses',
  ] as const) {
    if (req[k] !== undefined) (settings as unknown as Record<string, unknown>)[k] = req[k];
  }
  const asked = req.trials?.length ? [...new Set(req.trials)] : exp.trials.map((t) => t.name);
  for (const t of asked) resolveTrial(exp.name, t, settings.scale, settings.seed, settings);
  const trials = exp.trials.map((t) => t.name).filter((t) => asked.includes(t));
  if (req.id !== undefined) checkSweepId(req.id);
  return { id: req.id ?? sweepId(exp.name, settings), experiment: exp.name, trials, settings };
}

/** Sweep ids name folders: anything else (a path, `..`) is a ConfigError, whether typed or read from a queued job. */
export function checkSweepId(id: string): string {
  if (!ID_RE.test(id))
    throw new ConfigError(
      `invalid sweep id "${id}": letters, digits, '.', '_' and '-', starting with a letter or digit`,
    );
  return id;
}

/** `<experiment>-<12 hex digits of the settings' hash>`: the same settings give the same id on every machine. */
export function sweepId(experiment: string, settings: SweepSettings): string {
  const canonical = JSON.stringify(Object.fromEntries(Object.entries(settings).sort(([a], [b]) => (a < b ? -1 : 1))));
  return `${experiment}-${crypto.createHash('sha256').update(`${experiment}\n${canonical}`).digest('hex').slice(0, 12)}`;
}

/** BullMQ job ids may not contain ':'; sweep ids and trial names never hold '/'. */
export const jobId = (sweep: string, trial: string): string => `${sweep}/${trial}`;

/** The sweep's folder in the run store: `<out>/sweeps/<id>`. */
export const sweepDir = (out: string, id: string): string => path.join(path.resolve(out), 'sweeps', checkSweepId(id));

/** A trial's folder: its trial.json and the run folder that runExperiment creates under it. */
export const trialDir = (out: string, id: string, trial: string): string => path.join(sweepDir(out, id), trial);
