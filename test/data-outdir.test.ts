import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runUntilFailure } from '../lib/data/outdir';

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
  assert.ok(!started.includes(4), `items started after the failure: ${started}`);
  assert.equal(settled, started.length);
});
