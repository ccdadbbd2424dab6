"""Run chapters and store their outputs in the paired notebooks (what the website shows).

    python scripts/run_chapters.py                       # every chapter
    python scripts/run_chapters.py chapters/01_*.md      # some of them

The mode is full unless FLOWLIB_MODE says otherwise; the stored runs are made on a
2-core CPU. Commit the notebooks. Each chapter's .md is first synced into its .ipynb (inputs
from the .md, outputs kept), then the notebook is executed in place.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def run(md):
    notebook = md.with_suffix(".ipynb")
    subprocess.run([sys.executable, "-m", "jupytext", "--quiet", "--sync", str(md)], check=True)
    nb = nbformat.read(notebook, as_version=4)
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=None, kernel_name="python3",
                       resources={"metadata": {"path": str(md.parent)}}).execute()
    finally:  # on failure too, so that the error can be read in the notebook
        nbformat.write(nb, notebook)
    print(f"{md.name}: ran in {time.perf_counter() - start:.0f} s ({os.environ['FLOWLIB_MODE']} mode)")


if __name__ == "__main__":
    os.environ.setdefault("FLOWLIB_MODE", "full")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    chapters = [Path(p).resolve() for p in sys.argv[1:]] or sorted((ROOT / "chapters").glob("*.md"))
    for md in chapters:
        run(md)
