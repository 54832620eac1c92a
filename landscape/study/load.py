"""Read a study file: YAML (a key written twice is an error), ``base:`` inheritance,
``plugins:``. Validation is in ``validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from landscape.errors import UserError
from landscape.plugins import explain, load_plugin

MERGE_TAG = "tag:yaml.org,2002:merge"  # ``<<: *anchor``: keys it brings may be overridden


class StudyError(UserError, ValueError):
    """A bad study file. The message names the file, the key and what is valid."""

    def __init__(self, file: Path | str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}" if key else f"{file}: {problem}")


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise StudyError(path, "", "study file not found")
    loader = yaml.SafeLoader(path.read_text())
    try:
        node = loader.get_single_node()
        if node is not None:
            duplicate_keys(path, node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        raise StudyError(path, "", f"not valid YAML: {error}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise StudyError(
            path, "", "a study file is a YAML mapping of keys (name, dataset, grid, ...)"
        )
    return data


def duplicate_keys(path: Path, node: yaml.Node, where: str = "", seen=None) -> None:
    """A key written twice in one mapping is an error: YAML would silently keep the last."""
    seen = set() if seen is None else seen
    if id(node) in seen:  # an alias of a node already checked
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == MERGE_TAG or not isinstance(key, yaml.ScalarNode):
                duplicate_keys(path, value, where, seen)
                continue
            name = f"{where}.{key.value}" if where else str(key.value)
            line = key.start_mark.line + 1
            if key.value in lines:
                raise StudyError(
                    path,
                    name,
                    f"written twice (lines {lines[key.value]} and {line}); YAML would keep only "
                    f"the second silently. Keep one (to list several values, give a list: "
                    f"`{key.value}: [a, b]`)",
                )
            lines[key.value] = line
            duplicate_keys(path, value, name, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            duplicate_keys(path, item, f"{where}[{i}]", seen)


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
        if not Path(plugin).is_file():
            raise StudyError(
                path,
                f"plugins[{index}]",
                f"file not found: {plugin}; paths are relative to the study file's folder",
            )
        try:
            load_plugin(plugin)
        except Exception as error:
            problem = explain(Path(plugin), error)
            raise StudyError(path, f"plugins[{index}]", problem) from error
