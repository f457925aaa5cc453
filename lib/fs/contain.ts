/**
 * Containment: every path a command writes is checked here against the folders it reads and the folder it writes into,
 * on real paths (symlinks resolved, `..` gone, the file system's own spelling) and on file identity (device and inode),
 * so that a symlink, a relative path or a case variant on a case-insensitive file system cannot lead a write into an input.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors';

/**
 * The real path of `p`: its nearest existing ancestor with every symlink resolved, plus the part that does not exist
 * yet. A dangling symlink on the way is resolved as far as it leads.
 */
export function realPath(p: string): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (let hops = 0; ;) {
    try {
      return path.join(fs.realpathSync.native(cur), ...rest.reverse());
    } catch (e) {
      const link = statQuiet(cur, fs.lstatSync);
      // A dangling link (or a chain of them): follow it by hand, a bounded number of times, as a write through it would.
      if (link?.isSymbolicLink() && hops++ < 40) {
        cur = path.resolve(path.dirname(cur), fs.readlinkSync(cur));
        continue;
      }
      const up = path.dirname(cur);
      if (up === cur) throw e;
      rest.push(path.basename(cur));
      cur = up;
    }
  }
}

/** stat or lstat, undefined for a path that does not exist or runs through a file (ENOENT, ENOTDIR, ELOOP). */
function statQuiet(p: string, stat: (p: string) => fs.Stats): fs.Stats | undefined {
  try {
    return stat(p);
  } catch {
    return undefined;
  }
}

/** `p` itself (when it exists) and each existing ancestor, real paths, nearest first. */
function existingChain(p: string): fs.Stats[] {
  const out: fs.Stats[] = [];
  for (let cur = realPath(p); ; cur = path.dirname(cur)) {
    const st = statQuiet(cur, fs.statSync);
    if (st) out.push(st);
    if (path.dirname(cur) === cur) return out;
  }
}

/**
 * True when `child` is `parent` or lies inside it, once both are real paths; also when an existing ancestor of `child` is
 * the same folder as `parent` by device and inode (a case variant on a case-insensitive file system, a bind mount).
 */
export function isInsideReal(child: string, parent: string): boolean {
  const [c, p] = [realPath(child), realPath(parent)];
  const rel = path.relative(p, c);
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) return true;
  const target = statQuiet(p, fs.statSync);
  if (!target) return false;
  return existingChain(c).some((st) => st.dev === target.dev && st.ino === target.ino);
}

/** A folder a command reads, named as the user named it (option or argument) for messages. */
export interface NamedPath {
  path: string;
  /** e.g. "input", "--data". */
  what: string;
}

/**
 * Refuses (ConfigError) an output that is, lies inside, or contains one of the inputs, whatever the spelling (symlinks,
 * `..`, relative paths, case variants). `output.what` names the option in the message.
 */
export function checkOutputOutside(output: NamedPath, inputs: readonly NamedPath[]): void {
  checkNotInside(output, inputs);
  for (const input of inputs) {
    if (isInsideReal(input.path, output.path)) {
      throw new ConfigError(
        `${output.what} ${output.path} contains the ${input.what} ${input.path}; choose an output outside it`,
      );
    }
  }
}

/**
 * Refuses (ConfigError) an output that is or lies inside one of the inputs (a folder, or a file), however it is spelt;
 * for outputs that only add files of their own, where holding an input is harmless.
 */
export function checkNotInside(output: NamedPath, inputs: readonly NamedPath[]): void {
  for (const input of inputs) {
    if (!isInsideReal(output.path, input.path)) continue;
    const [o, i] = [realPath(output.path), realPath(input.path)];
    throw new ConfigError(
      `${output.what} ${output.path} is inside the ${input.what} ` +
        `${input.path}${o !== path.resolve(output.path) || i !== path.resolve(input.path) ? ` (real paths ${o} and ${i})` : ''}; ` +
        `nothing is written into an input: choose an output outside it`,
    );
  }
}

/**
 * The path of the file `name` (an option's value, e.g. `--train-csv`) inside the output folder `dir`. Refused
 * (ConfigError naming `what`) when it leads outside: an absolute path elsewhere, `..`, or a symlink that points out.
 */
export function fileInside(dir: string, name: string, what: string): string {
  const file = path.resolve(dir, name);
  if (!isStrictlyInside(file, dir))
    throw new ConfigError(
      `${what} "${name}" leads outside the output folder ${dir} (to ${realPath(file)}); give a file name inside it`,
    );
  return file;
}

/** True when `file` is below `dir` (not `dir` itself), on real paths. */
export function isStrictlyInside(file: string, dir: string): boolean {
  const rel = path.relative(realPath(dir), realPath(file));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Throws (naming `what` and the path) unless files can be created in `dir`, or, when it does not exist yet,
 * in its nearest existing ancestor: "permission denied" or "read-only file system", before any work starts.
 */
export function checkWritable(dir: string, what: string): void {
  let cur = realPath(dir);
  while (!fs.existsSync(cur)) cur = path.dirname(cur);
  if (!fs.statSync(cur).isDirectory()) throw new Error(`${what} ${dir}: ${cur} is not a folder`);
  try {
    fs.accessSync(cur, fs.constants.W_OK);
  } catch {
    throw new Error(`${what} ${dir}: permission denied (${cur} is not writable)`);
  }
  // access() does not see a read-only mount; a probe file does.
  const probe = path.join(cur, `.affect-write-probe-${process.pid}`);
  try {
    fs.writeFileSync(probe, '');
    fs.rmSync(probe, { force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EROFS'
        ? 'read-only file system'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'ENOSPC'
            ? 'no space left on the device'
            : (e as Error).message;
    throw new Error(`${what} ${dir}: ${why} (cannot create files in ${cur})`);
  }
}
