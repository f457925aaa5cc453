/** Headless notebook runs: inject parameters, execute through Jupyter with the tslab kernel, keep the executed .ipynb and an HTML export. */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../paths';
import { writeFileAtomicSync } from '../atomic';
import { createRunDir } from '../runner/record';
import { readNotebook, resolveNotebook, writeNotebook } from './format';
import { findJupyter } from './jupyter';
import { injectParameters, type ParamValue } from './params';

export interface RunNotebookOptions {
  /** Values for the parameters cell; names it does not declare are an error. Default: none (the notebook's own values). */
  params?: Record<string, ParamValue>;
  /** Folder for the results. Default runs/notebooks/<name>/<UTC timestamp>/. */
  outDir?: string;
  /** Seconds one cell may run before the run fails. Default 1800. */
  cellTimeoutSec?: number;
  /** Folder the kernel runs in (relative imports, data paths). Default: the notebook's own folder. */
  cwd?: string;
}

export interface NotebookRunResult {
  name: string;
  notebook: string;
  outDir: string;
  /** The executed notebook, with outputs. */
  executed: string;
  /** nbconvert's HTML export of it (plots included, plotly embedded). */
  html: string;
  params: Record<string, ParamValue>;
  ok: boolean;
  /** First failing cell (0-based index into cells) and its error, when not ok. */
  failedCell?: number;
  error?: string;
  seconds: number;
}

/** Thrown when a cell fails; `result` says where the partial outputs are. */
export class NotebookRunError extends Error {
  override name = 'NotebookRunError';
  constructor(
    message: string,
    readonly result: NotebookRunResult,
  ) {
    super(message);
  }
}

interface ExecSummary {
  ok: boolean;
  failed_cell: number | null;
  ename: string | null;
  evalue: string | null;
}

/** Runs notebooks/<name>.ipynb (or a path to an .ipynb); resolves with where the results are, rejects with NotebookRunError if a cell failed. */
export async function runNotebook(name: string, opts: RunNotebookOptions = {}): Promise<NotebookRunResult> {
  const { python, pathEnv } = findJupyter();
  const notebook = resolveNotebook(name);
  const base = path.basename(notebook, '.ipynb');
  const params = opts.params ?? {};
  const injected = injectParameters(readNotebook(notebook), params, `notebook ${notebook}`);
  // The default folder is made like a training run's (UTC second, -2/-3 suffix), so two runs started together never share one.
  const outDir = opts.outDir ? path.resolve(opts.outDir) : createRunDir(path.join(repoRoot, 'runs'), 'notebooks', base);
  fs.mkdirSync(outDir, { recursive: true });
  const input = path.join(outDir, `${base}.input.ipynb`);
  writeNotebook(input, injected);
  const executed = path.join(outDir, `${base}.ipynb`);
  const html = path.join(outDir, `${base}.html`);
  writeFileAtomicSync(path.join(outDir, 'params.json'), JSON.stringify(params, null, 2) + '\n');
  const started = Date.now();
  const script = path.join(repoRoot, 'scripts', 'execute_notebook.py');
  const args = [
    script,
    input,
    executed,
    html,
    '--cwd',
    opts.cwd ?? path.dirname(notebook),
    '--kernel',
    'tslab',
    '--timeout',
    String(opts.cellTimeoutSec ?? 1800),
  ];
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(python, args, {
        env: { ...process.env, PATH: pathEnv, PYDEVD_DISABLE_FILE_VALIDATION: '1' },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (c) => resolve({ code: c ?? 1, stdout: out, stderr: err }));
    },
  );
  fs.rmSync(input, { force: true });
  const last = stdout.trim().split('\n').pop() ?? '';
  let summary: ExecSummary;
  try {
    summary = JSON.parse(last) as ExecSummary;
  } catch {
    throw new Error(
      `executing ${notebook} failed before it could report (exit ${code}):\n${stderr.trim().split('\n').slice(-15).join('\n')}`,
    );
  }
  const result: NotebookRunResult = {
    name: base,
    notebook,
    outDir,
    executed,
    html,
    params,
    ok: summary.ok,
    seconds: (Date.now() - started) / 1000,
  };
  if (!summary.ok) {
    result.failedCell = summary.failed_cell ?? undefined;
    result.error = `${summary.ename ?? 'error'}: ${summary.evalue ?? ''}`.trim();
    const where = result.failedCell !== undefined ? `cell ${result.failedCell + 1}` : 'a cell';
    throw new NotebookRunError(
      `notebook ${base}: ${where} failed: ${result.error}\n(executed notebook with the error: ${executed})`,
      result,
    );
  }
  return result;
}
