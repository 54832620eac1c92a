"""Turn one ProtocolAnalysis into what the template shows: figures (written to figures/ and
embedded as base64), tables (HTML) and the protocol header."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landscape.analysis import RANK, header, median_column, recorded_scores
from landscape.records import Status
from landscape.report.analyse import ProtocolAnalysis
from landscape.report.comparisons import comparison_tables, findings_table
from landscape.report.figures import (
    budget_figure,
    compute_axis,
    curves_figure,
    forest_figure,
    loss_figure,
    top5_figure,
)
from landscape.report.floors import floor_fid, floor_text
from landscape.report.tables import Column, table_html

SETTINGS_PER_VARIANT = 10  # the leaderboard's settings table shows this many per variant
STAT_COLUMNS = [
    Column("n_seeds", "seeds", "seeds"),
    Column("fid_median", "median FID", "fid"),
    Column("fid_q25", "Q1", "fid"),
    Column("fid_q75", "Q3", "fid"),
]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "protocol"


def figure(fig_dir: Path, name: str, data: bytes, title: str) -> dict[str, str]:
    """Write ``data`` to figures/``name`` and return the template's record of it."""
    (fig_dir / name).write_bytes(data)
    return {"title": title, "file": f"figures/{name}", "src": data_uri(data)}


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def protocol_block(pa: ProtocolAnalysis, fig_dir: Path, hyper: list[str]) -> dict[str, Any]:
    """The template's dict for one protocol (figures are drawn and written here). Every FID
    figure but the forest plot (a difference) draws the real-data floor, when there is one."""
    name = slug(pa.name)
    floor = floor_fid(pa.floor)
    block: dict[str, Any] = {
        "name": pa.name,
        "slug": name,
        "info": protocol_rows(pa),
        "warning": extractor_warning(pa.info),
        "counts": counts(pa.runs),
    }
    block["top5"] = [
        figure(
            fig_dir,
            f"top5_{name}_{c}.png",
            top5_figure(pa.top[c], c, f"Best 5% of settings by {c}", floor),
            c,
        )
        for c in pa.compared
        if c in pa.top and not pa.top[c].empty
    ]
    block["budget"] = [
        figure(fig_dir, f"budget_{name}_{c}.png", budget_figure(pa.budget[c], f"By {c}", floor), c)
        for c in pa.compared
        if c in pa.budget and not pa.budget[c].empty
    ]
    for c in pa.compared:  # the same curves against the compute spent (pruned trials included)
        x = compute_axis(pa.budget[c]) if c in pa.budget else None
        if x is not None:
            data = budget_figure(pa.budget[c], f"By {c}, against compute", floor, x=x)
            block["budget"].append(figure(fig_dir, f"budget_{x}_{name}_{c}.png", data, c))
    block["comparisons"] = comparison_tables(pa.comparisons, name)
    block["forest"] = None
    if pa.comparisons is not None and not pa.comparisons.empty:
        data = forest_figure(pa.comparisons, "Differences of matched settings")
        block["forest"] = figure(fig_dir, f"forest_{name}.png", data, "comparisons")
    block["findings"] = findings_table(pa.findings, name)
    block["curves"] = None
    if pa.curves is not None and not pa.curves.empty:
        title = "Best setting of the best variants"
        data = curves_figure(pa.curves, pa.curve_labels, title, floor)
        block["curves"] = figure(fig_dir, f"curves_{name}.png", data, "training curves")
    block["losses"] = None
    if pa.losses is not None and not pa.losses.empty:
        data = loss_figure(pa.losses, pa.curve_labels, "Losses of the same runs (train.jsonl)")
        block["losses"] = figure(fig_dir, f"losses_{name}.png", data, "loss curves")
    block["samples"] = [sample_card(card) for card in pa.samples]
    block["schedule"] = schedule_html(pa.schedule, name)
    block["n_variants"] = len(pa.summary)
    block["n_curves"] = len(pa.curve_labels)
    varying = [c for c in hyper if c in pa.runs and pa.runs[c].astype(str).nunique() > 1]
    varying = [c for c in varying if c not in pa.varying and c != "protocol"]
    block["leaderboard"] = leaderboard_table(pa, name)
    block["settings"] = settings_table(pa, name, varying)
    block["runs"] = runs_table(pa, name, varying)
    return block


SCHEDULE_TABLE = [
    Column("schedule", "evaluations kept"),
    Column("evaluations", "evaluations per run (median)", "num"),
    Column("median_change", "run score change (median, FID)", "fid"),
    Column("worse_share", "runs scored worse", "pct"),
    Column("top5_median_change", "top-5% FID change (median over variants)", "fid"),
    Column("runs", "runs", "int"),
]


def schedule_html(schedule: pd.DataFrame | None, name: str) -> Any:
    """How the run scores would change with fewer evaluations (analysis/schedule.py)."""
    if schedule is None or schedule.empty:
        return None
    return table_html(schedule, SCHEDULE_TABLE, table_id=f"schedule-{name}", sortable=False)


def protocol_rows(pa: ProtocolAnalysis) -> list[tuple[str, str]]:
    """The protocol header: what was compared with what, by which network, with what."""
    info = pa.info
    datasets = sorted(pa.runs["dataset"].astype(str).unique()) if "dataset" in pa.runs else []
    versions = info.get("versions") or {}
    reference = info.get("reference_images") or info.get("reference") or "—"
    if info.get("reference_images") and info.get("reference"):
        reference = f"{info['reference']}: {info['reference_images']}"
    rows = [
        ("evaluation protocol", pa.name),
        ("data set", ", ".join(datasets) or "—"),
        ("reference images", str(reference)),
        ("samples", f"{info.get('n_fake', '—')} generated vs {info.get('n_real', '—')} real"),
        ("generated images", str(info.get("fakes", "—"))),
        ("feature extractor", str(info.get("extractor", "— (no evaluation recorded yet)"))),
        ("library versions", ", ".join(f"{k} {v}" for k, v in versions.items()) or "—"),
        ("real-data floor", floor_text(pa.floor, info, datasets)),
    ]
    return [(k, v) for k, v in rows if not (k == "generated images" and v == "—")]


def extractor_warning(info: dict[str, Any]) -> str | None:
    """A warning when the scores cannot be compared with papers' (non-Inception features), or
    when one protocol name was recorded with different settings."""
    warnings = []
    if info.get("conflict"):
        warnings.append("This protocol name was recorded with different settings: see problems.")
    extractor = info.get("extractor")
    comparable = info.get("comparable_with_papers")
    if comparable is None:
        comparable = extractor is None or "inception" in str(extractor).lower()
    if not comparable:
        warnings.append(
            f"Feature extractor '{extractor}' is not an Inception network: scores are not "
            "comparable with Inception-based numbers from papers."
        )
    return " ".join(warnings) or None


def counts(runs: pd.DataFrame) -> dict[str, int]:
    tally = runs["status"].value_counts()
    keys = [s.value for s in (Status.OK, Status.DIVERGED, Status.FAILED)]
    keys += [s.value for s in (Status.RUNNING, Status.PENDING)]
    out = {k: int(tally.get(k, 0)) for k in keys}
    out.update({str(k): int(v) for k, v in tally.items() if k not in keys})
    out["total"] = len(runs)
    return out


def leaderboard_table(pa: ProtocolAnalysis, name: str) -> Any:
    columns = [
        Column("variant", "variant"),
        Column("best_run_fid", "best run FID", "fid"),
        Column("fid_median", "best setting: median FID", "fid"),
        Column("fid_q25", "Q1", "fid"),
        Column("fid_q75", "Q3", "fid"),
        Column("best_n_seeds", "seeds", "seeds"),
        *[
            Column(median_column(c), header(c), "num")
            for c in recorded_scores(pa.runs, rank=False)
            if median_column(c) in pa.summary
        ],
        Column("top5_median", "top-5% settings: median", "fid"),
        Column("n_settings", "settings", "int"),
        Column("n_runs", "finished runs", "int"),
        Column("divergence_rate", "divergence", "pct"),
        Column("n_failed", "failures", "int"),
        Column("setting", "best setting"),
    ]
    order = pa.summary.sort_values(["fid_median", "best_run_fid"], na_position="last")
    return table_html(order, columns, table_id=f"leaderboard-{name}")


def settings_table(pa: ProtocolAnalysis, name: str, varying: list[str]) -> Any:
    shown = pa.board[pa.board["rank"] <= SETTINGS_PER_VARIANT]
    columns = [
        Column("variant", "variant"),
        Column("rank", "rank", "int"),
        Column("setting", "setting"),
        Column("origin", "origin"),
        *[Column(c, c, "num" if _numeric(pa.board, c) else "text") for c in varying],
        *STAT_COLUMNS,
        Column("fid_min", "min", "fid"),
        Column("fid_max", "max", "fid"),
        Column("divergence_rate", "divergence", "pct"),
        Column("n_failed", "failures", "int"),
    ]
    return table_html(shown, columns, table_id=f"settings-{name}")


def runs_table(pa: ProtocolAnalysis, name: str, varying: list[str]) -> Any:
    columns = [
        Column("run_id", "run", "run"),
        Column("status", "status", "status"),
        Column(RANK, header(RANK), "fid"),  # the score that ranks runs; the others beside it
        *[Column(c, header(c), "num") for c in recorded_scores(pa.runs, rank=False)],
        Column("best_step", "best step", "int"),
        Column("steps_trained", "steps", "int"),
        Column("wall_time", "wall s", "int"),
        *[Column(c, c) for c in pa.varying],
        *[Column(c, c, "num" if _numeric(pa.runs, c) else "text") for c in varying],
        Column("seed", "seed", "int"),
        Column("origin", "origin"),
        Column("setting", "setting"),
        Column("error", "error"),
    ]
    return table_html(pa.runs, columns, table_id=f"runs-{name}")


def sample_card(card: dict[str, Any]) -> dict[str, Any]:
    image = card["image"]
    src = data_uri(image.read_bytes()) if image is not None else None
    fid = card["fid"]
    return {
        **card,
        "src": src,
        "image": image.name if image is not None else None,
        "fid_text": f"{fid:.2f}" if np.isfinite(fid) else "—",
    }


def _numeric(frame: pd.DataFrame, column: str) -> bool:
    return pd.api.types.is_numeric_dtype(frame[column])
