/**
 * The study's relabel step: copies each image listed in labels.csv (columns `pth` like `anger/image0000006.jpg` and
 * `label`; an index column and `relFCs` are ignored) into `<out>/train/<label>/`. Unlike the original, which flattened
 * paths to file names so that same-named files with the same new label overwrote each other (29,042 -> 28,664), every
 * image is kept: colliding names become `<origclass>__<name>` (all of them, so the result does not depend on row order).
 * `legacy` instead reproduces the original's result exactly, to regenerate the study's datasets.
 * Interrupt-safe like datasplit (outdir.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCsv } from './csv';
import { findImageRoot } from './datasplit';
import { checkOutputOutside, checkWritable } from '../fs';
import {
  type OutputIO,
  beginOutput,
  copyFileAtomic,
  defaultIO,
  finishOutput,
  runUntilFailure,
  writeUnlessDone,
} from './outdir';
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
  /**
   * Reproduce the original relabel.py: the output holds exactly the images it left, where it left them (see
   * `simulateOriginal`), including the ones labels.csv does not list; nothing is renamed. Default false: keep every
   * listed image.
   */
  legacy?: boolean;
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
  legacy: boolean;
  /** Images found in the input. */
  inputImages: number;
  copied: number;
  /** Images per output class folder. */
  counts: Record<string, number>;
  /** Copies renamed because another image with the same file name got the same label. */
  renamed: RelabelCopy[];
  /** Rows whose image is missing (with onMissing 'skip'): CSV line and path. */
  missing: { line: number; pth: string }[];
  /** Images in the input that labels.csv does not list: not copied, except by `legacy`, which keeps them in place. */
  unlisted: string[];
  /** How many input images the original script loses on this input (overwritten by a same-named file). */
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
  checkOutputOutside({ path: output, what: 'output' }, [{ path: input, what: 'input' }]);
  checkWritable(output, 'output folder');
  const legacy = options.legacy ?? false;
  const fingerprint = { input, output, labelsFile, onMissing, legacy };
  const { plan, resumed } = await beginOutput<RelabelPlan>(output, 'relabel', fingerprint, () =>
    makePlan(input, labelsFile, onMissing, legacy),
  );
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
    throw new Error(
      `relabel: ${(e as Error).message}. The output ${output} is incomplete (it holds .incomplete); rerun the same command to resume, or delete it`,
    );
  }
  bar?.finish();
  finishOutput(output);
  const { counts, renamed, missing, unlisted, legacyLost, inputImages } = plan;
  return {
    output,
    resumed,
    legacy,
    inputImages,
    copied: plan.copies.length,
    counts,
    renamed,
    missing,
    unlisted,
    legacyLost,
  };
}

/**
 * What the original relabel.py leaves, as a map from output path (`<class>/<file>`, under `train/`) to the input image
 * whose bytes end up there. The original copied the whole input, then for each labels.csv row in file order whose
 * label differs from the path's folder, copied `train/<pth>` into `train/<label>/` (overwriting a file of the same name
 * there) and deleted `train/<pth>`. So the moved image wins over one already there; of two moved to the same place the
 * later row wins; and an image overwritten before its own row moves it away is lost, its row then moving the bytes
 * that replaced it. Unlisted images stay where they are.
 */
export function simulateOriginal(
  images: readonly string[],
  rows: readonly { pth: string; label: string }[],
): Map<string, string> {
  const at = new Map(images.map((p) => [p, p]));
  for (const { pth, label } of rows) {
    if (pth.split('/')[0] === label) continue;
    const bytes = at.get(pth);
    if (bytes === undefined)
      throw new Error(
        `relabel: ${pth} is gone when its row is reached; the original relabel.py stops here with FileNotFoundError`,
      );
    at.set(`${label}/${path.posix.basename(pth)}`, bytes);
    at.delete(pth);
  }
  return at;
}

async function makePlan(
  input: string,
  labelsFile: string,
  onMissing: 'skip' | 'fail',
  legacy: boolean,
): Promise<RelabelPlan> {
  const root = findImageRoot(input);
  const scan = await scanImageFolder(root);
  const table = await readCsv(labelsFile);
  const col = (name: string) => {
    const j = table.columns.indexOf(name);
    if (j < 0)
      throw new Error(
        `${labelsFile}: line 1: no "${name}" column (columns: ${table.columns.map((c) => JSON.stringify(c)).join(', ')}); expected pth and label`,
      );
    return j;
  };
  const [pthCol, labelCol] = [col('pth'), col('label')];
  const exists = new Set(scan.entries.map((e) => e.relPath));
  const seen = new Map<string, { label: string; line: number }>();
  const rows: { pth: string; label: string; line: number }[] = [];
  const missing: RelabelPlan['missing'] = [];
  table.rows.forEach((r, i) => {
    const line = table.lines[i];
    const pth = r[pthCol].replace(/\\/g, '/');
    const label = r[labelCol];
    if (!scan.classes.includes(label)) {
      throw new Error(
        `${labelsFile}: line ${line}: unknown label "${label}" for ${pth}; labels must be class folders of ${root}: ${scan.classes.join(', ')}`,
      );
    }
    const prev = seen.get(pth);
    if (prev) {
      if (prev.label !== label)
        throw new Error(
          `${labelsFile}: line ${line}: ${pth} is labelled "${label}" here and "${prev.label}" on line ${prev.line}`,
        );
      return;
    }
    seen.set(pth, { label, line });
    if (!exists.has(pth)) {
      if (onMissing === 'fail')
        throw new Error(
          `${labelsFile}: line ${line}: image ${path.join(root, pth)} does not exist or is not a readable image`,
        );
      missing.push({ line, pth });
      return;
    }
    rows.push({ pth, label, line });
  });

  const images = scan.entries.map((e) => e.relPath);
  const original = simulateOriginal(images, rows);
  const legacyLost = images.length - original.size;
  const unlisted = images.filter((p) => !seen.has(p));
  const counts: Record<string, number> = {};
  const count = (label: string) => (counts[label] = (counts[label] ?? 0) + 1);
  if (legacy) {
    const copies = [...original].map(([to, from]) => ({ from, to: `train/${to}` }));
    for (const to of original.keys()) count(to.split('/')[0]);
    return { root, copies, renamed: [], missing, unlisted, counts, legacyLost, inputImages: images.length, legacy };
  }

  // Group by destination (label, file name); a name used by two or more sources is prefixed by the source path.
  const byDest = new Map<string, typeof rows>();
  for (const r of rows) {
    const key = `${r.label}/${path.posix.basename(r.pth)}`;
    byDest.set(key, [...(byDest.get(key) ?? []), r]);
  }
  const copies: RelabelCopy[] = [];
  const renamed: RelabelCopy[] = [];
  const used = new Set(byDest.keys());
  for (const [key, group] of byDest) {
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
  for (const r of rows) count(r.label);
  return { root, copies, renamed, missing, unlisted, counts, legacyLost, inputImages: images.length, legacy };
}

/** A short report: counts per class, renamed collisions, missing and unlisted images; `legacyReport` adds the original's losses. */
export function formatRelabelSummary(r: RelabelResult, legacyReport = false): string {
  const what = r.legacy ? 'images copied as the original relabel.py leaves them (--legacy)' : 'images copied';
  const lines = [`${r.output}: ${r.copied} ${what}${r.resumed ? ' (resumed an interrupted run)' : ''}`];
  for (const [label, n] of Object.entries(r.counts).sort()) lines.push(`  ${label.padEnd(12)} ${n}`);
  if (r.renamed.length)
    lines.push(
      `${r.renamed.length} images renamed to avoid a file-name collision, e.g. ${r.renamed[0].from} -> ${r.renamed[0].to}`,
    );
  if (r.missing.length)
    lines.push(`${r.missing.length} rows skipped (image missing), e.g. line ${r.missing[0].line}: ${r.missing[0].pth}`);
  if (r.unlisted.length)
    lines.push(
      `${r.unlisted.length} images not listed in the labels file ` +
        `(${r.legacy ? 'kept in their folder, as the original did' : 'not copied'}), e.g. ` +
        `${r.unlisted[0]}`,
    );
  if (r.legacy || legacyReport)
    lines.push(
      `the original relabel.py loses ${r.legacyLost} of the input's ${r.inputImages} images to ` +
        `file-name collisions (keeps ${r.inputImages - r.legacyLost})`,
    );
  return lines.join('\n');
}
