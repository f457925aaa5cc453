import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMMANDS, main } from '../lib/cli/main';
import { writeJsonAtomic } from '../lib/runner';

/** Runs the CLI with console output captured; returns the exit code and what was printed. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  try {
    return { code: await main(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test('run, runs list and runs compare are registered', () => {
  const paths = COMMANDS.map((c) => c.path.join(' '));
  for (const p of ['run', 'runs list', 'runs compare']) assert.ok(paths.includes(p), p);
});

test('affect run --help lists the options and experiments', async () => {
  const r = await cli('run', '--help');
  assert.equal(r.code, 0);
  assert.match(r.out, /usage: affect run \[experiment\]/);
  assert.match(r.out, /1 baseline, 2 adam-sweep, 3 vgg-top, 4 pretrained, 5 face-mask/);
  assert.match(r.out, /--scale <smoke\|quick\|full>/);
  assert.match(r.out, /--backend <tensorflow\|wasm\|cpu>/);
});

test('bad usage exits 2 with a message naming the option and the accepted values', async () => {
  const cases: [string[], RegExp][] = [
    [['run'], /missing argument <experiment>; accepted: 1 baseline/],
    [['run', 'nine', '--synthetic'], /unknown experiment "nine"; accepted: baseline \(1\)/],
    [
      ['run', '5', '--synthetic', '--trial', 'x'],
      /experiment face-mask has no trial "x"; accepted trials: resnet18-vgg/,
    ],
    [['run', '5', '--synthetic', '--lr', '0'], /option --lr must be a number > 0, got 0/],
    [['run', '5', '--synthetic', '--batch-size', '0'], /option --batch-size must be a positive integer, got 0/],
    [
      ['run', '5', '--synthetic', '--backend', 'gpu'],
      /--backend: "gpu" is not accepted; accepted values: tensorflow, wasm, cpu/,
    ],
    [
      ['run', '5', '--synthetic', '--scale', 'medium'],
      /--scale: "medium" is not accepted; accepted values: smoke, quick, full/,
    ],
    [['run', '5'], /give a dataset folder with --data DIR, or --synthetic/],
    [['run', '5', '--synthetic', '--data', '/x'], /either --data or --synthetic/],
    [['runs', 'compare', 'a'], /missing argument <B>/],
  ];
  for (const [argv, message] of cases) {
    const r = await cli(...argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err, message, argv.join(' '));
  }
});

test('runs list and runs compare read run folders; a missing folder exits 1', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-run-cli-'));
  try {
    const [a, b] = ['a', 'b'].map((n) => path.join(dir, 'face-mask', 'resnet18-vgg', n));
    for (const [d, lr, acc] of [
      [a, 0.001, 0.8],
      [b, 0.01, 0.9],
    ] as const) {
      fs.mkdirSync(d, { recursive: true });
      writeJsonAtomic(path.join(d, 'config.json'), {
        created: `2026-01-0${lr === 0.001 ? 1 : 2}T00:00:00Z`,
        run: { experiment: 'face-mask', trial: 'resnet18-vgg', scale: 'quick', optimizer: { lr } },
        data: { kind: 'synthetic' },
      });
      writeJsonAtomic(path.join(d, 'metrics.json'), { testAccuracy: acc });
    }
    const list = await cli('runs', 'list', '--dir', dir);
    assert.equal(list.code, 0);
    assert.match(list.out, /face-mask\s+resnet18-vgg\s+quick\s+2026-01-01 00:00:00Z\s+synthetic\s+0\.8000/);
    const cmp = await cli('runs', 'compare', a, b);
    assert.equal(cmp.code, 0);
    assert.match(cmp.out, /run\.optimizer\.lr\s+0\.001\s+0\.01/);
    assert.match(cmp.out, /testAccuracy\s+0\.8\s+0\.9/);
    const missing = await cli('runs', 'list', '--dir', path.join(dir, 'none'));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /runs folder .*none does not exist/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('affect backend prints the chosen backend, the native addon status and what was skipped', async () => {
  const r = await cli('backend');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^backend (tensorflow|wasm) \(/);
  assert.match(r.out, /native convolutions|^backend tensorflow/);
  const json = await cli('backend', '--json');
  const report = JSON.parse(json.out) as { name: string; skipped: unknown[] };
  assert.ok(['tensorflow', 'wasm'].includes(report.name) && Array.isArray(report.skipped));
  const bad = await cli('backend', '--backend', 'webgpu');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /webgpu/);
});
