/** CSV tables through danfojs-node, with the RFC 4180 quoting that danfojs's toCSV leaves out (it joins raw values). */
import * as fs from 'node:fs';
import type * as Danfo from 'danfojs-node';

// danfojs-node takes ~1 s to load: load it on first use only.
let danfo: typeof Danfo | undefined;
const dfd = (): typeof Danfo => (danfo ??= require('danfojs-node') as typeof Danfo);

/** Quotes a field holding a comma, quote, or line break (RFC 4180). */
function quote(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** A CSV document (header line + rows, "\n" line ends) for string columns, built as a danfojs DataFrame. */
export function toCsv(columns: string[], rows: string[][]): string {
  if (new Set(columns).size !== columns.length)
    throw new Error(`CSV columns must be distinct, got ${columns.join(', ')}`);
  if (rows.length === 0) return columns.map(quote).join(',') + '\n';
  const data: Record<string, string[]> = {};
  columns.forEach((c, j) => (data[quote(c)] = rows.map((r) => quote(r[j]))));
  const df = new (dfd().DataFrame)(data, { dtypes: columns.map(() => 'string') });
  return dfd().toCSV(df) as string;
}

export interface CsvTable {
  columns: string[];
  /** Every value as a string (no type guessing). */
  rows: string[][];
  /** File line number of each row (1 is the header), for error messages. */
  lines: number[];
}

/** Reads a CSV file with a header line; values stay strings. Blank lines are skipped (line numbers still count them). */
export async function readCsv(file: string): Promise<CsvTable> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`CSV file ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const starts = recordStartLines(text);
  if (starts.length === 0) throw new Error(`${file} is empty (expected a header line)`);
  let df: Danfo.DataFrame;
  try {
    // danfojs's option type omits Papaparse's 'greedy' (skip whitespace-only lines), which it passes through.
    df = await dfd().readCSV(file, { dynamicTyping: false, skipEmptyLines: 'greedy', header: true } as Parameters<
      typeof Danfo.readCSV
    >[1]);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const rows = (df.values as (string | number | boolean | null | undefined)[][]).map((r) =>
    r.map((v) => (v === null || v === undefined ? '' : String(v))),
  );
  return { columns: df.columns, rows, lines: rows.map((_, i) => starts[i + 1]) };
}

/** The 1-based line on which each non-blank record starts (the first is the header), honouring quoted line breaks. */
function recordStartLines(text: string): number[] {
  const starts: number[] = [];
  let line = 1;
  let start = 1;
  let blank = true;
  let inQuotes = false;
  for (let i = 0; i <= text.length; i++) {
    const ch = text[i];
    if (i === text.length || (ch === '\n' && !inQuotes)) {
      if (!blank) starts.push(start);
      line++;
      start = line;
      blank = true;
      continue;
    }
    if (ch === '"') inQuotes = !inQuotes;
    if (ch === '\n') line++;
    if (!/\s/.test(ch)) blank = false;
  }
  return starts;
}
