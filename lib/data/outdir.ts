/**
 * Interrupt-safe output folders for the data tools (split, relabel, synth). A marker file `.incomplete`, holding the
 * command's options and its plan, is written before anything else and removed last; every file is written to a hidden
 * temp name and renamed, so a file under its final name is complete. A rerun of the same command on a folder that still
 * holds the marker resumes from the stored plan and skips the files already there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import { mapLimit } from './scan';

export const INCOMPLETE_MARKER = '.incomplete';

/** Where output bytes go; tests replace it to inject failures such as a full disk. */
export interface OutputIO {
  writeFile(file: string, data: Uint8Array | string): Promise<void>;
  /** `src` as bytes where its name is not valid UTF-8. */
  copyFile(src: string | Buffer, dest: string): Promise<void>;
}
export const defaultIO: OutputIO = {
  writeFile: (f, d) => fs.promises.writeFile(f, d),
  copyFile: (s, d) => fs.promises.copyFile(s, d),
};

interface Marker<P> {
  tool: string;
  options: unknown;
  plan: P;
}

/**
 * Opens `dir` for a run of `tool` with `options`: creates it, or accepts it empty (or non-empty when `allowNonEmpty`,
 * for in-place runs), or resumes when it holds the marker of the same tool and options. `makePlan` runs only for a fresh
 * start; the plan it returns is stored in the marker. Refuses a non-empty folder and a marker from other options.
 */
export async function beginOutput<P>(
  dir: string,
  tool: string,
  options: unknown,
  makePlan: () => Promise<P>,
  opts: { allowNonEmpty?: boolean } = {},
): Promise<{ plan: P; resumed: boolean }> {
  const marker = path.join(dir, INCOMPLETE_MARKER);
  if (fs.existsSync(marker)) {
    let m: Marker<P>;
    try {
      m = JSON.parse(fs.readFileSync(marker, 'utf8')) as Marker<P>;
    } catch (e) {
      throw new Error(`${marker} is unreadable (${(e as Error).message}); delete the folder ${dir} and run again`);
    }
    if (m.tool !== tool)
      throw new Error(
        `${dir} holds an incomplete run of another command (${m.tool}); rerun that command to finish it, or delete the folder`,
      );
    const differ = optionDifferences(m.options, options);
    if (differ.length) {
      throw new ConfigError(
        `${dir} holds an incomplete ${tool} run with other options: ${differ.join('; ')}. Rerun it ` +
          `with the options it started with to finish it, or delete the folder`,
      );
    }
    removeTempFiles(dir);
    return { plan: m.plan, resumed: true };
  }
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`output ${dir} exists and is not a folder`);
    // A run killed between creating the folder and renaming its marker into place leaves only the marker's temp file.
    if (!opts.allowNonEmpty && fs.readdirSync(dir).some((n) => !isMarkerTemp(n)))
      throw new Error(`output folder ${dir} is not empty; choose a new or empty folder`);
  }
  const plan = await makePlan();
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Error(`cannot create output folder ${dir}: ${(e as Error).message}`);
  }
  for (const n of fs.readdirSync(dir)) if (isMarkerTemp(n)) fs.rmSync(path.join(dir, n), { force: true });
  await writeFileAtomic(marker, JSON.stringify({ tool, options, plan } satisfies Marker<P>));
  return { plan, resumed: false };
}

/** The options that differ between a stored run and this one, as `name: stored X, now Y` (nested keys dotted). */
export function optionDifferences(stored: unknown, now: unknown): string[] {
  const flat = (v: unknown, prefix: string, out: Map<string, string>) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      for (const [k, x] of Object.entries(v)) flat(x, prefix ? `${prefix}.${k}` : k, out);
    else out.set(prefix, JSON.stringify(v) ?? 'unset');
    return out;
  };
  const [a, b] = [flat(stored, '', new Map()), flat(now, '', new Map())];
  const cut = (x: string) => (x.length > 80 ? `${x.slice(0, 77)}...` : x);
  return [...new Set([...a.keys(), ...b.keys()])]
    .filter((k) => a.get(k) !== b.get(k))
    .map((k) => `${k}: stored ${cut(a.get(k) ?? 'unset')}, now ${cut(b.get(k) ?? 'unset')}`);
}

/** Marks `dir` complete: the last step of a run. */
export function finishOutput(dir: string): void {
  fs.rmSync(path.join(dir, INCOMPLETE_MARKER), { force: true });
}

/** True when `dir` holds an unfinished run. */
export function isIncomplete(dir: string): boolean {
  return fs.existsSync(path.join(dir, INCOMPLETE_MARKER));
}

const TEMP_RE = /^\..+\.tmp-\d+$/;
const isMarkerTemp = (name: string) => TEMP_RE.test(name) && name.startsWith(`.${INCOMPLETE_MARKER}.tmp-`);
const tempName = (dest: string) => path.join(path.dirname(dest), `.${path.basename(dest)}.tmp-${process.pid}`);

/** Runs `write(tmp)` for a hidden temp file next to `dest`, then renames it to `dest` (parent folders are created). */
async function atomically(dest: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  const tmp = tempName(dest);
  try {
    await write(tmp);
    await fs.promises.rename(tmp, dest);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

/** Writes `data` to `dest` through a hidden temp file and a rename. */
export function writeFileAtomic(dest: string, data: Uint8Array | string, io: OutputIO = defaultIO): Promise<void> {
  return atomically(dest, (tmp) => io.writeFile(tmp, data));
}

/** Copies `src` byte for byte to `dest` through a hidden temp file and a rename. */
export function copyFileAtomic(src: string | Buffer, dest: string, io: OutputIO = defaultIO): Promise<void> {
  return atomically(dest, (tmp) => io.copyFile(src, tmp));
}

/**
 * Runs `write(dest)` unless `dest` exists: every file is renamed into place when complete, so one under its final name
 * was finished by an earlier run. Errors name the file.
 */
export async function writeUnlessDone(dest: string, write: (dest: string) => Promise<void>): Promise<void> {
  if (fs.existsSync(dest)) return;
  try {
    await write(dest);
  } catch (e) {
    throw new Error(`writing ${dest} failed: ${(e as Error).message}`);
  }
}

/** Removes temp files left by an interrupted run (only names this module makes: `.<name>.tmp-<pid>`). */
function removeTempFiles(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) removeTempFiles(p);
    else if (TEMP_RE.test(d.name)) fs.rmSync(p, { force: true });
  }
}

/** Runs `fn` on `items`, `limit` at a time; after the first failure no new item starts, and that error is thrown once all settle. */
export async function runUntilFailure<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let failure: Error | undefined;
  await mapLimit(items, limit, async (item) => {
    if (failure) return;
    try {
      await fn(item);
    } catch (e) {
      failure ??= e as Error;
    }
  });
  if (failure) throw failure;
}
