/**
 * Live training progress in a notebook: the training engine's notebookProgress() sink (lib/train/progress.ts) overwrites one
 * display entry per epoch through tslab's newDisplay (Jupyter display_id + update_display_data). Checked through real Jupyter:
 * the executed notebook must hold exactly one display per epoch, each showing that epoch's final line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { jupyterMissing, notebooksDir, readNotebook, runNotebook, sourceLines, type Notebook } from '../lib/notebook';

test(
  'notebookProgress updates one display per epoch in place',
  { skip: jupyterMissing(), timeout: 120_000 },
  async () => {
    const source = [
      "import * as affect from 'affect-lab';",
      'const sink = affect.train.notebookProgress({ intervalSeconds: 0 });',
      'sink.trainBegin?.({ epochs: 2, initialEpoch: 0 });',
      'for (let e = 0; e < 2; e++) {',
      '  sink.epochBegin?.(e, 2, 3);',
      '  for (let b = 0; b < 3; b++) { sink.batch?.(e, b, 3, { loss: 1 / (e + b + 1) }); await new Promise((r) => setTimeout(r, 20)); }',
      '  sink.epochEnd?.(e, { loss: 0.5 - e / 10, val_loss: 0.7 }, 1.5, 3);',
      '}',
      'sink.trainEnd?.();',
    ].join('\n');
    const nb: Notebook = {
      cells: [
        {
          cell_type: 'code',
          metadata: { tags: ['parameters'] },
          source: 'const unused = 0;',
          outputs: [],
          execution_count: null,
        },
        { cell_type: 'code', metadata: {}, source: sourceLines(source), outputs: [], execution_count: null },
      ],
      metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-progress-'));
    try {
      const file = path.join(dir, 'progress.ipynb');
      fs.writeFileSync(file, JSON.stringify(nb));
      // Run where 'affect-lab' resolves (the notebooks folder), not in the temp folder.
      const r = await runNotebook(file, { outDir: path.join(dir, 'out'), cwd: notebooksDir() });
      const outputs = readNotebook(r.executed).cells[1].outputs ?? [];
      const texts = outputs
        .filter((o) => o.output_type === 'display_data')
        .map((o) => [(o.data as Record<string, string | string[]>)['text/plain']].flat().join(''));
      assert.equal(texts.length, 2, `one display per epoch, got: ${JSON.stringify(texts)}`);
      assert.match(texts[0], /^Epoch 1\/2 3\/3 \[=+\] .*loss: 0\.5000 - val_loss: 0\.7000/);
      assert.match(texts[1], /^Epoch 2\/2 3\/3 \[=+\] .*loss: 0\.4000/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
