import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { NATIVE_ADDON_PATH } from '../lib/kernels/native';
import type { checkNativeConvolutions } from './native-conv-check';

type Check = Awaited<ReturnType<typeof checkNativeConvolutions>>;

/** checkNativeConvolutions in a fresh process, whose addon loads with AFFECT_CONV=conv. */
function checkWith(conv: 'im2col' | 'onednn'): Check {
  const code = `require(${JSON.stringify(require.resolve('./native-conv-check'))})
    .checkNativeConvolutions()
    .then((r) => { console.log(JSON.stringify(r)); process.exit(0); });`;
  const out = execFileSync(process.execPath, ['-e', code], {
    env: { ...process.env, AFFECT_CONV: conv },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop() as string) as Check;
}

// Both implementations, whichever the addon runs by default: strides 1 and 2, same / valid / asymmetric padding,
// 1x1, 3x3 and 7x7 filters, dilation 2, odd sizes, batches of 1 to 3.

test('im2col convolutions match the cpu kernels in every direction (AFFECT_CONV=im2col)', (t) => {
  const r = checkWith('im2col');
  if (!r.status.available) {
    assert.ok(!fs.existsSync(NATIVE_ADDON_PATH), `the addon is built but does not load: ${r.status.reason}`);
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  assert.equal(r.status.convolutions, `im2col + ${r.status.gemm}`);
  assert.deepEqual(r.failures, []);
});

test('oneDNN convolutions match the cpu kernels in every direction (AFFECT_CONV=onednn)', (t) => {
  const r = checkWith('onednn');
  if (!r.status.available) {
    if (/built without oneDNN/.test(r.status.reason)) {
      t.skip('addon built without oneDNN (npm run build compiles it in where libdnnl-dev is installed)');
      return;
    }
    assert.ok(!fs.existsSync(NATIVE_ADDON_PATH), `the addon is built but does not load: ${r.status.reason}`);
    t.skip('addon not built (npm run build needs g++ and libopenblas-dev)');
    return;
  }
  assert.match(r.status.convolutions, /^oneDNN \d+\.\d+\.\d+$/);
  assert.deepEqual(r.failures, []);
});
