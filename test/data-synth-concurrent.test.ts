/**
 * ensureSyntheticSet from several processes at once (a sweep's workers starting trials on one machine): every caller
 * gets the one complete set, and nothing of the others' work is left behind.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureSyntheticSet, SYNTHETIC_MARKER } from '../lib/data';
import { INCOMPLETE_MARKER } from '../lib/data/outdir';
import { hashTree, tempDir } from './data-fixtures';

const DATA = path.join(__dirname, '..', 'lib', 'data', 'index.js');

/** A separate node process calling ensureSyntheticSet; resolves with the folder it printed. */
function inProcess(cache: string): Promise<string> {
  const script = `require(${JSON.stringify(DATA)}).ensureSyntheticSet('affect', { perClass: 12, seed: 'race', size: 24 }).then((d) => console.log(d), (e) => { console.error(e); process.exit(1); })`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, AFFECT_CACHE: cache },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

const pngs = (dir: string) =>
  (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.png')).length;

test('three processes asking for the same synthetic set at once all get it, complete, with no staging folder left', async () => {
  const tmp = tempDir('affect-synth-race-');
  try {
    const dirs = await Promise.all([inProcess(tmp.dir), inProcess(tmp.dir), inProcess(tmp.dir)]);
    assert.equal(new Set(dirs).size, 1, dirs.join(', '));
    const dir = dirs[0];
    assert.equal(pngs(dir), 8 * 12);
    assert.ok(fs.existsSync(path.join(dir, SYNTHETIC_MARKER)));
    assert.ok(!fs.existsSync(path.join(dir, INCOMPLETE_MARKER)));
    assert.deepEqual(fs.readdirSync(path.dirname(dir)), [path.basename(dir)], 'only the set itself remains');

    // The same set generated alone is byte-identical: no process wrote into another's copy.
    const alone = tempDir('affect-synth-alone-');
    try {
      assert.deepEqual(hashTree(await inProcess(alone.dir)), hashTree(dir));
    } finally {
      alone.cleanup();
    }
  } finally {
    tmp.cleanup();
  }
});

test('a staging folder left by a dead process and an in-place set left unfinished are cleared, and the set is made', async () => {
  const tmp = tempDir('affect-synth-stale-');
  const before = process.env.AFFECT_CACHE;
  process.env.AFFECT_CACHE = tmp.dir;
  try {
    const name = 'affect-n3-s7-16px-v2';
    const parent = path.join(tmp.dir, 'synthetic');
    // A pid that cannot run: above the kernel's maximum.
    const stale = path.join(parent, `${name}.staging-4194400-deadbeef`);
    fs.mkdirSync(path.join(stale, 'happy'), { recursive: true });
    fs.writeFileSync(path.join(stale, 'happy', 'half.png'), 'partial');
    // An unfinished set generated in place (no SYNTHETIC.txt yet, the marker still there).
    fs.mkdirSync(path.join(parent, name, 'sad'), { recursive: true });
    fs.writeFileSync(path.join(parent, name, INCOMPLETE_MARKER), '{}');
    const dir = await ensureSyntheticSet('affect', { perClass: 3, seed: 7, size: 16 });
    assert.equal(dir, path.join(parent, name));
    assert.equal(pngs(dir), 8 * 3);
    assert.ok(!fs.existsSync(path.join(dir, INCOMPLETE_MARKER)));
    assert.deepEqual(fs.readdirSync(parent), [name]);
  } finally {
    if (before === undefined) delete process.env.AFFECT_CACHE;
    else process.env.AFFECT_CACHE = before;
    tmp.cleanup();
  }
});
