/** Committed notebooks carry no outputs or execution counts (diffs stay readable, no stale results); `strip` cleans them. */
import type { Notebook } from './format';

/**
 * A notebook whose metadata has `"affect_lab": {"documented_run": true}` is a deliberately kept, executed example:
 * the check accepts its outputs.
 */
export function isDocumentedRun(nb: Notebook): boolean {
  const m = nb.metadata.affect_lab as { documented_run?: unknown } | undefined;
  return m?.documented_run === true;
}

/** What makes a notebook unclean: one line per cell with outputs or an execution count (empty when clean). */
export function notebookProblems(nb: Notebook): string[] {
  if (isDocumentedRun(nb)) return [];
  const problems: string[] = [];
  nb.cells.forEach((c, i) => {
    if (c.cell_type !== 'code') return;
    const what: string[] = [];
    if (c.outputs && c.outputs.length) what.push(`${c.outputs.length} output(s)`);
    if (c.execution_count !== null && c.execution_count !== undefined)
      what.push(`execution count ${c.execution_count}`);
    if (c.metadata.execution) what.push('execution timing metadata');
    if (what.length) problems.push(`cell ${i + 1}: ${what.join(', ')}`);
  });
  return problems;
}

/** A copy without outputs, execution counts or execution timing metadata (cell tags and ids are kept). */
export function stripNotebook(nb: Notebook): Notebook {
  const out = structuredClone(nb);
  for (const c of out.cells) {
    if (c.cell_type !== 'code') continue;
    c.outputs = [];
    c.execution_count = null;
    delete c.metadata.execution;
  }
  return out;
}
