/**
 * The import graph of the compiled library is a ladder (../shared/spec/architecture.md): lib/train, the engine, imports
 * no experiments, runner, viz, CLI, notebook or data code; lib/models and lib/data import no training or running code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const lib = path.join(__dirname, '..', 'lib');

/** Every relative require() of the .js files under dist/lib/<folder>, as folders of dist/lib (or file names at its top). */
function importedFolders(folder: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const dir = path.join(lib, folder);
  for (const file of fs.readdirSync(dir, { recursive: true }) as string[]) {
    if (!file.endsWith('.js')) continue;
    const source = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const m of source.matchAll(/require\("(\.[^"]+)"\)/g)) {
      const target = path.relative(lib, path.resolve(path.dirname(path.join(dir, file)), m[1]));
      const top = target.split(path.sep)[0];
      out.set(top, [...(out.get(top) ?? []), `${folder}/${file} -> ${m[1]}`]);
    }
  }
  return out;
}

const rules: [string, string[]][] = [
  ['train', ['experiments', 'runner', 'viz', 'cli', 'notebook', 'data']],
  ['models', ['train', 'runner', 'experiments', 'cli', 'notebook']],
  ['data', ['train', 'runner', 'experiments', 'cli', 'notebook']],
];

for (const [folder, banned] of rules) {
  test(`dist/lib/${folder} imports nothing from ${banned.join(', ')}`, () => {
    const imports = importedFolders(folder);
    assert.ok(imports.size > 0, `no relative imports found under dist/lib/${folder}: build first`);
    const bad = banned.flatMap((b) => imports.get(b) ?? []);
    assert.deepEqual(bad, []);
  });
}
