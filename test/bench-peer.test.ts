import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { benchModels, peerRows, type Peer } from '../bench/training';
import { GLIBC_KEEP_FREED, torchProcessEnv } from '../bench/torch-env';

const peer: Peer = {
  name: 'Peer',
  load: () => Promise.reject(new Error('not used')),
  warm: () => Promise.resolve(),
  time: () => Promise.resolve(0),
};

test("peerRows: the peer's median rate and ours over it as the median of each round's ratio, scaled by the FLOPs", () => {
  const m = benchModels()[0];
  // Round ratios (peer seconds / ours): 2, 4, 1; the medians of the runs alone would give 0.3 / 0.1 = 3.
  const timing = { peer: [0.2, 0.4, 0.3], ours: [0.1, 0.1, 0.3] };
  const info = { flops: { forward: 1e9, training: 3e9 }, notes: 'peer 1.0, 2 threads' };
  const rows = peerRows(peer, m, 'training', 32, timing, info, 3e9);
  const row = (suffix: string) => rows.find((r) => r.metric === `${m.name} training${suffix}`);
  assert.equal(row(', Peer')?.value, 32 / 0.3);
  assert.equal(row(' GFLOP/s, Peer')?.value, ((32 / 0.3) * 3e9) / 1e9);
  assert.equal(row(', wasm / Peer images/s')?.value, 2);
  assert.match(row(', wasm / Peer images/s')?.notes ?? '', /\(2\.00, 4\.00, 1\.00\)/);
  const gflops = row(', wasm / Peer GFLOP/s');
  assert.equal(gflops?.value, 2);
  assert.equal(gflops?.target, 1, 'training is held to the target');
  assert.match(gflops?.notes ?? '', /the same FLOPs per image/);
  // Where our model counts more FLOPs per image, the GFLOP/s ratio credits them; forward has no target.
  const forward = peerRows(peer, m, 'forward', 32, timing, info, 1.5e9);
  const fg = forward.find((r) => r.metric === `${m.name} forward, wasm / Peer GFLOP/s`);
  assert.equal(fg?.value, 3);
  assert.equal(fg?.target, undefined);
  assert.match(fg?.notes ?? '', /1\.50x Peer's FLOPs per image/);
});

test('torchProcessEnv: PyTorch on tcmalloc where installed, else glibc keeping freed memory; a user setting wins', () => {
  const base = { PATH: '/bin' };
  const lib = '/opt/lib/libtcmalloc_minimal.so.4';
  const onTcmalloc = torchProcessEnv(base, lib);
  assert.deepEqual(onTcmalloc, { env: { PATH: '/bin', LD_PRELOAD: lib }, allocator: 'tcmalloc' });
  const onGlibc = torchProcessEnv(base, null);
  assert.equal(onGlibc.env.GLIBC_TUNABLES, GLIBC_KEEP_FREED);
  assert.equal(onGlibc.env.LD_PRELOAD, undefined);
  assert.match(onGlibc.allocator, /glibc/);
  const ownTunables = { ...base, GLIBC_TUNABLES: 'glibc.malloc.arena_max=1' };
  assert.deepEqual(torchProcessEnv(ownTunables, lib).env, ownTunables, 'GLIBC_TUNABLES of their own');
  // A preload of the user's own stays, and glibc's settings are added in case it is not an allocator.
  const preloaded = torchProcessEnv({ ...base, LD_PRELOAD: '/x.so' }, lib);
  assert.deepEqual(preloaded.env, { ...base, LD_PRELOAD: '/x.so', GLIBC_TUNABLES: GLIBC_KEEP_FREED });
  assert.match(preloaded.allocator, /LD_PRELOAD \/x\.so/);
  assert.deepEqual(base, { PATH: '/bin' }, 'the given environment is not changed');
});
