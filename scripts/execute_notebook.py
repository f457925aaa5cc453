"""Executes one notebook with nbclient and exports it to HTML with nbconvert; used by affect-lab's runNotebook.

usage: execute_notebook.py INPUT.ipynb EXECUTED.ipynb OUTPUT.html --cwd DIR --kernel NAME --timeout SECONDS

Both outputs are written even when a cell fails (they show where); the last stdout line is a JSON summary:
{"ok": bool, "failed_cell": index or null, "ename": ..., "evalue": ..., "errors": [[cell index, ename, evalue], ...]}.
"""
import argparse
import json
import os
import re
import sys

import nbformat
import nbformat.sign
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter


def atomic_write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("input")
    p.add_argument("executed")
    p.add_argument("html")
    p.add_argument("--cwd", required=True)
    p.add_argument("--kernel", default="tslab")
    p.add_argument("--timeout", type=int, default=1800)
    a = p.parse_args()

    nb = nbformat.read(a.input, as_version=4)
    failed = []

    def on_cell_error(cell, cell_index, execute_reply):
        failed.append(cell_index)

    client = NotebookClient(nb, timeout=a.timeout, kernel_name=a.kernel, allow_errors=False,
                            resources={"metadata": {"path": a.cwd}}, on_cell_error=on_cell_error)
    summary = {"ok": True, "failed_cell": None, "ename": None, "evalue": None, "errors": []}
    try:
        client.execute()
    except CellExecutionError as e:
        summary.update(ok=False, ename=getattr(e, "ename", "CellExecutionError"), evalue=getattr(e, "evalue", str(e)))
    except (CellTimeoutError, DeadKernelError) as e:
        summary.update(ok=False, ename=type(e).__name__, evalue=str(e))
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                summary["errors"].append([i, out.get("ename"), out.get("evalue")])
                if summary["failed_cell"] is None:
                    summary["failed_cell"] = i
    if failed and summary["failed_cell"] is None:
        summary["failed_cell"] = failed[0]
    if summary["failed_cell"] is not None and not (summary["evalue"] or "").strip():
        # tslab reports a runtime error as stderr text and an empty evalue: take the message from the cell's stderr.
        text = "".join(o.get("text", "") for o in nb.cells[summary["failed_cell"]].get("outputs", [])
                       if o.get("output_type") == "stream" and o.get("name") == "stderr")
        lines = [l for l in text.strip().split("\n") if l.strip()]
        # A Node stack trace names the error on a line like "TypeError: message"; a compile error is a single line.
        named = [l for l in lines if re.match(r"^[\w$.]*(Error|Exception)\b", l.strip())]
        if lines:
            summary["evalue"] = (named or lines)[0].strip()
    if summary["errors"] or failed:
        summary["ok"] = False
    try:
        # Sign it (as `jupyter trust` does) so JupyterLab runs its plot scripts when the executed notebook is opened.
        nbformat.sign.NotebookNotary().sign(nb)
    except Exception as e:  # signing is a convenience; an unwritable signature database must not fail the run
        print(f"note: could not sign {a.executed}: {e}", file=sys.stderr)
    atomic_write(a.executed, nbformat.writes(nb))
    body, _ = HTMLExporter().from_notebook_node(nb)
    atomic_write(a.html, body)
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
