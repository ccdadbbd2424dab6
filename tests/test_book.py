"""The book builds with warnings as errors, from the stored outputs, and works offline."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    build = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out),
                            "--warningiserror", "--nitpick", "--keep-going"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    return out / "_build" / "html"


def _pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [f + ".html" for f in files]


def test_every_page_is_built(site):
    for page in _pages():
        assert (site / page).exists(), page


def test_math_is_served_locally(site):
    for page in ("book/notation.html", "chapters/00_getting_started.html"):
        html = (site / page).read_text()
        scripts = re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', html, re.I)
        assert scripts == ["../_static/mathjax/tex-chtml.js"], scripts
        assert (site / page).parent.joinpath(scripts[0]).resolve().exists()
    assert (site / "_static/mathjax/output/chtml/fonts/woff-v2").is_dir()


def test_chapters_have_colab_and_download_buttons(site):
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    colab = "https://colab.research.google.com/github/" + url.removeprefix("https://github.com/")
    for notebook in sorted((ROOT / "chapters").glob("*.ipynb")):
        html = (site / "chapters" / (notebook.stem + ".html")).read_text()
        assert f"{colab}/blob/main/chapters/{notebook.name}" in html
        assert f"_sources/chapters/{notebook.name}" in html  # download of the notebook itself


def test_solutions_are_hidden_and_api_is_generated(site):
    html = (site / "chapters/00_getting_started.html").read_text()
    assert html.count('class="solution dropdown') >= 2
    api = (site / "book/api.html").read_text()
    for name in ("core.Flow.log_prob", "train.fit", "testing.check_bijector", "data.mnist"):
        assert f'id="flowlib.{name}"' in api, name
    assert api.count('class="sig-name descname"') > 30
    assert 'id="flowlib.train.capture"' in api


def test_performance_page_shows_every_benchmark_run(site):
    html = (site / "book/performance.html").read_text()
    for results in sorted((ROOT / "benchmarks/results").glob("*.json")):
        record = json.loads(results.read_text())
        if not record["quick"]:
            assert f"{record['device']}, {record['date']}" in html, f"{results.name} is not on the page"
