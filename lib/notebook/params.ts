/**
 * Parameter injection, like papermill's but for TypeScript: the first code cell, tagged "parameters", declares each parameter as
 * `const name = <literal>;` and a run rewrites those literals in place. In place rather than in an extra cell after it, because
 * TypeScript (and tslab) reject a second `const` with the same name; the rewritten cell starts with a comment naming what was injected.
 */
import { cellSource, sourceLines, type Notebook, type NotebookCell } from './format';

export type ParamValue = string | number | boolean;

const LITERAL = String.raw`'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|true|false`;
const DECL = new RegExp(
  String.raw`^(\s*(?:export\s+)?(?:const|let|var)\s+)([A-Za-z_$][\w$]*)(\s*(?::[^=]+)?=\s*)(${LITERAL})(.*)$`,
);

/** The parameters cell: the first code cell, which must carry the "parameters" tag. */
export function findParametersCell(nb: Notebook, what = 'notebook'): { index: number; cell: NotebookCell } {
  const index = nb.cells.findIndex((c) => c.cell_type === 'code');
  const cell = nb.cells[index];
  if (!cell || !(cell.metadata.tags ?? []).includes('parameters')) {
    throw new Error(
      `${what}: its first code cell must be tagged "parameters" (cell metadata {"tags": ["parameters"]}) to take parameters`,
    );
  }
  return { index, cell };
}

export interface DeclaredParam {
  name: string;
  /** The literal's kind in the cell, which decides how a string from the command line is converted. */
  kind: 'string' | 'number' | 'boolean';
  value: ParamValue;
}

function literalValue(lit: string): DeclaredParam['value'] {
  if (lit === 'true' || lit === 'false') return lit === 'true';
  if (lit.startsWith("'"))
    return JSON.parse('"' + lit.slice(1, -1).replace(/\\'/g, "'").replace(/"/g, '\\"') + '"') as string;
  if (lit.startsWith('"')) return JSON.parse(lit) as string;
  return Number(lit.replace(/_/g, ''));
}

/** The parameters the cell declares with literal values, in order. */
export function declaredParams(nb: Notebook, what = 'notebook'): DeclaredParam[] {
  const { cell } = findParametersCell(nb, what);
  return cellSource(cell)
    .split('\n')
    .map((line) => DECL.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      const value = literalValue(m[4]);
      return { name: m[2], kind: typeof value as DeclaredParam['kind'], value };
    });
}

/** Converts a given value to the declared parameter's kind (command-line values arrive as strings). */
export function coerceParam(p: DeclaredParam, value: ParamValue, what = 'notebook'): ParamValue {
  if (p.kind === 'string') return String(value);
  if (p.kind === 'number') {
    const n =
      typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    if (!Number.isFinite(n)) throw new Error(`${what}: parameter ${p.name} is a number; got ${JSON.stringify(value)}`);
    return n;
  }
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new Error(`${what}: parameter ${p.name} is a boolean (true or false); got ${JSON.stringify(value)}`);
}

/** A copy of `nb` with the given parameters' literals replaced; unknown names are an error listing the declared ones. */
export function injectParameters(nb: Notebook, params: Record<string, ParamValue>, what = 'notebook'): Notebook {
  const declared = new Map(declaredParams(nb, what).map((p) => [p.name, p]));
  const unknown = Object.keys(params).filter((k) => !declared.has(k));
  if (unknown.length) {
    throw new Error(
      `${what}: unknown parameter(s) ${unknown.join(', ')}; the parameters cell declares: ${[...declared.keys()].join(', ') || '(none)'}`,
    );
  }
  const out = structuredClone(nb);
  const names = Object.keys(params);
  if (names.length === 0) return out;
  const { cell } = findParametersCell(out, what);
  const lines = cellSource(cell)
    .split('\n')
    .map((line) => {
      const m = DECL.exec(line);
      if (!m || !(m[2] in params)) return line;
      const value = coerceParam(declared.get(m[2])!, params[m[2]], what);
      return `${m[1]}${m[2]}${m[3]}${JSON.stringify(value)}${m[5]}`;
    });
  cell.source = sourceLines(
    [`// parameters injected by affect notebook run: ${names.join(', ')}`, ...lines].join('\n'),
  );
  return out;
}

/** Parses `key=value` strings (the CLI's --param); values stay strings until injectParameters converts them. */
export function parseParamArgs(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--param needs key=value, got "${item}"`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }
  return out;
}
