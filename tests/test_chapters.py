"""The chapters as sources and as stored notebooks (nbval runs them; see pyproject.toml)."""

import json
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "chapters").glob("*.md"))
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def test_every_chapter_is_a_pair():
    assert SOURCES, "no chapters"
    assert [p.stem for p in SOURCES] == [p.stem for p in NOTEBOOKS]


def _cells(notebook):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in notebook.cells]


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_source_and_notebook_agree(md):
    """The .ipynb holds exactly the cells of its .md: run `jupytext --sync` when this fails."""
    source, stored = _cells(jupytext.read(md)), _cells(nbformat.read(md.with_suffix(".ipynb"), 4))
    assert len(source) == len(stored), f"{md.name} has {len(source)} cells, its notebook {len(stored)}"
    for k, (a, b) in enumerate(zip(source, stored)):
        assert a == b, f"cell {k} differs between {md.name} and its notebook:\n{a}\n---\n{b}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_holds_a_full_run(notebook):
    nb = nbformat.read(notebook, 4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"not one clean run from top to bottom: {counts}"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert "run_record()" in code[-1].source, "the last cell prints the run record"
    record = "".join(o.get("data", {}).get("text/plain", "") for o in code[-1].outputs)
    assert "'mode': 'full'" in record, f"stored outputs are not from a full run: {record}"


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_setup_cell_installs_from_the_configured_repository(md):
    setup = next(c for c in jupytext.read(md).cells if c.cell_type == "code").source
    assert 'if "google.colab" in sys.modules:' in setup
    pip = re.search(r'^\s+%pip install -q "flowlib @ git\+(\S+)"$', setup, re.M)
    assert pip, f"{md.name}: the first code cell must install flowlib in Colab with a quoted specifier"
    assert pip.group(1) == REPOSITORY, f"{md.name} installs from {pip.group(1)}, _config.yml names {REPOSITORY}"


def test_conda_environment_installs_flowlib_with_the_pinned_tools():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in env["dependencies"] and pip == ["-e .[test]"]
