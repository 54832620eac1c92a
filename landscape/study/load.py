"""Read a study file: YAML, ``base:`` inheritance, ``plugins:``. Validation is in ``spec``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from landscape.plugins import load_plugin


class StudyError(ValueError):
    """A bad study file. The message names the file, the key and what is valid."""

    def __init__(self, file: Path | str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}" if key else f"{file}: {problem}")


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise StudyError(path, "", "study file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise StudyError(path, "", f"not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise StudyError(
            path, "", "a study file is a YAML mapping of keys (name, dataset, grid, ...)"
        )
    return data


def merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` over ``base``: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve(path: Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The study at ``path`` with its ``base:`` files merged under it (paths made absolute)."""
    path = path.resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise StudyError(path, "base", f"inheritance cycle: {cycle}")
    data = read_yaml(path)
    plugins = data.get("plugins", [])
    if not isinstance(plugins, list):
        raise StudyError(path, "plugins", "expected a list of Python files")
    data["plugins"] = [str((path.parent / p).resolve()) for p in plugins]
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise StudyError(path, "base", "expected the path of another study file")
    if not (path.parent / base).is_file():
        raise StudyError(path, "base", f"file not found: {(path.parent / base).resolve()}")
    parent = resolve(path.parent / base, (*_chain, path))
    merged = merge(parent, data)
    merged["plugins"] = list(dict.fromkeys(parent.get("plugins", []) + data["plugins"]))
    if "name" not in data:  # a child study is its own study: its name is its file's
        merged.pop("name", None)
    return merged


def load_plugins(path: Path, plugins: list[str]) -> None:
    for index, plugin in enumerate(plugins):
        try:
            load_plugin(plugin)
        except FileNotFoundError:
            raise StudyError(path, f"plugins[{index}]", f"file not found: {plugin}") from None
