/** Reading, writing and finding .ipynb files (nbformat 4 JSON). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../paths';
import { writeFileAtomicSync } from '../atomic';

export interface NotebookCell {
  cell_type: 'code' | 'markdown' | 'raw';
  source: string | string[];
  metadata: Record<string, unknown> & { tags?: string[] };
  outputs?: Record<string, unknown>[];
  execution_count?: number | null;
  id?: string;
}

export interface Notebook {
  cells: NotebookCell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** The project's notebooks folder. */
export const notebooksDir = (): string => path.join(repoRoot, 'notebooks');

/** A cell's source as one string (nbformat allows a string or a list of lines). */
export function cellSource(cell: NotebookCell): string {
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
}

/** Source text in nbformat's list-of-lines form (each line keeps its newline except the last). */
export function sourceLines(text: string): string[] {
  const lines = text.split('\n');
  return lines.map((l, i) => (i < lines.length - 1 ? l + '\n' : l)).filter((l, i) => l !== '' || i < lines.length - 1);
}

export function readNotebook(file: string): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(fs.readFileSync(file, 'utf8')) as Notebook;
  } catch (e) {
    throw new Error(`notebook ${file} cannot be read as JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(nb.cells) || nb.nbformat !== 4)
    throw new Error(`notebook ${file} is not an nbformat 4 notebook (no cells list or nbformat != 4)`);
  return nb;
}

/** Writes JSON the way Jupyter does (1-space indent, trailing newline), atomically. */
export function writeNotebook(file: string, nb: Notebook): void {
  writeFileAtomicSync(file, JSON.stringify(nb, null, 1) + '\n');
}

/** Notebook names (file names without .ipynb) in `dir`, sorted; checkpoints and hidden files are skipped. */
export function listNotebooks(dir: string = notebooksDir()): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb') && !f.startsWith('.'))
    .map((f) => f.slice(0, -'.ipynb'.length))
    .sort();
}

/** A notebook's path from a name in notebooks/ (`00-data`, with or without .ipynb) or a path to an .ipynb file. */
export function resolveNotebook(name: string, dir: string = notebooksDir()): string {
  const candidates = [name, path.join(dir, name), path.join(dir, name.endsWith('.ipynb') ? name : `${name}.ipynb`)];
  const found = candidates.find((c) => c.endsWith('.ipynb') && fs.existsSync(c) && fs.statSync(c).isFile());
  if (!found)
    throw new Error(`notebook "${name}" not found in ${dir}; available: ${listNotebooks(dir).join(', ') || '(none)'}`);
  return path.resolve(found);
}
