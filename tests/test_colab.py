"""Run a chapter's setup cell the way Colab would: in a fresh environment that already has
torch and IPython, with google.colab imported. pip must install flowlib and keep torch."""

import os
import subprocess
import venv
from pathlib import Path

import jupytext
import torch

ROOT = Path(__file__).resolve().parents[1]

RUN_CELL = """
import sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")
from IPython.core.interactiveshell import InteractiveShell
result = InteractiveShell.instance().run_cell(sys.stdin.read())
result.raise_error()
import flowlib, torch
print("flowlib", flowlib.__version__, "from", flowlib.__file__)
print("torch", torch.__version__)
"""


def test_setup_cell_installs_flowlib_in_a_fresh_colab_like_env(tmp_path):
    env = tmp_path / "colab"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    # nothing of this process's environment may leak in (IPython adds $VIRTUAL_ENV to sys.path)
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    # Colab comes with a recent pip, torch and IPython; install the same torch we run here
    subprocess.run([python, "-m", "pip", "install", "-q", "--upgrade", "pip",
                    f"torch=={torch.__version__.split('+')[0]}", "ipython"], check=True, env=clean)
    chapter = sorted((ROOT / "chapters").glob("*.md"))[0]
    setup = next(c for c in jupytext.read(chapter).cells if c.cell_type == "code").source
    repository = setup.split("git+")[1].split('"')[0]
    cell = setup.replace(repository, ROOT.as_uri())  # the local clone stands in for the public repository
    run = subprocess.run([python, "-c", RUN_CELL], input=cell, capture_output=True, text=True,
                         cwd=tmp_path, env=clean)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"from {env}" in run.stdout, run.stdout  # installed into the environment, not found in the repo
    assert f"torch {torch.__version__}" in run.stdout, "pip replaced the torch that was there"
