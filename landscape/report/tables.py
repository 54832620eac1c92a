"""HTML tables from pandas frames, built column by column (10,000 rows render in well under a
second), and the CSV files the report writes beside report.html."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from landscape.analysis import (
    BUDGET_COLUMNS,
    COMPARISON_COLUMNS,
    FINDING_COLUMNS,
    TOP5_COLUMNS,
    VARIANT,
    Results,
    record_keys,
    top5_table,
)
from landscape.atomic import atomic_path
from landscape.metrics import record_columns

ANALYSIS_CSVS = ("top5", "budget", "comparisons", "findings")
ONE_SEED = "1 (one seed)"  # how a seed count of 1 is shown: its median is a single run


@dataclass(frozen=True)
class Column:
    """One table column: the frame column ``key``, its header and how to show it.

    kind: ``text``; ``fid`` (2 decimals, "—" when missing, "∞" when counted infinitely bad);
    ``num`` (4 significant digits); ``int``; ``seeds`` (an int, marked ONE_SEED when 1: the row
    rests on one run); ``pct`` (a rate as a percentage); ``run`` (a run_id linking to its
    folder); ``status`` (coloured by the row's class)."""

    key: str
    title: str
    kind: str = "text"


def _text(values: pd.Series, kind: str) -> pd.Series:
    textual = kind in ("text", "run", "status")
    numbers = None if textual else pd.to_numeric(values, errors="coerce")
    if kind == "fid":
        text = numbers.map(lambda v: "∞" if v == np.inf else f"{v:.2f}")
    elif kind == "num":
        text = numbers.map(lambda v: f"{v:.4g}")
    elif kind == "int":
        text = numbers.map(lambda v: f"{v:.0f}")
    elif kind == "seeds":
        text = numbers.map(lambda v: ONE_SEED if v == 1 else f"{v:.0f}")
    elif kind == "pct":
        text = numbers.map(lambda v: f"{100 * v:.0f}%")
    else:
        text = values.astype(object).where(values.notna(), "").astype(str).map(html.escape)
    if numbers is not None:
        text = text.where(numbers.notna(), "—")
    return text


def _sort_keys(values: pd.Series, kind: str) -> pd.Series | None:
    """data-v attributes: numbers sort numerically; missing and infinite values sort last."""
    if kind in ("text", "run", "status"):
        return None
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.map(repr).where(np.isfinite(numbers.to_numpy(float)), "")


def table_html(
    frame: pd.DataFrame,
    columns: Sequence[Column],
    *,
    table_id: str = "",
    sortable: bool = True,
    run_prefix: str = "runs/",
) -> Markup:
    """A ``<table>``; rows get ``class="status-<status>"`` when the frame has a status column."""
    columns = [c for c in columns if c.key in frame]
    cells = []
    for column in columns if len(frame) else ():  # an empty frame (mid-study): a header only
        text = _text(frame[column.key], column.kind)
        if column.kind == "run":
            text = '<a href="' + run_prefix + text + '/index.html">' + text + "</a>"
        keys = _sort_keys(frame[column.key], column.kind)
        opening = "<td>" if keys is None else '<td data-v="' + keys + '">'
        cells.append((opening + text + "</td>").to_numpy(dtype=object))
    if "status" in frame:
        status = frame["status"].astype(str).map(html.escape).to_numpy(dtype=object)
        starts = '<tr class="status-' + status + '">'
    else:
        starts = np.full(len(frame), "<tr>", dtype=object)
    rows = zip(starts, *cells, strict=True) if cells else ()
    body = "\n".join("".join(row) + "</tr>" for row in rows)
    head = "".join(f'<th scope="col">{html.escape(c.title)}</th>' for c in columns)
    attrs = (f' id="{html.escape(table_id)}"' if table_id else "") + (
        ' class="sortable"' if sortable else ""
    )
    return Markup(f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>")


def write_csvs(results: Results, board: pd.DataFrame, out: Path) -> dict[str, Path]:
    """runs.csv, evals.csv and leaderboard.csv in ``out``; returns name -> path. A registered
    metric that no evaluation recorded has no column in runs.csv."""
    paths = {name: out / f"{name}.csv" for name in ("runs", "evals", "leaderboard")}
    front = [
        "run_id",
        "status",
        *record_keys(results.runs),  # every recorded metric at the best-FID step
        "best_step",
        "steps_trained",
        "wall_time",
        *VARIANT,  # protocol, dataset, architecture, loss, penalty, normalization
        "seed",
        "origin",
        "setting",
    ]
    runs = results.runs
    left_out = {*front, *record_columns()}  # a metric recorded at no best step: no column
    runs = runs[[c for c in front if c in runs] + [c for c in runs if c not in left_out]]
    _atomic_csv(runs, paths["runs"])
    _atomic_csv(results.evals, paths["evals"])
    _atomic_csv(board, paths["leaderboard"])
    return paths


def write_analysis_csvs(analyses: Sequence, out: Path) -> dict[str, Path]:
    """top5.csv, budget.csv, comparisons.csv and findings.csv (docs/report.md) of the
    ProtocolAnalysis list ``analyses``, protocols together; returns name -> path."""
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in ANALYSIS_CSVS}
    for pa in analyses:
        parts["top5"] += [top5_table(top, column) for column, top in pa.top.items()]
        parts["budget"] += list(pa.budget.values())
        parts["comparisons"] += [pa.comparisons] if pa.comparisons is not None else []
        parts["findings"] += [pa.findings] if pa.findings is not None else []
    columns = {
        "top5": [*TOP5_COLUMNS, "n_units"],
        "budget": BUDGET_COLUMNS,
        "comparisons": COMPARISON_COLUMNS,
        "findings": FINDING_COLUMNS,
    }
    paths = {}
    for name, frames in parts.items():
        frames = [f for f in frames if not f.empty]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        paths[name] = out / f"{name}.csv"
        _atomic_csv(frame.reindex(columns=columns[name]), paths[name])
    return paths


def _atomic_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as temp:
        frame.to_csv(temp, index=False)
