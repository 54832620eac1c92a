"""One page per run, ``results/<study>/runs/<run_id>/index.html``, linked from the report's
tables: its status, its FID and loss curves, its sample grids over time, its config and the
code fingerprint it was trained with (code.json). Torch-free and cheap: the curves are inline
SVG, the samples are linked (not embedded), and a page newer than every file it shows is not
written again, so a report of a large study rewrites only the pages of runs that moved."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landscape.analysis import RANK, Results
from landscape.analysis.curves import LOSSES
from landscape.analysis.read import read_evals
from landscape.records import RUNS_DIR, RunFiles

PAGE = "index.html"
SOURCES = (RunFiles.CONFIG, RunFiles.STATUS, RunFiles.EVAL_LOG, RunFiles.TRAIN_LOG, RunFiles.CODE)
STYLE = (
    "body{font:14px system-ui,sans-serif;margin:1.5em;max-width:70em}table{border-collapse:"
    "collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.grids{display:flex;"
    "flex-wrap:wrap;gap:8px}figure{margin:0}img{image-rendering:pixelated;width:160px}"
    "svg{border:1px solid #ddd;margin-right:8px}"
)


def write_run_pages(results: Results) -> int:
    """Write the page of every run whose files changed since its page; returns how many. A page
    is derived (the report writes it again), so it is replaced without an fsync."""
    written = 0
    fids = _fid_points(results.evals)
    for row in results.runs.to_dict("records"):
        folder = results.root / RUNS_DIR / str(row["run_id"])
        if not folder.is_dir() or _fresh(folder):
            continue
        page = run_page(row, fids.get(row["run_id"], np.empty((0, 2))), folder)
        temp = folder / f".{PAGE}.tmp"
        temp.write_text(page, encoding="utf-8")
        os.replace(temp, folder / PAGE)
        written += 1
    return written


def _fid_points(evals: pd.DataFrame) -> dict[Any, np.ndarray]:
    """run_id -> (step, FID) rows of its finite evaluations, split once for every run."""
    if RANK not in evals or not len(evals):
        return {}
    xy = evals[["step", RANK]].to_numpy(dtype=float)
    ok = np.isfinite(xy).all(axis=1)
    ids = evals["run_id"].to_numpy()[ok]
    xy = xy[ok]
    order = np.argsort(ids, kind="stable")
    ids, xy = ids[order], xy[order]
    names, starts = np.unique(ids, return_index=True)
    return dict(zip(names, np.split(xy, starts[1:]), strict=True))


def _train_points(folder: Path) -> dict[str, np.ndarray]:
    """loss name -> (step, value) rows of the run's train log (a resumed step: the last)."""
    rows = read_evals(str(folder / RunFiles.TRAIN_LOG), [])
    by_step = {r["step"]: r for r in rows if "step" in r}
    steps = sorted(by_step)
    out = {}
    for column in LOSSES:
        xy = np.array([(s, by_step[s].get(column, np.nan)) for s in steps], dtype=float)
        out[column] = xy.reshape(-1, 2)
    return out


def _fresh(folder: Path) -> bool:
    """Whether the page is newer than every file it shows (and than the samples folder)."""
    try:
        made = os.stat(folder / PAGE).st_mtime_ns
    except FileNotFoundError:
        return False
    for name in (*SOURCES, RunFiles.SAMPLES):
        try:
            if os.stat(folder / name).st_mtime_ns >= made:
                return False
        except FileNotFoundError:
            continue
    return True


def run_page(row: dict[str, Any], fid: np.ndarray, folder: Path) -> str:
    """The HTML of one run's page (``row``: its line of the report's runs frame; ``fid``: the
    (step, FID) rows of its finite evaluations)."""
    run_id = html.escape(str(row["run_id"]))
    curves = [
        svg_chart("FID", {"FID": fid}, log=True),
        svg_chart("losses", _train_points(folder), log=False),
    ]
    grids = sorted((folder / RunFiles.SAMPLES).glob("step_*.png"))
    samples = "".join(
        f'<figure><img src="{RunFiles.SAMPLES}/{g.name}" alt="samples"><figcaption>step '
        f"{int(g.stem.split('_')[1])}</figcaption></figure>"
        for g in grids
    )
    config = _read(folder / RunFiles.CONFIG)
    code = _read(folder / RunFiles.CODE)
    status = {k: row.get(k) for k in ("status", "steps_trained", "wall_time", "error")}
    score = {k: row.get(k) for k in (RANK, "best_step", "protocol", "setting", "origin")}
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>run {run_id}</title>"
        f"<style>{STYLE}</style></head><body><p><a href='../../report.html'>report</a></p>"
        f"<h1>run {run_id}</h1>{_table({**status, **score})}"
        f"<h2>Curves</h2>{''.join(curves)}"
        f"<p>Every logged value: <code>tensorboard --logdir .</code> here, or "
        f"<a href='{RunFiles.EVAL_LOG}'>{RunFiles.EVAL_LOG}</a> and "
        f"<a href='{RunFiles.TRAIN_LOG}'>{RunFiles.TRAIN_LOG}</a>.</p>"
        f"<h2>Samples over time</h2><div class='grids'>{samples or 'none yet'}</div>"
        f"<h2>Config</h2>{_table(config or {})}"
        f"<h2>Code</h2>{_code(code)}</body></html>"
    )


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _table(items: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_text(v))}</td></tr>"
        for k, v in items.items()
    )
    return f"<table>{rows}</table>"


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)


def _code(code: dict[str, Any] | None) -> str:
    if code is None:
        return "<p>No code.json: trained before runs recorded their code.</p>"
    variants = code.get("variants", {})
    files = code.get("files", {})
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td>"
        f"<td>{html.escape(str(files.get(k, '')))}</td></tr>"
        for k, v in variants.items()
    )
    libs = ", ".join(f"{k} {v}" for k, v in code.get("libraries", {}).items())
    return (
        f"<p>code {html.escape(str(code.get('code')))} (docs/results-layout.md)</p>"
        f"<table><tr><th>variant</th><th>fingerprint</th><th>file</th></tr>{rows}</table>"
        f"<p>libraries: {html.escape(libs)}</p>"
    )


COLOURS = ("#1f77b4", "#d62728", "#2ca02c")


def svg_chart(title: str, series: dict[str, np.ndarray], log: bool) -> str:
    """A small line chart of ``series`` (name -> rows of step and value) as inline SVG, on a
    log scale when ``log``."""
    width, height, pad = 420, 160, 30
    points = {n: p[np.isfinite(p).all(axis=1)] for n, p in series.items() if len(p)}
    points = {n: p for n, p in points.items() if len(p)}
    if not points:
        return f"<p>{html.escape(title)}: nothing logged yet.</p>"
    if log:
        points = {n: p[p[:, 1] > 0] for n, p in points.items()}
        points = {n: np.column_stack([p[:, 0], np.log10(p[:, 1])]) for n, p in points.items()}
    every = np.concatenate(list(points.values()))
    (x0, y0), (x1, y1) = every.min(axis=0), every.max(axis=0)
    sx = (width - 2 * pad) / ((x1 - x0) or 1)
    sy = (height - 2 * pad) / ((y1 - y0) or 1)
    lines = []
    for i, (name, p) in enumerate(points.items()):
        xy = " ".join(f"{pad + (x - x0) * sx:.1f},{height - pad - (y - y0) * sy:.1f}" for x, y in p)
        colour = COLOURS[i % len(COLOURS)]
        lines.append(
            f"<polyline fill='none' stroke='{colour}' stroke-width='1.5' points='{xy}'/>"
            f"<text x='{width - pad}' y='{14 + 12 * i}' font-size='10' text-anchor='end' "
            f"fill='{colour}'>{html.escape(name)}</text>"
        )
    low, high = (10**y0, 10**y1) if log else (y0, y1)
    scale = " (log)" if log else ""
    return (
        f"<svg width='{width}' height='{height}' role='img' aria-label='{html.escape(title)}'>"
        f"<text x='{pad}' y='14' font-size='11'>{html.escape(title)}{scale}</text>"
        f"<text x='2' y='{pad}' font-size='9'>{high:.3g}</text>"
        f"<text x='2' y='{height - pad}' font-size='9'>{low:.3g}</text>"
        f"<text x='{pad}' y='{height - 8}' font-size='9'>step {x0:.0f}</text>"
        f"<text x='{width - pad}' y='{height - 8}' font-size='9' text-anchor='end'>{x1:.0f}</text>"
        f"{''.join(lines)}</svg>"
    )
