/**
 * The addon under a stream of signals: oneDNN 2.6's gemm kernels (behind dnnl_sgemm) point the stack pointer into the
 * heap, and a signal arriving then corrupts it (oneDNN issue 4845). Node takes signals (a profiler's, Ctrl-C, a
 * child's exit), so the addon must not run them: a profiled child process (V8's sampler signals the main thread every
 * 50 us) multiplies matrices of the models' kinds and runs convolutions in every direction for a few seconds, and must
 * exit cleanly. With dnnl_sgemm behind the products it died of heap corruption in each of three runs.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NATIVE_ADDON_PATH } from '../lib/kernels/native';
import { repoRoot } from '../lib/paths';

const WORKLOAD = `
const tf = require('@tensorflow/tfjs');
const { convGeometry, loadNativeConv, matMulGeometry, nativeConv } = require(${JSON.stringify(require.resolve('../lib/kernels/native'))});
loadNativeConv();
const addon = nativeConv();
const products = [[64, 4608, 512, false, false], [512, 64, 256, true, false], [64, 512, 7, false, true], [32, 7, 576, false, false]];
// A 3x3 layer and a dilated one, each in all three directions.
const convs = [1, 2].map((d) => {
  const g = convGeometry(tf.backend_util.computeConv2DInfo([8, 6, 6, 64], [3, 3, 64, 64], 1, d, 'same'));
  const x = new Float32Array(8 * 6 * 6 * 64).fill(0.5), w = new Float32Array(3 * 3 * 64 * 64).fill(0.25);
  return { g, x, w, y: new Float32Array(x.length), dw: new Float32Array(w.length), dx: new Float32Array(x.length) };
});
const end = Date.now() + 3000;
let calls = 0;
while (Date.now() < end) {
  for (const [M, K, N, ta, tb] of products) {
    const out = new Float32Array(M * N);
    addon.matMul(new Float32Array(M * K).fill(1), new Float32Array(K * N).fill(0.5), null, out,
      matMulGeometry({ batchA: 1, batchB: 1, M, K, N, transposeA: ta, transposeB: tb, relu: false }));
    if (out[0] !== K * 0.5) throw new Error('wrong product ' + out[0]);
  }
  for (const c of convs) {
    addon.conv2d(c.x, c.w, null, c.y, c.g);
    addon.conv2dBackpropFilter(c.x, c.y, c.dw, c.g);
    addon.conv2dBackpropInput(c.y, c.w, c.dx, c.g);
  }
  calls++;
}
console.log('calls', calls, 'on', loadNativeConv().gemm);
`;

test('native kernels run under a stream of signals without corrupting the heap', (t) => {
  if (!fs.existsSync(NATIVE_ADDON_PATH)) {
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'affect-signals-'));
  try {
    const r = spawnSync(
      process.execPath,
      ['--cpu-prof', '--cpu-prof-interval', '50', '--cpu-prof-dir', dir, '-e', WORKLOAD],
      { encoding: 'utf8', timeout: 60_000, cwd: repoRoot },
    );
    assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    const ran = /calls (\d+) on (.*)/.exec(r.stdout);
    assert.ok(ran, r.stdout);
    // Where the matrix products fall back to OpenBLAS (no oneDNN, no AVX-512), only the convolutions were at risk.
    t.diagnostic(`${ran[1]} rounds, matrix products on ${ran[2]}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
