"""Load a user's own variants from a Python file, without editing the package.

A plugin is an ordinary Python file that imports ``landscape`` and registers entries::

    from landscape import LOSSES, LossPair

    @LOSSES.register("my_loss")
    def my_loss(real, fake): ...

Study files name plugins under ``plugins:``; ``landscape ... --plugin FILE`` does the same.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_LOADED: dict[Path, ModuleType] = {}


def load_plugin(path: str | Path) -> ModuleType:
    """Import the file at ``path`` once (later calls return the same module)."""
    file = Path(path).expanduser().resolve()
    if file in _LOADED:
        return _LOADED[file]
    if not file.is_file():
        raise FileNotFoundError(f"plugin file not found: {file}")
    if file.suffix != ".py":
        raise ValueError(f"plugin {file} is not a Python file (expected a .py file)")
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:8]
    name = f"landscape_plugin_{file.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    _LOADED[file] = module
    return module
