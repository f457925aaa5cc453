/**
 * Unwritable outputs for the data tools, at the function level. We run as root, where chmod does not stop writes, so
 * EACCES is injected through the OutputIO hook; an output whose parent is a regular file gives a real ENOTDIR.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { datasplit } from '../lib/data/datasplit';
import { INCOMPLETE_MARKER } from '../lib/data/outdir';
import { relabel } from '../lib/data/relabel';
import { failingIO, hashTree, tempDir, writeTree } from './data-fixtures';

async function makeInput(root: string): Promise<void> {
  const png = (v: number) =>
    sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: v, b: v } } })
      .png()
      .toBuffer();
  const files: Record<string, Buffer | string> = {
    'labels.csv': ',pth,label\n0,anger/0.png,happy\n1,happy/1.png,happy\n2,anger/2.png,anger\n',
  };
  for (let i = 0; i < 6; i++) files[`train/${i % 2 ? 'happy' : 'anger'}/${i}.png`] = await png(i * 30);
  writeTree(root, files);
}

/** Files left under a temp name (a half-written file): there must be none. */
const temps = (root: string) => Object.keys(hashTree(root)).filter((f) => /\.tmp-\d+$/.test(f));

test('datasplit and relabel: EACCES on the output stops with a message naming the file, input untouched, output marked incomplete, no temp file', async () => {
  const { dir, cleanup } = tempDir('affect-fault-data-');
  try {
    const input = path.join(dir, 'in');
    await makeInput(input);
    const before = hashTree(input);
    const eacces = () => failingIO('copyFile', 1, 'EACCES: permission denied, copyfile');
    const split = path.join(dir, 'split');
    await assert.rejects(datasplit({ input, output: split, io: eacces() }), (e: Error) => {
      assert.match(
        e.message,
        /^datasplit: writing .*\/split\/(train|test)\/\w+\/\d\.png failed: EACCES: permission denied/,
      );
      assert.match(
        e.message,
        /The output .*\/split is incomplete \(it holds \.incomplete\); rerun the same command to resume/,
      );
      return true;
    });
    const rel = path.join(dir, 'relabel');
    await assert.rejects(
      relabel({ input, output: rel, io: eacces() }),
      /relabel: writing .*\/relabel\/train\/\w+\/\d\.png failed: EACCES: permission denied.*incomplete/,
    );
    for (const out of [split, rel]) {
      assert.ok(fs.existsSync(path.join(out, INCOMPLETE_MARKER)), `${out} is marked incomplete`);
      assert.deepEqual(temps(out), [], `${out} holds no half-written file`);
    }
    assert.deepEqual(hashTree(input), before, 'input untouched');
    // Once writable again, the same command resumes.
    assert.equal((await datasplit({ input, output: split })).resumed, true);
    assert.equal((await relabel({ input, output: rel })).resumed, true);
  } finally {
    cleanup();
  }
});

test('an output whose parent is a regular file (ENOTDIR) is refused naming the path; nothing is created', async () => {
  const { dir, cleanup } = tempDir('affect-fault-data-');
  try {
    const input = path.join(dir, 'in');
    await makeInput(input);
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    const out = path.join(dir, 'file', 'out');
    // Refused before the input is scanned or decoded.
    await assert.rejects(
      datasplit({ input, output: out }),
      new RegExp(`output folder ${out}: ${path.join(dir, 'file')} is not a folder`),
    );
    await assert.rejects(
      relabel({ input, output: out }),
      new RegExp(`output folder ${out}: ${path.join(dir, 'file')} is not a folder`),
    );
    assert.equal(fs.readFileSync(path.join(dir, 'file'), 'utf8'), 'x');
  } finally {
    cleanup();
  }
});

test('a folder left by a kill before its marker was in place (only the marker temp file) is reused; a user file still is not', async () => {
  const { dir, cleanup } = tempDir('affect-fault-data-');
  try {
    const input = path.join(dir, 'in');
    await makeInput(input);
    const out = path.join(dir, 'out');
    writeTree(out, { [`.${INCOMPLETE_MARKER}.tmp-99999`]: '{"tool":"datas' });
    const r = await datasplit({ input, output: out });
    assert.equal(r.resumed, false);
    assert.ok(!fs.readdirSync(out).some((n) => n.includes('.tmp-')), 'the leftover temp file is gone');
    const user = path.join(dir, 'user');
    writeTree(user, { [`.${INCOMPLETE_MARKER}.tmp-99999`]: '', 'notes.txt': 'mine' });
    await assert.rejects(datasplit({ input, output: user }), /output folder .*\/user is not empty/);
  } finally {
    cleanup();
  }
});
