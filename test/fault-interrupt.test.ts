/**
 * Interrupted data tools: `affect data split` and `affect data relabel` are SIGKILLed at different moments (split: once the first copies exist, and while augmenting). The input
 * never changes; the output is absent (or holds nothing but the marker's temp file), complete, or marked `.incomplete`,
 * and every file under its final name is byte-identical to an uninterrupted run's; rerunning the same command finishes
 * it with exactly the uninterrupted run's tree.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { INCOMPLETE_MARKER } from '../lib/data/outdir';
import { gradient, hashTree, tempDir, writeTree } from './data-fixtures';
import { affect, spawnAffect } from './fault-fixtures';

let dir: string;
let cleanup: () => void;
const TEMP = /^\..+\.tmp-\d+$/;

before(async () => {
  ({ dir, cleanup } = tempDir('affect-fault-interrupt-'));
  // Unbalanced classes, so --balance has augmented copies to make (the slow part).
  for (const [cls, n] of [
    ['anger', 30],
    ['happy', 10],
    ['sad', 4],
  ] as const) {
    const folder = path.join(dir, 'split-in', 'train', cls);
    fs.mkdirSync(folder, { recursive: true });
    for (let i = 0; i < n; i++) {
      const px = gradient(32, 32, 3).map((v, k) => (v + i * 17 + cls.length * 31 + (k % 7)) % 256);
      await sharp(px, { raw: { width: 32, height: 32, channels: 3 } })
        .png()
        .toFile(path.join(folder, `${i}.png`));
    }
  }
  // relabel copies only: many small files, so a kill lands mid-way.
  const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 9, g: 9, b: 9 } } })
    .png()
    .toBuffer();
  const files: Record<string, Buffer | string> = {};
  const rows = [',pth,label'];
  for (let i = 0; i < 400; i++) {
    const cls = ['anger', 'happy'][i % 2];
    files[`relabel-in/train/${cls}/${i}.png`] = png;
    rows.push(`${i},${cls}/${i}.png,${i % 3 ? cls : 'happy'}`);
  }
  files['relabel-in/labels.csv'] = rows.join('\n') + '\n';
  writeTree(dir, files);
});
after(() => cleanup());

/** Names of the files under `root`, recursively ([] when absent). */
function listFiles(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => d.name);
}

/** Starts the command and SIGKILLs it once `when(output)` holds; resolves to whether it was killed (false: it finished first). */
function killWhen(args: string[], output: string, when: (output: string) => boolean): Promise<boolean> {
  const child = spawnAffect(dir, ...args);
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (when(output)) child.kill('SIGKILL');
    }, 2);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(timer);
      if (signal === 'SIGKILL') resolve(true);
      else if (code === 0) resolve(false);
      else reject(new Error(`affect ${args.join(' ')} exited ${code}`));
    });
  });
}

/** Checks a killed output against the uninterrupted run's tree; returns 'absent' | 'complete' | 'incomplete'. */
function checkKilled(output: string, reference: Record<string, string>): string {
  if (
    !fs.existsSync(output) ||
    fs.readdirSync(output).every((n) => TEMP.test(n) && n.startsWith(`.${INCOMPLETE_MARKER}.`))
  )
    return 'absent';
  const tree = hashTree(output);
  const marked = INCOMPLETE_MARKER in tree;
  for (const [rel, hash] of Object.entries(tree)) {
    if (rel === INCOMPLETE_MARKER || TEMP.test(path.basename(rel))) continue;
    assert.equal(
      hash,
      reference[rel],
      `${rel}: a file under its final name must be complete and identical to the uninterrupted run's`,
    );
  }
  if (marked) return 'incomplete';
  assert.deepEqual(tree, reference, 'an output without the marker is complete');
  return 'complete';
}

async function interruptAndResume(
  tool: 'split' | 'relabel',
  extra: string[],
  moments: [string, (out: string) => boolean][],
): Promise<string[]> {
  const input = path.join(dir, `${tool}-in`);
  const inputHash = hashTree(input);
  const ref = await affect(dir, 'data', tool, `${tool}-in`, `${tool}-ref`, ...extra);
  assert.equal(ref.code, 0, ref.err);
  const reference = hashTree(path.join(dir, `${tool}-ref`));
  const states: string[] = [];
  for (const [k, [name, when]] of moments.entries()) {
    const out = `${tool}-out-${k}`;
    const args = ['data', tool, `${tool}-in`, out, ...extra];
    const killed = await killWhen(args, path.join(dir, out), when);
    const state = checkKilled(path.join(dir, out), reference);
    states.push(`${name}: ${killed ? 'killed' : 'finished first'}, ${state}`);
    assert.deepEqual(hashTree(input), inputHash, `input untouched (${name})`);
    const again = await affect(dir, ...args);
    assert.equal(again.code, 0, `rerun after ${name}: ${again.err}`);
    if (state === 'incomplete') assert.match(again.out, /resumed an interrupted run/);
    assert.deepEqual(
      hashTree(path.join(dir, out)),
      reference,
      `rerun after ${name} gives the uninterrupted run's tree`,
    );
  }
  assert.deepEqual(hashTree(input), inputHash, 'input untouched');
  assert.ok(
    states.some((s) => s.endsWith('incomplete')),
    `at least one kill must land mid-run: ${states.join('; ')}`,
  );
  return states;
}

test('affect data split --balance killed at two moments: input untouched, outputs never half-written, reruns finish identically', async (t) => {
  const marker = (out: string) => fs.existsSync(path.join(out, INCOMPLETE_MARKER));
  const states = await interruptAndResume(
    'split',
    ['--balance', '--seed', '3'],
    [
      ['first copies there', (out) => marker(out) && listFiles(path.join(out, 'train')).length >= 1],
      ['augmenting', (out) => marker(out) && listFiles(path.join(out, 'train')).some((n) => n.startsWith('aug_'))],
    ],
  );
  t.diagnostic(states.join('; '));
});

test('affect data relabel killed mid-copy: input untouched, output marked incomplete, rerun finishes identically', async (t) => {
  t.diagnostic(
    (
      await interruptAndResume('relabel', [], [['copying', (out) => listFiles(path.join(out, 'train')).length >= 20]])
    ).join('; '),
  );
});
