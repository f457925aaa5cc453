/**
 * The study's relabel step: copies each image listed in labels.csv (columns `pth` like `anger/image0000006.jpg` and
 * `label`; an index column and `relFCs` are ignored) into `<out>/train/<label>/`. Unlike the original, which flattened
 * paths to file names so that same-named files with the same new label overwrote each other (29,042 -> 28,664), every
 * image is kept: colliding names become `<origclass>__<name>` (all of them, so the result does not depend on row order).
 * Interrupt-safe like datasplit (outdir.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCsv } from './csv';
import { findImageRoot } from './datasplit';
import { type OutputIO, beginOutput, copyFileAtomic, defaultIO, finishOutput, isInside, runUntilFailure, writeUnlessDone } from './outdir';
import { type ProgressOptions, progressBar } from './progress';
import { scanImageFolder } from './scan';
import { SYNTHETIC_MARKER } from './synth';

export interface RelabelOptions {
  /** `<input>/train/<class>/...` (the original's layout) or `<input>/<class>/...`, plus the labels file. */
  input: string;
  /** New or empty folder. */
  output: string;
  /** Labels CSV, relative to `input` unless absolute. Default 'labels.csv'. */
  labels?: string;
  /** A row whose image does not exist: 'fail' (default) stops with the file and line; 'skip' reports it. */
  onMissing?: 'skip' | 'fail';
  progress?: boolean | ProgressOptions;
  /** Output writer (tests inject failures here). */
  io?: OutputIO;
}

export interface RelabelCopy {
  /** Path relative to the image root, as in labels.csv. */
  from: string;
  /** Path relative to the output. */
  to: string;
}

export interface RelabelResult {
  output: string;
  resumed: boolean;
  copied: number;
  /** Images per new label. */
  counts: Record<string, number>;
  /** Copies renamed because another image with the same file name got the same label. */
  renamed: RelabelCopy[];
  /** Rows whose image is missing (with onMissing 'skip'): CSV line and path. */
  missing: { line: number; pth: string }[];
  /** Images in the input that labels.csv does not list (not copied). */
  unlisted: string[];
  /** How many images the original script would have lost on this input (overwritten by a later same-named file). */
  legacyLost: number;
}

interface RelabelPlan extends Omit<RelabelResult, 'output' | 'resumed' | 'copied'> {
  copies: RelabelCopy[];
  root: string;
}

/**
 * Relabels a dataset into `<output>/train/<label>/`. Labels must be class folders of the input (for the study's
 * dataset, its 8 classes): an unknown label, a missing `pth`/`label` column, a duplicated path with two different
 * labels, and (with onMissing 'fail') a missing image are errors naming the CSV file and line.
 */
export async function relabel(options: RelabelOptions): Promise<RelabelResult> {
  const input = path.resolve(options.input);
  const output = path.resolve(options.output);
  const labelsFile = path.resolve(input, options.labels ?? 'labels.csv');
  const onMissing = options.onMissing ?? 'fail';
  if (isInside(output, input)) throw new Error(`output ${output} must not be the input ${input} or inside it`);
  const fingerprint = { input, output, labelsFile, onMissing };
  const { plan, resumed } = await beginOutput<RelabelPlan>(output, 'relabel', fingerprint, () => makePlan(input, labelsFile, onMissing));
  const io = options.io ?? defaultIO;
  const bar = progressBar('relabel', plan.copies.length, options.progress);
  try {
    await runUntilFailure(plan.copies, 8, async (c) => {
      await writeUnlessDone(path.join(output, c.to), (dest) => copyFileAtomic(path.join(plan.root, c.from), dest, io));
      bar?.tick();
    });
    // A relabelled synthetic set is synthetic too: keep the marker that says so.
    const marker = path.join(input, SYNTHETIC_MARKER);
    if (fs.existsSync(marker)) await copyFileAtomic(marker, path.join(output, SYNTHETIC_MARKER), io);
  } catch (e) {
    throw new Error(`relabel: ${(e as Error).message}. The output ${output} is incomplete (it holds .incomplete); rerun the same command to resume, or delete it`);
  }
  bar?.finish();
  finishOutput(output);
  const { counts, renamed, missing, unlisted, legacyLost } = plan;
  return { output, resumed, copied: plan.copies.length, counts, renamed, missing, unlisted, legacyLost };
}

async function makePlan(input: string, labelsFile: string, onMissing: 'skip' | 'fail'): Promise<RelabelPlan> {
  const root = findImageRoot(input);
  const scan = await scanImageFolder(root);
  const table = await readCsv(labelsFile);
  const col = (name: string) => {
    const j = table.columns.indexOf(name);
    if (j < 0) throw new Error(`${labelsFile}: line 1: no "${name}" column (columns: ${table.columns.map((c) => JSON.stringify(c)).join(', ')}); expected pth and label`);
    return j;
  };
  const [pthCol, labelCol] = [col('pth'), col('label')];
  const images = new Set(scan.entries.map((e) => e.relPath));
  const seen = new Map<string, { label: string; line: number }>();
  const rows: { pth: string; label: string; line: number }[] = [];
  const missing: RelabelPlan['missing'] = [];
  table.rows.forEach((r, i) => {
    const line = table.lines[i];
    const pth = r[pthCol].replace(/\\/g, '/');
    const label = r[labelCol];
    if (!scan.classes.includes(label)) {
      throw new Error(`${labelsFile}: line ${line}: unknown label "${label}" for ${pth}; labels must be class folders of ${root}: ${scan.classes.join(', ')}`);
    }
    const prev = seen.get(pth);
    if (prev) {
      if (prev.label !== label) throw new Error(`${labelsFile}: line ${line}: ${pth} is labelled "${label}" here and "${prev.label}" on line ${prev.line}`);
      return;
    }
    seen.set(pth, { label, line });
    if (!images.has(pth)) {
      if (onMissing === 'fail') throw new Error(`${labelsFile}: line ${line}: image ${path.join(root, pth)} does not exist or is not a readable image`);
      missing.push({ line, pth });
      return;
    }
    rows.push({ pth, label, line });
  });

  // Group by destination (label, file name); a name used by two or more sources is prefixed by the source path.
  const byDest = new Map<string, typeof rows>();
  for (const r of rows) {
    const key = `${r.label}/${path.posix.basename(r.pth)}`;
    byDest.set(key, [...(byDest.get(key) ?? []), r]);
  }
  const copies: RelabelCopy[] = [];
  const renamed: RelabelCopy[] = [];
  const used = new Set(byDest.keys());
  let legacyLost = 0;
  for (const [key, group] of byDest) {
    legacyLost += group.length - 1;
    if (group.length === 1) {
      copies.push({ from: group[0].pth, to: `train/${key}` });
      continue;
    }
    for (const r of group) {
      let name = `${r.label}/${r.pth.split('/').join('__')}`;
      for (let k = 1; used.has(name); k++) name = `${r.label}/${k}__${r.pth.split('/').join('__')}`;
      used.add(name);
      const c = { from: r.pth, to: `train/${name}` };
      copies.push(c);
      renamed.push(c);
    }
  }
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.label] = (counts[r.label] ?? 0) + 1;
  const unlisted = scan.entries.filter((e) => !seen.has(e.relPath)).map((e) => e.relPath);
  return { root, copies, renamed, missing, unlisted, counts, legacyLost };
}

/** A short report: counts per label, renamed collisions, missing and unlisted images; `legacy` adds the original's losses. */
export function formatRelabelSummary(r: RelabelResult, legacy = false): string {
  const lines = [`${r.output}: ${r.copied} images copied${r.resumed ? ' (resumed an interrupted run)' : ''}`];
  for (const [label, n] of Object.entries(r.counts).sort()) lines.push(`  ${label.padEnd(12)} ${n}`);
  if (r.renamed.length) lines.push(`${r.renamed.length} images renamed to avoid a file-name collision, e.g. ${r.renamed[0].from} -> ${r.renamed[0].to}`);
  if (r.missing.length) lines.push(`${r.missing.length} rows skipped (image missing), e.g. line ${r.missing[0].line}: ${r.missing[0].pth}`);
  if (r.unlisted.length) lines.push(`${r.unlisted.length} images not listed in the labels file (not copied), e.g. ${r.unlisted[0]}`);
  if (legacy) lines.push(`the original relabel.py would have lost ${r.legacyLost} of these ${r.copied} images to file-name collisions (kept ${r.copied - r.legacyLost})`);
  return lines.join('\n');
}
