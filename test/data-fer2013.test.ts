import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FER2013_CLASSES, grayToRgb, readFer2013 } from '../lib/data/fer2013';
import { tempDir } from './data-fixtures';

const px = (v: number) => Array.from({ length: 48 * 48 }, (_, i) => (v + i) % 256).join(' ');

function writeCsv(dir: string, rows: string[], name = 'fer.csv'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, rows.join('\n') + '\n');
  return file;
}

test('readFer2013 reads emotion,pixels,Usage rows as a 7-class ImageSource of 3-channel images', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = writeCsv(dir, [
      'emotion,pixels,Usage',
      `0,${px(0)},Training`,
      `1,${px(1)},Training`,
      `6,${px(6)},PublicTest`,
      `3,"${px(3)}",PrivateTest`,
    ]);
    const all = await readFer2013(file);
    assert.deepEqual(all.classes, [...FER2013_CLASSES]);
    assert.deepEqual(
      [all.size, [...all.labels], all.usages],
      [4, [0, 1, 6, 3], ['Training', 'Training', 'PublicTest', 'PrivateTest']],
    );
    const x = await all.read(0, [48, 48]);
    assert.equal(x.length, 48 * 48 * 3);
    assert.deepEqual([...x.subarray(0, 6)], [0, 0, 0, 1, 1, 1]);
    const big = await all.read(2, [96, 96]);
    assert.equal(big.length, 96 * 96 * 3);
    for (let i = 0; i < big.length; i += 3) assert.ok(big[i] === big[i + 1] && big[i] === big[i + 2]);
    await assert.rejects(all.read(4, [48, 48]), /out of range/);

    const train = await readFer2013(file, { usage: 'Training', dropClasses: ['disgust'] });
    assert.deepEqual(train.classes, ['angry', 'fear', 'happy', 'sad', 'surprise', 'neutral']);
    assert.deepEqual([...train.labels], [0]);
    assert.match(train.describe, /\(Training\): 1 images, 6 classes \(dropped disgust\)/);
    const tests = await readFer2013(file, { usage: ['PublicTest', 'PrivateTest'], dropClasses: ['disgust'] });
    assert.deepEqual([...tests.labels], [5, 2]); // neutral 6 -> 5, happy 3 -> 2
  } finally {
    cleanup();
  }
});

test('readFer2013 accepts a file without Usage and columns in another order (icml_face_data.csv)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const noUsage = await readFer2013(writeCsv(dir, ['emotion,pixels', `2,${px(2)}`], 'train.csv'));
    assert.deepEqual([noUsage.size, noUsage.usages], [1, ['']]);
    await assert.rejects(
      readFer2013(path.join(dir, 'train.csv'), { usage: 'Training' }),
      /train\.csv:1: cannot select by usage: the file has no Usage column/,
    );
    const icml = await readFer2013(writeCsv(dir, ['emotion, Usage, pixels', `5, Training, ${px(5)}`], 'icml.csv'));
    assert.deepEqual([...icml.labels], [5]);
  } finally {
    cleanup();
  }
});

test('readFer2013: bad rows and options are errors naming the file and line', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cases: [string[], RegExp][] = [
      [['emotion,pixels,Usage', `9,${px(0)},Training`], /bad\.csv:2: emotion "9" is not an integer 0\.\.6/],
      [
        ['emotion,pixels,Usage', `1,${px(0)},Training`, '1,1 2 3,Training'],
        /bad\.csv:3: pixels has 3 values, expected 2304/,
      ],
      [
        ['emotion,pixels,Usage', `1,${px(0).replace(/^0/, '300')},Training`],
        /bad\.csv:2: pixel 0 is 300, expected an integer 0\.\.255/,
      ],
      [
        ['emotion,pixels,Usage', `1,${px(0).replace(/^0/, '-1')},Training`],
        /bad\.csv:2: pixel 0 has the character "-"/,
      ],
      [['emotion,pixels,Usage', `1,${px(0)},Validation`], /bad\.csv:2: Usage "Validation" is not one of/],
      [['emotion,pixels,Usage', `1,${px(0)}`], /bad\.csv:2: expected 3 fields, got 2/],
      [['label,data', '1,2'], /bad\.csv:1: header must name the columns emotion and pixels/],
    ];
    for (const [rows, re] of cases) await assert.rejects(readFer2013(writeCsv(dir, rows, 'bad.csv')), re);
    await assert.rejects(readFer2013(writeCsv(dir, [], 'empty.csv')), /empty\.csv is empty/);
    await assert.rejects(readFer2013(path.join(dir, 'none.csv')), /none\.csv does not exist/);
    const ok = writeCsv(dir, ['emotion,pixels,Usage', `1,${px(0)},Training`], 'ok.csv');
    await assert.rejects(readFer2013(ok, { usage: 'PublicTest' }), /has no rows for the selection/);
    await assert.rejects(
      readFer2013(ok, { usage: 'Val' as never }),
      /usage "Val" is not one of Training, PublicTest, PrivateTest/,
    );
    await assert.rejects(readFer2013(ok, { dropClasses: ['contempt'] }), /cannot drop FER2013 class "contempt"/);
    await assert.rejects(readFer2013(ok, { dropClasses: [...FER2013_CLASSES] }), /leaves no FER2013 class/);
  } finally {
    cleanup();
  }
});

test('grayToRgb replicates each value into three channels', () => {
  assert.deepEqual([...grayToRgb(Uint8Array.from([7, 200]))], [7, 7, 7, 200, 200, 200]);
});
