"""Studies, the language: a study file is read, validated into a ``StudySpec`` and planned into
a grid of runs plus search cells; ``claims`` holds the findings a study file states. How the
runs are queued and trained is ``landscape.execution``; what they will cost is
``landscape.cost``.

The names below load on first use, so that the report (which reads ``study.claims``) never
imports torch through the planner.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "StudyError": "landscape.study.load",
    "StudySpec": "landscape.study.spec",
    "load_study": "landscape.study.spec",
    "expected_runs": "landscape.study.plan",
    "grid_runs": "landscape.study.plan",
    "search_cells": "landscape.study.plan",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'landscape.study' has no attribute {name!r}")
