"""The examples in the documentation run and print what they say.

Every ``>>>`` example in the docstrings of the public API (the names of
``gdcore``, ``gdcore.optim``, ``gdcore.plot`` and ``gdcore.sklearn``, their
methods included) and in the user guide's pages (``docs/**/*.rst``) is run
by ``doctest``, and the pages' Python code blocks run, so the documentation
cannot drift from the code; and the API reference lists every public name.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
from pathlib import Path
from typing import List

import pytest

PUBLIC = {"gdcore": None, "gdcore.data": None, "gdcore.optim": None,
          "gdcore.plot": "matplotlib", "gdcore.sklearn": "sklearn"}
DOCS = Path(__file__).resolve().parent.parent / "docs"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _find(module_name: str) -> List[doctest.DocTest]:
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = {t.name: t for t in finder.find(module, module_name)}
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isroutine(obj):
            # the object's own module, so that its methods are searched too
            for t in finder.find(obj, f"{module_name}.{name}", module=inspect.getmodule(obj),
                                 globs=vars(module)):
                found.setdefault(t.name, t)
    return [t for t in found.values() if t.examples]


def _run(tests: List[doctest.DocTest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test, then report all the failures together."""
    monkeypatch.chdir(tmp_path)  # examples that save a file leave nothing behind
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: List[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_docstring_examples(module_name: str, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    if PUBLIC[module_name] is not None:
        pytest.importorskip(PUBLIC[module_name])
    tests = _find(module_name)
    if module_name == "gdcore":
        assert tests, "the public API's docstrings have no examples"
    _run(tests, tmp_path, monkeypatch)


BUILT = {"_build", "auto_examples", "gen_modules"}  # build products, not sources
GUIDE = [p for p in sorted(DOCS.glob("**/*.rst")) if DOCS.is_dir()
         and not BUILT & set(p.relative_to(DOCS).parts) and ">>> " in p.read_text("utf-8")]


@pytest.mark.skipif(not GUIDE, reason="no docs/ folder beside the tests")
@pytest.mark.parametrize("page", [p.relative_to(DOCS).as_posix() for p in GUIDE] or ["-"])
def test_guide_examples(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = DOCS / page
    test = doctest.DocTestParser().get_doctest(path.read_text("utf-8"), {}, page, str(path), 0)
    _run([test], tmp_path, monkeypatch)


CODE_BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:   .*\n|[ \t]*\n)+)", re.M)
CODE_PAGES = [p for p in sorted(DOCS.glob("**/*.rst")) if DOCS.is_dir()
              and not BUILT & set(p.relative_to(DOCS).parts)
              and CODE_BLOCK.search(p.read_text("utf-8"))]


@pytest.mark.skipif(not CODE_PAGES, reason="no docs/ folder beside the tests")
@pytest.mark.parametrize("page", [p.relative_to(DOCS).as_posix() for p in CODE_PAGES] or ["-"])
def test_guide_code_blocks_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pages' Python code blocks run as written, each page in one namespace."""
    text = (DOCS / page).read_text("utf-8")
    if "sklearn" in text:
        pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)  # blocks that save a file leave nothing behind
    namespace: dict = {"__name__": "docs"}
    for block in CODE_BLOCK.findall(text):
        code = "\n".join(line[3:] for line in block.splitlines())
        exec(compile(code, f"docs/{page}", "exec"), namespace)


API_PAGES = {"gdcore": "gdcore.rst", "gdcore.data": "data.rst", "gdcore.optim": "optim.rst",
             "gdcore.plot": "plot.rst", "gdcore.sklearn": "sklearn.rst"}


@pytest.mark.skipif(not (DOCS / "api").is_dir(), reason="no docs/ folder beside the tests")
@pytest.mark.parametrize("module_name", sorted(API_PAGES))
def test_api_reference_lists_every_public_name(module_name: str) -> None:
    """A name added to a module's ``__all__`` needs its entry in the API reference."""
    if PUBLIC[module_name] is not None:
        pytest.importorskip(PUBLIC[module_name])
    module = importlib.import_module(module_name)
    page = (DOCS / "api" / API_PAGES[module_name]).read_text("utf-8")
    documented = set(re.findall(r"^\.\. (?:auto\w+|data|module):: (\S+)", page, re.M))
    public = set(getattr(module, "__all__", [  # without __all__: what the module defines
        n for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == module_name]))
    submodules = {n for n in public if inspect.ismodule(getattr(module, n))}
    missing = sorted(n for n in public - submodules if n not in documented
                     and f"{module_name}.{n}" not in documented)
    assert not missing, f"docs/api/{API_PAGES[module_name]} lacks {missing}"
