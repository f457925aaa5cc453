import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { notebookCommands } from '../lib/cli/notebook';
import {
  listNotebooks,
  notebookProblems,
  notebooksDir,
  readNotebook,
  resolveNotebook,
  stripNotebook,
  writeNotebook,
  type Notebook,
} from '../lib/notebook';

const executed = (): Notebook => ({
  cells: [
    { cell_type: 'markdown', metadata: {}, source: 'text' },
    {
      cell_type: 'code',
      metadata: { tags: ['parameters'], execution: { 'iopub.status.idle': 'x' } },
      source: 'const a = 1;',
      outputs: [],
      execution_count: 1,
    },
    {
      cell_type: 'code',
      metadata: {},
      source: 'a',
      outputs: [{ output_type: 'execute_result', data: { 'text/plain': '1' } }],
      execution_count: 2,
    },
  ],
  metadata: {},
  nbformat: 4,
  nbformat_minor: 5,
});

test('notebookProblems names each cell with outputs, counts or timing; stripNotebook clears them and keeps tags', () => {
  assert.deepEqual(notebookProblems(executed()), [
    'cell 2: execution count 1, execution timing metadata',
    'cell 3: 1 output(s), execution count 2',
  ]);
  const clean = stripNotebook(executed());
  assert.deepEqual(notebookProblems(clean), []);
  assert.deepEqual(clean.cells[1].metadata, { tags: ['parameters'] });
  assert.equal(clean.cells[2].outputs!.length, 0);
});

test('a documented-run marker exempts a notebook from the check', () => {
  const nb = executed();
  nb.metadata.affect_lab = { documented_run: true };
  assert.deepEqual(notebookProblems(nb), []);
});

test('committed notebooks in notebooks/ have no outputs and no execution counts', () => {
  const names = listNotebooks();
  for (const name of names) {
    assert.deepEqual(
      notebookProblems(readNotebook(resolveNotebook(name))),
      [],
      `notebooks/${name}.ipynb is not clean: run \`affect notebook strip\``,
    );
  }
});

test('listNotebooks / resolveNotebook / writeNotebook round trip; unknown names list the available ones', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-nb-'));
  try {
    writeNotebook(path.join(dir, 'b.ipynb'), executed());
    writeNotebook(path.join(dir, 'a.ipynb'), executed());
    fs.writeFileSync(path.join(dir, 'notes.txt'), '');
    assert.deepEqual(listNotebooks(dir), ['a', 'b']);
    assert.equal(resolveNotebook('a', dir), path.join(dir, 'a.ipynb'));
    assert.equal(resolveNotebook('b.ipynb', dir), path.join(dir, 'b.ipynb'));
    assert.deepEqual(readNotebook(path.join(dir, 'a.ipynb')), executed());
    assert.throws(() => resolveNotebook('c', dir), /notebook "c" not found in .*; available: a, b/);
    fs.writeFileSync(path.join(dir, 'bad.ipynb'), '{"cells": 1}');
    assert.throws(() => readNotebook(path.join(dir, 'bad.ipynb')), /not an nbformat 4 notebook/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('`affect notebook check-clean` fails on an executed notebook and `strip` fixes it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-nb-'));
  const command = (name: string) => notebookCommands.find((c) => c.path[1] === name)!;
  const log = console.log,
    err = console.error;
  console.log = console.error = () => undefined;
  try {
    const file = path.join(dir, 'x.ipynb');
    writeNotebook(file, executed());
    assert.equal(await command('check-clean').run({ positionals: [file], options: {} }), 1);
    await command('strip').run({ positionals: [file], options: {} });
    assert.equal(await command('check-clean').run({ positionals: [file], options: {} }), undefined);
    assert.deepEqual(readNotebook(file), stripNotebook(executed()));
  } finally {
    console.log = log;
    console.error = err;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(notebooksDir().endsWith('notebooks'));
});
