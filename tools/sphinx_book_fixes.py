"""A small Sphinx extension with fixes for the Jupyter Book 1 stack (loaded from `_config.yml`).

Inline scripts written twice. Sphinx 7.4 registers an inline script added after the builder
started (`app.add_js_file(None, body=...)`, as sphinx-thebe and sphinx-togglebutton do) once with
filename None and, when it prepares writing, again with filename ''; the two do not compare equal,
so every page carries the script twice. For sphinx-thebe's `const THEBE_JS_URL = ...` that is a
JavaScript SyntaxError ("Identifier 'THEBE_JS_URL' has already been declared") on every page,
which the browser checks of `make test` rightly report. This drops the second copy.
"""

from __future__ import annotations

from typing import Any


def _key(script: Any) -> tuple:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _key(script)
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


def setup(app) -> dict:
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
