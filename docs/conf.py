"""Sphinx configuration of gdcore's documentation.

Build with ``make -C docs html`` (warnings are errors, so a broken reference
fails the build). The API reference is read from the docstrings of the gdcore
that Python imports: the installed package, or a checkout whose compiled
extensions were built in place (``python setup.py build_ext --inplace``,
then ``PYTHONPATH=. make -C docs html``).
"""

import os
import warnings

import gdcore

project = "gdcore"
author = "the gdcore developers"
copyright = "the gdcore developers"
release = version = gdcore.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from the site itself, not from a CDN
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = []
default_role = "code"  # `x` is code, as in the docstrings; cross-references say :func: etc.

# Every reference must resolve: a broken one is a warning, and the build runs with -W.
nitpicky = True
# Types named in prose by docstrings (no intersphinx: CI reaches only PyPI and Debian).
nitpick_ignore_regex = [
    ("py:class", r"(numpy|np|matplotlib|sklearn)\..*"),
]

# -- API reference ------------------------------------------------------------
autosummary_generate = False  # the api/ pages list their names themselves
autodoc_typehints = "none"  # the docstrings carry the types, in numpydoc form
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# -- Gallery ------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "min_reported_time": 0,
    "show_memory": False,
    "download_all_examples": False,
}
# Examples draw with pyplot on a headless backend.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")

# -- HTML ---------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"gdcore {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
