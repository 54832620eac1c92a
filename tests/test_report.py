"""The report: files written, sections present, diverged and failed runs shown (not dropped),
protocols never mixed, partial studies, published targets, and no torch anywhere."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_results import PROTOCOL, fake_study

import landscape.analysis
import landscape.report
from landscape.report import write_report
from landscape.report.__main__ import main

SECTIONS = ["protocol", "comparisons", "leaderboard", "top5", "budget", "curves", "samples", "runs"]


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("results")
    path = fake_study(
        root,
        "tiny",
        grid=2,
        search=2,
        seeds=2,
        diverged=0.2,
        failed=0.1,
        running=2,
        pending=1,
        seed=3,
    )
    write_report(path, expected_runs=60)
    return path


def rows_of(html: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{re.escape(table_id)}".*?</table>', html, re.S)
    assert table, f"no table {table_id}"
    return re.findall(r"<tr class=\"status-[^\"]*\">.*?</tr>", table.group(0), re.S)


def test_report_files_and_sections(study):
    html = (study / "report.html").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    for name in ("runs.csv", "evals.csv", "leaderboard.csv", "top5.csv", "budget.csv"):
        assert (study / name).stat().st_size > 0
    figures = sorted(p.name for p in (study / "figures").glob("*.png"))
    kinds = {name.split("_")[0] for name in figures}
    assert kinds == {"top5", "budget", "curves", "forest"}
    for name in figures:
        assert (study / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'href="figures/{name}"' in html
    assert html.count("data:image/png;base64,") >= len(figures) + 1  # + sample grids
    assert "<script src" not in html and '<link rel="stylesheet"' not in html


def test_every_run_is_listed_with_its_status_and_a_link(study):
    runs = pd.read_csv(study / "runs.csv")
    folders = list((study / "runs").iterdir())
    assert len(runs) == len(folders) == 48
    assert set(runs["status"]) == {"ok", "diverged", "failed", "running", "pending"}
    html = (study / "report.html").read_text()
    rows = rows_of(html, "runs-" + PROTOCOL["name"])
    assert len(rows) == len(runs)
    for status, count in runs["status"].value_counts().items():
        assert sum(f'class="status-{status}"' in r for r in rows) == count
        assert sum(f"<td>{status}</td>" in r for r in rows) == count
    for run_id in runs["run_id"]:
        assert f'<a href="runs/{run_id}/index.html">{run_id}</a>' in html
        assert (study / "runs" / run_id / "index.html").is_file()  # its page (run_pages.py)
    assert "RuntimeError: CUDA error: out of memory" in html


def test_runs_csv_scores_and_evals_csv(study):
    runs = pd.read_csv(study / "runs.csv")
    evals = pd.read_csv(study / "evals.csv")
    best = evals.loc[evals.dropna(subset="fid").groupby("run_id")["fid"].idxmin()]
    merged = runs.merge(best, on="run_id", suffixes=("", "_eval"))
    assert (merged["fid"] == merged["fid_eval"]).all()
    assert (merged["best_step"] == merged["step"]).all()
    assert (merged["is_mean"] == merged["is_mean_eval"]).all()
    for column in ("loss", "penalty", "normalization", "lr", "beta1", "seed", "wall_time"):
        assert column in runs
    assert runs["fid"].isna().sum() == (runs["status"] == "pending").sum()  # no evaluations yet


def test_leaderboard_csv_has_one_best_setting_per_variant(study):
    board = pd.read_csv(study / "leaderboard.csv")
    variants = board.groupby(["loss", "penalty", "normalization"])
    assert (variants["best"].sum() == 1).all()
    assert len(variants) == 8
    assert board["divergence_rate"].between(0, 1).all()


def test_leaderboard_csv_scores_diverged_runs_by_their_best_fid(study):
    """Seed statistics recomputed from runs.csv: a diverged run counts with the best FID it
    reached before diverging, a failed run (even with a finite FID) as +inf."""
    runs = pd.read_csv(study / "runs.csv", dtype={"setting": str})
    board = pd.read_csv(study / "leaderboard.csv", dtype={"setting": str}).set_index("setting")
    done = runs[runs["status"].isin(["ok", "diverged", "failed"])]
    scored = done["status"].isin(["ok", "diverged"]) & np.isfinite(done["fid"])
    groups = done["fid"].where(scored, np.inf).groupby(done["setting"])
    assert sorted(board.index) == sorted(groups.groups)
    for column, stat in (("fid_median", groups.median()), ("fid_min", groups.min())):
        assert board[column].to_dict() == stat.to_dict(), column
    diverged = done[done["status"].eq("diverged")]
    assert (
        board["n_diverged"].to_dict()
        == diverged.groupby("setting").size().reindex(board.index, fill_value=0).to_dict()
    )
    # the fake study has what makes this a test of the rule: a setting whose only seed
    # diverged after reaching a finite FID, and failed runs that reached a finite FID
    alone = board[board["n_diverged"].eq(board["n_seeds"])]
    assert np.isfinite(alone["fid_median"]).any()
    failed = done[done["status"].eq("failed") & np.isfinite(done["fid"])]
    assert len(failed) and (board.loc[failed["setting"], "fid_max"] == np.inf).all()


def test_partial_study_says_how_many_runs_are_to_come(study):
    runs = pd.read_csv(study / "runs.csv")
    done = runs["status"].isin(["ok", "diverged", "failed"]).sum()
    html = (study / "report.html").read_text()
    assert f"{done} runs finished of 60; {60 - done} still to come" in html
    write_report(study)  # without expected_runs: the running and pending runs are to come
    assert "; 3 still to come" in (study / "report.html").read_text()


def test_protocols_are_never_mixed(tmp_path):
    digits = {**PROTOCOL, "name": "digits-test-1k-cnn", "extractor": "digits-cnn"}
    fake_study(tmp_path, "two", grid=1, search=1, seeds=1, running=0, pending=0, seed=1)
    fake_study(
        tmp_path, "two", grid=1, search=1, seeds=1, running=0, pending=0, seed=2, protocol=digits
    )
    html = write_report(tmp_path / "two").read_text()
    runs = pd.read_csv(tmp_path / "two" / "runs.csv")
    for name, group in runs.groupby("protocol"):
        rows = rows_of(html, f"runs-{name}")
        assert len(rows) == len(group)
        assert all(any(run_id in r for r in rows) for run_id in group["run_id"])
    assert html.count("scores are not comparable with Inception-based numbers") == 1
    figures = [p.name for p in (tmp_path / "two" / "figures").glob("top5_*")]
    assert {f.split("_")[1] for f in figures} == {PROTOCOL["name"], "digits-test-1k-cnn"}


def test_published_vs_ours(tmp_path):
    path = fake_study(
        tmp_path, "pub", grid=1, search=0, seeds=2, diverged=0, failed=0, running=0, pending=0
    )
    targets = pd.DataFrame(
        {
            "dataset": "cifar10",
            "architecture": "resnet_cifar",
            "loss": ["ns", "hinge"],
            "normalization": "sn",
            "penalty": "gp",
            "published_fid": [22.73, 20.0],
        }
    )
    html = write_report(path, targets=targets).read_text()
    assert '<section id="published">' in html
    table = re.search(r'<table id="published-table".*?</table>', html, re.S).group(0)
    assert "22.73" in table and "20.00" in table and table.count("<tr>") == 3
    with pytest.raises(ValueError, match="published_fid"):
        write_report(path, targets=targets.drop(columns="published_fid"))


def test_an_empty_study_still_gets_a_report(tmp_path):
    (tmp_path / "runs" / "half-made").mkdir(parents=True)  # a folder without config.json
    html = write_report(tmp_path).read_text()
    assert "No runs recorded yet" in html
    assert "1 unreadable records were skipped" in html and "half-made" in html
    for section in SECTIONS:
        assert f'<section id="{section}">' in html


def test_figures_of_an_earlier_report_are_removed(tmp_path):
    path = fake_study(tmp_path, "s", grid=1, search=1, seeds=1, running=0, pending=0)
    (path / "figures").mkdir()
    (path / "figures" / "top5_old-protocol_loss.png").write_bytes(b"old")
    write_report(path)
    assert not (path / "figures" / "top5_old-protocol_loss.png").exists()


def test_command_line(tmp_path, capsys):
    path = fake_study(tmp_path, "cli", grid=1, search=0, seeds=1, running=0, pending=0)
    assert main([str(path), "--expected-runs", "20"]) == 0
    assert capsys.readouterr().out.strip() == str(path / "report.html")
    assert main([str(tmp_path / "missing")]) == 2


@pytest.mark.parametrize("package", [landscape.analysis, landscape.report])
def test_the_report_never_imports_torch_or_training_code(package):
    for source in Path(package.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in ("torch", "torchvision", "torch_fidelity")
                assert not name.startswith(("landscape.train", "landscape.variants")), source


def test_the_report_runs_without_torch(tmp_path):
    """Import and run the report in a fresh interpreter where torch cannot be imported. The
    package root (landscape/__init__.py, the variant registries) is bypassed: it needs torch."""
    path = fake_study(tmp_path, "notorch", grid=1, search=0, seeds=1, running=0, pending=0)
    script = f"""
import importlib.abc, sys, types
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "torch_fidelity"):
            raise ImportError("torch is not allowed here")
sys.meta_path.insert(0, NoTorch())
root = types.ModuleType("landscape")
root.__path__ = [{str(Path(landscape.report.__file__).parents[1])!r}]
sys.modules["landscape"] = root
from landscape.report import write_report
print(write_report({str(path)!r}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == str(path / "report.html")


def test_top5_and_comparisons_csvs_count_settings_and_every_finished_grid_run(study):
    """top5.csv keeps ceil(5%) of each value's settings; comparisons.csv counts every finished
    grid run of the two values (diverged and failed included), never the search trials."""
    board = pd.read_csv(study / "leaderboard.csv")
    top = pd.read_csv(study / "top5.csv")
    for (axis, value), rows in top[top["axis"] != "variant"].groupby(["axis", "value"]):
        n = int((board[axis] == value).sum())
        assert rows["n_units"].eq(n).all() and len(rows) == max(1, -(-n // 20))
        assert rows["fid"].tolist() == sorted(board.loc[board[axis] == value, "fid_median"])[:1]
    assert top["origin"].str.match(r"^(grid:g\d|search:[a-z-]+:\d)$").all()
    runs = pd.read_csv(study / "runs.csv")
    grid = runs[runs["origin_kind"].eq("grid") & runs["status"].isin(["ok", "diverged", "failed"])]
    table = pd.read_csv(study / "comparisons.csv")
    assert len(table) == 3  # loss, penalty, normalization: two values each
    for row in table.itertuples():
        assert row.runs_a + row.runs_b == len(grid)
        assert row.pairs == 2 * 2 * 2  # two settings x the two other axes' four combinations
        assert row.diff_low <= row.diff <= row.diff_high and row.p_low <= row.p_better
        assert row.p_better <= row.p_high and row.p_better >= 0.5
    assert set(runs["status"]) >= {"diverged", "failed"}
    html = (study / "report.html").read_text()
    assert '<table id="comparisons-' in html and "forest_" in html


def test_a_report_mid_study_before_any_run_finished(tmp_path):
    """The recipe's `landscape report` while every run is still training: a partial report with
    empty tables, not a crash (an empty leaderboard once lacked its columns)."""
    from planned_results import planned_study

    from landscape.records import Status

    quickstart = Path(__file__).resolve().parents[1] / "studies" / "quickstart.yaml"
    root = tmp_path / "quickstart"
    _, specs = planned_study(quickstart, root, lambda spec: (Status.RUNNING, 50.0), trials=1)
    write_report(root)
    text = re.sub(r"<[^>]+>", " ", (root / "report.html").read_text())
    assert f"{len(specs)} runs recorded, 0 finished" in re.sub(r"\s+", " ", text)
    assert "Partial report" in text
    assert (root / "leaderboard.csv").read_text().count("\n") == 1  # the header, no row
