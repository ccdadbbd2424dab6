"""The ``{run-times}`` directive: the stored chapter runs' wall times as a table.

The numbers are read from ``flowlib/run_times.json``, which ``scripts/run_chapters.py``
writes after each run, so the Performance page shows them without anyone typing them;
the page is rebuilt when the file changes.
"""

import json
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from flowlib.notebook import duration

RUN_TIMES = Path(__file__).resolve().parents[2] / "flowlib" / "run_times.json"


class RunTimes(SphinxDirective):
    def run(self):
        self.env.note_dependency(str(RUN_TIMES))
        runs = json.loads(RUN_TIMES.read_text())
        lines = ["| chapter | full run | quick run | device | processor, cores | torch "
                 "| date |", "|---|---|---|---|---|---|---|"]
        for name, r in sorted(runs.items()):
            lines.append(
                f"| {{doc}}`../chapters/{name}` | {duration(r['full_s'])} | "
                f"{duration(r['quick_s'])} | {r['device']} | {r['processor']}, "
                f"{r['cores']} | {r['torch']} | {r['date']} |")
        total = sum(r["full_s"] for r in runs.values())
        lines += ["", f"All {len(runs)} chapters in full: {duration(total)}."]
        box = nodes.container()
        self.state.nested_parse(StringList(lines, str(RUN_TIMES)), self.content_offset,
                                box)
        return box.children


def setup(app):
    app.add_directive("run-times", RunTimes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
