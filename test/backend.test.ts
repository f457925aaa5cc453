import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend, backendReport, describeBackend } from '../lib/backend';
import type { NativeStatus } from '../lib/kernels/native';

test('initBackend picks a working backend and never cpu while wasm works', async () => {
  const r = await initBackend(undefined);
  assert.notEqual(r.name, 'cpu', `cpu chosen although: ${JSON.stringify(r.skipped)}`);
  assert.equal(tf.getBackend(), r.name);
  assert.equal(backendReport(), r);
  assert.match(describeBackend(r), new RegExp(`^backend ${r.name} `));
  // tfjs-node cannot install its libtensorflow here, so the report must say why it was passed over.
  if (r.name === 'wasm') assert.ok(r.skipped.some((s) => s.name.startsWith('tensorflow')));
});

test('the wasm report says whether the native convolution addon is in use, and why not', async () => {
  const r = await initBackend('wasm');
  assert.ok(r.native, 'no native status in the wasm report');
  const line = describeBackend(r);
  if (r.native.available) {
    const { threads, convolutions } = r.native;
    const named = `, native convolutions (${threads} thread${threads === 1 ? '' : 's'}): ${convolutions})`;
    assert.ok(line.endsWith(named), line);
  } else {
    assert.ok(line.includes(`no native convolutions: ${r.native.reason}`), line);
  }
  assert.equal(
    describeBackend({ ...r, native: { available: false, path: 'x', reason: 'turned off by AFFECT_NATIVE=0' } }),
    `backend wasm (threads ${r.threads}${r.simd ? ', SIMD' : ''}, no native convolutions: turned off by AFFECT_NATIVE=0)`,
  );
  // A run recorded before the addon named its convolutions ran them on im2col + OpenBLAS.
  const older = { available: true, path: 'x', blas: 'OpenBLAS', threads: 1 } as unknown as NativeStatus;
  assert.equal(
    describeBackend({ name: 'wasm', threads: 1, simd: true, native: older, skipped: [] }),
    'backend wasm (threads 1, SIMD, native convolutions (1 thread): im2col + OpenBLAS)',
  );
});

test('initBackend can be forced to cpu and back, and rejects unknown names', async () => {
  const cpu = await initBackend('cpu');
  assert.equal(cpu.name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  await assert.rejects(initBackend('webgpu'), /unknown backend "webgpu"; accepted values: tensorflow, wasm, cpu/);
  const wasm = await initBackend('wasm');
  assert.equal(wasm.name, 'wasm');
  assert.equal(tf.tensor([1, 2]).sum().dataSync()[0], 3);
});
