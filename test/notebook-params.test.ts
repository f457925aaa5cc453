import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cellSource,
  declaredParams,
  injectParameters,
  parseParamArgs,
  sourceLines,
  type Notebook,
} from '../lib/notebook';

const nb = (paramsSource: string, tags = ['parameters']): Notebook => ({
  cells: [
    { cell_type: 'markdown', metadata: {}, source: '# title' },
    { cell_type: 'code', metadata: { tags }, source: sourceLines(paramsSource), outputs: [], execution_count: null },
    { cell_type: 'code', metadata: {}, source: 'console.log(dataDir);', outputs: [], execution_count: null },
  ],
  metadata: {},
  nbformat: 4,
  nbformat_minor: 5,
});

const PARAMS = [
  "const dataDir = ''; // empty: synthetic data",
  "const scale: 'quick' | 'full' = 'quick';",
  'const seed = 27;',
  'let verbose = false;',
  'const ratio = 0.8;',
].join('\n');

test('declaredParams: the literals of the parameters cell, with their kinds', () => {
  assert.deepEqual(declaredParams(nb(PARAMS)), [
    { name: 'dataDir', kind: 'string', value: '' },
    { name: 'scale', kind: 'string', value: 'quick' },
    { name: 'seed', kind: 'number', value: 27 },
    { name: 'verbose', kind: 'boolean', value: false },
    { name: 'ratio', kind: 'number', value: 0.8 },
  ]);
});

test('injectParameters: rewrites the given literals in place, keeps types and comments, converts command-line strings', () => {
  const out = injectParameters(nb(PARAMS), { dataDir: "/data/it's here", seed: '7', verbose: 'true', scale: 'full' });
  assert.equal(
    cellSource(out.cells[1]),
    [
      '// parameters injected by affect notebook run: dataDir, seed, verbose, scale',
      'const dataDir = "/data/it\'s here"; // empty: synthetic data',
      "const scale: 'quick' | 'full' = \"full\";",
      'const seed = 7;',
      'let verbose = true;',
      'const ratio = 0.8;',
    ].join('\n'),
  );
  assert.deepEqual(
    declaredParams(out).map((p) => p.value),
    ["/data/it's here", 'full', 7, true, 0.8],
  );
  // The input notebook is not modified.
  assert.equal(declaredParams(nb(PARAMS))[2].value, 27);
});

test('injectParameters: no params leaves the cell as is', () => {
  assert.deepEqual(injectParameters(nb(PARAMS), {}), nb(PARAMS));
});

test('injectParameters: clear errors for unknown names, bad values and an untagged first code cell', () => {
  assert.throws(
    () => injectParameters(nb(PARAMS), { epochs: 3 }, 'notebook x.ipynb'),
    /notebook x.ipynb: unknown parameter\(s\) epochs; the parameters cell declares: dataDir, scale, seed, verbose, ratio/,
  );
  assert.throws(() => injectParameters(nb(PARAMS), { seed: 'many' }), /parameter seed is a number; got "many"/);
  assert.throws(() => injectParameters(nb(PARAMS), { verbose: 'yes' }), /parameter verbose is a boolean/);
  assert.throws(() => injectParameters(nb(PARAMS, []), { seed: 1 }), /first code cell must be tagged "parameters"/);
});

test('parseParamArgs: key=value, values may contain "="', () => {
  assert.deepEqual(parseParamArgs(['seed=3', 'dataDir=/a=b']), { seed: '3', dataDir: '/a=b' });
  assert.throws(() => parseParamArgs(['seed']), /--param needs key=value, got "seed"/);
});

test('findJupyter: without a usable Python, the error says how to install Jupyter and the tslab kernel', async () => {
  const { findJupyter } = await import('../lib/notebook');
  assert.throws(
    () => findJupyter({ pythons: ['/nonexistent/python3'] }),
    (e: Error) => {
      assert.match(e.message, /no Python with Jupyter's nbclient and nbconvert found \(tried \/nonexistent\/python3\)/);
      assert.match(e.message, /npx tslab install --python=/);
      assert.match(e.message, /nbclient/);
      return true;
    },
  );
});
