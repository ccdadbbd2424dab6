"""Show flowlib's own code in the book, so that the text and the library never drift.

>>> import flowlib
>>> "def log_prob" in flowlib.show(flowlib.Flow.log_prob).data
True
"""

import inspect
import textwrap

from IPython.display import Markdown


def show(obj):
    """The source of a flowlib class, function or method, as a highlighted code block."""
    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as e:
        raise ValueError(f"show() needs a class, function or method defined in Python, got {obj!r}") from e
    return Markdown(f"```python\n{textwrap.dedent(source).rstrip()}\n```")
