"""The report's figures, drawn with matplotlib's object API (no pyplot state) into PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from landscape.analysis import RANK
from landscape.metrics import METRICS
from landscape.report.floors import LABEL as FLOOR_LABEL

DPI = 100
MAX_BOXES = 20  # more boxes than this are unreadable: the best ones are drawn
MAX_LINES = 8


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def floor_line(ax, floor: float | None) -> None:
    """The real-data floor (an FID) as a dashed horizontal line, labelled at its right end."""
    if floor is None:
        return
    ax.axhline(floor, c="k", ls="--", lw=1, label="_" + FLOOR_LABEL)
    ax.text(
        0.995,
        floor,
        f"{FLOOR_LABEL} {floor:.2f}",
        transform=ax.get_yaxis_transform(),
        ha="right",
        va="bottom",
        fontsize=7,
    )


def top5_figure(top: pd.DataFrame, column: str, title: str, floor: float | None = None) -> bytes:
    """Box plots of the top-5% settings' FID (seed medians; top_settings), one box per value of
    ``column``, best median first. Settings in the selection at +inf (most seeds failed or
    without a finite FID) are counted under their box. ``floor``: the real-data floor's FID."""
    groups = {v: g["fid"].to_numpy(float) for v, g in top.groupby(column, sort=False)}
    order = sorted(groups, key=lambda v: (_median(groups[v]), str(v)))[:MAX_BOXES]
    fig = Figure(figsize=(max(4.0, 0.9 * len(order) + 1.5), 3.6), layout="constrained")
    ax = fig.subplots()
    finite = [groups[v][np.isfinite(groups[v])] for v in order]
    ax.boxplot([f if f.size else [np.nan] for f in finite], widths=0.6, showfliers=False)
    rng = np.random.default_rng(0)
    for i, values in enumerate(finite, 1):
        ax.plot(i + rng.uniform(-0.15, 0.15, values.size), values, "o", ms=3, alpha=0.6, c="C0")
    labels = []
    for v in order:
        bad = int(np.sum(~np.isfinite(groups[v])))
        of = int(top.loc[top[column] == v, "n_units"].iloc[0]) if "n_units" in top else 0
        count = f"{groups[v].size} of {of}" if of else f"n={groups[v].size}"
        labels.append(f"{v}\n{count}" + (f", {bad} at ∞" if bad else ""))
    ax.set_xticks(
        range(1, len(order) + 1),
        labels,
        rotation=30 if len(order) > 6 else 0,
        ha="right" if len(order) > 6 else "center",
        fontsize=8,
    )
    shown = "" if len(groups) <= MAX_BOXES else f" (best {MAX_BOXES} of {len(groups)})"
    ax.set_title(title + shown, fontsize=10)
    ax.set_ylabel("seed-median FID, best 5% of settings\n(lower is better)", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    floor_line(ax, floor)
    return png(fig)


# the budget curves' x axes: settings trained, or compute spent (analysis/budget.py COMPUTE)
BUDGET_AXES = {
    "k": ("settings trained, k (grid first, then search; dotted: search starts)", 1.0),
    "device_hours": ("device-hours spent (pruned trials included; dotted: search starts)", 1.0),
    "flops": ("PFLOPs spent (pruned trials included; dotted: search starts)", 1e-15),
    "d_steps": ("D steps trained (pruned trials included; dotted: search starts)", 1.0),
}


def budget_figure(
    curves: pd.DataFrame, title: str, floor: float | None = None, x: str = "k"
) -> bytes:
    """Expected best FID after k settings (or against the compute spent: ``x`` one of
    BUDGET_AXES), one line (mean over draws) and band (quartiles) per value; a dotted line
    marks where the fixed grid ends and search proposals begin, a dashed one the real-data
    floor's FID (``floor``)."""
    finals = curves.groupby("value", sort=False)["mean"].last().sort_values()
    shown = list(finals.index[:MAX_LINES])
    label_x, scale = BUDGET_AXES[x]
    fig = Figure(figsize=(8.4, 3.8), layout="constrained")
    ax = fig.subplots()
    for i, value in enumerate(shown):
        c = curves[curves["value"] == value]
        at = c[x].astype(float) * scale
        colour = f"C{i % 10}"
        mean = c["mean"].replace(np.inf, np.nan)
        infinite = c["k"][~np.isfinite(c["mean"])]
        label = str(value) + (f" (mean ∞ for k ≤ {infinite.max()})" if len(infinite) else "")
        n_pruned = int(c["n_pruned"].iloc[0]) if "n_pruned" in c else 0
        label += f", {n_pruned} pruned" if n_pruned and x != "k" else ""
        ax.plot(at, mean, c=colour, label=label, lw=1.6, drawstyle="steps-post")
        low, high = c["low"].replace(np.inf, np.nan), c["high"].replace(np.inf, np.nan)
        ax.fill_between(at, low, high, color=colour, alpha=0.15, lw=0, step="post")
        n_grid = int(c["n_grid"].iloc[0])
        if 0 < n_grid < len(c):
            grid_end = (at.iloc[n_grid - 1] + at.iloc[n_grid]) / 2 if x != "k" else n_grid + 0.5
            ax.axvline(grid_end, c=colour, ls=":", lw=1)
    more = "" if len(finals) <= MAX_LINES else f" (best {MAX_LINES} of {len(finals)})"
    ax.set_title(title + more, fontsize=10)
    ax.set_xlabel(label_x)
    if x == "k":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("expected best FID")
    ax.grid(alpha=0.3)
    floor_line(ax, floor)
    fig.legend(fontsize=8, loc="outside right upper")
    return png(fig)


def compute_axis(curves: pd.DataFrame) -> str | None:
    """The compute axis a budget figure can use: FLOPs when every row has them, else
    device-hours, else D steps; None when the curves carry no compute (older results)."""
    for x in ("flops", "device_hours", "d_steps"):
        if x in curves and len(curves) and np.isfinite(curves[x].astype(float)).all():
            return x
    return None


def curves_figure(
    curves: pd.DataFrame, labels: Mapping[str, str], title: str, floor: float | None = None
) -> bytes:
    """FID and IS against the training step for the given settings: median over seeds, with
    the range over seeds as a band; the FID panel draws the real-data floor (``floor``)."""
    panels = [(RANK, "FID (log scale)")]
    if "is" in METRICS:  # the Inception score, as registered
        panels.append((METRICS["is"].columns[0], "Inception score"))
    panels = [p for p in panels if f"{p[0]}_median" in curves]
    fig = Figure(figsize=(12.5, 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (metric, name) in zip(axes, panels, strict=True):
        _median_bands(ax, curves, labels, metric, name, lw=1.5)
        if metric == RANK:
            floor_line(ax, floor)
        if metric == RANK and (curves[f"{RANK}_median"] > 0).any():
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(_log_label))
            ax.yaxis.set_minor_formatter(FuncFormatter(_log_label))
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=8, loc="outside right upper")
    fig.suptitle(title, fontsize=10)
    return png(fig)


def _median_bands(
    ax, curves: pd.DataFrame, labels: Mapping[str, str], column: str, name: str, lw: float
) -> None:
    """One panel of ``column`` against the training step, a line per setting: the median over
    seeds (``<column>_median``) with the range over seeds (``_min`` .. ``_max``) as a band."""
    for i, (setting, label) in enumerate(labels.items()):
        c = curves[curves["setting"] == setting]
        colour = f"C{i % 10}"
        ax.plot(c["step"], c[f"{column}_median"], c=colour, label=label, lw=lw)
        ax.fill_between(
            c["step"], c[f"{column}_min"], c[f"{column}_max"], color=colour, alpha=0.15, lw=0
        )
    ax.set_xlabel("discriminator step")
    ax.set_ylabel(name)
    ax.grid(alpha=0.3)


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else np.inf


def _log_label(value: float, _position: int) -> str:
    """Plain numbers on a log axis, only at 1, 2, 3 and 5 times a power of ten."""
    if value <= 0:
        return ""
    mantissa = round(value / 10 ** np.floor(np.log10(value)), 6)
    return f"{value:g}" if mantissa in (1, 2, 3, 5) else ""


def forest_figure(comparisons: pd.DataFrame, title: str) -> bytes:
    """Two panels, one row per comparison: the median FID difference (a - b) and P(a better),
    each with its 95% interval; red where the verdict names a winner (P's interval clear of
    1/2). An infinite end of a difference is drawn at the edge, marked ∞."""
    rows = comparisons.iloc[::-1].reset_index(drop=True)
    values = rows[["diff", "diff_low", "diff_high"]].to_numpy(float)
    finite = values[np.isfinite(values)]
    edge = max(float(np.abs(finite).max()) * 1.15, 1.0) if finite.size else 1.0
    shown = np.clip(np.nan_to_num(values, nan=0.0, posinf=edge, neginf=-edge), -edge, edge)
    fig = Figure(figsize=(10.5, 0.32 * len(rows) + 1.4), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=(3, 2))
    y = np.arange(len(rows))
    colour = np.where(rows["verdict"].eq("no clear difference").to_numpy(), "C7", "C3")
    p = rows[["p_better", "p_low", "p_high"]].to_numpy(float)
    for ax, v in ((left, shown), (right, p)):
        ax.hlines(y, v[:, 1], v[:, 2], colors=colour, lw=2)
        ax.scatter(v[:, 0], y, c=colour, zorder=3, s=18)
        ax.grid(axis="x", alpha=0.3)
    for i, (low, high) in enumerate(values[:, 1:]):
        for end, sign in ((low, -1), (high, 1)):
            if np.isinf(end):
                left.annotate("∞" if end > 0 else "−∞", (sign * edge, i), fontsize=8, va="center")
    left.axvline(0, c="k", lw=0.8)
    right.axvline(0.5, c="k", lw=0.8)
    left.set_yticks(y, rows["axis"] + ": " + rows["a"] + " vs " + rows["b"], fontsize=8)
    left.set_xlim(-edge * 1.08, edge * 1.08)
    right.set_xlim(0, 1)
    left.set_xlabel("FID a − b: median over matched settings (< 0: a better)", fontsize=8)
    right.set_xlabel("P(a better) (> ½: a better; decides the verdict)", fontsize=8)
    fig.suptitle(title + " (95% intervals)", fontsize=10)
    return png(fig)


def loss_figure(curves: pd.DataFrame, labels: Mapping[str, str], title: str) -> bytes:
    """D's and G's loss against the training step for the given settings (train.jsonl): median
    over seeds, with the range over seeds as a band; beside the FID curves of the same runs."""
    panels = [("loss_d", "D loss"), ("loss_g", "G loss")]
    fig = Figure(figsize=(12.5, 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (column, name) in zip(axes, panels, strict=True):
        _median_bands(ax, curves, labels, column, name, lw=1.2)
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=8, loc="outside right upper")
    fig.suptitle(title, fontsize=10)
    return png(fig)
