import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  findManifest,
  formatVerifyTable,
  listManifests,
  loadManifest,
  validateManifest,
  verifyDataset,
  type DatasetManifest,
} from '../lib/data/manifest';
import { main } from '../lib/cli/main';
import { SKIP_SAMPLE, makeImages, sampleData, tempDir, writeTree } from './data-fixtures';

test('the shipped manifests load, and their counts agree with the study and the FER2013 challenge', () => {
  const all = listManifests();
  assert.deepEqual(
    all.map((m) => m.name),
    [
      'affectnet-training-data',
      'data_relabeled_balanced_1x',
      'data_relabeled_balanced_3x',
      'face-mask-12k',
      'facial-affect-relabeled-unbalanced',
      'facial-affect-unbalanced',
      'fer2013',
    ],
  );
  const total = (m: DatasetManifest) => m.splits.reduce((s, x) => s + (x.total ?? 0), 0);
  const byName = Object.fromEntries(all.map((m) => [m.name, m]));
  assert.deepEqual(Object.fromEntries(all.map((m) => [m.name, total(m)])), {
    'affectnet-training-data': 29042,
    data_relabeled_balanced_1x: 36514,
    data_relabeled_balanced_3x: 109536,
    'face-mask-12k': 11792,
    'facial-affect-relabeled-unbalanced': 28664,
    'facial-affect-unbalanced': 29042,
    fer2013: 28709 + 3589,
  });
  // The challenge's Training and PublicTest usages; 'happy' is PublicTest's majority class (895 of 3,589, the 25% baseline).
  const fer = byName.fer2013;
  assert.deepEqual(fer.classes, ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']);
  const test = fer.splits.find((s) => s.name === 'test')!;
  assert.equal(Math.max(...Object.values(test.counts!)), test.counts!.happy);
  for (const s of fer.splits)
    assert.equal(
      Object.values(s.counts!).reduce((a, b) => a + b, 0),
      s.total,
      s.name,
    );
  assert.equal(byName['face-mask-12k'].splits[2].counts!.WithoutMask, 509);
  for (const m of all) {
    if (m.kaggle.slug) assert.equal(m.kaggle.command, `kaggle datasets download -d ${m.kaggle.slug}`);
    assert.ok(m.kaggle.source.length > 0);
  }
  assert.equal(findManifest('face-mask-12k').name, 'face-mask-12k');
  assert.throws(() => findManifest('nope'), /no manifest "nope": give a JSON file or one of .*face-mask-12k/);
});

/** A manifest file as written, before validation: the fields these tests set to something wrong. */
interface RawManifest {
  name?: unknown;
  classes: unknown[];
  kaggle: { command: unknown; slug: unknown };
  splits: { total: unknown; counts: Record<string, unknown> }[];
  notes?: unknown[];
}

test('validateManifest / loadManifest: each problem is an error naming the file and field', () => {
  const file = path.join(__dirname, '../../data-manifests/face-mask-12k.json');
  const good = JSON.parse(fs.readFileSync(file, 'utf8')) as RawManifest;
  const edit = (f: (m: RawManifest) => void) => {
    const m = structuredClone(good);
    f(m);
    return () => validateManifest(m, 'x.json');
  };
  assert.equal(validateManifest(good, 'x.json').classes.length, 2);
  assert.throws(
    edit((m) => delete m.name),
    /manifest x\.json: name must be a non-empty string/,
  );
  assert.throws(
    edit((m) => (m.classes = ['b', 'a'])),
    /manifest x\.json: classes must be sorted/,
  );
  assert.throws(
    edit((m) => (m.classes = ['a', 'a'])),
    /classes has duplicates/,
  );
  assert.throws(
    edit((m) => (m.kaggle.command = 'kaggle get it')),
    /kaggle\.command must be "kaggle datasets download -d ashishjangra27/,
  );
  assert.throws(
    edit((m) => (m.kaggle.slug = null)),
    /kaggle\.command must be null/,
  );
  assert.throws(
    edit((m) => (m.splits[0].total = 10001)),
    /splits\[0\]\.total is 10001 but the class counts add up to 10000/,
  );
  assert.throws(
    edit((m) => (m.splits[1].counts.Masked = 3)),
    /splits\[1\]\.counts names "Masked", which is not in classes/,
  );
  assert.throws(
    edit((m) => (m.splits[1].counts.WithMask = -1)),
    /splits\[1\]\.counts\.WithMask must be a non-negative integer/,
  );
  assert.throws(
    edit((m) => (m.splits = [])),
    /splits must be a non-empty list/,
  );
  assert.throws(
    edit((m) => (m.notes = [1])),
    /notes must be a list of strings/,
  );
  const { dir, cleanup } = tempDir();
  try {
    fs.writeFileSync(path.join(dir, 'broken.json'), '{ nope');
    assert.throws(() => loadManifest(path.join(dir, 'broken.json')), /manifest .*broken\.json: cannot read it as JSON/);
  } finally {
    cleanup();
  }
});

/** A manifest for a tiny Face-Mask-like set. */
const tiny: DatasetManifest = {
  name: 'tiny',
  title: 'Tiny',
  description: 'test',
  kaggle: { slug: null, command: null, source: 'test' },
  layout: 'Set/{Train,Test}/{a,b}',
  root: 'Set',
  classes: ['a', 'b'],
  splits: [
    { name: 'Train', dir: 'Train', total: 3, counts: { a: 2, b: 1 } },
    { name: 'Test', dir: 'Test', total: 2 },
  ],
};

test('verifyDataset: expected vs found per split and class, case-insensitive split folders, mismatches flagged', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { png } = await makeImages(4, 4);
    writeTree(dir, {
      'Set/train/a/1.png': png,
      'Set/train/a/2.png': png,
      'Set/train/b/3.png': png,
      'Set/TEST/a/4.png': png,
      'Set/TEST/b/5.png': png,
    });
    const ok = await verifyDataset(tiny, dir);
    assert.equal(ok.ok, true);
    assert.deepEqual(
      ok.rows.map((r) => [r.split, r.className, r.expected, r.found, r.ok]),
      [
        ['Train', 'a', 2, 2, true],
        ['Train', 'b', 1, 1, true],
        ['Train', '(total)', 3, 3, true],
        ['Test', 'a', undefined, 1, true],
        ['Test', 'b', undefined, 1, true],
        ['Test', '(total)', 2, 2, true],
      ],
    );
    assert.equal((await verifyDataset(tiny, path.join(dir, 'Set'))).ok, true, 'the root folder itself is accepted');
    assert.match(formatVerifyTable(ok), /dataset matches the manifest/);

    writeTree(dir, { 'Set/train/b/6.png': png, 'Set/train/b/7.txt': 'text', 'Set/TEST/c/8.png': png });
    fs.rmSync(path.join(dir, 'Set/TEST/b'), { recursive: true });
    const bad = await verifyDataset({ ...tiny, files: ['labels.csv'] }, dir);
    assert.equal(bad.ok, false);
    const row = (s: string, c: string) => bad.rows.find((r) => r.split === s && r.className === c)!;
    assert.deepEqual([row('Train', 'b').found, row('Train', 'b').ok, row('Train', '(total)').ok], [2, false, false]);
    assert.deepEqual([row('Test', 'b').found, row('Test', 'b').note], [undefined, 'class folder missing']);
    assert.deepEqual([row('Test', 'c').ok, row('Test', 'c').note], [false, 'class not in the manifest']);
    assert.deepEqual(bad.missingFiles, ['labels.csv']);
    assert.equal(bad.bad.length, 1);
    const table = formatVerifyTable(bad);
    assert.match(table, /Train\s+b\s+1\s+2\s+MISMATCH/);
    assert.match(table, /missing file: labels\.csv/);
    assert.match(table, /dataset does NOT match the manifest/);
    await assert.rejects(verifyDataset(tiny, path.join(dir, 'nope')), /dataset folder .*nope does not exist/);
  } finally {
    cleanup();
  }
});

test('CLI: affect data scan / verify / manifests print and set the exit code', async () => {
  const { dir, cleanup } = tempDir();
  const logs: string[] = [];
  const log = console.log;
  const err = console.error;
  console.log = (...a: unknown[]) => void logs.push(a.join(' '));
  console.error = console.log;
  try {
    const { png } = await makeImages(4, 4);
    writeTree(dir, {
      'Set/Train/a/1.png': png,
      'Set/Train/a/2.png': png,
      'Set/Train/b/3.png': png,
      'Set/Train/b/bad.png': 'x',
      'Set/Test/a/4.png': png,
      'Set/Test/b/5.png': png,
    });
    fs.writeFileSync(path.join(dir, 'tiny.json'), JSON.stringify(tiny));
    assert.equal(await main(['data', 'scan', path.join(dir, 'Set/Train')]), 0);
    assert.match(logs.join('\n'), /3 images in 2 classes, 1 bad file\(s\) skipped[\s\S]*bad\.png: not an image/);
    assert.equal(await main(['data', 'scan', path.join(dir, 'Set/Train'), '--on-bad-image', 'fail']), 1);
    assert.match(logs.at(-1)!, /bad image .*bad\.png/);
    assert.equal(await main(['data', 'scan', dir, '--on-bad-image', 'maybe']), 2);
    assert.equal(await main(['data', 'verify', path.join(dir, 'tiny.json'), dir]), 0);
    fs.rmSync(path.join(dir, 'Set/Test/b/5.png'));
    writeTree(dir, { 'Set/Test/b/6.gif': 'not a gif' });
    assert.equal(await main(['data', 'verify', path.join(dir, 'tiny.json'), dir]), 1);
    assert.match(logs.join('\n'), /MISMATCH/);
    logs.length = 0;
    assert.equal(await main(['data', 'manifests']), 0);
    assert.match(logs.join('\n'), /kaggle datasets download -d ashishjangra27\/face-mask-12k-images-dataset/);
  } finally {
    console.log = log;
    console.error = err;
    cleanup();
  }
});

test(
  'sample data: ../shared/data/fer2013 matches the fer2013 manifest',
  { skip: sampleData() ? false : SKIP_SAMPLE },
  async () => {
    const r = await verifyDataset(findManifest('fer2013'), path.join(sampleData()!, 'fer2013'));
    assert.ok(r.ok, formatVerifyTable(r));
  },
);
