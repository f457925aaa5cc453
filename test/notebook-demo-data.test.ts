import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scanImageFolder } from '../lib/data';
import { readCsv } from '../lib/data/csv';
import { makeOriginalLayout } from '../lib/notebook';

test('makeOriginalLayout: unequal classes in train/<class>/imageNNNNNNN, names repeating across classes, labels.csv moving some images', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-demo-'));
  try {
    const src = path.join(dir, 'src');
    for (const c of ['a', 'b', 'c']) {
      fs.mkdirSync(path.join(src, c), { recursive: true });
      // A 1x1 PNG is enough: the scan decides by signature.
      for (let i = 0; i < 10; i++)
        fs.writeFileSync(path.join(src, c, `${c}${i}.png`), Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
    }
    const scan = await scanImageFolder(src);
    const out = path.join(dir, 'out');
    const r = makeOriginalLayout(scan, out, { minShare: 0.4, relabelShare: 0.5, seed: 3 });
    assert.deepEqual(
      Object.values(r.counts).sort((x, y) => x - y),
      [4, 7, 10],
    );
    const copied = await scanImageFolder(path.join(out, 'train'));
    assert.deepEqual(copied.counts, r.counts);
    assert.ok(copied.classes.every((c) => fs.existsSync(path.join(out, 'train', c, 'image0000000.png'))));
    const csv = await readCsv(r.labels);
    assert.deepEqual(csv.columns, ['', 'pth', 'label', 'relFCs']);
    assert.equal(csv.rows.length, 21);
    const moved = csv.rows.filter((row) => row[1].split('/')[0] !== row[2]).length;
    assert.equal(moved, r.relabeled);
    assert.ok(moved > 0 && moved < 21);
    assert.equal(fs.readdirSync(path.join(src, 'a')).length, 10, 'source images are copied, not moved');
    assert.deepEqual(
      makeOriginalLayout(scan, path.join(dir, 'again'), { minShare: 0.4, relabelShare: 0.5, seed: 3 }).relabeled,
      r.relabeled,
    );
    assert.throws(() => makeOriginalLayout(scan, out), /is not empty/);
    const capped = makeOriginalLayout(scan, path.join(dir, 'capped'), { maxPerClass: 5, minShare: 1 });
    assert.deepEqual(capped.counts, { a: 5, b: 5, c: 5 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
