"""The type stub of the compiled module matches it; the package ships its typing markers."""

from __future__ import annotations

import ast
import inspect
import os
import re
from importlib import resources

import gdcore
from gdcore import _linear

PYX = os.path.join(os.path.dirname(__file__), os.pardir, "src", "_linear.pyx")


def stub_functions():
    tree = ast.parse(resources.files("gdcore").joinpath("_linear.pyi").read_text())
    funcs = {n.name: [a.arg for a in n.args.args] for n in tree.body
             if isinstance(n, ast.FunctionDef)}
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    return funcs, classes


def test_stub_and_typed_marker_are_installed():
    assert resources.files("gdcore").joinpath("py.typed").is_file()
    assert resources.files("gdcore").joinpath("_linear.pyi").is_file()


def test_stub_names_every_public_function_of_the_module():
    funcs, classes = stub_functions()
    public = {name for name, obj in vars(_linear).items()
              if not name.startswith("_") and callable(obj) and not inspect.ismodule(obj)
              and getattr(obj, "__module__", "gdcore._linear") == "gdcore._linear"}
    public.discard("np")
    assert set(funcs) | classes == public
    assert [m.name for m in _linear.Status] == ["CONVERGED", "MAX_EPOCHS", "DIVERGED", "PAUSED"]


def test_stub_arguments_match_the_cython_source():
    if not os.path.exists(PYX):  # an sdist or checkout is needed for the source
        import pytest
        pytest.skip("src/_linear.pyx not available")
    source = open(PYX).read()
    funcs, _ = stub_functions()
    for match in re.finditer(r"^def (\w+)\((.*?)\):", source, re.S | re.M):
        name, args = match.group(1), re.sub(r"\[.*?\]", "", match.group(2))  # [:, ::1]
        names = [a.split("=")[0].split()[-1] for a in args.replace("\n", " ").split(",") if a.strip()]
        assert funcs[name] == names, name


def test_public_api_is_annotated():
    for obj in (gdcore.Trainer.__init__, gdcore.Trainer.fit, gdcore.LinearModel.__init__,
                gdcore.LinearModel.predict, gdcore.Model.save, gdcore.load):
        hints = inspect.signature(obj)
        assert all(p.annotation is not inspect.Parameter.empty
                   for n, p in hints.parameters.items() if n != "self"), obj
        assert hints.return_annotation is not inspect.Signature.empty, obj
