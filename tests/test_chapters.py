"""The chapters as sources and as stored notebooks (nbval runs them; see pyproject.toml)."""

import ast
import json
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

import flowlib.notebook

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


def _listings(cell):
    """The code listings a cell's ``flowlib.show(...)`` calls stored, in order."""
    return [o["data"]["text/markdown"] for o in cell.outputs
            if "text/markdown" in o.get("data", {})
            and o["data"]["text/markdown"].startswith("```python")]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_shown_source_is_the_library_of_today(notebook):
    """A listing of flowlib's code in a stored run must match the library: when a
    shown function changes, refresh the listings (scripts/run_chapters.py
    --listings-only) or rerun the chapter."""
    for cell in nbformat.read(notebook, 4).cells:
        want = flowlib.notebook.listings(cell.source) if cell.cell_type == "code" else []
        assert _listings(cell) == want if want else True, (
            f"{notebook.name}: a stored listing in this cell is out of date:\n"
            + cell.source)


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


def _code(md):
    return [c for c in jupytext.read(md).cells if c.cell_type == "code"]


# a device named in a string, except in a comparison of the chosen device's type
_DEVICE_BY_NAME = re.compile(
    r"""(?<!type == )(?<!type != )["'](?:cuda|cpu|mps)(?::\d+)?["']|\.cuda\(|torch\.device\(""")


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_chapters_choose_devices_only_through_flowlib(md):
    """Models and data move with flowlib.device(), which FLOWLIB_DEVICE overrides."""
    for cell in _code(md):
        for line in cell.source.splitlines():
            assert not _DEVICE_BY_NAME.search(line), f"{md.name}: device by name in {line!r}"


def test_the_device_check_catches_hard_coded_devices():
    for bad in ('x.to("cuda")', "model.cuda()", "torch.device('cpu')", 'device="cuda:0"'):
        assert _DEVICE_BY_NAME.search(bad), bad
    for good in ("x.to(device)", "flow.cpu().double()", "z.cpu().numpy()",
                 'bf16 = device.type == "cpu"'):
        assert not _DEVICE_BY_NAME.search(good), good


def _number(md):
    return int(md.name[:2])


def _exercises(md):
    """Per exercise: its heading cell, its directive, the cells up to its solution,
    the solution's heading and the solution's cells."""
    cells, found = jupytext.read(md).cells, []
    for i, cell in enumerate(cells):
        if cell.cell_type == "markdown" and "```{exercise}" in cell.source:
            start = next(j for j in range(i, len(cells))
                         if "```{solution-start}" in cells[j].source)
            end = next(j for j in range(start, len(cells))
                       if "```{solution-end}" in cells[j].source)
            found.append({"heading": cells[i - 1], "text": cell.source,
                          "starter": cells[i + 1:start - 1], "solution_heading": cells[start - 1],
                          "solution": cells[start:end + 1]})
    return found


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_exercises_are_numbered_per_chapter_with_solutions_collapsed(md):
    """Colab and Jupyter see "Exercise N.k" headings (the website numbers its exercises
    the same way) and open each solution collapsed under its own heading."""
    n, ids = _number(md), []
    exercises = _exercises(md)
    assert exercises, f"{md.name} has no exercises"
    for k, ex in enumerate(exercises, 1):
        title = re.match(r"```\{exercise\}\s*(.*)", ex["text"])[1].strip()
        heading = ex["heading"]
        assert heading.source == f"### Exercise {n}.{k} · {title}", heading.source
        assert heading.metadata.get("tags") == ["remove-cell"]
        sol = ex["solution_heading"]
        assert sol.source == f"#### Solution to Exercise {n}.{k}", sol.source
        assert sol.metadata == {"tags": ["remove-cell"], "id": f"solution-{n}-{k}",
                                "jp-MarkdownHeadingCollapsed": True,
                                "heading_collapsed": True}, sol.metadata
        ids.append(f"solution-{n}-{k}")
        closing = ex["solution"][-1].source.strip()
        assert closing.endswith("```{solution-end}\n```"), (
            f"{md.name}: nothing may follow Exercise {n}.{k}'s solution in its cell, or "
            f"a collapsed solution hides it:\n{closing[-200:]}")
    stored = nbformat.read(md.with_suffix(".ipynb"), 4)
    assert stored.metadata.get("colab", {}).get("collapsed_sections") == ids, (
        f"{md.name}: Colab must open with every solution collapsed")
    headings = [c.metadata for c in stored.cells if c.metadata.get("id") in ids]
    assert [h["id"] for h in headings] == ids and all(
        h.get("jp-MarkdownHeadingCollapsed") and h.get("heading_collapsed")
        and h.get("tags") == ["remove-cell"] for h in headings), (
        f"{md.name}: the notebook that Jupyter and Colab open lost the solutions' metadata")


# Exercises whose answer is a proof, a prediction checked by a measurement, or a count:
# their solutions run code, but there is no function for the reader to write.
NOT_CODE = {"ex-getting-started-base", "ex-2d-more-components", "ex-3-triangular",
            "ex-3-iaf-own-samples", "ex-4-nice-volume", "ex-5-blind", "ex-6-tails", "ex-7-strict",
            "ex-8-cross", "ex-9-direction", "ex-10-choose"}


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_code_exercises_have_a_starter_and_a_checked_solution(md):
    """An exercise that names a checker gets a starter cell with a ... body that calls
    it, and its solution passes through the same checker. Every other exercise is
    listed in NOT_CODE."""
    for ex in _exercises(md):
        checkers = set(re.findall(r"flowlib\.exercises\.(check_\w+)", ex["text"]))
        label = re.search(r":label:\s*(\S+)", ex["text"])[1]
        if not checkers:
            assert label in NOT_CODE, f"{label} has no checker; is its answer code?"
            assert not ex["starter"], "a starter cell needs a checker named in the exercise"
            continue
        assert label not in NOT_CODE, label
        (checker,) = checkers
        assert len(ex["starter"]) == 1 and ex["starter"][0].cell_type == "code", ex["text"]
        starter = ex["starter"][0].source
        assert "...  # your code here" in starter or "= ...  #" in starter, starter
        assert f"flowlib.exercises.{checker}(" in starter, starter
        solved = "\n".join(c.source for c in ex["solution"] if c.cell_type == "code")
        assert f"flowlib.exercises.{checker}(" in solved, f"the solution skips {checker}"


def _run_times():
    return json.loads((ROOT / "flowlib" / "run_times.json").read_text())


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_opening_states_the_stored_runs_times(md):
    """Right after the setup cell, the chapter says how long its full and quick runs
    took, from their run records; the budgets hold (30 minutes full, 45 for the MNIST
    chapters 4-6; 3 minutes quick, on the project's 2-core CPU)."""
    code = _code(md)
    assert code[1].source == f'flowlib.run_times("{md.stem}")', code[1].source
    assert code[1].metadata.get("tags") == ["remove-input"]
    times = _run_times()[md.stem]
    nb = nbformat.read(md.with_suffix(".ipynb"), 4)
    stored = [c for c in nb.cells if c.cell_type == "code"]
    record = ast.literal_eval(
        "".join(o.get("data", {}).get("text/plain", "") for o in stored[-1].outputs))
    assert times["full_s"] == record["wall_time_s"], "run_times.json is not this run's"
    assert (times["processor"], times["cores"]) == (record["processor"], record["cores"])
    assert (times["device"], times["cores"]) == ("cpu", 2), "the book's runs: 2 CPU cores"
    opening = stored[1].outputs[0]["data"]["text/markdown"]
    assert flowlib.notebook.duration(times["full_s"]) in opening
    assert flowlib.notebook.duration(times["quick_s"]) in opening
    assert f"{times['cores']} CPU cores ({times['processor']}" in opening
    assert times["full_s"] <= (45 if 4 <= _number(md) <= 6 else 30) * 60
    assert times["quick_s"] <= 3 * 60
