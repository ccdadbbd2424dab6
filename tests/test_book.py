"""The book builds with warnings as errors, from the stored outputs, and works offline."""

import json
import os
import re
import shutil
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


# --- The site as a browser shows it -------------------------------------------------
#
# Headless Chromium (Debian's `chromium` and `chromium-driver`) opens every page of the
# built site from disk with the network cut off. On a machine without Chromium the test
# is skipped with a message; CI sets FLOWLIB_REQUIRE_BROWSER=1, which makes a skip a
# failure.

SCREENSHOTS = ROOT / "_build" / "screenshots"
CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))


def _chromium():
    missing = [tool for tool in ("chromium", "chromedriver") if not shutil.which(tool)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[test]')")
    if missing:
        message = (f"the browser test needs {', '.join(missing)}; on Debian: "
                   "apt-get install chromium chromium-driver")
        if os.environ.get("FLOWLIB_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    _chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--window-size=1440,1000",
                 "--host-resolver-rules=MAP * ~NOTFOUND",  # no network, by name or not
                 "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options,
                              service=Service(shutil.which("chromedriver")))
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


_SETTLE = """
const done = arguments[arguments.length - 1];
const loaded = document.readyState === "complete" ? Promise.resolve()
    : new Promise(ok => window.addEventListener("load", ok, {once: true}));
loaded.then(() => {
  const typeset = window.MathJax && MathJax.startup ? MathJax.startup.promise
                                                     : Promise.resolve();
  const images = Array.from(document.images, img => img.complete ? null :
      new Promise(ok => { img.onload = img.onerror = ok; }));
  return Promise.all([typeset, ...images]);
}).then(() => done(true), e => done(String(e)));
"""

_INSPECT = """
const prose = document.querySelector("main") || document.body;
const copy = prose.cloneNode(true);
copy.querySelectorAll("pre, code, script, style, mjx-container, .MathJax, textarea")
    .forEach(n => n.remove());
return {
  text: copy.innerText,
  untypeset: Array.from(document.querySelectorAll(".math"))
      .filter(n => !n.querySelector("mjx-container")).map(n => n.textContent.slice(0, 80)),
  broken: Array.from(document.images)
      .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(-80)),
  links: Array.from(document.querySelectorAll("a[href]"), a => a.href),
  animations: document.querySelectorAll("div.animation").length,
  players: Array.from(document.querySelectorAll("div.animation"), a =>
      a.querySelectorAll("button").length),
  solutions: document.querySelectorAll(".solution.dropdown").length,
  toggles: document.querySelectorAll(".solution.dropdown button.toggle-button").length,
};
"""


def _site_pages(site):
    return sorted(p for p in site.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(p.relative_to(site).parts))


def test_every_page_works_offline_in_a_browser(site, browser):
    """No JavaScript errors, no raw TeX, every image loaded, every internal link and
    anchor resolves; chapters show their animations and solution toggles, and get a
    screenshot in _build/screenshots/ for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = _site_pages(site)
    assert len(pages) >= len(_pages()), [p.name for p in pages]
    problems, ids = [], {}
    for page in pages:
        name = page.relative_to(site).as_posix()
        redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', page.read_text())
        if redirect:  # the site's front door: its target must exist, the rest is checked there
            if not (page.parent / redirect[1]).exists():
                problems.append(f"{name}: redirects to a missing page {redirect[1]}")
            continue
        browser.get(page.as_uri())
        settled = browser.execute_async_script(_SETTLE)
        found = browser.execute_script(_INSPECT)
        errors = [e["message"][:300] for e in browser.get_log("browser")
                  if e["level"] == "SEVERE"]
        if settled is not True:
            problems.append(f"{name}: the page did not settle: {settled}")
        problems += [f"{name}: console error: {e}" for e in errors]
        raw = re.findall(r"\$\$|(?<![\w\\])\$[^$\s][^$\n]{0,80}?\$", found["text"])
        problems += [f"{name}: raw TeX left: {r!r}" for r in raw[:3]]
        problems += [f"{name}: math not typeset: {m!r}" for m in found["untypeset"][:3]]
        problems += [f"{name}: image not loaded: {b}" for b in found["broken"]]
        for href in found["links"]:
            if href.startswith("file://"):
                problems += _check_link(site, name, href, ids)
        if name.startswith("chapters/"):
            md = ROOT / "chapters" / (Path(name).stem + ".md")
            source = md.read_text()
            want = source.count("plot.animation(")
            if found["animations"] != want or any(n != 9 for n in found["players"]):
                problems.append(f"{name}: {found['animations']} animations with "
                                f"{found['players']} buttons, expected {want} players")
            want = source.count("```{solution-start}")
            if not (found["solutions"] == found["toggles"] == want):
                problems.append(f"{name}: {found['solutions']} solutions and "
                                f"{found['toggles']} toggles, expected {want} of each")
            _screenshot(browser, Path(name).stem)
    assert not problems, "\n".join(problems)


def _check_link(site, name, href, ids):
    from urllib.parse import unquote, urlsplit
    url = urlsplit(href)
    target = Path(unquote(url.path))
    if target.is_dir():
        target = target / "index.html"
    if not target.exists():
        return [f"{name}: link to a missing page: {href}"]
    if url.fragment and target.suffix == ".html":
        if target not in ids:
            ids[target] = set(re.findall(r'\sid="([^"]+)"', target.read_text()))
        if unquote(url.fragment) not in ids[target]:
            return [f"{name}: link to a missing anchor: {href}"]
    return []


def _screenshot(browser, stem, band=8000):
    """The whole page, in bands of ``band`` pixels: stem-1.png, stem-2.png, ..."""
    import base64
    for old in SCREENSHOTS.glob(f"{stem}-*.png"):
        old.unlink()
    height = browser.execute_script("return document.documentElement.scrollHeight")
    for k, top in enumerate(range(0, height, band), 1):
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": top, "width": 1440, "height": min(band, height - top),
                     "scale": 1}})
        (SCREENSHOTS / f"{stem}-{k}.png").write_bytes(base64.b64decode(shot["data"]))


def test_solution_toggles_open_and_animations_play(site, browser):
    browser.get((site / "chapters/02_flows_in_2d.html").as_uri())
    browser.execute_async_script(_SETTLE)
    hidden, opened = browser.execute_script("""
        const box = document.querySelector(".solution.dropdown");
        const hidden = box.classList.contains("toggle-hidden");
        box.querySelector("button.toggle-button").click();
        return [hidden, !box.classList.contains("toggle-hidden")];
    """)
    assert hidden, "a solution is shown before the reader asks for it"
    assert opened, "clicking a solution's toggle did not open it"
    frames = browser.execute_script("""
        const player = document.querySelector("div.animation");
        const img = player.querySelector("img"), slider = player.querySelector("input");
        const before = [img.src, slider.value];
        player.querySelector("button[title='Next frame']").click();
        return [before, [img.src, slider.value]];
    """)
    (src0, v0), (src1, v1) = frames
    assert src0.startswith("data:image") and src1 != src0 and int(v1) == int(v0) + 1


def test_book_numbers_exercises_as_the_notebooks_do(site):
    for md in CHAPTERS:
        html = (site / "chapters" / (md.stem + ".html")).read_text()
        shown = re.findall(r'<span class="caption-number">Exercise (\d+\.\d+) </span>', html)
        headings = re.findall(r"^### Exercise (\d+\.\d+) ·", md.read_text(), re.M)
        assert shown and shown == headings, (md.name, shown, headings)
