import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runUntilFailure, writeUnlessDone } from '../lib/data/outdir';
import { Progress, progressBar } from '../lib/data/progress';

test('runUntilFailure runs every item, at most `limit` at once', async () => {
  let running = 0;
  let peak = 0;
  const seen: number[] = [];
  await runUntilFailure([1, 2, 3, 4, 5, 6], 2, async (i) => {
    peak = Math.max(peak, ++running);
    await new Promise((r) => setTimeout(r, 2));
    seen.push(i);
    running--;
  });
  assert.deepEqual(seen.sort(), [1, 2, 3, 4, 5, 6]);
  assert.equal(peak, 2);
});

test('runUntilFailure starts nothing after the first failure and throws it once the running items settle', async () => {
  const started: number[] = [];
  let settled = 0;
  await assert.rejects(
    runUntilFailure([1, 2, 3, 4, 5, 6], 2, async (i) => {
      started.push(i);
      await new Promise((r) => setTimeout(r, i === 1 ? 1 : 5));
      settled++;
      if (i === 1) throw new Error('disk full');
    }),
    /disk full/,
  );
  assert.ok(!started.includes(4), `items started after the failure: ${started.join(',')}`);
  assert.equal(settled, started.length);
});

test('writeUnlessDone skips a finished file, writes a missing one, and names the file when writing fails', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outdir-unless-'));
  try {
    const done = path.join(dir, 'done.png');
    fs.writeFileSync(done, 'old');
    const written: string[] = [];
    const write = async (dest: string) => {
      written.push(dest);
      fs.writeFileSync(dest, 'new');
    };
    await writeUnlessDone(done, write);
    await writeUnlessDone(path.join(dir, 'new.png'), write);
    assert.deepEqual(written, [path.join(dir, 'new.png')]);
    assert.equal(fs.readFileSync(done, 'utf8'), 'old');
    const bad = path.join(dir, 'bad.png');
    await assert.rejects(
      writeUnlessDone(bad, async () => {
        throw new Error('disk full');
      }),
      new RegExp(`writing ${bad.replace(/[.]/g, '\\.')} failed: disk full`),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('progressBar: none when the option is off, a Progress over the given total otherwise', () => {
  assert.equal(progressBar('split', 10, undefined), undefined);
  assert.equal(progressBar('split', 10, false), undefined);
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  const bar = progressBar('split', 2, { stream });
  assert.ok(bar instanceof Progress);
  bar.tick(2);
  bar.finish();
  assert.match(lines[lines.length - 1], /^split 2\/2 \(100%\)/);
  assert.ok(progressBar('split', 2, true) instanceof Progress);
});
