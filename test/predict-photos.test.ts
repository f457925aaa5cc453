/**
 * `affect predict` on real photos: a finished run folder (a tiny model trained here in seconds on CK+), a picture with
 * three real faces, a picture with none, pre-cropped faces, bad files; the library and the command line.
 * Needs AFFECT_SAMPLE_DATA (../shared/data/README.md) and skips without it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../lib/backend';
import { decodeImage } from '../lib/data';
import {
  DEFAULT_FACE_OPTIONS,
  classifyFaces,
  loadPredictor,
  predictFiles,
  writeExplainPage,
  type ImageResult,
  type Predictor,
} from '../lib/predict';
import { SKIP_SAMPLE, sampleData, tempDir } from './data-fixtures';
import { CLASSES, SIZE, makePhotos, makeRun, type Photos } from './predict-fixtures';

const sample = sampleData();
const CLI = path.join(__dirname, '..', 'lib', 'cli', 'main.js');
const opts = { ...DEFAULT_FACE_OPTIONS, top: 3 };

async function collect(
  p: Predictor,
  files: string[],
  extra: Partial<typeof opts> & { onBadImage?: 'skip' | 'fail'; explain?: boolean } = {},
): Promise<ImageResult[]> {
  const out: ImageResult[] = [];
  for await (const r of predictFiles(p, files, { ...opts, ...extra })) out.push(r);
  return out;
}

describe('affect predict on real photos', { skip: sample ? false : SKIP_SAMPLE }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let run: string;
  let photos: Photos;
  let predictor: Predictor;

  before(async () => {
    await initBackend('wasm');
    tmp = tempDir('affect-predict-');
    run = await makeRun(tmp.dir, sample!);
    photos = await makePhotos(path.join(tmp.dir, 'photos'), sample!);
    predictor = await loadPredictor(run);
  });
  after(() => {
    predictor?.model.dispose();
    tmp?.cleanup();
  });

  test('a run folder, or its saved model folder, loads with its class order, input size and grayscale', async () => {
    assert.deepEqual(predictor.classes, CLASSES);
    assert.equal(predictor.imageSize, SIZE);
    assert.equal(predictor.grayscale, true);
    const bare = await loadPredictor(path.join(run, 'model'));
    assert.deepEqual([bare.classes, bare.imageSize, bare.grayscale], [CLASSES, SIZE, true]);
    bare.model.dispose();
    const unfinished = path.join(tmp.dir, 'unfinished');
    fs.mkdirSync(unfinished);
    fs.copyFileSync(path.join(run, 'config.json'), path.join(unfinished, 'config.json'));
    await assert.rejects(loadPredictor(unfinished), /has no saved model .*the run has not finished/);
    await assert.rejects(loadPredictor(photos.dir), /neither a run folder .* nor a saved model folder/);
  });

  test('a photo with three faces: each found, boxed where it was pasted, cropped and classified', async () => {
    const [r] = await collect(predictor, [photos.group]);
    const pr = r.prediction!;
    assert.equal(pr.detected, true);
    assert.equal(pr.faces.length, 3, JSON.stringify(pr.faces.map((f) => f.box)));
    // Faces come left to right, as pasted; each crop's centre lies inside its pasted face.
    pr.faces.forEach((f, i) => {
      const p = photos.placements[i];
      const [cx, cy] = [f.box.x + f.box.width / 2, f.box.y + f.box.height / 2];
      assert.ok(
        cx > p.x && cx < p.x + p.side && cy > p.y && cy < p.y + p.side,
        `face ${i + 1}: crop ${JSON.stringify(f.box)} vs pasted ${JSON.stringify(p)}`,
      );
      assert.equal(f.box.width, f.box.height, 'square crops');
      assert.ok(f.score! >= opts.minConfidence);
      assert.equal(f.top.length, 2, 'top 3 of 2 classes lists both');
      assert.ok(Math.abs(f.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-4);
      assert.ok(CLASSES.includes(f.top[0].label) && f.top[0].probability >= f.top[1].probability);
    });
    // The tiny detector finds them too.
    const [tiny] = await collect(predictor, [photos.group], { detector: 'tiny' });
    assert.equal(tiny.prediction!.faces.length, 3);
  });

  test('a photo without a face: none found, nothing classified', async () => {
    const [r] = await collect(predictor, [photos.noFace]);
    assert.deepEqual(
      { detected: r.prediction!.detected, faces: r.prediction!.faces.length },
      { detected: true, faces: 0 },
    );
  });

  test('pre-cropped faces pass without detection under auto and are classified exactly as training fed them', async () => {
    const results = await collect(predictor, photos.crops);
    for (const [i, r] of results.entries()) {
      const pr = r.prediction!;
      assert.equal(pr.detected, false);
      assert.deepEqual(
        pr.faces.map((f) => f.box),
        [{ x: 0, y: 0, width: 48, height: 48 }],
      );
      // The training pipeline's input for the same file: decode + resize as lib/data does, grayscale as the runner does.
      const expected = classifyFaces(predictor, [await decodeImage(photos.crops[i], { size: SIZE })])[0];
      assert.deepEqual(pr.faces[0].probabilities, expected);
      // Held-out CK+ faces: the model learned its task.
      assert.equal(pr.faces[0].top[0].label, CLASSES[i], `${photos.crops[i]}: ${JSON.stringify(pr.faces[0].top)}`);
    }
    // never: a large photo is classified whole; always: a crop goes through the detector.
    const [whole] = await collect(predictor, [photos.group], { detectFaces: 'never' });
    assert.deepEqual(
      whole.prediction!.faces.map((f) => f.box),
      [{ x: 0, y: 0, width: 1000, height: 520 }],
    );
    const [forced] = await collect(predictor, [photos.crops[0]], { detectFaces: 'always' });
    assert.equal(forced.prediction!.detected, true);
  });

  test('bad files: an error naming the file, the rest still predicted; or a stop with onBadImage fail', async () => {
    const dir = path.join(tmp.dir, 'bad');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.jpg'), 'not an image');
    const png = fs.readFileSync(photos.crops[0]);
    fs.writeFileSync(path.join(dir, 'cut.png'), png.subarray(0, png.length >> 1));
    fs.copyFileSync(photos.crops[1], path.join(dir, 'ok.png'));
    const files = ['cut.png', 'notes.jpg', 'ok.png'].map((f) => path.join(dir, f));
    const results = await collect(predictor, files);
    // lib/data's message; sharp sometimes reports a cut-off PNG only as "Unknown error" (then: cannot decode image ...).
    assert.match(results[0].error!, /(image .*cut\.png is truncated or corrupt|cannot decode image .*cut\.png)/);
    assert.match(results[1].error!, /notes\.jpg is not a supported image/);
    assert.equal(results[2].prediction!.faces.length, 1);
    await assert.rejects(collect(predictor, files, { onBadImage: 'fail' }), /bad image .*cut\.png/);
  });

  test('explanations: a Grad-CAM heatmap per face and a page of plotly figures', async () => {
    const results = await collect(predictor, [photos.group, photos.crops[0]], { explain: true });
    const faces = results.flatMap((r) => r.prediction!.faces);
    assert.equal(faces.length, 4);
    for (const f of faces) {
      assert.equal(f.explanation!.heatmap.length, SIZE * SIZE);
      assert.equal(f.explanation!.layer, 'pool2');
    }
    const page = fs.readFileSync(writeExplainPage(tmp.dir, results, run), 'utf8');
    assert.equal(page.match(/class="affect-plot"/g)?.length, 1);
    assert.match(page, /group\.png face 3: (happy|surprise)/);
  });

  test('the command line: table, CSV and JSON output, progress on stderr, exit codes', () => {
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, 'predict', ...args, '--backend', 'wasm'], {
        encoding: 'utf8',
        timeout: 120_000,
      });
    const json = cli(run, photos.dir, '--format', 'json', '--top', '1');
    assert.equal(json.status, 0, json.stderr);
    const images = JSON.parse(json.stdout) as {
      file: string;
      detected: boolean;
      faces: { top: unknown[]; probabilities: Record<string, number> }[];
    }[];
    assert.deepEqual(
      images.map((i) => [path.basename(i.file), i.faces.length, i.detected]),
      [
        ['crop-happy.png', 1, false],
        ['crop-surprise.png', 1, false],
        ['group.png', 3, true],
        ['no-face.png', 0, true],
      ],
    );
    assert.deepEqual(Object.keys(images[2].faces[0].probabilities), CLASSES);
    assert.equal(images[2].faces[0].top.length, 1);
    assert.match(json.stderr, /predict 4\/4 \(100%\)/);
    assert.match(json.stderr, /4 file\(s\), 5 face\(s\)/);

    const csv = cli(path.join(run, 'model'), photos.group, '--format', 'csv');
    assert.equal(csv.status, 0, csv.stderr);
    const rows = csv.stdout.trim().split('\n');
    assert.equal(
      rows[0],
      'file,face,faces,x,y,width,height,detector_score,label_1,probability_1,label_2,probability_2,label_3,probability_3,error',
    );
    assert.equal(rows.length, 4);
    assert.match(rows[3], /group\.png,3,3,\d+,\d+,\d+,\d+,0\.\d+,(happy|surprise),/);

    const table = cli(run, photos.noFace);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /no-face\.png {2}no face found/);

    assert.equal(cli(run, photos.group, '--top', '0').status, 2);
    const missing = cli(photos.dir, photos.group);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /neither a run folder/);
  });
});
