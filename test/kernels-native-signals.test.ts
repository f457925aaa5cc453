/**
 * The addon under a stream of signals: oneDNN 2.6's gemm kernels (behind dnnl_sgemm) point the stack pointer into the
 * heap, and a signal arriving then corrupts it (oneDNN issue 4845). Node takes signals (a profiler's, Ctrl-C, a
 * child's exit), so the addon must not run them: a profiled child process (V8's sampler signals the main thread every
 * 50 us) multiplies matrices of the models' kinds and convolves for a few seconds, and must exit cleanly.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NATIVE_ADDON_PATH } from '../lib/kernels/native';

const WORKLOAD = `
const tf = require('@tensorflow/tfjs');
const { convGeometry, loadNativeConv, matMulGeometry, nativeConv } = require(${JSON.stringify(require.resolve('../lib/kernels/native'))});
loadNativeConv();
const addon = nativeConv();
const products = [[64, 4608, 512, false, false], [512, 64, 256, true, false], [64, 512, 7, false, true], [32, 7, 576, false, false]];
const conv = tf.backend_util.computeConv2DInfo([8, 6, 6, 64], [3, 3, 64, 64], 1, 1, 'same');
const g = convGeometry(conv);
const x = new Float32Array(8 * 6 * 6 * 64).fill(0.5), w = new Float32Array(3 * 3 * 64 * 64).fill(0.25);
const y = new Float32Array(x.length), dw = new Float32Array(w.length);
const end = Date.now() + 3000;
let calls = 0;
while (Date.now() < end) {
  for (const [M, K, N, ta, tb] of products) {
    const out = new Float32Array(M * N);
    addon.matMul(new Float32Array(M * K).fill(1), new Float32Array(K * N).fill(0.5), null, out,
      matMulGeometry({ batchA: 1, batchB: 1, M, K, N, transposeA: ta, transposeB: tb, relu: false }));
    if (out[0] !== K * 0.5) throw new Error('wrong product ' + out[0]);
  }
  addon.conv2d(x, w, null, y, g);
  addon.conv2dBackpropFilter(x, y, dw, g);
  calls++;
}
console.log('calls', calls);
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
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /calls \d+/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
