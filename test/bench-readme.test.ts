import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../lib/paths';
import { generatedBlock } from '../lib/runner/reproduction';
import { BENCH_BLOCK, benchReadmeTable, type BenchResults } from '../bench/readme';

const ours = 'wasm (threads 1, SIMD, native convolutions (2 threads): oneDNN 2.6.3)';

/** A run with one trial model, its PyTorch peer, a projection and a speed-up. */
function results(withTorch: boolean): BenchResults {
  return {
    started: '2026-11-30T20:00:00.000Z',
    finished: '2026-11-30T20:05:00.000Z',
    machine: { cpus: 2, model: 'AMD EPYC', node: 'v20.20.2' },
    sections: [
      {
        name: 'training speed: wasm',
        rows: [
          { metric: `net (exp 1) forward, ${ours} batch 32`, value: 480, unit: 'images/s' },
          { metric: `net (exp 1) training, ${ours} batch 32`, value: 122.4, unit: 'images/s' },
          { metric: `net (exp 1) training GFLOP/s, ${ours}`, value: 219.7, unit: 'GFLOP/s' },
          { metric: 'net (exp 1) training step (one, profiled), kernel Conv2D', value: 58.9, unit: 'ms/step' },
          { metric: 'net (exp 1) training step (one, profiled), optimizer update', value: 4.5, unit: 'ms/step' },
          { metric: 'net (exp 1) training step (one, profiled), wall time', value: 248, unit: 'ms/step' },
          { metric: 'net (exp 1) training step (one, profiled), outside kernels', value: 20.5, unit: 'ms/step' },
          { metric: 'projected full-scale run, exp 5 face-mask / resnet18-vgg', value: 0.464, unit: 'h', target: 0.75 },
          {
            metric: 'feature cache speed-up per epoch, net (exp 4)',
            value: 15.7,
            unit: 'x',
            target: 10,
          },
        ],
        skipped: [],
      },
      ...(withTorch
        ? [
            {
              name: 'PyTorch peer (each trial model at its input size and batch, 2 threads)',
              rows: [
                {
                  metric: 'net (exp 1) training, PyTorch',
                  value: 152,
                  unit: 'images/s',
                  notes: 'torch 1.13.0a0, 2 threads',
                },
                { metric: 'net (exp 1) training GFLOP/s, PyTorch', value: 300.2, unit: 'GFLOP/s' },
                { metric: 'net (exp 1) training, wasm / PyTorch GFLOP/s', value: 0.732, unit: 'ratio', target: 1 },
                { metric: 'net (exp 1) forward, wasm / PyTorch GFLOP/s', value: 0.94, unit: 'ratio' },
              ],
              skipped: [],
            },
          ]
        : []),
    ],
  };
}

test('benchReadmeTable puts each trial model beside PyTorch, the projections and speed-ups against their targets', () => {
  const table = benchReadmeTable(results(true));
  assert.match(table, /PyTorch 1\.13\.0a0 in the same run/);
  assert.match(table, /\| net \(exp 1\) \| 32 \| 122 \(220 GFLOP\/s\) \| 152 \(300 GFLOP\/s\) \| 0\.73 \| 0\.94 \|/);
  assert.match(table, /\| projected full-scale run, exp 5 face-mask \/ resnet18-vgg \| 0\.46 h \| 0\.75 h \|/);
  assert.match(table, /\| feature cache speed-up per epoch, net \(exp 4\) \| 15\.7 x \| 10\.0 x \|/);
  assert.match(
    table,
    /- net \(exp 1\): 248 ms a step; slowest kernels \(ms\) Conv2D 58\.9; the optimizer's update 4\.50 ms/,
  );
  const alone = benchReadmeTable(results(false));
  assert.match(alone, /PyTorch not measured/);
  assert.match(alone, /\| net \(exp 1\) \| 32 \| 122 \(220 GFLOP\/s\) \| not measured \| - \| - \|/);
  assert.match(benchReadmeTable({ ...results(false), sections: [] }), /measured no training on wasm/);
});

test("the README's bench block is the table of the committed bench/results.json", () => {
  const committed = JSON.parse(fs.readFileSync(path.join(repoRoot, 'bench', 'results.json'), 'utf8')) as BenchResults;
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  assert.equal(generatedBlock(readme, BENCH_BLOCK), benchReadmeTable(committed));
});
