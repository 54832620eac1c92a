"""Everything the report shows for one evaluation protocol, computed (not yet drawn).

Runs of different protocols are never mixed: each protocol gets its own ProtocolAnalysis,
and the report shows one block per protocol in every section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landscape.analysis import (
    AXES,
    DRAWS,
    Results,
    axis_comparisons,
    budget_curves,
    check_claims,
    finished,
    leaderboard,
    load_claims,
    seed_curves,
    top_settings,
    variant_summary,
)
from landscape.analysis.curves import loss_curves
from landscape.analysis.leaderboard import MIN_SEEDS
from landscape.analysis.matched import RESAMPLES
from landscape.analysis.schedule import schedule_table
from landscape.metrics import read_floor
from landscape.records import RunFiles, run_dir
from landscape.study.claims import Claim

MAX_CURVES = 6  # training curves of the best settings of this many variants
MAX_SAMPLES = 12  # sample grids of the best runs of this many variants


@dataclass
class ProtocolAnalysis:
    name: str
    info: dict[str, Any]
    runs: pd.DataFrame  # this protocol's runs, with a ``variant`` label column
    board: pd.DataFrame  # leaderboard (one row per setting), with ``variant``
    summary: pd.DataFrame  # one row per variant
    compared: list[str]  # the columns compared in figures: varying axes, then "variant"
    varying: list[str]  # the variant columns that take more than one value here
    top: dict[str, pd.DataFrame] = field(default_factory=dict)  # top_settings per column
    budget: dict[str, pd.DataFrame] = field(default_factory=dict)
    comparisons: pd.DataFrame | None = None  # axis_comparisons of the varying axes
    findings: pd.DataFrame | None = None  # check_claims of the study's claims
    curves: pd.DataFrame | None = None
    curve_labels: dict[str, str] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    floor: dict[str, Any] | None = None  # the protocol's real-data floor (metrics.read_floor)
    min_seeds: int = MIN_SEEDS  # the leaderboard ranks settings with this many seeds first
    schedule: pd.DataFrame | None = None  # run scores under fewer evaluations (schedule.py)
    losses: pd.DataFrame | None = None  # loss_curves of the settings in curve_labels


def analyse(
    results: Results,
    *,
    draws: int = DRAWS,
    seed: int = 0,
    resamples: int = RESAMPLES,
    cache_dir: str | Path | None = None,
    min_seeds: int = MIN_SEEDS,
) -> list[ProtocolAnalysis]:
    """One ProtocolAnalysis per protocol name found, in name order. The study's claims are
    read from the study file copied beside the results (analysis/findings.py); each protocol's
    real-data floor from the cache (``cache_dir``, default $LANDSCAPE_CACHE). ``min_seeds``:
    the leaderboard's option (analysis/leaderboard.py)."""
    claims = load_claims(results.root, results.runs, results.problems)
    out = []
    for name in results.protocol_names():
        pa = analyse_protocol(
            results,
            name,
            draws=draws,
            seed=seed,
            resamples=resamples,
            claims=claims,
            min_seeds=min_seeds,
        )
        pa.floor = read_floor(name, cache_dir)
        out.append(pa)
    return out


def analyse_protocol(
    results: Results,
    name: str,
    *,
    draws: int = DRAWS,
    seed: int = 0,
    resamples: int = RESAMPLES,
    claims: tuple[Claim, ...] = (),
    min_seeds: int = MIN_SEEDS,
) -> ProtocolAnalysis:
    runs = results.runs[results.runs["protocol"] == name].copy()
    axes = (["dataset"] if "dataset" in runs else []) + [a for a in AXES if a in runs]
    varying = [a for a in axes if runs[a].nunique(dropna=False) > 1]
    runs["variant"] = variant_label(runs, varying or [a for a in AXES if a in runs])
    board = leaderboard(runs, results.hyper_columns, min_seeds=min_seeds)
    board["variant"] = variant_label(board, varying or [a for a in AXES if a in board])
    summary = variant_summary(runs, board)
    summary["variant"] = variant_label(summary, varying or [a for a in AXES if a in summary])
    compared = varying + (["variant"] if len(varying) != 1 else [])
    pa = ProtocolAnalysis(
        name, results.protocols.get(name, {"name": name}), runs, board, summary, compared, varying
    )
    pa.min_seeds = min_seeds
    if board.empty:
        return pa
    for column in compared:
        pa.top[column] = top_settings(board, column)
        pa.budget[column] = budget_curves(board, column, draws=draws, seed=seed, runs=runs)
    pa.comparisons = axis_comparisons(runs, [a for a in varying if a in AXES], resamples=resamples)
    pa.findings = check_claims(runs, claims, resamples=resamples)
    best = board[board["best"]].sort_values(["fid_median", "fid_q75"]).head(MAX_CURVES)
    pa.curve_labels = dict(zip(best["setting"], best["variant"], strict=True))
    pa.curves = seed_curves(runs, results.evals, list(pa.curve_labels))
    pa.losses = loss_curves(results.root, runs, list(pa.curve_labels))
    pa.samples = best_samples(runs, results.root)
    pa.schedule = schedule_table(runs, results.evals)
    return pa


def variant_label(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """ "ns · gp · sn": the values of ``columns`` joined (vectorised)."""
    if frame.empty or not columns:
        return pd.Series("all runs", index=frame.index, dtype=object)
    parts = [frame[c].astype(str) for c in columns]
    return parts[0].str.cat(parts[1:], sep=" · ") if len(parts) > 1 else parts[0]


def best_samples(runs: pd.DataFrame, root: Path) -> list[dict[str, Any]]:
    """The best run of each variant (best variants first) and its sample grid at the best
    step, or its latest grid when that one is missing."""
    done = finished(runs)
    if done.empty:
        return []
    done["_fid"] = done["fid"].fillna(np.inf)
    best = done.sort_values(["effective", "_fid", "run_id"]).drop_duplicates("variant")
    cards = []
    for row in best.head(MAX_SAMPLES).itertuples(index=False):
        folder = run_dir(root, str(row.run_id)) / RunFiles.SAMPLES
        image = None
        if np.isfinite(row.best_step):
            wanted = folder / f"step_{int(row.best_step):07d}.png"
            image = wanted if wanted.is_file() else None
        if image is None and folder.is_dir():
            image = max(folder.glob("step_*.png"), default=None)
        cards.append(
            {
                "variant": row.variant,
                "run_id": row.run_id,
                "fid": row.fid,
                "status": row.status,
                "best_step": row.best_step,
                "image": image,
            }
        )
    return cards
