"""Serve MathJax from the book itself: math renders offline, and on any host.

The MathJax 3 files come from the PyPI package django-static-mathjax (import name
``mathjax``); they are copied into ``_static/mathjax`` and every page loads them by
a relative path, so the built site needs no CDN.
"""

import shutil
from pathlib import Path

import mathjax

SOURCE = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def use_local_mathjax(app, config):
    config.mathjax_path = "mathjax/tex-chtml.js"  # relative to _static


def copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        shutil.copytree(SOURCE, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
