/**
 * Splits that keep groups of images together (e.g. every frame of one CK+ subject), so that no subject is seen in
 * training and again in validation or test, and subsets of classes relabelled as "one expression vs the rest".
 */
import * as path from 'node:path';
import { makeRng, shuffled } from '../random';
import type { ScanResult } from './scan';

/**
 * The group of a file: the first capture group (or, without one, the whole match) of `pattern` on the file's base
 * name. A name the pattern does not match is an error naming the file and the pattern, so no image silently forms a
 * group of its own. `pattern` is a RegExp or its source, e.g. `'^(S\\d+)_'` for CK+'s `S005_001_00000011.png`.
 */
export function groupOf(file: string, pattern: RegExp | string): string {
  const re = typeof pattern === 'string' ? new RegExp(pattern) : pattern;
  const name = path.basename(file);
  const m = re.exec(name);
  if (!m) throw new Error(`group: the file name "${name}" (${file}) does not match ${re}`);
  return m[1] ?? m[0];
}

export interface GroupSplitOptions {
  /** Fraction of the images held out, in (0, 1); reached as nearly as whole groups allow. */
  fraction: number;
  /** Shuffle seed of the group order. */
  seed: number | string;
  /** Class of each image: the held-out part then takes about `fraction` of every class (stratified). Default: none. */
  labels?: ArrayLike<number>;
}

/**
 * Holds out whole groups: `groups[i]` is image i's group; returns image indices for `train` and `validation` (the held-out
 * part), every group entirely in one of them. Groups are taken in a seeded order, each one joining the held-out part if
 * that brings it nearer its target, `fraction` of the images of each class (sklearn's StratifiedGroupKFold idea, greedy),
 * so the split is stratified as far as whole groups allow (when no group fits, the first one is held out). The same
 * groups, labels, fraction and seed give the same split. Fewer than two groups is an error.
 */
export function groupSplit(
  groups: readonly string[],
  opts: GroupSplitOptions,
): { train: number[]; validation: number[] } {
  if (!(opts.fraction > 0 && opts.fraction < 1))
    throw new Error(`groupSplit: fraction must be between 0 and 1 (exclusive), got ${opts.fraction}`);
  const labels = opts.labels;
  if (labels && labels.length !== groups.length)
    throw new Error(`groupSplit: ${labels.length} labels for ${groups.length} images`);
  const members = new Map<string, number[]>();
  groups.forEach((g, i) => {
    const m = members.get(g);
    if (m) m.push(i);
    else members.set(g, [i]);
  });
  if (members.size < 2)
    throw new Error(
      `groupSplit: ${members.size} group(s) in ${groups.length} images; holding out whole groups needs at least two`,
    );
  const label = (i: number) => (labels ? labels[i] : 0);
  const classes = [...new Set(Array.from(groups, (_, i) => label(i)))].sort((a, b) => a - b);
  const target = new Map(classes.map((c) => [c, 0]));
  for (let i = 0; i < groups.length; i++) target.set(label(i), target.get(label(i))! + opts.fraction);
  const held = new Map(classes.map((c) => [c, 0]));
  const distance = (extra?: Map<number, number>) =>
    classes.reduce((s, c) => s + Math.abs(target.get(c)! - held.get(c)! - (extra?.get(c) ?? 0)), 0);
  const order = shuffled(makeRng(opts.seed), [...members.keys()].sort());
  const out = new Set<string>();
  for (const g of order) {
    const add = new Map<number, number>();
    for (const i of members.get(g)!) add.set(label(i), (add.get(label(i)) ?? 0) + 1);
    if (distance(add) < distance()) {
      out.add(g);
      for (const [c, n] of add) held.set(c, held.get(c)! + n);
    }
  }
  // Groups larger than a class's share (tiny sets) can leave nothing held out: then the first group in seeded order is.
  if (out.size === 0) out.add(order[0]);
  const train: number[] = [];
  const validation: number[] = [];
  groups.forEach((g, i) => (out.has(g) ? validation : train).push(i));
  if (train.length === 0 || validation.length === 0) {
    throw new Error(
      `groupSplit: holding out ${opts.fraction} of ${groups.length} images in ${members.size} ` +
        `groups leaves an empty ${train.length ? 'held-out' : 'training'} part`,
    );
  }
  return { train, validation };
}

/** One class against the others: `negative` is `'rest'` (every other class) or the classes that form the negative side. */
export interface BinaryLabels {
  positive: string;
  negative: 'rest' | string[];
}

/** The two class names of a relabelling: the positive class and `rest` (or the negative classes joined by `+`). */
export function binaryClassNames(b: BinaryLabels): [string, string] {
  return [b.positive, b.negative === 'rest' ? 'rest' : b.negative.join('+')];
}

/**
 * The scan relabelled into two classes, `positive` and the negative side (named by binaryClassNames), in sorted order
 * as every class list is. With a list of negative classes, images of classes in neither side are left out. A class the
 * folder does not have, or a positive class that is also negative, is an error naming the folder and its classes.
 */
export function binaryClasses(scan: ScanResult, b: BinaryLabels): ScanResult {
  const negatives = b.negative === 'rest' ? scan.classes.filter((c) => c !== b.positive) : b.negative;
  const unknown = [b.positive, ...negatives].filter((c) => !scan.classes.includes(c));
  if (unknown.length)
    throw new Error(
      `binary: ${unknown.map((c) => `"${c}"`).join(', ')} not found; ${scan.root} has the classes ${scan.classes.join(', ')}`,
    );
  if (negatives.includes(b.positive))
    throw new Error(`binary: "${b.positive}" is both the positive class and a negative one`);
  if (negatives.length === 0) throw new Error(`binary: ${scan.root} has no class besides "${b.positive}"`);
  const [pos, neg] = binaryClassNames(b);
  if (pos === neg) throw new Error(`binary: the positive class and the negative side are both named "${pos}"`);
  const classes = [pos, neg].sort();
  const entries = scan.entries
    .filter((e) => e.className === b.positive || negatives.includes(e.className))
    .map((e) => {
      const className = e.className === b.positive ? pos : neg;
      return { ...e, className, label: classes.indexOf(className) };
    });
  const counts = Object.fromEntries(classes.map((c) => [c, entries.filter((e) => e.className === c).length]));
  return { ...scan, classes, entries, counts };
}
