import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../lib/paths';
import { benchModels } from '../bench/training';

test('npm run bench in smoke mode runs every section and every trial model, and writes nothing', () => {
  const results = path.join(repoRoot, 'bench', 'results.json');
  const before = fs.statSync(results).mtimeMs;
  const smoke = () => {
    const run = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'bench', 'main.js')], {
      env: { ...process.env, AFFECT_BENCH_SMOKE: '1' },
      encoding: 'utf8',
      timeout: 600_000,
    });
    const text = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.status, 0, text.slice(-3000));
    return text;
  };
  const output = smoke();
  assert.doesNotMatch(output, /SKIPPED: .*failed/, 'a section failed');
  for (const m of benchModels()) {
    assert.ok(output.includes(`${m.name} training, wasm`), `no wasm training row for ${m.name}`);
  }
  assert.match(output, /feature cache speed-up per epoch/);
  // Where PyTorch is installed, it timed every model in turn with ours (bench/torch_bench.py's request protocol).
  if (spawnSync('/usr/bin/python3', ['-c', 'import torch, torchvision']).status === 0) {
    const untimed = (text: string) =>
      benchModels().filter((m) => !text.includes(`${m.name} training, wasm / PyTorch GFLOP/s`));
    // One run in about ten under the full suite has gone without a model's PyTorch rows and said nothing of it (not
    // reproduced alone): a second run must time them all, and a failure shows the PyTorch lines of both.
    if (untimed(output).length > 0) {
      const again = smoke();
      const pytorchLines = (text: string) =>
        text
          .split('\n')
          .filter((l) => l.includes('PyTorch'))
          .join('\n');
      assert.deepEqual(
        untimed(again).map((m) => m.name),
        [],
        `PyTorch untimed twice; first run:\n${pytorchLines(output)}\nsecond run:\n${pytorchLines(again)}`,
      );
    }
  }
  // A trial that trains on cached features is projected that way: the features once, then epochs on them.
  const frozen = benchModels().find((m) => m.trial.model.frozen);
  assert.ok(frozen, 'a trial model with a frozen backbone');
  for (const { experiment, trial } of frozen.uses) {
    const row = output
      .split('\n')
      .find((l) => l.startsWith('training speed: wasm') && l.includes(`${experiment.name} / ${trial.name} `));
    assert.match(
      row ?? '',
      /projected full-scale run.*computed once at .* on cached features/,
      `${trial.name}'s projection`,
    );
  }
  assert.equal(fs.statSync(results).mtimeMs, before, 'bench/results.json was written');
});
