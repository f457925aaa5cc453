import { test } from 'node:test';
import assert from 'node:assert/strict';
import { consoleProgress, formatLogs, notebookProgress, progressLine } from '../lib/train';

test('progressLine draws a Keras-style bar with ETA, and the time per step once the epoch is done', () => {
  assert.equal(
    progressLine(10, 40, 5, { loss: 0.5, acc: 0.25 }, 20),
    '10/40 [====>...............] - ETA: 15s - loss: 0.5000 - acc: 0.2500',
  );
  assert.equal(
    progressLine(40, 40, 80, { loss: 0.5 }, 20),
    '40/40 [====================] - 1:20 2000ms/step - loss: 0.5000',
  );
  // Unknown epoch length (first epoch of a dataset without a size): a step count.
  assert.equal(progressLine(7, undefined, 3, {}), '7 steps - 3s');
  assert.equal(formatLogs({ val_loss: 1.23456, lr: 0.001 }), 'val_loss: 1.2346 - lr: 0.001000');
});

function recorder(isTTY: boolean) {
  let out = '';
  let t = 0;
  return {
    stream: { isTTY, write: (s: string) => (out += s) },
    now: () => t,
    tick: (ms: number) => (t += ms),
    out: () => out,
  };
}

test('consoleProgress in a terminal redraws one line in place with \\r and ends it at the epoch end', () => {
  const r = recorder(true);
  const p = consoleProgress({ stream: r.stream, now: r.now });
  p.epochBegin!(0, 2, 3);
  for (let b = 0; b < 3; b++) {
    r.tick(1000);
    p.batch!(0, b, 3, { loss: 1 });
  }
  p.message('Epoch 1: something');
  p.epochEnd!(0, { loss: 1, val_loss: 2 }, 3, 3);
  const lines = r.out().split('\n');
  assert.equal(lines[0], 'Epoch 1/2');
  assert.ok(lines[1].startsWith('\r1/3 [=========>') && lines[1].includes('\r3/3 [') && !lines[1].includes('\n'));
  assert.equal(lines[2], 'Epoch 1: something', 'a message ends the open bar line first');
  assert.match(lines[3], /^\r3\/3 \[=+\] - 3s 1000ms\/step - loss: 1\.0000 - val_loss: 2\.0000/);
});

test('consoleProgress without a terminal writes plain lines at most every intervalSeconds', () => {
  const r = recorder(false);
  const p = consoleProgress({ stream: r.stream, now: r.now, intervalSeconds: 10 });
  p.epochBegin!(0, 1, undefined);
  for (let b = 0; b < 30; b++) {
    r.tick(1000);
    p.batch!(0, b, undefined, { loss: 1 });
  }
  p.epochEnd!(0, { loss: 1 }, 30, 30);
  assert.ok(!r.out().includes('\r'));
  assert.deepEqual(r.out().trim().split('\n'), [
    'Epoch 1/1',
    '10 steps - 10s - loss: 1.0000',
    '20 steps - 20s - loss: 1.0000',
    '30 steps - 30s - loss: 1.0000',
    '30/30 [==============================] - 30s 1000ms/step - loss: 1.0000',
  ]);
});

test('notebookProgress overwrites one display entry per epoch, throttled', () => {
  const shown: string[][] = [];
  let t = 0;
  const p = notebookProgress({
    newDisplay: () => {
      const entry: string[] = [];
      shown.push(entry);
      return { text: (s) => entry.push(s) };
    },
    now: () => t,
    intervalSeconds: 1,
  });
  for (let e = 0; e < 2; e++) {
    p.epochBegin!(e, 2, 4);
    for (let b = 0; b < 4; b++) {
      t += 600;
      p.batch!(e, b, 4, { loss: 1 });
    }
    p.epochEnd!(e, { loss: 1 }, 2.4, 4);
  }
  assert.equal(shown.length, 2, 'one display entry per epoch');
  assert.equal(shown[0].length, 4, 'header, two throttled updates, final line');
  assert.match(shown[1][3], /^Epoch 2\/2 4\/4 \[=+\]/);
});
