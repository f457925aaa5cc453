/**
 * Dataset manifests (data-manifests/*.json): where a dataset comes from, its layout, classes and expected counts; and
 * verifying a download against one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../paths';
import { scanImageFolder, type BadImage } from './scan';

export interface ManifestSplit {
  /** Canonical split name, e.g. 'train', 'Validation'. */
  name: string;
  /** Folder of this split relative to the dataset root, matched case-insensitively. */
  dir: string;
  /** Expected images in the split, when known. */
  total?: number;
  /** Expected images per class, for the classes the source states. */
  counts?: Record<string, number>;
}

export interface DatasetManifest {
  name: string;
  title: string;
  description: string;
  kaggle: {
    /** owner/dataset, or null where no source states it. */
    slug: string | null;
    /** `kaggle datasets download -d <slug>`, or null without a slug. */
    command: string | null;
    /** Where the slug (or its absence) comes from. */
    source: string;
  };
  /** How the files are laid out after unzipping. */
  layout: string;
  /** Subfolder of the download holding the splits (e.g. Face Mask 12K's "Face Mask Dataset"); verify also accepts the folder itself. */
  root?: string;
  /** Class names, sorted (the label order affect-lab uses). */
  classes: string[];
  splits: ManifestSplit[];
  /** Other files the dataset holds (relative to its root), e.g. labels.csv. */
  files?: string[];
  notes?: string[];
}

/** The folder holding the shipped manifests. */
export const MANIFEST_DIR = path.join(repoRoot, 'data-manifests');

/** Loads and validates a manifest; every problem is an error naming the file and the field. */
export function loadManifest(file: string): DatasetManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`manifest ${file}: cannot read it as JSON: ${(e as Error).message}`);
  }
  return validateManifest(raw, file);
}

/** Checks a parsed manifest's shape and consistency (counts add up to totals, classes sorted and unique). */
export function validateManifest(raw: unknown, file: string): DatasetManifest {
  const bad = (field: string, problem: string): never => {
    throw new Error(`manifest ${file}: ${field} ${problem}`);
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const str = (o: Record<string, unknown>, k: string, where: string) => {
    const v = o[k];
    return typeof v === 'string' && v !== '' ? v : bad(`${where}${k}`, 'must be a non-empty string');
  };
  const count = (v: unknown, field: string) =>
    Number.isInteger(v) && (v as number) >= 0
      ? (v as number)
      : bad(field, `must be a non-negative integer, got ${JSON.stringify(v)}`);
  if (!isObj(raw)) return bad('(top level)', 'must be an object');
  const kaggle = raw.kaggle;
  if (!isObj(kaggle)) return bad('kaggle', 'must be an object with slug, command and source');
  const slug = kaggle.slug === null ? null : str(kaggle, 'slug', 'kaggle.');
  const command = kaggle.command === null ? null : str(kaggle, 'command', 'kaggle.');
  if (slug && command !== `kaggle datasets download -d ${slug}`)
    bad('kaggle.command', `must be "kaggle datasets download -d ${slug}"`);
  if (!slug && command) bad('kaggle.command', 'must be null when kaggle.slug is null');
  const classes = raw.classes;
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string' && c !== ''))
    return bad('classes', 'must be a non-empty list of names');
  if (new Set(classes).size !== classes.length) bad('classes', 'has duplicates');
  if (classes.some((c, i) => i > 0 && classes[i - 1] >= c))
    bad('classes', 'must be sorted by name (label order is sorted order)');
  if (!Array.isArray(raw.splits) || raw.splits.length === 0) return bad('splits', 'must be a non-empty list');
  const splits: ManifestSplit[] = raw.splits.map((s: unknown, i: number) => {
    const where = `splits[${i}].`;
    if (!isObj(s)) return bad(`splits[${i}]`, 'must be an object');
    const split: ManifestSplit = { name: str(s, 'name', where), dir: str(s, 'dir', where) };
    if (s.total !== undefined) split.total = count(s.total, `${where}total`);
    if (s.counts !== undefined) {
      if (!isObj(s.counts)) return bad(`${where}counts`, 'must map class names to counts');
      split.counts = {};
      for (const [c, n] of Object.entries(s.counts)) {
        if (!classes.includes(c)) bad(`${where}counts`, `names "${c}", which is not in classes`);
        split.counts[c] = count(n, `${where}counts.${c}`);
      }
      const sum = Object.values(split.counts).reduce((a, b) => a + b, 0);
      if (Object.keys(split.counts).length === classes.length && split.total !== undefined && sum !== split.total)
        bad(`${where}total`, `is ${split.total} but the class counts add up to ${sum}`);
    }
    return split;
  });
  const strings = (k: string) => {
    const v = raw[k];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string'))
      return bad(k, 'must be a list of strings');
    return v;
  };
  return {
    name: str(raw, 'name', ''),
    title: str(raw, 'title', ''),
    description: str(raw, 'description', ''),
    kaggle: { slug, command, source: str(kaggle, 'source', 'kaggle.') },
    layout: str(raw, 'layout', ''),
    ...(raw.root !== undefined ? { root: str(raw, 'root', '') } : {}),
    classes: classes as string[],
    splits,
    ...(strings('files') ? { files: strings('files') } : {}),
    ...(strings('notes') ? { notes: strings('notes') } : {}),
  };
}

/** Every shipped manifest, by name. */
export function listManifests(dir = MANIFEST_DIR): DatasetManifest[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => loadManifest(path.join(dir, f)));
}

/** A manifest by shipped name (e.g. 'face-mask-12k') or by path to a JSON file. */
export function findManifest(nameOrPath: string, dir = MANIFEST_DIR): DatasetManifest {
  if (fs.existsSync(nameOrPath) && fs.statSync(nameOrPath).isFile()) return loadManifest(nameOrPath);
  const file = path.join(dir, `${nameOrPath}.json`);
  if (fs.existsSync(file)) return loadManifest(file);
  const names = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5));
  throw new Error(`no manifest "${nameOrPath}": give a JSON file or one of ${names.join(', ')}`);
}

export interface VerifyRow {
  split: string;
  /** A class name, or '(total)' for the split's total. */
  className: string;
  /** undefined where the manifest does not state it. */
  expected?: number;
  /** undefined where the class folder is missing. */
  found?: number;
  ok: boolean;
  note?: string;
}

export interface VerifyResult {
  manifest: string;
  dir: string;
  rows: VerifyRow[];
  /** Files that are not readable images (counted in no row). */
  bad: BadImage[];
  missingFiles: string[];
  ok: boolean;
}

function findChild(parent: string, name: string): string | undefined {
  if (name === '.') return parent;
  if (!fs.existsSync(parent)) return undefined;
  const hit = fs
    .readdirSync(parent, { withFileTypes: true })
    .find((d) => d.isDirectory() && d.name.toLowerCase() === name.toLowerCase());
  return hit && path.join(parent, hit.name);
}

/**
 * Compares a downloaded dataset with its manifest: one row per split and class (expected vs found images, by content),
 * plus each split's total. A class folder the manifest does not list is a mismatch too. Split folders are matched
 * case-insensitively; `dir` may be the download folder or the manifest's `root` inside it.
 */
export async function verifyDataset(manifest: DatasetManifest, dir: string): Promise<VerifyResult> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new Error(`dataset folder ${dir} does not exist or is not a folder`);
  const root = (manifest.root && findChild(dir, manifest.root)) || dir;
  const rows: VerifyRow[] = [];
  const bad: BadImage[] = [];
  for (const split of manifest.splits) {
    let splitDir = findChild(root, split.dir);
    // A one-split download may hold the class folders directly (e.g. the original set, before the study moved them into train/).
    if (!splitDir && manifest.splits.length === 1 && manifest.classes.some((c) => findChild(root, c))) splitDir = root;
    if (!splitDir) {
      rows.push({
        split: split.name,
        className: '(total)',
        expected: split.total,
        ok: false,
        note: `folder ${path.join(root, split.dir)} not found`,
      });
      continue;
    }
    const present = fs
      .readdirSync(splitDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name);
    const classes = manifest.classes.filter((c) => present.includes(c));
    const scan = classes.length ? await scanImageFolder(splitDir, { classes }).catch((e: Error) => e) : undefined;
    if (scan instanceof Error) {
      rows.push({ split: split.name, className: '(total)', expected: split.total, ok: false, note: scan.message });
      continue;
    }
    bad.push(...(scan?.bad ?? []));
    let total = 0;
    for (const c of manifest.classes) {
      const found = scan?.counts[c];
      const expected = split.counts?.[c];
      total += found ?? 0;
      const ok = found !== undefined && (expected === undefined || expected === found);
      rows.push({
        split: split.name,
        className: c,
        expected,
        found,
        ok,
        ...(found === undefined ? { note: 'class folder missing' } : {}),
      });
    }
    for (const extra of present.filter((c) => !manifest.classes.includes(c))) {
      rows.push({
        split: split.name,
        className: extra,
        found: fs.readdirSync(path.join(splitDir, extra)).length,
        ok: false,
        note: 'class not in the manifest',
      });
    }
    rows.push({
      split: split.name,
      className: '(total)',
      expected: split.total,
      found: total,
      ok: split.total === undefined || split.total === total,
    });
  }
  const missingFiles = (manifest.files ?? []).filter((f) => !fs.existsSync(path.join(root, f)));
  return {
    manifest: manifest.name,
    dir: root,
    rows,
    bad,
    missingFiles,
    ok: rows.every((r) => r.ok) && missingFiles.length === 0,
  };
}

/** The verification as a text table (split, class, expected, found, status). */
export function formatVerifyTable(r: VerifyResult): string {
  const cell = (v: number | undefined) => (v === undefined ? '-' : String(v));
  const header = ['split', 'class', 'expected', 'found', 'status'];
  const body = r.rows.map((x) => [
    x.split,
    x.className,
    cell(x.expected),
    cell(x.found),
    (x.ok ? 'ok' : 'MISMATCH') + (x.note ? ` (${x.note})` : ''),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i === 2 || i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [`${r.manifest} in ${r.dir}`, line(header), ...body.map(line)];
  for (const f of r.missingFiles) out.push(`missing file: ${f}`);
  if (r.bad.length)
    out.push(`${r.bad.length} file(s) are not readable images, e.g. ${r.bad[0].path}: ${r.bad[0].reason}`);
  out.push(r.ok ? 'dataset matches the manifest' : 'dataset does NOT match the manifest');
  return out.join('\n');
}
