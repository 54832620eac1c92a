"""The Comparisons and Findings tables: one readable table per axis, one for the claims, with
estimates and their 95% intervals written as ``-3.2 [-5.1, -1.0]``; and the Findings legend,
from the one list of verdict words (landscape.study.claims.verdict_legend)."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from markupsafe import Markup

from landscape.analysis.comparisons import FAMILY_ALPHA
from landscape.analysis.matched import MIN_RUNS
from landscape.report.tables import Column, table_html
from landscape.study.claims import verdict_legend

NO_FAMILY = "— (too few runs)"  # a comparison outside the family-wise control


def number(value: float, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if np.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.{digits}f}".replace("-", "−")


def with_interval(frame: pd.DataFrame, key: str, low: str, high: str, digits: int) -> pd.Series:
    """ "estimate [low, high]" per row (vectorised over a few dozen rows at most)."""
    parts = zip(frame[key], frame[low], frame[high], strict=True)
    text = [f"{number(v, digits)} [{number(a, digits)}, {number(b, digits)}]" for v, a, b in parts]
    return pd.Series(text, index=frame.index, dtype=object)


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.assign(
        diff_text=with_interval(frame, "diff", "diff_low", "diff_high", 2),
        p_text=with_interval(frame, "p_better", "p_low", "p_high", 2),
    )
    if "p_holm" in frame:
        holm = frame["p_holm"].astype(float)
        yes = frame["significant"].astype(bool).map({True: "yes", False: "no"})
        out["significant_text"] = yes.where(holm.notna(), NO_FAMILY)
    if "or_equal" in frame:
        margin = frame["margin"].astype(float).map(lambda m: f"{m:g}")
        out["form"] = ("at least as good, margin " + margin).where(
            frame["or_equal"].astype(bool), "better"
        )
    return out


COMPARISON_TABLE = [
    Column("a", "a"),
    Column("b", "b"),
    Column("verdict", "verdict (this comparison alone)"),
    Column("diff_text", "FID a − b: median [95% interval]"),
    Column("p_text", "P(a better) [95% interval]"),
    Column("p", "p (bootstrap, two-sided)", "num"),
    Column("p_holm", "p, Holm-adjusted", "num"),
    Column("significant_text", f"significant at family-wise {FAMILY_ALPHA:g}"),
    Column("pairs", "matched settings", "int"),
    Column("seeds", "seeds per side", "num"),
    Column("runs_a", "runs a", "int"),
    Column("runs_b", "runs b", "int"),
]
FINDING_TABLE = [
    Column("id", "claim"),
    Column("claim", "what the paper says"),
    Column("source", "where (paper)"),
    Column("form", "claim form"),
    Column("verdict", "this study"),
    Column("diff_text", "FID better − than: median [95% interval]"),
    Column("p_text", "P(better wins) [95% interval]"),
    Column("pairs", "matched settings", "int"),
    Column("runs_better", "runs better", "int"),
    Column("runs_than", "runs than", "int"),
    Column("more", "to decide"),
]


def comparison_tables(comparisons: pd.DataFrame | None, name: str) -> list[dict[str, Markup]]:
    """One {axis, table} per compared axis, in the order the axes were compared."""
    if comparisons is None or comparisons.empty:
        return []
    frame = _readable(comparisons)
    return [
        {
            "axis": axis,
            "table": table_html(
                group, COMPARISON_TABLE, table_id=f"comparisons-{name}-{axis}", sortable=False
            ),
        }
        for axis, group in frame.groupby("axis", sort=False)
    ]


def findings_legend() -> Markup:
    """What each verdict means, per form of claim: the same words findings.csv writes."""
    items = []
    for form, meanings in verdict_legend(MIN_RUNS).items():
        said = "; ".join(
            f"<b>{html.escape(str(word))}</b>: {html.escape(text)}" for word, text in meanings
        )
        items.append(f"<li><i>{html.escape(form)}</i>: {said}.</li>")
    return Markup('<ul class="verdicts">' + "".join(items) + "</ul>")


def findings_table(findings: pd.DataFrame | None, name: str) -> Markup | None:
    if findings is None or findings.empty:
        return None
    return table_html(
        _readable(findings), FINDING_TABLE, table_id=f"findings-{name}", sortable=False
    )
