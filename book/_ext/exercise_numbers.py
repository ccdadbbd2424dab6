"""Number exercises per chapter, "Exercise 3.2", instead of through the whole book.

sphinx-exercise numbers exercises with Sphinx's figure numbers, which run on across
documents when the table of contents is not numbered. Once Sphinx has assigned them,
this extension renumbers the exercises of each ``chapters/NN_topic`` page as
(NN, 1), (NN, 2), ... in the order of the page; the notebooks' headings for Colab and
Jupyter use the same numbers (tests/test_book.py checks that they agree).
"""

import re


def number_per_chapter(app, env):
    for docname, kinds in env.toc_fignumbers.items():
        chapter = re.match(r"chapters/(\d+)_", docname)
        numbers = kinds.get("exercise")
        if chapter and numbers:
            order = sorted(numbers, key=numbers.get)
            kinds["exercise"] = {key: (int(chapter[1]), k)
                                 for k, key in enumerate(order, 1)}
    return []


def setup(app):
    # after the toctree collector (priority 500) has assigned the book-wide numbers
    app.connect("env-get-updated", number_per_chapter, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
