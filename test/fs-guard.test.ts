/** lib/fs: containment on real paths (symlinks, `..`, relative paths, option-named files), writability, and the one-writer lock. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../lib/errors';
import {
  LockedError,
  acquireLock,
  checkOutputOutside,
  checkWritable,
  fileInside,
  isInsideReal,
  realPath,
} from '../lib/fs';
import { tempDir } from './data-fixtures';

test('realPath resolves symlinks, `..` and a missing tail; isInsideReal compares real paths and file identity', () => {
  const { dir, cleanup } = tempDir('affect-fs-');
  try {
    fs.mkdirSync(path.join(dir, 'data', 'a'), { recursive: true });
    fs.symlinkSync(path.join(dir, 'data'), path.join(dir, 'link'));
    fs.symlinkSync(path.join(dir, 'data', 'a'), path.join(dir, 'deep'));
    fs.symlinkSync(path.join(dir, 'data', 'gone'), path.join(dir, 'dangling'));
    const real = fs.realpathSync(dir);
    assert.equal(realPath(path.join(dir, 'link', 'new', 'x')), path.join(real, 'data', 'new', 'x'));
    assert.equal(realPath(path.join(dir, 'other', '..', 'data', 'a')), path.join(real, 'data', 'a'));
    assert.equal(realPath(path.join(dir, 'dangling', 'x')), path.join(real, 'data', 'gone', 'x'));
    const cases: [string, boolean][] = [
      [path.join(dir, 'link', 'out'), true],
      [path.join(dir, 'deep', 'out'), true],
      [path.join(dir, 'dangling'), true],
      [path.join(dir, 'data', '..', 'data', 'a', '..', 'x'), true],
      [path.join(dir, 'data'), true],
      [path.join(dir, 'data-out'), false],
      [path.join(dir, 'data', '..', 'out'), false],
    ];
    for (const [p, inside] of cases) assert.equal(isInsideReal(p, path.join(dir, 'data')), inside, p);
    const rel = path.relative(process.cwd(), path.join(dir, 'link', 'r'));
    assert.equal(isInsideReal(rel, path.join(dir, 'data')), true, 'relative path through a link');
  } finally {
    cleanup();
  }
});

test('checkOutputOutside refuses an output inside or around the input however it is spelt; fileInside keeps option-named files in the output', () => {
  const { dir, cleanup } = tempDir('affect-fs-');
  try {
    const input = path.join(dir, 'in');
    fs.mkdirSync(path.join(input, 'train'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'out'));
    fs.symlinkSync(input, path.join(dir, 'in-link'));
    fs.symlinkSync(input, path.join(dir, 'out', 'escape'));
    const refused = [
      path.join(dir, 'in-link', 'x'),
      path.join(dir, 'out', '..', 'in', 'train', 'y'),
      path.join(dir, 'in'),
      path.join(dir, 'out', 'escape', 'z'),
      dir,
    ];
    for (const out of refused) {
      assert.throws(
        () => checkOutputOutside({ path: out, what: 'output' }, [{ path: input, what: 'input' }]),
        (e: Error) => e instanceof ConfigError && /output .* (is inside|contains) the input/.test(e.message),
        out,
      );
    }
    checkOutputOutside({ path: path.join(dir, 'out', 'fine'), what: 'output' }, [{ path: input, what: 'input' }]);

    const out = path.join(dir, 'out');
    assert.equal(fileInside(out, 'train.csv', '--train-csv'), path.join(out, 'train.csv'));
    for (const name of ['../train.csv', '/etc/x.csv', 'escape/train/x.csv', `${dir}/in/x.csv`]) {
      assert.throws(
        () => fileInside(out, name, '--train-csv'),
        (e: Error) =>
          e instanceof ConfigError && e.message.startsWith(`--train-csv "${name}" leads outside the output folder`),
        name,
      );
    }
  } finally {
    cleanup();
  }
});

test(
  'checkWritable names the path: a file on the way, a read-only folder (permission denied)',
  { skip: process.getuid?.() === 0 ? 'root writes anywhere' : false },
  () => {
    const { dir, cleanup } = tempDir('affect-fs-');
    try {
      fs.writeFileSync(path.join(dir, 'afile'), 'x');
      assert.throws(
        () => checkWritable(path.join(dir, 'afile', 'out'), 'output folder'),
        /output folder .*afile\/out: .*afile is not a folder/,
      );
      fs.mkdirSync(path.join(dir, 'ro'));
      fs.chmodSync(path.join(dir, 'ro'), 0o555);
      for (const p of [path.join(dir, 'ro'), path.join(dir, 'ro', 'new', 'deeper')]) {
        assert.throws(
          () => checkWritable(p, 'output folder'),
          (e: Error) => e.message.startsWith(`output folder ${p}: permission denied`),
          p,
        );
      }
      fs.chmodSync(path.join(dir, 'ro'), 0o755);
      checkWritable(path.join(dir, 'ro', 'new'), 'output folder');
      assert.deepEqual(fs.readdirSync(path.join(dir, 'ro')), [], 'the probe leaves nothing');
    } finally {
      cleanup();
    }
  },
);

/** A child process that takes the lock and holds it until killed; resolves once it holds it. */
function holder(file: string): Promise<import('node:child_process').ChildProcess> {
  const lib = path.join(__dirname, '..', 'lib', 'fs');
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(lib)}).acquireLock(${JSON.stringify(file)}, { command: 'test holder' }); console.log('held'); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
}

test('acquireLock: a second process is refused naming pid and host; a dead owner on this host is taken over; a lock from a silent host after staleMs', async () => {
  const { dir, cleanup } = tempDir('affect-fs-');
  try {
    const file = path.join(dir, 'run.lock');
    const child = await holder(file);
    const owner = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number; host: string };
    assert.equal(owner.pid, child.pid);
    assert.equal(owner.host, os.hostname());
    assert.throws(
      () => acquireLock(file),
      (e: Error) =>
        e instanceof LockedError &&
        e.message.includes(`pid ${child.pid} on ${os.hostname()}`) &&
        e.message.includes('test holder'),
    );
    // Within one process too: a second writer of the same folder.
    const mine = acquireLock(path.join(dir, 'own.lock'));
    assert.throws(() => acquireLock(path.join(dir, 'own.lock')), LockedError);
    mine.release();
    assert.ok(!fs.existsSync(path.join(dir, 'own.lock')));

    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const lock = acquireLock(file);
    assert.equal(lock.tookOver?.pid, child.pid);
    lock.release();
    assert.ok(!fs.existsSync(file));

    // Another host: refused while its heartbeat is fresh, taken over once it is older than staleMs.
    fs.writeFileSync(file, JSON.stringify({ pid: 1, host: 'elsewhere.example', started: new Date().toISOString() }));
    assert.throws(() => acquireLock(file, { staleMs: 60_000 }), /pid 1 on elsewhere\.example/);
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(file, old, old);
    const taken = acquireLock(file, { staleMs: 60_000 });
    assert.equal(taken.tookOver?.host, 'elsewhere.example');
    // The heartbeat (every heartbeatMs, from a thread of its own) keeps the lock fresh.
    taken.release();
    const beating = acquireLock(file, { heartbeatMs: 100 });
    fs.utimesSync(file, old, old);
    const until = Date.now() + 3000;
    while (Date.now() < until && fs.statSync(file).mtimeMs < Date.now() - 60_000)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(fs.statSync(file).mtimeMs > Date.now() - 60_000, 'the heartbeat touched the lock');
    beating.release();
  } finally {
    cleanup();
  }
});

test('acquireLock: many processes racing for one stale lock, exactly one wins', async () => {
  const { dir, cleanup } = tempDir('affect-fs-');
  try {
    const file = path.join(dir, 'run.lock');
    // A dead owner: a pid that cannot be running.
    fs.writeFileSync(
      file,
      JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname(), started: '2020-01-01T00:00:00Z' }),
    );
    const lib = path.join(__dirname, '..', 'lib', 'fs');
    const script = `try { require(${JSON.stringify(lib)}).acquireLock(${JSON.stringify(file)}); console.log('won'); setTimeout(() => {}, 1500); } catch (e) { console.log(e.name); }`;
    const results = await Promise.all(
      Array.from({ length: 6 }, () => {
        const c = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        return new Promise<string>((r) => c.on('close', () => r(out.trim())));
      }),
    );
    assert.equal(results.filter((r) => r === 'won').length, 1, results.join(','));
    assert.equal(results.filter((r) => r === 'LockedError').length, 5, results.join(','));
  } finally {
    cleanup();
  }
});
