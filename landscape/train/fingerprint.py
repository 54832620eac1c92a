"""What code a run was trained with: a fingerprint of every variant it uses.

A variant's fingerprint is a hash of its behaviour-bearing source, not of its file:

- the source of the registered function or class, parsed with ``ast`` and dumped without
  comments, docstrings, formatting, type annotations and decorators (so a comment, a reworded
  docstring or ``ruff format`` is not a change, and neither is the registration line);
- the same, recursively, for every function, class and module-level constant it names that is
  defined in the ``landscape`` package or in the variant's own file (a plugin's helpers), so a
  fix in a helper it calls is a change;
- or, where the entry declares ``fingerprint_version`` (``fn.fingerprint_version = 2``), that
  number alone: its author then decides what counts as a change.

Library versions (Python, torch, numpy) are recorded beside it but are not part of it: an
upgrade of PyTorch would otherwise retrain every study. docs/results-layout.md says why.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import json
import platform
import sys
import textwrap
import types
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from landscape.data import DATASETS
from landscape.metrics import METRICS
from landscape.records import RunFiles
from landscape.train.spec import RunSpec
from landscape.variants import ARCHITECTURES, LOSSES, NORMALIZATIONS, PENALTIES

# The axes a run's fingerprint covers, each with its registry and the RunSpec field naming it.
VARIANT_AXES = {
    "loss": LOSSES,
    "penalty": PENALTIES,
    "normalization": NORMALIZATIONS,
    "architecture": ARCHITECTURES,
    "dataset": DATASETS,
}
CONSTANTS = (int, float, str, bool, bytes, tuple, frozenset, type(None))


def run_code(spec: RunSpec) -> dict[str, Any]:
    """The code record of ``spec``: ``variants`` maps ``axis:name`` (``loss:ns``,
    ``metric:fid``) to its fingerprint and ``files`` to where it is defined; ``code`` is one
    digest of them all; ``libraries`` is recorded, never compared."""
    entries = {
        f"{axis}:{getattr(spec, axis)}": reg[getattr(spec, axis)]
        for axis, reg in VARIANT_AXES.items()
    }
    entries.update({f"metric:{name}": METRICS[name].fn for name in METRICS})
    variants = {key: fingerprint(entry) for key, entry in entries.items()}
    return {
        "code": digest(variants),
        "variants": variants,
        "files": {key: _file_of(entry) for key, entry in entries.items()},
        "libraries": libraries(),
    }


def missing_plugins(folders: Iterable[Path]) -> dict[str, list[str]]:
    """The plugin files the runs in ``folders`` were trained with whose variants are not
    registered now: file -> the variants it gave them (``loss:my_loss``), read from each run's
    ``code.json`` (``files``, written by ``run_code``). A file inside the package is no plugin;
    a run without a code record (older than them) names none."""
    package = Path(__file__).resolve().parents[1]
    registries = {**VARIANT_AXES, "metric": METRICS}
    need: dict[str, set[str]] = {}
    for folder in folders:
        try:
            record = json.loads((Path(folder) / RunFiles.CODE).read_text())
        except (OSError, ValueError):
            continue
        for key, file in (record.get("files") or {}).items():
            axis, _, name = key.partition(":")
            if axis not in registries or name in registries[axis]:
                continue  # loaded now: no path to resolve (file-system calls, ~12 per run)
            if file != "?" and package not in Path(file).resolve().parents:
                need.setdefault(file, set()).add(key)
    return {file: sorted(keys) for file, keys in sorted(need.items())}


def digest(variants: dict[str, str]) -> str:
    """One short digest of a set of variant fingerprints (the training variants only: a metric
    added later does not change a run's training code)."""
    trained = {k: v for k, v in variants.items() if not k.startswith("metric:")}
    blob = json.dumps(trained, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def fingerprint(entry: Any) -> str:
    """The fingerprint of a registered variant (see the module's docstring)."""
    version = getattr(entry, "fingerprint_version", None)
    if version is not None:
        return f"v{version}"
    return _fingerprint(inspect.unwrap(entry))


@cache
def _fingerprint(entry: Any) -> str:
    parts: dict[str, str] = {}
    _collect(entry, _home(entry), parts)
    blob = json.dumps(parts, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def _collect(obj: Any, home: str | None, parts: dict[str, str]) -> None:
    """Add ``obj``'s normalised source, and that of what it names in scope, to ``parts``."""
    module, name = getattr(obj, "__module__", "?"), getattr(obj, "__qualname__", repr(obj))
    key = name if module == home else f"{module}.{name}"  # a plugin may move or be renamed
    if key in parts:
        return
    tree = _tree(obj)
    if tree is None:
        parts[key] = f"no source: {key}"
        return
    parts[key] = ast.dump(tree, include_attributes=False)
    scope = _globals(obj)
    nodes = sorted(ast.walk(tree), key=lambda n: not isinstance(n, ast.ImportFrom))
    for node in nodes:  # imports first: they add to the scope
        found = _resolve(node, scope)
        if found is _MISSING:
            continue
        name = _name(node)
        if isinstance(found, CONSTANTS):
            parts[f"{key}:{name}"] = repr(found)
        elif _in_scope(found, home):
            _collect(inspect.unwrap(found) if callable(found) else found, home, parts)


_MISSING = object()


def _resolve(node: ast.AST, scope: dict[str, Any]) -> Any:
    """What a name (``x``) or a module attribute (``layers.conv``) in the source refers to;
    names imported inside a function (``from landscape.x import y``) are followed too."""
    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("landscape"):
        module = importlib.import_module(node.module)
        for alias in node.names:
            scope.setdefault(alias.asname or alias.name, getattr(module, alias.name, None))
        return _MISSING
    if isinstance(node, ast.Name):
        return scope.get(node.id, _MISSING)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        module = scope.get(node.value.id)
        if isinstance(module, types.ModuleType):
            return getattr(module, node.attr, _MISSING)
    return _MISSING


def _name(node: ast.AST) -> str:
    return node.id if isinstance(node, ast.Name) else f"{node.value.id}.{node.attr}"  # type: ignore[attr-defined]


def _in_scope(obj: Any, home: str | None) -> bool:
    """Functions and classes of the package, or of the variant's own (plugin) file."""
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return False
    module = getattr(obj, "__module__", "") or ""
    return module == "landscape" or module.startswith("landscape.") or module == home


def _home(entry: Any) -> str | None:
    return getattr(entry, "__module__", None)


def _globals(obj: Any) -> dict[str, Any]:
    if inspect.isfunction(obj):
        scope = dict(obj.__globals__)
        scope.update(inspect.getclosurevars(obj).nonlocals)
        return scope
    module = sys.modules.get(getattr(obj, "__module__", ""))
    return dict(vars(module)) if module else {}


def _tree(obj: Any) -> ast.AST | None:
    try:
        source = textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        return None
    return _Normalise().visit(ast.parse(source))


class _Normalise(ast.NodeTransformer):
    """Drops what does not change behaviour: docstrings, annotations, decorators."""

    def _body(self, node):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            if isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
        return node

    def visit_FunctionDef(self, node):
        node.decorator_list, node.returns = [], None
        self.generic_visit(node)
        return self._body(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        node.decorator_list = []
        self.generic_visit(node)
        return self._body(node)

    def visit_arg(self, node):
        node.annotation = None
        return node

    def visit_AnnAssign(self, node):
        node.annotation = ast.Constant(None)
        self.generic_visit(node)
        return node


def _file_of(entry: Any) -> str:
    try:
        return inspect.getsourcefile(inspect.unwrap(entry)) or "?"
    except TypeError:
        return "?"


def libraries() -> dict[str, str]:
    """The versions of what the variants run on: recorded, not compared."""
    import numpy
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }
