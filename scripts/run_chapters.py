"""Run chapters and store their outputs in the paired notebooks (what the website shows).

    python scripts/run_chapters.py                       # every chapter
    python scripts/run_chapters.py chapters/01_*.md      # some of them
    python scripts/run_chapters.py --times-only          # re-render the openings only
    python scripts/run_chapters.py --listings-only       # re-render flowlib.show listings

For each chapter: sync the .md into its .ipynb (inputs from the .md, outputs kept); run
it once in quick mode, to time it, and once in full mode, in place, to store it. The
stored runs are made on this project's 2-core CPU. Then:

- progress bars are stored as text (``FLOWLIB_PROGRESS=text``), and the outputs and the
  saved state of interactive widgets are dropped: they only work with a kernel, and the
  website must show every page without loading anything from the network;
- the wall times of both runs, from their run records (from flowlib's import to the
  last cell, so the kernel's start is not counted), go into ``flowlib/run_times.json``,
  and the chapter's opening cell (``flowlib.run_times(...)``) gets its output from them.

Commit the notebooks and ``flowlib/run_times.json``.
"""

import ast
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
WIDGET = "application/vnd.jupyter.widget-view+json"
RUN_TIMES = ROOT / "flowlib" / "run_times.json"


def execute(nb, md, mode):
    """Run ``nb`` in ``mode`` and return its run record (the last cell's output)."""
    os.environ["FLOWLIB_MODE"] = mode
    os.environ["FLOWLIB_DEVICE"] = "cpu"  # the book's stored runs are CPU runs, by design
    try:
        NotebookClient(nb, timeout=None, kernel_name="python3",
                       resources={"metadata": {"path": str(md.parent)}}).execute()
    finally:
        os.environ.pop("FLOWLIB_MODE")
    text = "".join(o.get("data", {}).get("text/plain", "") for o in nb.cells[-1].outputs)
    record = ast.literal_eval(text)
    if (record["mode"], record["device"]) != (mode, "cpu"):
        raise RuntimeError(f"{md.name} ran in {record['mode']} mode on the "
                           f"{record['device']}, expected {mode} mode on the cpu")
    return record


def strip_widgets(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET not in o.get("data", {})]
    nb.metadata.pop("widgets", None)


def store_times(md, quick, full):
    times = json.loads(RUN_TIMES.read_text()) if RUN_TIMES.exists() else {}
    times[md.stem] = {
        "full_s": full["wall_time_s"], "quick_s": quick["wall_time_s"],
        "processor": full["processor"], "cores": full["cores"], "device": full["device"],
        "torch": full["torch"], "date": datetime.date.today().isoformat(),
    }
    RUN_TIMES.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")


def show_times(nb, md):
    """Give the opening cell the output that flowlib.run_times renders from the records."""
    import flowlib
    shown = flowlib.run_times(md.stem)
    cells = [c for c in nb.cells if c.cell_type == "code" and "flowlib.run_times(" in c.source]
    if len(cells) != 1:
        raise RuntimeError(f"{md.name} needs exactly one cell calling flowlib.run_times")
    cells[0].outputs = [nbformat.v4.new_output(
        "execute_result", data={"text/markdown": shown.data, "text/plain": repr(shown)},
        execution_count=cells[0].execution_count)]


def run(md):
    notebook = md.with_suffix(".ipynb")
    subprocess.run([sys.executable, "-m", "jupytext", "--quiet", "--sync", str(md)],
                   check=True)
    quick = execute(nbformat.read(notebook, as_version=4), md, "quick")
    print(f"{md.name}: quick run in {quick['wall_time_s']:.0f} s", flush=True)
    nb = nbformat.read(notebook, as_version=4)
    try:
        full = execute(nb, md, "full")
        store_times(md, quick, full)
        show_times(nb, md)
    finally:  # on failure too, so that the error can be read in the notebook
        strip_widgets(nb)
        nbformat.write(nb, notebook)
    print(f"{md.name}: full run in {full['wall_time_s']:.0f} s", flush=True)


def rerender(md):
    """Only re-render the opening cell from flowlib/run_times.json (after its wording
    changed), without running anything."""
    notebook = md.with_suffix(".ipynb")
    nb = nbformat.read(notebook, as_version=4)
    show_times(nb, md)
    nbformat.write(nb, notebook)


def refresh_listings(md):
    """Only re-render the listings of flowlib's code that ``flowlib.show(...)`` cells
    stored (after a shown function changed), without running anything: a listing is
    the library's source, not a result of the run."""
    from flowlib.notebook import listings
    notebook = md.with_suffix(".ipynb")
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        wanted = listings(cell.source) if cell.cell_type == "code" else []
        stored = [o for o in cell.outputs if o.get("data", {}).get(
            "text/markdown", "").startswith("```python")] if wanted else []
        if len(stored) != len(wanted):
            raise RuntimeError(f"{md.name}: {len(wanted)} listings shown, but "
                               f"{len(stored)} stored")
        for output, listing in zip(stored, wanted):
            output["data"]["text/markdown"] = listing
            output["data"]["text/plain"] = "<IPython.core.display.Markdown object>"
    nbformat.write(nb, notebook)


if __name__ == "__main__":
    if "FLOWLIB_MODE" in os.environ:
        sys.exit("run_chapters.py runs every chapter in both modes; unset FLOWLIB_MODE")
    os.environ["FLOWLIB_PROGRESS"] = "text"
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    args = sys.argv[1:]
    step = {"--times-only": rerender, "--listings-only": refresh_listings}.get(
        args[0] if args else None, run)
    args = args[1:] if step is not run else args
    chapters = [Path(p).resolve() for p in args] or sorted(
        (ROOT / "chapters").glob("*.md"))
    for md in chapters:
        step(md)
