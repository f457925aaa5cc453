/** `affect notebook ...`: run notebooks headless, list them, check and strip committed notebooks' outputs. */
import type { CommandSpec } from './args';
import { UsageError } from './args';
import {
  listNotebooks,
  notebookProblems,
  parseParamArgs,
  readNotebook,
  resolveNotebook,
  runNotebook,
  stripNotebook,
  writeNotebook,
} from '../notebook';

function notebookFiles(names: string[]): string[] {
  return (names.length ? names : listNotebooks()).map((n) => resolveNotebook(n));
}

export const notebookCommands: CommandSpec[] = [
  {
    path: ['notebook', 'run'],
    summary: 'execute a notebook headless (Jupyter + tslab); keeps the executed .ipynb and an HTML export',
    positionals: [{ name: 'name', description: 'a notebook in notebooks/ (e.g. 00-data) or a path to an .ipynb' }],
    options: [
      { name: 'param', type: 'list', description: 'set a parameter of the parameters cell, key=value (repeatable)' },
      { name: 'out', type: 'string', description: 'results folder (default runs/notebooks/<name>/<timestamp>/)' },
      { name: 'cell-timeout', type: 'number', description: 'seconds one cell may run', default: 1800 },
    ],
    async run(args) {
      let params: Record<string, string>;
      try {
        params = parseParamArgs((args.options.param as string[] | undefined) ?? []);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const r = await runNotebook(args.positionals[0], {
        params,
        outDir: args.options.out as string | undefined,
        cellTimeoutSec: args.options['cell-timeout'] as number,
      });
      console.log(
        `notebook ${r.name} ran in ${r.seconds.toFixed(1)} s\n  executed: ${r.executed}\n  html:     ${r.html}`,
      );
    },
  },
  {
    path: ['notebook', 'list'],
    summary: 'list the notebooks in notebooks/',
    options: [],
    async run() {
      for (const n of listNotebooks()) console.log(n);
    },
  },
  {
    path: ['notebook', 'check-clean'],
    summary: 'fail if a committed notebook has outputs or execution counts (fix with `affect notebook strip`)',
    positionals: [{ name: 'name', description: 'a notebook to check (default: all in notebooks/)', optional: true }],
    options: [],
    async run(args) {
      let dirty = 0;
      for (const file of notebookFiles(args.positionals)) {
        const problems = notebookProblems(readNotebook(file));
        if (problems.length) {
          dirty++;
          console.error(`${file}:\n  ${problems.join('\n  ')}`);
        }
      }
      if (dirty) {
        console.error(`${dirty} notebook(s) not clean; run: affect notebook strip`);
        return 1;
      }
      console.log('notebooks are clean (no outputs, no execution counts)');
    },
  },
  {
    path: ['notebook', 'strip'],
    summary: 'remove outputs and execution counts from notebooks (in place)',
    positionals: [{ name: 'name', description: 'a notebook to strip (default: all in notebooks/)', optional: true }],
    options: [],
    async run(args) {
      for (const file of notebookFiles(args.positionals)) {
        const nb = readNotebook(file);
        if (notebookProblems(nb).length === 0) continue;
        writeNotebook(file, stripNotebook(nb));
        console.log(`stripped ${file}`);
      }
    },
  },
];
