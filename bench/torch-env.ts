/** The environment of the bench's PyTorch process (bench/torch_bench.py): which allocator it runs on. */
import * as fs from 'node:fs';

/** Where Debian's libtcmalloc-minimal4 installs tcmalloc. */
export const TCMALLOC_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4',
  '/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4',
];

/**
 * glibc settings for when tcmalloc is not installed: keep freed blocks in the process (trim threshold) and serve blocks
 * up to 32 MiB, glibc's most, from the heap rather than fresh mappings (mmap threshold).
 */
export const GLIBC_KEEP_FREED = 'glibc.malloc.trim_threshold=4294967295:glibc.malloc.mmap_threshold=33554432';

/**
 * PyTorch frees each activation after use, and glibc hands large freed blocks back to the kernel, so every op's output
 * is faulted in afresh. On some of these virtual machines a page fault costs about 11 us (a fresh 38 MB block: 108 ms),
 * which made PyTorch's frozen ResNet-50 forward pass 1.6x slower and its CK+48 net's 8x: a measure of the machine, not of
 * PyTorch. So PyTorch runs on tcmalloc where installed (as PyTorch's CPU tuning guide recommends; it keeps freed memory
 * in the process), else on glibc with GLIBC_KEEP_FREED, which cannot keep blocks over 32 MiB (a ResNet's first stage at
 * batch 64). `tcmalloc`: its path, null for none (default: the first of TCMALLOC_PATHS found). A user's GLIBC_TUNABLES is
 * left as it is, and so is a user's LD_PRELOAD, with GLIBC_KEEP_FREED added for glibc's malloc in case it is not one.
 */
export function torchProcessEnv(
  env: NodeJS.ProcessEnv,
  tcmalloc: string | null = TCMALLOC_PATHS.find((p) => fs.existsSync(p)) ?? null,
): { env: NodeJS.ProcessEnv; allocator: string } {
  if (env.GLIBC_TUNABLES) return { env, allocator: `GLIBC_TUNABLES ${env.GLIBC_TUNABLES}` };
  const glibc = { env: { ...env, GLIBC_TUNABLES: GLIBC_KEEP_FREED }, allocator: 'glibc malloc keeping freed memory' };
  if (env.LD_PRELOAD) return { ...glibc, allocator: `LD_PRELOAD ${env.LD_PRELOAD}, or ${glibc.allocator}` };
  if (tcmalloc) return { env: { ...env, LD_PRELOAD: tcmalloc }, allocator: 'tcmalloc' };
  return glibc;
}
