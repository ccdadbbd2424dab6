"""Every script once per page.

Under Sphinx 7, sphinx-thebe and sphinx-togglebutton register their inline scripts
twice; a ``const`` declared twice is a JavaScript error on every page (the browser test
in tests/test_book.py found it), once with no file name and once with an empty one.
This drops repeats of the same script, keeping the first.
"""


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", script) or "",
               tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    if "script_files" in context:
        context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
