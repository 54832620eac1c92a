"""The report iterates over the metric registry and shows the real-data floor.

A metric registered from a plugin file is computed by the real Evaluator inside real training
runs and found in evals.csv, runs.csv (at the best-FID step), leaderboard.csv and report.html;
the floor written by `landscape floor`'s producer is in the protocol header and reaches every
FID figure; a metric that no evaluation recorded has no column anywhere."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from fake_results import fake_study
from matplotlib.figure import Figure

from landscape import METRICS, load_plugin, metric
from landscape.analysis import header, label, median_column, recorded_scores
from landscape.data import load
from landscape.evaluation import Evaluator, protocol_for
from landscape.evaluation.floor import floor
from landscape.metrics import metric_columns, read_floor
from landscape.records import Origin
from landscape.report import sections, write_report
from landscape.report.figures import floor_line
from landscape.train import RunSpec, train

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster
PLUGIN = """
from landscape import metric

@metric("spread", columns=("spread",), direction="higher", needs=("fake_features",))
def spread(inputs):
    return {"spread": float(inputs.fake_features.std(dim=0).mean())}
"""
TINY = dict(
    dataset="digits",
    architecture="sndcgan",
    width=1 / 16,
    batch_size=16,
    steps=4,
    eval_every=2,
    study="m",
    origin=str(Origin.grid("a")),
)


@pytest.fixture
def own_metrics(restore_registries):
    """Undo metric registrations (restore_registries undoes plugin imports)."""
    saved = dict(METRICS._entries)
    yield
    METRICS._entries.clear()
    METRICS._entries.update(saved)


@pytest.fixture
def figure_floors(monkeypatch) -> dict[str, list]:
    """The ``floor`` every FID figure of the report is drawn with, per figure kind."""
    seen: dict[str, list] = {"top5": [], "budget": [], "curves": []}
    for kind in seen:
        draw = getattr(sections, f"{kind}_figure")

        def spy(*args, _draw=draw, _kind=kind, **kwargs):
            seen[_kind].append(args[-1])
            return _draw(*args, **kwargs)

        monkeypatch.setattr(sections, f"{kind}_figure", spy)
    return seen


@pytest.mark.slow
def test_a_plugin_metric_and_the_floor_reach_the_csvs_and_the_report(
    tmp_path, cache, own_metrics, figure_floors
):
    (tmp_path / "spread_metric.py").write_text(PLUGIN)
    load_plugin(tmp_path / "spread_metric.py")
    assert metric_columns()["spread"] == "higher"
    protocol = protocol_for("digits", n_samples=100)
    evaluator = Evaluator(protocol, cache_dir=cache)
    study = tmp_path / "m"
    data = load("digits", "train")
    for norm in ("none", "sn"):
        spec = RunSpec(**TINY, normalization=norm)
        train(spec, study / "runs" / spec.run_id, evaluate=evaluator, data=data, progress=False)
    record, computed = floor(protocol, cache_dir=cache)  # what `landscape floor digits` writes
    assert computed and read_floor(protocol.name, cache) == record

    html = write_report(study, cache_dir=cache).read_text()

    evals = pd.read_csv(study / "evals.csv")
    assert len(evals) == 6 and evals["spread"].gt(0).all()  # steps 0, 2, 4 of two runs
    runs = pd.read_csv(study / "runs.csv")
    best = evals.loc[evals.groupby("run_id")["fid"].idxmin()].set_index("run_id")
    runs = runs.set_index("run_id")
    assert np.array_equal(runs.loc[best.index, "best_step"], best["step"])
    for column in ("fid", "spread", "is_mean", "kid_mean", "knn_precision", "knn_recall"):
        assert np.allclose(runs.loc[best.index, column], best[column]), column
    assert "ms_ssim" not in runs  # not computed on digits: no column
    board = pd.read_csv(study / "leaderboard.csv")
    assert np.allclose(
        board.set_index("normalization")["spread_median"].sort_index(),
        runs.set_index("normalization")["spread"].sort_index(),
    )
    assert ">spread ↑</th>" in html and ">FID ↓</th>" in html and ">IS ↑</th>" in html
    table = html.split('id="runs-')[1].split("</table>")[0]
    for value in runs["spread"]:
        assert f'<td data-v="{value!r}">{value:.4g}</td>' in table

    shown = f"FID {record['fid']:.2f}, KID {record['kid_mean']:.4g}"
    assert f"<dt>real-data floor</dt><dd>{shown}" in html
    assert "(100 real train images vs 100 test images)" in html
    assert "the paper&#39;s floor" not in html  # digits is no data set of the paper
    assert figure_floors["top5"] and figure_floors["budget"] and figure_floors["curves"]
    for kind, floors in figure_floors.items():
        assert floors == [pytest.approx(record["fid"])] * len(floors), kind

    empty = tmp_path / "empty-cache"
    html = write_report(study, cache_dir=empty).read_text()
    command = "landscape floor digits --samples 100 --extractor digits-cnn"
    assert f"<dd>no floor computed; run `{command}`</dd>" in html
    assert figure_floors["curves"][-1] is None


def test_a_metric_no_evaluation_recorded_has_no_column(tmp_path, own_metrics):
    @metric("never", columns=("never",), direction="lower", needs=("fake_features",))
    def never(inputs):  # registered, never computed by these (older) evaluations
        return {"never": 0.0}

    study = fake_study(tmp_path, "old", grid=2, search=0, seeds=2, evals=3)
    html = write_report(study, draws=50).read_text()
    for name in ("runs", "evals", "leaderboard"):
        frame = pd.read_csv(study / f"{name}.csv")
        absent = ("never", "never_median", "knn_precision", "knn_recall", "knn_precision_median")
        for column in absent:
            assert column not in frame, (name, column)
    runs = pd.read_csv(study / "runs.csv")
    assert "ms_ssim" not in runs  # recorded as null in every evaluation: no column either
    assert {"is_mean", "kid_mean", "is_std", "kid_std"} <= set(runs)
    assert not re.search(r">(never|precision|recall|ms_ssim)[ <]", html)
    assert ">KID ↓</th>" in html and ">IS ↑</th>" in html
    assert "no floor computed; run `landscape floor" in html  # no floor in this cache


def test_labels_and_directions_come_from_the_registry():
    assert [header(c) for c in ("fid", "is_mean", "kid_mean")] == ["FID ↓", "IS ↑", "KID ↓"]
    assert (label("knn_precision"), header("knn_recall")) == ("precision", "recall ↑")
    assert median_column("is_mean") == "is_median"
    assert median_column("knn_recall") == "knn_recall_median"
    frame = pd.DataFrame({"fid": [1.0], "knn_recall": [0.5], "knn_precision": [np.nan], "x": [1.0]})
    assert recorded_scores(frame) == {"fid": "lower", "knn_recall": "higher"}


def test_the_floor_line_is_dashed_and_labelled():
    ax = Figure().subplots()
    floor_line(ax, 5.19)
    (line,) = ax.lines
    assert list(line.get_ydata()) == [5.19, 5.19] and line.get_linestyle() == "--"
    assert [t.get_text() for t in ax.texts] == ["real-data floor 5.19"]
    empty = Figure().subplots()
    floor_line(empty, None)
    assert not empty.lines and not empty.texts
