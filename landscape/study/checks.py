"""The checks every part of a study file shares: keys, numbers, names, ranges, typed values.

Each failure raises ``StudyError`` naming the file, the key, what was wrong and what is valid.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NoReturn

from landscape.registry import Registry
from landscape.study.load import StudyError


class Checker:
    def __init__(self, path: Path, raw: dict[str, Any]) -> None:
        self.path, self.raw = path, raw

    def fail(self, key: str, problem: str) -> NoReturn:
        raise StudyError(self.path, key, problem)

    def keys(self, where: str, mapping: Any, allowed: set[str]) -> dict[str, Any]:
        if mapping is None:
            return {}
        if not isinstance(mapping, dict):
            self.fail(where, "expected a mapping")
        for key in mapping:
            if key not in allowed:
                self.fail(
                    f"{where}.{key}" if where else key,
                    f"unknown key; valid keys: {', '.join(sorted(allowed))}",
                )
        return mapping

    def number(self, key: str, value: Any, kind: type, low: float | None = None) -> Any:
        if kind is float and isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as text
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            self.fail(
                key, f"expected {'a number' if kind is float else 'an integer'}, got {value!r}"
            )
        if low is not None and not value >= low:
            self.fail(key, f"must be >= {low}, got {value!r}")
        return kind(value)

    def name(self, key: str, registry: Registry, value: Any) -> str:
        if not isinstance(value, str) or value not in registry:
            self.fail(key, f"unknown {registry.kind} {value!r}; choose from: {', '.join(registry)}")
        return value

    def like(self, key: str, value: Any, default: Any) -> Any:
        """``value`` of the type of a keyword's ``default`` (an int or float for a number)."""
        if isinstance(default, bool):
            if not isinstance(value, bool):
                self.fail(key, f"expected true or false (default {default}), got {value!r}")
            return value
        if isinstance(default, (int, float)):
            kind = type(default)
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                self.fail(key, f"expected a number (default {default}), got {value!r}")
            if kind is int and not isinstance(value, int):
                self.fail(key, f"expected an integer (default {default}), got {value!r}")
            return self.number(key, value, kind)
        if isinstance(default, str) and not isinstance(value, str):
            self.fail(key, f"expected text (default {default!r}), got {value!r}")
        return value

    def range(self, key: str, value: Any) -> tuple[float, float, bool]:
        """``[low, high]`` or ``[low, high, log]``."""
        if not isinstance(value, list) or len(value) not in (2, 3):
            self.fail(key, f"expected [low, high] or [low, high, log], got {value!r}")
        low = self.number(f"{key}[0]", value[0], float)
        high = self.number(f"{key}[1]", value[1], float)
        log = len(value) == 3 and value[2] in ("log", True)
        if not low <= high or not (math.isfinite(low) and math.isfinite(high)):
            self.fail(key, f"low must not exceed high, got [{low}, {high}]")
        if log and low <= 0:
            self.fail(key, f"a log-scale range needs low > 0, got {low}")
        return (low, high, log)
