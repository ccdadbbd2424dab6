"""Loaded for every pytest run from the repository root, `pytest chapters/` included.

nbval's kernels inherit this process's environment, so the chapters run in quick
mode unless FLOWLIB_MODE says otherwise.
"""

import os

os.environ.setdefault("FLOWLIB_MODE", "quick")
os.environ.setdefault("MPLBACKEND", "agg")
