"""The type stub python/errseg/_errseg.pyi names exactly what the compiled module defines."""
import ast
import os

import errseg._errseg as module

STUB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "errseg", "_errseg.pyi")


def _stub_names():
    tree = ast.parse(open(STUB, encoding="utf-8").read())
    top, members = set(), {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top.add(node.name)
        if isinstance(node, ast.ClassDef):
            members[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    return top, members


def test_stub_matches_module():
    top, members = _stub_names()
    public = {n for n in dir(module) if not n.startswith("__")}
    assert top == public
    for cls, names in members.items():
        defined = {n for n in vars(getattr(module, cls)) if not n.startswith("_") or n in ("__len__", "__repr__")}
        names.discard("__init__")  # every nanobind class has one
        if cls == "Error":
            continue
        assert names == defined, cls
