/**
 * Every trial of every experiment through runExperiment at the smoke scale: the published set-up (model, top, optimizer,
 * L2, callbacks, dataset variant, grayscale images decoded to RGB, on-the-fly augmentation, ImageNet ResNet-50 under the
 * pretrained top) on a handful of tiny images for one epoch, so that no trial's full path can break unnoticed.
 * Affect trials read CK+-like grayscale PNGs; face-mask reads a Train/Validation/Test folder.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../lib/backend';
import { synthesizeFaces } from '../lib/data/synth';
import { listManifests } from '../lib/data';
import { EXPERIMENTS, resolveTrial } from '../lib/experiments';
import { kerasStage, modelEntry, weightsAvailable } from '../lib/models';
import { runExperiment } from '../lib/runner';

let tmp: string;
let affect: string;
let mask: string;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-smoke-'));
  const faces = path.join(tmp, 'faces');
  await synthesizeFaces({ task: 'affect', out: faces, perClass: 4, seed: 1, size: 32 });
  affect = path.join(tmp, 'affect');
  for (const [c, cls] of fs
    .readdirSync(faces)
    .filter((c) => fs.statSync(path.join(faces, c)).isDirectory())
    .entries()) {
    fs.mkdirSync(path.join(affect, cls), { recursive: true });
    // Named like CK+'s frames (`S005_...`, two per subject) for the trials that split by subject.
    for (const [i, f] of fs.readdirSync(path.join(faces, cls)).entries()) {
      await sharp(path.join(faces, cls, f))
        .grayscale()
        .png()
        .toFile(path.join(affect, cls, `S${String(10 * c + Math.floor(i / 2)).padStart(3, '0')}_${f}`));
    }
  }
  mask = path.join(tmp, 'mask');
  await synthesizeFaces({ task: 'mask', out: mask, perClass: 4, seed: 1, size: 32 });
  await initBackend();
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface SavedLayer {
  class_name: string;
  config: { name: string; units?: number; trainable?: boolean; kernel_regularizer?: { config: { l2: number } } | null };
}

/** The saved model's layers (nested models flattened). */
function savedLayers(runDir: string): SavedLayer[] {
  type Nested = SavedLayer & { config: { layers?: Nested[] } };
  const json = JSON.parse(fs.readFileSync(path.join(runDir, 'model', 'model.json'), 'utf8')) as {
    modelTopology: { config: { layers: Nested[] } };
  };
  const flat = (layers: Nested[]): SavedLayer[] => layers.flatMap((l) => [l, ...flat(l.config.layers ?? [])]);
  return flat(json.modelTopology.config.layers);
}

for (const exp of EXPERIMENTS) {
  test(`smoke: every trial of ${exp.name} runs its published set-up end to end`, { timeout: 300_000 }, async () => {
    for (const t of exp.trials) {
      const data = exp.name === 'face-mask' ? mask : affect;
      // The fixtures have the study's classes; a trial of another dataset (FER2013's) accepts them explicitly.
      const fixtureClasses = fs.readdirSync(exp.name === 'face-mask' ? path.join(mask, 'Train') : affect).sort();
      // A dataset without a manifest (CK+48) is not checked: anyClasses changes nothing for it.
      const anyClasses =
        listManifests()
          .find((m) => m.name === t.data.dataset)
          ?.classes.join() !== fixtureClasses.join();
      const r = await runExperiment({
        experiment: exp.name,
        trial: t.name,
        scale: 'smoke',
        data,
        anyClasses,
        outDir: path.join(tmp, 'runs'),
        quiet: true,
      });
      const cfg = resolveTrial(exp.name, t.name, 'smoke', 27);
      assert.deepEqual(
        [r.config.model, r.config.optimizer, r.config.batchSize, r.config.callbacks, r.config.data],
        [t.model, t.optimizer, t.batchSize, t.callbacks, t.data],
        t.name,
      );
      // A trial with nothing to train (the majority baseline) stays at 0 epochs.
      const epochs = t.epochs === 0 ? 0 : 1;
      assert.deepEqual([r.config.imageSize, r.config.epochs], [cfg.imageSize, epochs], t.name);
      assert.equal(r.history.epochs.length, epochs, t.name);
      // Validation after one step may overflow (batch norm's moving statistics have barely moved); training must not.
      if (epochs) assert.ok(Number.isFinite(r.history.logs.loss[0]), `${t.name}: loss ${r.history.logs.loss[0]}`);
      assert.equal(
        r.classes.length,
        t.data.binary ? 2 : (exp.name === 'face-mask' ? 2 : 8) - (t.data.drop?.length ?? 0),
        t.name,
      );
      assert.ok(!r.classes.some((c) => t.data.drop?.includes(c)), `${t.name}: dropped classes absent`);
      // Smoke takes a snapshot every iteration, so a snapshot trial always has its ensemble.
      if (t.snapshots) {
        assert.equal(r.metrics.ensemble?.members, 1, `${t.name}: ensemble`);
        assert.ok(fs.existsSync(path.join(r.runDir, 'ensemble-confusion.csv')), `${t.name}: ensemble-confusion.csv`);
      }
      for (const f of ['config.json', 'metrics.json', 'history.csv', 'report.html'])
        assert.ok(fs.existsSync(path.join(r.runDir, f)), `${t.name}: ${f}`);

      const layers = savedLayers(r.runDir);
      const input = layers[0] as SavedLayer & { config: { batch_input_shape: number[] } };
      assert.deepEqual(input.config.batch_input_shape, [null, 32, 32, t.data.grayscale ? 1 : 3], `${t.name}: input`);
      const kernels = layers.filter((l) => l.class_name === 'Conv2D' || l.class_name === 'Dense');
      if (t.model.l2)
        for (const l of kernels)
          assert.equal(l.config.kernel_regularizer?.config.l2, t.model.l2, `${t.name}: L2 on ${l.config.name}`);
      const units = (name: string) => layers.find((l) => l.config.name === name)?.config.units;
      if (t.model.top === 'vgg') assert.deepEqual([units('fc1'), units('fc2')], [4096, 4096], t.name);
      if (t.model.top === 'pretrained') {
        assert.deepEqual([units('fc1'), units('fc2')], [2048, 512], t.name);
        const convs = layers.filter((l) => l.class_name === 'Conv2D');
        const k = t.model.freezeUpTo;
        // Partial unfreezing: exactly the convolutions of the stem and stages 1..k are frozen.
        if (k !== undefined)
          for (const l of convs)
            assert.equal(l.config.trainable, kerasStage(l.config.name)! > k, `${t.name}: ${l.config.name} trainable`);
        else
          assert.equal(
            convs.every((l) => l.config.trainable === false),
            t.model.frozen !== false,
            `${t.name}: backbone frozen`,
          );
        const cached = weightsAvailable(modelEntry(t.model.name));
        assert.equal(/random weights/.test(r.config.note ?? ''), !cached, `${t.name}: ${r.config.note}`);
      }
    }
  });
}
