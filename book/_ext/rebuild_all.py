"""Sphinx extension: make every ``jupyter-book build`` re-read, and so re-execute, every page.

With ``execute_notebooks: force``, myst-nb executes a notebook whenever Sphinx re-reads it, but
Sphinx only re-reads files that changed since the last build. A change in ``vdib_core`` (or in a
result artefact, or in book/_static) would then leave stale outputs in ``_build``. Marking every
document as outdated makes a build always run every chapter against the current code, and copy
the current static files. Loaded from _config.yml (``sphinx.local_extensions``).
"""

from __future__ import annotations


def _all_documents(app, env, added, changed, removed):
    return sorted(set(env.found_docs) - set(added) - set(changed) - set(removed))


def setup(app):
    app.connect("env-get-outdated", _all_documents)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
