"""Load a user's own variants from a Python file, without editing the package.

A plugin is an ordinary Python file that imports ``landscape`` and registers entries::

    from landscape import LOSSES, LossPair

    @LOSSES.register("my_loss")
    def my_loss(real, fake): ...

Study files name plugins under ``plugins:``; ``landscape ... --plugin FILE`` does the same.
``load_plugin`` raises whatever the file raised (for use from Python); ``load_plugin_for`` turns
that into a ``PluginError`` whose message says which line failed and how to fix it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

from landscape.errors import UserError

_LOADED: dict[Path, ModuleType] = {}


class PluginError(UserError):
    """A plugin file that cannot be imported: the message names the file, line and cause."""


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
    except BaseException:
        del sys.modules[name]
        raise
    _LOADED[file] = module
    return module


def load_plugin_for(path: str | Path, where: str) -> ModuleType:
    """``load_plugin``, with any failure reported as a ``PluginError`` that starts with
    ``where`` (the flag or study key that named the plugin)."""
    try:
        return load_plugin(path)
    except Exception as error:
        file = Path(path).expanduser().resolve()
        raise PluginError(f"{where}: {explain(file, error)}") from error


def load_recorded(folders: Iterable[Path], say: Callable[[str], None]) -> None:
    """Load the plugins the runs in ``folders`` were trained with and that are not loaded now
    (each run's code.json names the file of every variant it used), so that `landscape
    evaluate` and `landscape sample` rebuild a plugin's generator without ``--plugin``. A file
    that is gone is said (with the way out), not an error: a run may not need it (a metric)."""
    from landscape.train.fingerprint import missing_plugins

    for file, variants in missing_plugins(folders).items():
        gave = ", ".join(variants)
        if Path(file).is_file():
            load_plugin_for(file, f"plugin {file} (the runs' code.json: it gave {gave})")
            say(f"loaded plugin {file}: the runs were trained with its {gave}")
        else:
            say(
                f"note: the runs were trained with {gave} from plugin {file}, which is gone; "
                f"give --plugin FILE (where it is now) if they are needed"
            )


def explain(file: Path, error: Exception) -> str:
    """What went wrong importing plugin ``file``, and what would fix it, in one paragraph."""
    if isinstance(error, FileNotFoundError) and not file.is_file():
        return (
            f"plugin file not found: {file}; give the path of a .py file (relative to the "
            f"current folder for --plugin, to the study file's folder under plugins:)"
        )
    if file.suffix != ".py":
        return f"plugin {file} is not a Python file; give a .py file that registers variants"
    if isinstance(error, SyntaxError) and Path(error.filename or "") == file:
        code = f" ({error.text.strip()})" if error.text and error.text.strip() else ""
        return (
            f"plugin {file}, line {error.lineno}: Python cannot read it: {error.msg}{code}. "
            f"Fix that line; `python {file}` shows Python's own report"
        )
    line = _line_in(file, error)
    at = f", line {line}" if line else ""
    if isinstance(error, ModuleNotFoundError) and error.name:
        top = error.name.split(".")[0]
        where = (
            "which this version of landscape does not have; see `landscape.__all__` for what "
            "a plugin can import"
            if top == "landscape"
            else f"which is not installed in this Python environment ({sys.executable}); "
            f"install it there (e.g. `{sys.executable} -m pip install {top}`) or remove the import"
        )
        return f"plugin {file}{at} imports {error.name!r}, {where}"
    return (
        f"plugin {file}{at} failed while loading: {type(error).__name__}: {error}. A plugin "
        f"file should only define and register variants; fix it (landscape --debug shows the "
        f"traceback)"
    )


def _line_in(file: Path, error: BaseException) -> int | None:
    """The last line of ``file`` the traceback of ``error`` passed through."""
    frames = traceback.extract_tb(error.__traceback__)
    lines = [f.lineno for f in frames if Path(f.filename) == file]
    return lines[-1] if lines else None
