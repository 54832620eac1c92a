"""write_report: results/<study>/ -> runs.csv, evals.csv, leaderboard.csv, top5.csv, budget.csv,
comparisons.csv, findings.csv, figures/*.png and a self-contained report.html (images embedded,
no external scripts or styles)."""

from __future__ import annotations

import datetime as dt
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from landscape.analysis import DRAWS, VARIANT, Results, is_finished, load_results
from landscape.analysis.leaderboard import MIN_SEEDS, check_min_seeds
from landscape.atomic import atomic_path
from landscape.records import REPORT
from landscape.report.analyse import ProtocolAnalysis, analyse
from landscape.report.comparisons import findings_legend
from landscape.report.run_pages import write_run_pages
from landscape.report.sections import SETTINGS_PER_VARIANT, protocol_block
from landscape.report.tables import Column, table_html, write_analysis_csvs, write_csvs

TEMPLATE = "template.html.j2"
TARGET_KEYS = [c for c in VARIANT if c != "protocol"]  # what a target names


def write_report(
    results_dir: str | Path,
    *,
    expected_runs: int | None = None,
    targets: pd.DataFrame | None = None,
    draws: int = DRAWS,
    cache_dir: str | Path | None = None,
    min_seeds: int = MIN_SEEDS,
) -> Path:
    """Read ``results_dir``, write the report files into it and return report.html's path.

    ``expected_runs``: how many runs the study will have in all, so a partial report can say
    how many are still to come. ``targets``: published scores (columns dataset, architecture,
    loss, normalization, penalty, published_fid) to show beside ours; by default those of the
    study's ``targets:`` (``targets.csv`` in the folder). ``cache_dir``: where ``landscape
    floor`` cached the real-data floors (default $LANDSCAPE_CACHE, else ~/.cache/landscape).
    ``min_seeds``: the leaderboard ranks settings with at least this many seeds first (1: by
    median alone; analysis/leaderboard.py)."""
    check_min_seeds(min_seeds)
    targets_csv = Path(results_dir) / "targets.csv"  # written by `landscape run`
    if targets is None and targets_csv.exists():
        targets = pd.read_csv(targets_csv)
    if targets is not None:
        check_targets(targets)
    results = load_results(results_dir)
    return publish(
        results,
        analyse(results, draws=draws, cache_dir=cache_dir, min_seeds=min_seeds),
        expected_runs=expected_runs,
        targets=targets,
    )


def publish(
    results: Results,
    analyses: list[ProtocolAnalysis],
    *,
    expected_runs: int | None = None,
    targets: pd.DataFrame | None = None,
) -> Path:
    """Write the CSVs, figures and report.html for already computed analyses."""
    root = results.root
    boards = [pa.board.drop(columns="variant") for pa in analyses if not pa.board.empty]
    write_csvs(results, pd.concat(boards, ignore_index=True) if boards else pd.DataFrame(), root)
    write_analysis_csvs(analyses, root)
    fig_dir = root / "figures"
    fig_dir.mkdir(exist_ok=True)
    old = set(fig_dir.glob("*.png"))
    hyper = list(results.hyper_columns)
    blocks = [protocol_block(pa, fig_dir, hyper) for pa in analyses]
    for stale in old - _written(blocks, root):  # figures of an earlier report, now gone
        stale.unlink(missing_ok=True)
    write_run_pages(results)  # runs/<run_id>/index.html, linked from the tables
    page = render(page_context(results, analyses, blocks, expected_runs, targets))
    path = root / REPORT
    with atomic_path(path) as temp:
        temp.write_text(page, encoding="utf-8")
    return path


def _written(blocks: list[dict[str, Any]], root: Path) -> set[Path]:
    figures = [
        f
        for b in blocks
        for f in [*b["top5"], *b["budget"], b["curves"], b["losses"], b["forest"]]
        if f
    ]
    return {root / f["file"] for f in figures}


def render(context: dict[str, Any]) -> str:
    """The report page from its context (see page_context)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(TEMPLATE).render(**context)


def page_context(
    results: Results,
    analyses: list[ProtocolAnalysis],
    blocks: list[dict[str, Any]],
    expected_runs: int | None,
    targets: pd.DataFrame | None,
) -> dict[str, Any]:
    runs = results.runs
    done = int(is_finished(runs["status"]).sum()) if len(runs) else 0
    unfinished = len(runs) - done
    to_come = max(expected_runs - done, 0) if expected_runs is not None else unfinished
    return {
        "study": results.study,
        "generated": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "total": len(runs),
        "finished": done,
        "to_come": to_come,
        "expected_runs": expected_runs,
        "blocks": blocks,
        "any_findings": any(b["findings"] is not None for b in blocks),
        "findings_legend": findings_legend(),
        "min_seeds": analyses[0].min_seeds if analyses else MIN_SEEDS,
        "published": published_table(analyses, targets) if targets is not None else None,
        "study_yaml": results.study_yaml,
        "problems": results.problems,
        "versions": versions(),
        "settings_per_variant": SETTINGS_PER_VARIANT,
    }


def published_table(analyses: list[ProtocolAnalysis], targets: pd.DataFrame) -> Any:
    """Published FIDs beside our best run and best setting (median over seeds), per variant."""
    check_targets(targets)
    ours = [pa.summary for pa in analyses if not pa.summary.empty]
    ours_frame = pd.concat(ours, ignore_index=True) if ours else pd.DataFrame(columns=TARGET_KEYS)
    keys = [k for k in TARGET_KEYS if k in ours_frame]
    merged = targets.merge(ours_frame, on=keys, how="left")
    merged["delta"] = merged["best_run_fid"] - merged["published_fid"]
    columns = [
        *[Column(k, k) for k in TARGET_KEYS],
        Column("published_fid", "published FID", "fid"),
        Column("best_run_fid", "our best run", "fid"),
        Column("fid_median", "our best setting (median)", "fid"),
        Column("delta", "best run − published", "fid"),
        Column("n_runs", "runs", "int"),
        Column("protocol", "protocol"),
    ]
    return table_html(merged, columns, table_id="published-table")


def check_targets(targets: pd.DataFrame) -> None:
    missing = [c for c in [*TARGET_KEYS, "published_fid"] if c not in targets]
    if missing:
        raise ValueError(f"targets lack columns {missing}; need {TARGET_KEYS + ['published_fid']}")


def versions() -> str:
    """The report's own library versions."""
    names = ["landscape", "numpy", "pandas", "matplotlib", "jinja2"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)
