import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { makeRng, randInt, uniform, normal, shuffled, sampleWithReplacement } from '../lib/random';

test('a seed reproduces every draw, another seed differs', () => {
  const draw = (seed: number) => {
    const r = makeRng(seed);
    return [
      r(),
      randInt(r, 10),
      uniform(r, -1, 1),
      normal(r),
      ...shuffled(r, [1, 2, 3, 4, 5]),
      ...sampleWithReplacement(r, ['a', 'b'], 3),
    ];
  };
  assert.deepEqual(draw(27), draw(27));
  assert.notDeepEqual(draw(27), draw(28));
});

test('state() saved mid-stream resumes the same sequence', () => {
  const r = makeRng('s');
  r();
  const saved = r.state();
  const rest = [r(), r(), r()];
  const resumed = makeRng('ignored', saved);
  assert.deepEqual([resumed(), resumed(), resumed()], rest);
});

test('ranges and shuffle are correct', () => {
  const r = makeRng(1);
  for (let i = 0; i < 1000; i++) {
    const k = randInt(r, 7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
    const u = uniform(r, 2, 3);
    assert.ok(u >= 2 && u < 3);
  }
  const xs = Array.from({ length: 50 }, (_, i) => i);
  const s = shuffled(r, xs);
  assert.deepEqual(
    [...s].sort((a, b) => a - b),
    xs,
  );
  assert.notDeepEqual(s, xs);
  const m = Array.from({ length: 20000 }, () => normal(r)).reduce((a, b) => a + b, 0) / 20000;
  assert.ok(Math.abs(m) < 0.05);
  assert.throws(() => sampleWithReplacement(r, [], 1), /empty/);
});
