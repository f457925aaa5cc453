/** Shared by the fault-* tests: the `affect` binary run as a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

const MAIN = path.join(__dirname, '..', 'lib', 'cli', 'main.js');

/** Starts `affect ...args` in `cwd` (the compiled dist/lib/cli/main.js). */
export function spawnAffect(cwd: string, ...args: string[]): ChildProcess {
  return spawn(process.execPath, [MAIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `affect ...args` in `cwd` to the end; returns the exit code (null when killed), the signal and the output. */
export function affect(
  cwd: string,
  ...args: string[]
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  const child = spawnAffect(cwd, ...args);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, out, err }));
  });
}
