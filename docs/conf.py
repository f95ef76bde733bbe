"""Sphinx configuration for the raysweep docs (Markdown pages through MyST-Parser).

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (``-W``: any warning, such as a
broken cross-reference or a page missing from every toctree, fails the build;
``tests/test_docs.py`` runs exactly this).
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)  # document the checkout being built, not an installed copy

import raysweep  # noqa: E402

project = "raysweep"
author = "the raysweep developers"
copyright = "2026, the raysweep developers"  # noqa: A001 - Sphinx's name
release = raysweep.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: heading anchors so that [text](page.md#a-heading) links are checked too.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Links between pages and to headings must resolve (MyST warns, -W fails). External links
# are not fetched (no network in CI; no linkcheck builder is run). Python cross-references
# inside docstrings (types such as pd.DataFrame) are not required to resolve: no intersphinx.
nitpicky = False

# Reference pages: the docstrings are Google style.
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "description"
autodoc_class_signature = "separated"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

html_theme = "furo"
html_title = f"raysweep {release}"
html_static_path: list[str] = []
