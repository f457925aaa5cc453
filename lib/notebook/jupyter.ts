/** Finding a Python with Jupyter's nbclient + nbconvert, and the tslab kernel, with one clear message when either is missing. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../paths';

export const INSTALL_HINT = [
  'Install Jupyter and the TypeScript kernel:',
  '  Debian/Ubuntu: sudo apt-get install jupyter-nbconvert python3-nbclient   (or: python3 -m pip install nbclient nbconvert)',
  `  then: cd ${repoRoot} && npx tslab install --python=/usr/bin/python3   (registers the "tslab" kernel)`,
  'Set AFFECT_PYTHON to pick a particular Python.',
].join('\n');

export interface JupyterSetup {
  /** A python that imports nbclient and nbconvert. */
  python: string;
  /** PATH for the kernel: the project's node_modules/.bin first, since the tslab kernelspec runs plain `tslab`. */
  pathEnv: string;
}

function pythonCandidates(): string[] {
  const out: string[] = [];
  if (process.env.AFFECT_PYTHON) out.push(process.env.AFFECT_PYTHON);
  // The `jupyter` launcher's own interpreter is the one that has Jupyter installed.
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const launcher = path.join(dir, 'jupyter');
    if (!fs.existsSync(launcher)) continue;
    const first = fs.readFileSync(launcher, 'utf8').split('\n', 1)[0];
    if (first.startsWith('#!')) out.push(first.slice(2).trim().split(/\s+/)[0]);
    break;
  }
  out.push('/usr/bin/python3', 'python3');
  return [...new Set(out)];
}

let cached: JupyterSetup | undefined;

/**
 * Discovers Python + Jupyter + the tslab kernel (cached); throws with INSTALL_HINT naming what is missing.
 * `pythons` replaces the interpreters tried (AFFECT_PYTHON, the `jupyter` launcher's, /usr/bin/python3, python3) and skips the cache.
 */
export function findJupyter(opts: { pythons?: string[] } = {}): JupyterSetup {
  if (cached && !opts.pythons) return cached;
  const tried = opts.pythons ?? pythonCandidates();
  const python = tried.find(
    (py) => spawnSync(py, ['-c', 'import nbclient, nbconvert'], { stdio: 'ignore' }).status === 0,
  );
  if (!python)
    throw new Error(
      `no Python with Jupyter's nbclient and nbconvert found (tried ${tried.join(', ')}).\n${INSTALL_HINT}`,
    );
  const pathEnv = [path.join(repoRoot, 'node_modules', '.bin'), process.env.PATH ?? ''].join(path.delimiter);
  const specs = spawnSync(python, ['-m', 'jupyter_client.kernelspecapp', 'list', '--json'], { encoding: 'utf8' });
  let kernels: Record<string, unknown> = {};
  try {
    kernels = (JSON.parse(specs.stdout) as { kernelspecs: Record<string, unknown> }).kernelspecs;
  } catch {
    throw new Error(
      `cannot list Jupyter kernels with ${python} (${(specs.stderr || '').trim().split('\n').pop()}).\n${INSTALL_HINT}`,
    );
  }
  if (!('tslab' in kernels))
    throw new Error(
      `the Jupyter kernel "tslab" is not installed (kernels: ${Object.keys(kernels).join(', ') || 'none'}).\n${INSTALL_HINT}`,
    );
  const tslab = spawnSync('tslab', ['--version'], { env: { ...process.env, PATH: pathEnv }, stdio: 'ignore' });
  if (tslab.status !== 0)
    throw new Error(
      `the tslab kernel is registered but the \`tslab\` command does not run (is the tslab ` +
        `package installed in ${repoRoot}/node_modules?).\n${INSTALL_HINT}`,
    );
  const setup = { python, pathEnv };
  if (!opts.pythons) cached = setup;
  return setup;
}

/** Why notebooks cannot run here (first line of findJupyter's error), or false when they can; tests use it to skip. */
export function jupyterMissing(): string | false {
  try {
    findJupyter();
    return false;
  } catch (e) {
    return `Jupyter or the tslab kernel is not installed: ${(e as Error).message.split('\n')[0]}`;
  }
}
