// Builds the optional native convolution addon (native/) with node-gyp, as part of `npm run build`.
// Optional by design: where it cannot be built (no C++ toolchain, no OpenBLAS headers) this says why and exits 0,
// and training runs on the wasm kernels alone. oneDNN is optional within it: binding.gyp compiles its convolutions in
// where its header and library are found. An up-to-date addon is not rebuilt.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const dir = path.resolve(__dirname, '..', 'native');
const addon = path.join(dir, 'build', 'Release', 'affect_native.node');
const log = path.join(dir, 'build.log');
const sources = [
  path.join(dir, 'binding.gyp'),
  ...fs.readdirSync(path.join(dir, 'src')).map((f) => path.join(dir, 'src', f)),
];

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return -1;
  }
}

const NPM_NODE_GYP = ['node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'];

// npm hands its own node-gyp to scripts; run by hand, use the one bundled with the npm next to this node.
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', ...NPM_NODE_GYP),
  ];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package: fine
  }
  return candidates.find((p) => p && fs.existsSync(p));
}

// Node's headers next to the node binary (distribution packages ship them) avoid a download by node-gyp.
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function reasonFrom(output) {
  if (/cblas\.h: No such file/.test(output))
    return 'OpenBLAS headers missing (Debian/Ubuntu: apt-get install libopenblas-dev)';
  if (/cannot find -lopenblas/.test(output))
    return 'OpenBLAS library missing (Debian/Ubuntu: apt-get install libopenblas-dev)';
  if (/not found: make|not found: g\+\+|No such file or directory.*(g\+\+|c\+\+)/.test(output))
    return 'no C++ toolchain (make and g++)';
  const line = output.split('\n').find((l) => /error/i.test(l));
  return (line ?? 'node-gyp failed').trim().slice(0, 200);
}

// What the build depends on besides the sources (binding.gyp's oneDNN probe: installing or removing libdnnl-dev; the
// instruction set): a change here rebuilds the addon even when the sources are older than it.
const stamp = path.join(dir, 'build', 'libraries.json');
function libraries(avx2) {
  const pkg = spawnSync('pkg-config', ['--modversion', 'dnnl'], { encoding: 'utf8' });
  return JSON.stringify({
    dnnlHeader: fs.existsSync('/usr/include/oneapi/dnnl/dnnl.hpp'),
    dnnlPkgConfig: pkg.status === 0 ? pkg.stdout.trim() : null,
    avx2,
  });
}

// Whether to compile for AVX2: the addon is built on the machine that runs it, so where this CPU has it (Linux's
// /proc/cpuinfo says) and AFFECT_NATIVE_PORTABLE=1 does not ask for a build that runs on any x86-64. The stamp records
// the choice, and lib/kernels/native.ts reads it before loading the addon.
function avx2() {
  if (process.env.AFFECT_NATIVE_PORTABLE === '1' || process.platform !== 'linux' || process.arch !== 'x64')
    return false;
  try {
    const flags = (/^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').trim().split(/\s+/);
    return flags.includes('avx2');
  } catch {
    return false;
  }
}

function main() {
  const newest = Math.max(...sources.map(mtime));
  const avx = avx2();
  const libs = libraries(avx);
  const built = fs.existsSync(stamp) ? fs.readFileSync(stamp, 'utf8') : null;
  if (mtime(addon) >= newest && built === libs) return;
  const gyp = findNodeGyp();
  let reason;
  if (!gyp) {
    reason = 'node-gyp not found';
  } else {
    // Without local headers node-gyp downloads them; offline that could hang, hence the limit.
    const r = spawnSync(process.execPath, [gyp, 'rebuild', ...nodedirArgs()], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, AFFECT_NATIVE_AVX2: avx ? '1' : '0' },
    });
    const output = `${r.stdout ?? ''}\n${r.stderr ?? ''}${r.error ? `\n${r.error}` : ''}`;
    if (r.status === 0 && fs.existsSync(addon)) {
      fs.rmSync(log, { force: true });
      fs.writeFileSync(stamp, libs);
      console.error('affect-lab: built the native convolution addon (native/build/Release/affect_native.node)');
      return;
    }
    fs.writeFileSync(log, output);
    reason = `${reasonFrom(output)}; full log: native/build.log`;
  }
  console.error(
    `affect-lab: native convolution addon not built: ${reason}. Training uses the wasm kernels alone (several times slower).`,
  );
}

main();
