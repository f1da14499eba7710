"""The type stubs of the compiled modules match them; the package ships its typing markers."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
from importlib import resources

import pytest

import gdcore

MODULES = ["_pass_linear", "_pass_mlp", "_loop", "_util", "_floor"]
SRC = os.path.join(os.path.dirname(__file__), os.pardir, "src")


def stub(module):
    tree = ast.parse(resources.files("gdcore").joinpath(f"{module}.pyi").read_text())
    funcs = {n.name: [a.arg for a in n.args.args] for n in tree.body
             if isinstance(n, ast.FunctionDef)}
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    return funcs, classes


def test_typed_marker_is_installed():
    assert resources.files("gdcore").joinpath("py.typed").is_file()


@pytest.mark.parametrize("module", MODULES)
def test_stub_names_every_public_function_and_class(module):
    compiled = importlib.import_module(f"gdcore.{module}")
    funcs, classes = stub(module)
    public = {name for name, obj in vars(compiled).items()
              if not name.startswith("_") and callable(obj) and not inspect.ismodule(obj)
              and getattr(obj, "__module__", f"gdcore.{module}") == f"gdcore.{module}"}
    public.discard("np")
    assert set(funcs) | classes == public


@pytest.mark.parametrize("module", MODULES)
def test_stub_arguments_match_the_cython_source(module):
    path = os.path.join(SRC, f"{module}.pyx")
    if not os.path.exists(path):  # an sdist or checkout is needed for the source
        pytest.skip(f"src/{module}.pyx not available")
    source = open(path).read()
    funcs, _ = stub(module)
    for match in re.finditer(r"^def (\w+)\((.*?)\):", source, re.S | re.M):
        name, args = match.group(1), re.sub(r"\[.*?\]", "", match.group(2))  # [:, ::1]
        if name.startswith("_"):
            continue
        names = [a.split("=")[0].split()[-1] for a in args.replace("\n", " ").split(",")
                 if a.strip() and a.strip() != "*"]
        assert funcs[name] == names, name


def test_compiled_and_python_agree_on_the_names_they_share():
    from gdcore import _loop, optim
    assert set(_loop.OPTIMIZERS) == {o.kind for o in (optim.SGD(), optim.Adam(), optim.RMSprop(),
                                                       optim.Adagrad(), optim.Accelerated())}
    assert set(_loop.SCHEDULES) == {s().kind for s in optim.SCHEDULES.values()}
    assert set(_loop.STATUS.values()) == {"converged", "max_epochs", "diverged", "stalled"}


def test_public_api_is_annotated():
    for obj in (gdcore.Trainer.__init__, gdcore.Trainer.fit, gdcore.LinearModel.__init__,
                gdcore.LinearModel.predict, gdcore.Model.save, gdcore.load):
        hints = inspect.signature(obj)
        assert all(p.annotation is not inspect.Parameter.empty
                   for n, p in hints.parameters.items() if n != "self"), obj
        assert hints.return_annotation is not inspect.Signature.empty, obj
