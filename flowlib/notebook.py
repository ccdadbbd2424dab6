"""Helpers for the chapters as notebooks: show flowlib's own code, and say how long a
chapter takes to run.

>>> import flowlib
>>> "def log_prob" in flowlib.show(flowlib.Flow.log_prob).data
True
"""

import inspect
import json
import re
import textwrap
from pathlib import Path

from IPython.display import Markdown

RUN_TIMES = Path(__file__).with_name("run_times.json")


def show(obj):
    """The source of a flowlib class, function or method, as a highlighted code
    block."""
    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as e:
        raise ValueError(f"show() needs a class, function or method defined in Python, "
                         f"got {obj!r}") from e
    return Markdown(f"```python\n{textwrap.dedent(source).rstrip()}\n```")


def listings(source):
    """What the ``flowlib.show(...)`` calls in a cell's ``source`` display, in order:
    the markdown of each listing, rendered from the library as it is now."""
    import flowlib   # here: flowlib imports this module
    from flowlib import zoo
    namespace = {"flowlib": flowlib, "scalar": flowlib.scalar, "zoo": zoo}
    return [show(eval(name, namespace)).data
            for name in re.findall(r"flowlib\.show\(([\w.]+)\)", source)]


def duration(seconds):
    """A wall time for readers: to a tenth of a second below ten seconds, to the second
    below ten minutes and to the minute above. ``duration(2.5)`` is ``'2.5 s'``,
    ``duration(95)`` is ``'1 min 35 s'``, ``duration(1799)`` is ``'30 min'``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds >= 600:
        return f"{round(seconds / 60)} min"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"


def run_times(chapter):
    """How long ``chapter`` (a notebook's name, such as ``"01_flows_in_1d"``) took in
    full and quick mode in its stored runs, on which processor.

    The times come from the run records of the stored runs, which
    ``scripts/run_chapters.py`` collects into ``flowlib/run_times.json``.
    """
    times = json.loads(RUN_TIMES.read_text()).get(chapter)
    if times is None:
        return Markdown(f"No stored run of `{chapter}` has been timed yet.")
    if times["device"] != "cpu":
        raise ValueError(f"the stored runs of {chapter} were made on "
                         f"{times['device']}; "
                         "the book's are CPU runs (scripts/run_chapters.py)")
    return Markdown(
        f"**Time to run.** The outputs on this page come from a full run that took "
        f"{duration(times['full_s'])} on {times['cores']} CPU cores "
        f"({times['processor']}, PyTorch {times['torch']}); a quick run took "
        f"{duration(times['quick_s'])} there. The setup cell above prints the mode and "
        "the device of the run you are looking at; `FLOWLIB_MODE` and `FLOWLIB_DEVICE` "
        "choose them (see the introduction).")
