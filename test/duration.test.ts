import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { formatSeconds } from '../lib/duration';

test('formatSeconds: seconds, minutes, hours, and ? when unknown', () => {
  assert.equal(formatSeconds(4.4), '4s');
  assert.equal(formatSeconds(187), '3:07');
  assert.equal(formatSeconds(3723), '1:02:03');
  assert.equal(formatSeconds(NaN), '?');
  assert.equal(formatSeconds(Infinity), '?');
});
