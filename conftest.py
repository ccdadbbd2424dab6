"""Loaded for every pytest run from the repository root, `pytest chapters/` included.

nbval's kernels inherit this process's environment, so the chapters run in quick
mode unless FLOWLIB_MODE says otherwise.
"""

import os

os.environ.setdefault("FLOWLIB_MODE", "quick")
os.environ.setdefault("MPLBACKEND", "agg")
# `make test` runs two workers (each with its own kernels) on two cores: one thread each
# keeps them from fighting over the cores, which made the suite four times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
