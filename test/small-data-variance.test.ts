/**
 * The small-data experiment: subject-grouped splits, "one class vs the rest" relabelling, the small BN-input net, the
 * experiment's registration, and one trial run over several seeds with its spread (library, figure and CLI).
 * Fixture: 12 subjects whose images are filled with the subject's own grey level, so a split can be checked for
 * subjects in two parts by reading the pixels the runner serves.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../lib/backend';
import { binaryClassNames, binaryClasses, groupOf, groupSplit, scanImageFolder } from '../lib/data';
import { ConfigError } from '../lib/errors';
import { getExperiment, getTrial, resolveTrial, validateRunConfig, type RunConfig } from '../lib/experiments';
import { buildModel, smallBnCnn } from '../lib/models';
import { repoRoot } from '../lib/paths';
import { resolveData } from '../lib/runner';
import {
  formatSpread,
  runSeedSweep,
  seedList,
  seedSpread,
  seedSweepDir,
  seedSweepId,
  spreadFigure,
  type SeedSweepResult,
} from '../lib/sweep';
import { seedSpreadFigure } from '../lib/viz';
import { affect } from './fault-fixtures';
import { sampleData, SKIP_SAMPLE, tempDir } from './data-fixtures';

let tmp: { dir: string; cleanup: () => void };
let data: string;
const SUBJECTS = 12;
/** Subject k's grey level. */
const grey = (k: number) => 10 + 20 * k;

before(async () => {
  tmp = tempDir('affect-small-data-');
  data = path.join(tmp.dir, 'ck');
  // Each subject has two frames in each of two classes (happy and one other), as CK+ has several frames per sequence.
  const others = ['anger', 'surprise', 'sadness'];
  for (let k = 0; k < SUBJECTS; k++) {
    for (const cls of ['happy', others[k % 3]]) {
      fs.mkdirSync(path.join(data, cls), { recursive: true });
      for (const f of [1, 2]) {
        const file = path.join(data, cls, `S${String(k + 1).padStart(3, '0')}_00${f}_0000001${f}.png`);
        await sharp({
          create: { width: 16, height: 16, channels: 3, background: { r: grey(k), g: grey(k), b: grey(k) } },
        })
          .png()
          .toFile(file);
      }
    }
  }
  await initBackend('cpu');
});

after(() => tmp.cleanup());

test('groupOf: the first capture group of the pattern on the base name, else the whole match; no match is an error', () => {
  assert.equal(groupOf('/data/ck/happy/S005_001_00000011.png', '^(S\\d+)_'), 'S005');
  assert.equal(groupOf('S005_001.png', /^S\d+/), 'S005');
  assert.throws(
    () => groupOf('/data/ck/happy/anger_0001.png', '^(S\\d+)_'),
    /"anger_0001.png" \(\/data\/ck\/happy\/anger_0001.png\) does not match \/\^\(S\\d\+\)_\//,
  );
});

test('groupSplit: whole groups held out, near the fraction and stratified by class, seeded', () => {
  // 40 groups of 3 images; classes 0 (a quarter of the groups) and 1.
  const groups = Array.from({ length: 120 }, (_, i) => `g${Math.floor(i / 3)}`);
  const labels = groups.map((g) => (Number(g.slice(1)) % 4 === 0 ? 0 : 1));
  const s = groupSplit(groups, { fraction: 0.2, seed: 7, labels });
  assert.deepEqual(
    [...s.train, ...s.validation].sort((a, b) => a - b),
    groups.map((_, i) => i),
  );
  const held = new Set(s.validation.map((i) => groups[i]));
  for (const i of s.train) assert.ok(!held.has(groups[i]), `${groups[i]} is in both parts`);
  assert.equal(s.validation.length, 24);
  assert.equal(
    s.validation.filter((i) => labels[i] === 0).length,
    6,
    'a fifth of each class (6 of the 30 class-0 images)',
  );
  assert.deepEqual(groupSplit(groups, { fraction: 0.2, seed: 7, labels }), s, 'same seed, same split');
  assert.notDeepEqual(groupSplit(groups, { fraction: 0.2, seed: 8, labels }).validation, s.validation);
  // Without labels, the fraction of all images.
  assert.equal(groupSplit(groups, { fraction: 0.2, seed: 7 }).validation.length, 24);
  // Groups too big for the share still hold one out.
  assert.deepEqual(groupSplit(['a', 'a', 'b', 'b'], { fraction: 0.1, seed: 1 }).validation.length, 2);
  assert.throws(() => groupSplit(['a', 'a'], { fraction: 0.5, seed: 1 }), /1 group\(s\) in 2 images/);
  assert.throws(() => groupSplit(groups, { fraction: 1, seed: 1 }), /fraction must be between 0 and 1/);
  assert.throws(() => groupSplit(groups, { fraction: 0.2, seed: 1, labels: [0] }), /1 labels for 120 images/);
  assert.throws(() => groupSplit(['a', 'b'], { fraction: 0.9, seed: 1 }), /leaves an empty training part/);
});

test('binaryClasses: one class against the rest (or against named classes), sorted, counted; unknown classes are errors', async () => {
  const scan = await scanImageFolder(data);
  assert.deepEqual(binaryClassNames({ positive: 'happy', negative: 'rest' }), ['happy', 'rest']);
  assert.deepEqual(binaryClassNames({ positive: 'happy', negative: ['anger', 'sadness'] }), ['happy', 'anger+sadness']);
  const b = binaryClasses(scan, { positive: 'happy', negative: 'rest' });
  assert.deepEqual(b.classes, ['happy', 'rest']);
  assert.deepEqual(b.counts, { happy: 24, rest: 24 });
  for (const e of b.entries)
    assert.equal(b.classes[e.label], e.path.includes(`${path.sep}happy${path.sep}`) ? 'happy' : 'rest');
  const sub = binaryClasses(scan, { positive: 'surprise', negative: ['anger'] });
  assert.deepEqual(
    [sub.classes, sub.counts],
    [['anger', 'surprise'], { anger: 8, surprise: 8 }],
    'sorted names; images of neither side left out',
  );
  assert.throws(
    () => binaryClasses(scan, { positive: 'neutral', negative: 'rest' }),
    new RegExp(`"neutral" not found; ${data.replace(/[/\\]/g, '.')} has the classes anger, happy, sadness, surprise`),
  );
  assert.throws(
    () => binaryClasses(scan, { positive: 'happy', negative: ['happy', 'anger'] }),
    /both the positive class and a negative one/,
  );
});

/** The subject of each image a split serves, read from its pixels. */
async function subjects(split: {
  source: { read(i: number, s: [number, number]): Promise<Uint8Array> };
  indices: number[];
}): Promise<Set<number>> {
  const out = new Set<number>();
  for (const i of split.indices) out.add(Math.round(((await split.source.read(i, [4, 4]))[0] - 10) / 20));
  return out;
}

function sdvConfig(trial: string, seed: number): RunConfig {
  return resolveTrial('small-data-variance', trial, 'full', seed);
}

test('resolveData with data.group, data.binary and data.splitSeed: no subject in two splits, two classes, one split for every run seed', async () => {
  const a = await resolveData(sdvConfig('happy-vs-rest', 1), { data });
  assert.deepEqual(a.classes, ['happy', 'rest']);
  assert.match(a.layout, /whole groups of \/\^\(S\\d\+\)_\/, relabelled happy vs rest/);
  const [tr, va, te] = [await subjects(a.train), await subjects(a.validation), await subjects(a.test)];
  for (const s of tr) assert.ok(!va.has(s) && !te.has(s), `subject ${s} in train and a held-out split`);
  for (const s of va) assert.ok(!te.has(s), `subject ${s} in validation and test`);
  assert.equal(tr.size + va.size + te.size, SUBJECTS);
  assert.equal(a.counts.train + a.counts.validation + a.counts.test, 48);
  // splitSeed fixes the split whatever the run's seed; the resplit trial draws it from the run's seed.
  const b = await resolveData(sdvConfig('happy-vs-rest', 2), { data });
  assert.deepEqual([b.train.indices, b.test.indices], [a.train.indices, a.test.indices]);
  const splits = await Promise.all(
    [1, 2, 3].map(async (seed) =>
      (await resolveData(sdvConfig('happy-vs-rest-resplit', seed), { data })).test.indices.join(),
    ),
  );
  assert.ok(new Set(splits).size > 1, 'the resplit trial draws a new split per seed');
});

test('validateRunConfig rejects a bad data.group, data.binary or data.splitSeed, naming it', () => {
  const cfg = sdvConfig('happy-vs-rest', 1);
  const bad = (data: Partial<RunConfig['data']>, re: RegExp) =>
    assert.throws(
      () => validateRunConfig({ ...cfg, data: { ...cfg.data, ...data } }),
      (e: Error) => e instanceof ConfigError && re.test(e.message),
    );
  bad({ group: '(' }, /invalid data.group: "\("/);
  bad({ binary: { positive: '', negative: 'rest' } }, /invalid data.binary/);
  bad({ binary: { positive: 'happy', negative: [] } }, /invalid data.binary/);
  bad({ splitSeed: 1.5 }, /invalid data.splitSeed: 1.5/);
  validateRunConfig(cfg);
});

test('smallBnCnn: BatchNormalization on the input, conv 3x3 8/16/32/64 each + max pool, flatten, dense softmax; in the registry', async () => {
  const m = smallBnCnn({ inputShape: [48, 48, 1], outputUnits: 2 });
  assert.deepEqual(
    m.layers.map((l) => l.getClassName()),
    [
      'InputLayer',
      'BatchNormalization',
      ...Array.from({ length: 4 }, () => ['Conv2D', 'MaxPooling2D']).flat(),
      'Flatten',
      'Dense',
    ],
  );
  const convs = m.layers.filter((l) => l.getClassName() === 'Conv2D');
  assert.deepEqual(
    convs.map((l) => (l.getConfig() as { filters: number }).filters),
    [8, 16, 32, 64],
  );
  for (const l of convs)
    assert.deepEqual(
      [(l.getConfig() as { kernelSize: number[] }).kernelSize, (l.getConfig() as { activation: string }).activation],
      [[3, 3], 'relu'],
    );
  assert.deepEqual(m.getLayer('flatten').outputShape, [null, 3 * 3 * 64]);
  assert.deepEqual(m.outputShape, [null, 2]);
  assert.equal((m.getLayer('predictions').getConfig() as { activation: string }).activation, 'softmax');
  m.dispose();
  const r = await buildModel('small-bn-cnn', { inputShape: [32, 32, 3], outputUnits: 3 });
  assert.deepEqual(r.outputShape, [null, 3]);
  r.dispose();
  assert.throws(() => smallBnCnn({ inputShape: [48, 48, 1], outputUnits: 0 }), /outputUnits/);
});

test('the small-data-variance experiment: registered without a number, its trials CK+48 by subject, happy vs rest, the published val acc cited', () => {
  const e = getExperiment('small-data-variance');
  assert.equal(e.number, undefined);
  assert.deepEqual(
    e.trials.map((t) => t.name),
    ['happy-vs-rest', 'happy-vs-rest-resplit'],
  );
  for (const t of e.trials) {
    assert.equal(t.model.name, 'small-bn-cnn');
    assert.deepEqual(
      [t.data.dataset, t.data.grayscale, t.data.group, t.data.binary],
      ['ck-plus-48', true, '^(S\\d+)_', { positive: 'happy', negative: 'rest' }],
    );
    assert.equal(t.published.valAcc, 0.975);
    assert.match(t.published.source ?? '', /JAFFE/);
  }
  assert.equal(getTrial('small-data-variance').trial.data.splitSeed, 27);
  assert.equal(getTrial('small-data-variance', 'happy-vs-rest-resplit').trial.data.splitSeed, undefined);
});

test('seedList and seedSpread: consecutive seeds; mean, sample sd, min, max, worst and best seed', () => {
  assert.deepEqual(seedList(27, 3), [27, 28, 29]);
  assert.throws(
    () => seedList(27, 0),
    (e: Error) => e instanceof ConfigError && /invalid seeds: 0/.test(e.message),
  );
  assert.throws(() => seedList(1.5, 2), ConfigError);
  const s = seedSpread([
    { seed: 1, value: 0.5 },
    { seed: 2, value: 0.9 },
    { seed: 3, value: 0.7 },
    { seed: 4, value: NaN },
  ]);
  assert.deepEqual(
    { ...s, mean: Number(s.mean.toFixed(10)), sd: Number(s.sd!.toFixed(10)) },
    { n: 3, mean: 0.7, sd: 0.2, min: 0.5, max: 0.9, worstSeed: 1, bestSeed: 2 },
  );
  assert.equal(seedSpread([{ seed: 5, value: 0.8 }]).sd, undefined);
  assert.throws(() => seedSpread([]), /no finite value/);
});

test('seedSpreadFigure and spreadFigure: a point per seed, the mean as a line with a one-sd band, the published figure dashed', () => {
  const f = seedSpreadFigure(
    [
      {
        name: 'test accuracy',
        points: [
          { seed: 2, value: 0.6 },
          { seed: 1, value: 0.8 },
        ],
        mean: 0.7,
        sd: 0.1414,
      },
    ],
    { reference: { value: 0.975, label: 'published' } },
  );
  assert.deepEqual(
    [f.data[0].name, f.data[0].x, f.data[0].y],
    ['test accuracy: mean 0.700 ± 0.141', ['2', '1'], [0.6, 0.8]],
  );
  assert.deepEqual((f.layout.xaxis as { categoryarray: string[] }).categoryarray, ['1', '2']);
  const shapes = f.layout.shapes as { type: string; y0: number; y1: number; line?: { dash?: string } }[];
  assert.deepEqual(
    shapes.map((s) => [s.type, s.y0, s.y1]),
    [
      ['line', 0.7, 0.7],
      ['rect', 0.7 - 0.1414, 0.7 + 0.1414],
      ['line', 0.975, 0.975],
    ],
  );
  assert.equal(shapes[2].line?.dash, 'dash');
  assert.throws(() => seedSpreadFigure([]), /no points/);
  const r: Pick<SeedSweepResult, 'experiment' | 'trial' | 'seeds' | 'test' | 'validation' | 'published'> = {
    experiment: 'small-data-variance',
    trial: 'happy-vs-rest',
    seeds: [
      { seed: 1, sweep: 'x-s1', testAccuracy: 0.8, valAccuracy: 0.9 },
      { seed: 2, sweep: 'x-s2', testAccuracy: 0.6, valAccuracy: 0.7 },
      { seed: 3, sweep: 'x-s3', failure: 'NaN' },
    ],
    test: seedSpread([
      { seed: 1, value: 0.8 },
      { seed: 2, value: 0.6 },
    ]),
    validation: seedSpread([
      { seed: 1, value: 0.9 },
      { seed: 2, value: 0.7 },
    ]),
    published: { valAcc: 0.975 },
  };
  const g = spreadFigure(r);
  assert.deepEqual(
    g.data.map((d) => d.name),
    ['test accuracy: mean 0.700 ± 0.141', 'validation accuracy (last epoch): mean 0.800 ± 0.141'],
  );
  assert.deepEqual(g.data[0].x, ['1', '2'], 'the failed seed is not plotted');
  assert.match((g.layout.annotations as { text: string }[]).at(-1)!.text, /published, one run: val acc 0.975/);
  assert.match(
    formatSpread(r),
    /^test accuracy +mean 0\.7000 +sd 0\.1414 +min 0\.6000 \(seed 2\) +max 0\.8000 \(seed 1\) +n 2\nval accuracy \(last\) +mean 0\.8000/,
  );
});

test('seedSweepId and seedSweepDir: the same settings name the same seed sweep whatever the seeds; ids are checked', () => {
  const s = { scale: 'quick' as const, data: '/d' };
  assert.match(
    seedSweepId('small-data-variance', 'happy-vs-rest', s),
    /^small-data-variance-happy-vs-rest-[0-9a-f]{12}$/,
  );
  assert.equal(
    seedSweepId('small-data-variance', 'happy-vs-rest', s),
    seedSweepId('small-data-variance', 'happy-vs-rest', { data: '/d', scale: 'quick' }),
  );
  assert.notEqual(
    seedSweepId('small-data-variance', 'happy-vs-rest', s),
    seedSweepId('small-data-variance', 'happy-vs-rest', { ...s, epochs: 2 }),
  );
  assert.equal(seedSweepDir('/runs', 'abc'), path.join('/runs', 'seed-sweeps', 'abc'));
  assert.throws(() => seedSweepDir('/runs', '../x'), /invalid sweep id/);
});

test(
  'runSeedSweep: one trial per seed as a local sweep, the spread written (seeds.json, spread.html); a second call reads the runs',
  { timeout: 300_000 },
  async () => {
    const out = path.join(tmp.dir, 'runs');
    const lines: string[] = [];
    const req = {
      experiment: 'small-data-variance',
      data,
      scale: 'smoke' as const,
      epochs: 2,
      backend: 'cpu',
      seeds: [3, 4, 5],
    };
    const r = await runSeedSweep(req, { out, log: (l) => lines.push(l) });
    assert.equal(r.trial, 'happy-vs-rest');
    assert.deepEqual(
      r.seeds.map((s) => [s.seed, s.sweep, s.failure]),
      [3, 4, 5].map((s) => [s, `${r.id}-s${s}`, undefined]),
    );
    for (const s of r.seeds) {
      assert.ok(fs.existsSync(path.join(out, s.runDir!, 'metrics.json')), s.runDir);
      assert.ok(
        s.testAccuracy! >= 0 && s.testAccuracy! <= 1 && s.valAccuracy! >= 0 && s.bestValAccuracy! >= s.valAccuracy!,
      );
      assert.ok(fs.existsSync(path.join(out, 'sweeps', s.sweep, 'sweep.json')));
    }
    assert.equal(r.test.n, 3);
    assert.equal(r.test.mean, r.seeds.reduce((a, s) => a + s.testAccuracy!, 0) / 3);
    const saved = JSON.parse(fs.readFileSync(r.files.json, 'utf8')) as SeedSweepResult;
    assert.deepEqual(saved.test, r.test);
    assert.equal(saved.files, undefined, 'no absolute paths in the record');
    assert.equal(path.dirname(r.files.json), seedSweepDir(out, r.id));
    assert.match(fs.readFileSync(r.files.page, 'utf8'), /Spread over seeds/);
    assert.ok(
      r.files.svg ? fs.readFileSync(r.files.svg, 'utf8').startsWith('<svg') : r.svgSkipped,
      'an SVG, or why not',
    );
    assert.ok(
      lines.some((l) => /^seed 4: test accuracy/.test(l)),
      lines.join('\n'),
    );
    // Finished seeds are read from the store: nothing is trained again.
    const again = await runSeedSweep({ ...req, seeds: [3, 4] }, { out, log: () => {} });
    assert.equal(again.id, r.id);
    assert.deepEqual(again.seeds, r.seeds.slice(0, 2));
    await assert.rejects(
      runSeedSweep({ ...req, seeds: [3, 3] }, { out }),
      (e: Error) => e instanceof ConfigError && /a seed is repeated/.test(e.message),
    );
    await assert.rejects(
      runSeedSweep({ ...req, trial: 'nope' }, { out }),
      (e: Error) => e instanceof ConfigError && /no trial "nope"/.test(e.message),
    );
  },
);

test('affect sweep --seeds N: the spread printed and written; usage errors exit 2', { timeout: 300_000 }, async () => {
  const out = path.join(tmp.dir, 'cli-runs');
  const args = [
    'sweep',
    'small-data-variance',
    '--data',
    data,
    '--scale',
    'smoke',
    '--epochs',
    '1',
    '--backend',
    'cpu',
    '--out',
    out,
  ];
  const r = await affect(tmp.dir, ...args, '--seeds', '2', '--seed', '11', '--trials', 'happy-vs-rest-resplit');
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(
    r.out,
    /seed sweep small-data-variance-happy-vs-rest-resplit-[0-9a-f]{12}: small-data-variance \/ happy-vs-rest-resplit, 2 seeds, 0 failed/,
  );
  assert.match(
    r.out,
    /test accuracy +mean \d\.\d{4} +sd \d\.\d{4} +min \d\.\d{4} \(seed 1[12]\) +max \d\.\d{4} \(seed 1[12]\) +n 2/,
  );
  assert.ok(fs.existsSync(path.join(out, 'sweeps', `${/seed sweep (\S+):/.exec(r.out)![1]}-s12`, 'sweep.json')));
  for (const [extra, re] of [
    [['--seeds', '0'], /--seeds must be a positive integer/],
    [['--seeds', '2', '--trials', 'happy-vs-rest,happy-vs-rest-resplit'], /--seeds runs one trial; --trials names 2/],
    [['--seeds', '2', '--queue', 'redis://127.0.0.1:1'], /without --queue/],
  ] as const) {
    const bad = await affect(tmp.dir, ...args, ...extra);
    assert.equal(bad.code, 2, bad.out + bad.err);
    assert.match(bad.err, re);
  }
});

test(
  'CK+48 (real sample): the runner splits happy vs rest by subject, about 60/20/20',
  { skip: sampleData() ? false : SKIP_SAMPLE },
  async () => {
    const d = await resolveData(sdvConfig('happy-vs-rest', 27), { data: path.join(sampleData()!, 'ck-plus-48') });
    assert.deepEqual(d.classes, ['happy', 'rest']);
    const total = d.counts.train + d.counts.validation + d.counts.test;
    assert.equal(total, 981);
    for (const k of ['validation', 'test'] as const)
      assert.ok(Math.abs(d.counts[k] / total - 0.2) < 0.02, `${k}: ${d.counts[k]}`);
  },
);

test('the committed small-data-variance record: its README tables are the figures of its JSON files', () => {
  const dir = path.join(repoRoot, 'reproductions', 'small-data-variance');
  const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  const f = (v: number) => v.toFixed(4);
  const files = fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
  assert.ok(files.length >= 1);
  for (const file of files) {
    const r = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
      test: { mean: number; sd: number; min: number; max: number; worstSeed: number; bestSeed: number };
      validation: { mean: number; sd: number };
    };
    const row = `**${f(r.test.mean)} ± ${f(r.test.sd)}** | ${f(r.test.min)} (seed ${r.test.worstSeed}) | ${f(r.test.max)} (seed ${r.test.bestSeed}) | ${f(r.test.max - r.test.min)} | ${f(r.validation.mean)} ± ${f(r.validation.sd)}`;
    assert.ok(readme.includes(row), `${file}: README lacks "${row}"`);
  }
});
