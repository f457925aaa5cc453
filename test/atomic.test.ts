import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../lib/atomic';

test('writeFileAtomicSync replaces a file whole and leaves no temporary file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-atomic-'));
  try {
    const f = path.join(dir, 'a.json');
    writeFileAtomicSync(f, 'old');
    writeFileAtomicSync(f, new Uint8Array([110, 101, 119]));
    assert.equal(fs.readFileSync(f, 'utf8'), 'new');
    assert.deepEqual(fs.readdirSync(dir), ['a.json']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
