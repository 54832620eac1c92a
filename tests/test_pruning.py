"""Pruned search: the pruner registry and its options, the study keys, the queue's pruning
path, a worker that stops a trial at its first rung, and the compute every run records."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from landscape.analysis import BUDGET_COLUMNS, budget_curves, leaderboard, load_results
from landscape.cost.flops import eval_flops, step_flops
from landscape.cost.pruned import halving_share, pruned_share
from landscape.errors import UserError
from landscape.execution import Worker
from landscape.execution.pruners import PRUNERS, make_pruner, options_of
from landscape.execution.queue import DONE, PRUNED, Attr, Queue, default_storage
from landscape.records import RunFiles, Status
from landscape.study import grid_runs, load_study
from landscape.study.load import StudyError
from landscape.train import RunSpec
from landscape.train.records import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "name": "tiny_pruned",
    "dataset": "digits",
    "evaluation": {"samples": 50},
    "budget": {"steps": 6, "eval_every": 3, "batch_size": 8, "checkpoint_every": 6, "log_every": 1},
    "model": {"width": 0.03125, "z_dim": 8},
    "grid": {
        "loss": ["ns"],
        "penalty": ["none"],
        "normalization": ["none"],
        "architecture": ["sndcgan"],
    },
    "hyperparameters": [{"lr": 1e-3, "n_disc": 1}],
    "seeds": [0],
    "search": {
        "sampler": "random",
        "trials": 3,
        "n_disc": [1],
        "pruner": "test_always",
        "ranges": {"lr": [1e-4, 1e-2, "log"]},
    },
}


@pytest.fixture
def always():
    """A plugin pruner that stops every trial it is asked about (any FID is above -1)."""

    @PRUNERS.register("test_always")
    def test_always(*, upper: float = -1.0):
        return optuna.pruners.ThresholdPruner(upper=upper)

    yield test_always
    PRUNERS._entries.pop("test_always", None)


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("name", list(PRUNERS))
def test_every_pruner_builds_with_its_defaults(name):
    assert isinstance(make_pruner(name, {}), optuna.pruners.BasePruner)
    assert make_pruner(None) is None


def test_pruner_options_are_optunas_and_errors_say_what_is_valid():
    pruner = make_pruner("asha", {"min_resource": 50, "reduction_factor": 3})
    assert isinstance(pruner, optuna.pruners.SuccessiveHalvingPruner)
    assert pruner._min_resource == 50 and pruner._reduction_factor == 3
    assert options_of("patient") == {
        "patience": 1,
        "min_delta": 0.0,
        "n_startup_trials": 5,
        "n_warmup_steps": 0,
    }
    with pytest.raises(UserError, match=r"takes no option eta; valid: min_resource \(default"):
        make_pruner("asha", {"eta": 3})
    with pytest.raises(UserError, match="pruner 'asha' refused options"):
        make_pruner("asha", {"reduction_factor": 1})  # Optuna: must be >= 2


def test_study_keys_validate_the_pruner(tmp_path, always):
    study = load_study(write(tmp_path, TINY))
    assert study.search.pruner == "test_always" and study.search.pruner_options == {}
    bad = {**TINY, "search": {**TINY["search"], "pruner": "ashaa"}}
    with pytest.raises(
        StudyError, match=r"search.pruner: unknown pruner 'ashaa'; choose from: asha"
    ):
        load_study(write(tmp_path, bad))
    bad = {**TINY, "search": {**TINY["search"], "pruner_options": {"upper": "x", "lower": 1}}}
    with pytest.raises(StudyError, match=r"search.pruner_options: .*no option lower; valid: upper"):
        load_study(write(tmp_path, bad))
    bad = {"pruner_options": {"min_resource": 3}}
    bad = {**TINY, "search": {**{k: v for k, v in TINY["search"].items() if k != "pruner"}, **bad}}
    with pytest.raises(StudyError, match="pruner_options: given without search.pruner"):
        load_study(write(tmp_path, bad))


def test_a_plugin_file_registers_a_pruner(tmp_path):
    (tmp_path / "my_pruner.py").write_text(
        "import optuna\nfrom landscape.execution.pruners import PRUNERS\n"
        "@PRUNERS.register('test_plugin_pruner')\n"
        "def f(*, upper: float = 5.0):\n    return optuna.pruners.ThresholdPruner(upper=upper)\n"
    )
    data = {**TINY, "plugins": ["my_pruner.py"]}
    data["search"] = {**TINY["search"], "pruner": "test_plugin_pruner"}
    data["search"]["pruner_options"] = {"upper": 7.5}
    try:
        study = load_study(write(tmp_path, data))
        assert study.search.pruner_options == {"upper": 7.5}
        assert make_pruner("test_plugin_pruner", {"upper": 7.5})._upper == 7.5
    finally:
        PRUNERS._entries.pop("test_plugin_pruner", None)


def test_expected_share_of_a_trial_from_the_rungs():
    # rungs 50 and 150 of 300 steps, eta 3: 2/3 stop at 50, 2/9 at 150, 1/9 run to the end
    assert pruned_share("asha", {"min_resource": 50, "reduction_factor": 3}, 300, 50) == (
        pytest.approx(2 / 3 * 50 / 300 + 2 / 9 * 150 / 300 + 1 / 9)
    )
    # a rung between evaluations stops the trial at the next evaluation: 25 -> 50, 75 -> 100,
    # 225 -> 250
    expected = 2 / 3 * 50 / 300 + 2 / 9 * 100 / 300 + 2 / 27 * 250 / 300 + 1 / 27
    assert halving_share(25, 3, 0, 300, 50) == pytest.approx(expected)
    assert pruned_share(None, {}, 300, 50) == 1.0
    assert pruned_share("median", {}, 300, 50) is None
    # hyperband: brackets s = 0 (rungs 50, 150) and s = 1 (rung 150) in equal shares
    both = (halving_share(50, 3, 0, 300, 50) + halving_share(50, 3, 1, 300, 50)) / 2
    assert pruned_share("hyperband", {"min_resource": 50, "reduction_factor": 3}, 300, 50) == (
        pytest.approx(both)
    )


def test_the_queue_prunes_search_trials_only_and_never_at_step_zero(tmp_path, always):
    study = load_study(write(tmp_path, TINY))
    results = tmp_path / "results"
    queue = Queue(study, default_storage(results), results)
    queue.add_grid(grid_runs(study))
    grid = queue.claim()
    search = queue.claim()
    assert grid.study is queue.grid and search.study is not queue.grid
    assert not queue.should_prune(grid, 3, 100.0)  # a fixed setting is never pruned
    assert not queue.should_prune(search, 0, 100.0)  # the untrained generator is no rung
    assert queue.should_prune(search, 3, 100.0)
    frozen = queue.storage.get_trial(search.trial_id)
    assert frozen.intermediate_values == {0: 100.0, 3: 100.0}  # reported as they happened


@pytest.fixture
def pruned_study(tmp_path, always):
    """The tiny study trained by one worker: its grid run, and 3 search trials all pruned."""
    study = load_study(write(tmp_path, TINY))
    results = tmp_path / "results" / TINY["name"]  # results/<study>/, as the commands expect
    queue = Queue(study, default_storage(results), results)
    queue.add_grid(grid_runs(study))
    assert Worker(study, results, default_storage(results), device="cpu").run() == 4
    return study, results, queue


@pytest.mark.slow
def test_a_worker_prunes_search_trials_and_records_their_compute(pruned_study):
    study, results, queue = pruned_study
    counts = queue.counts()
    assert counts[DONE] == 1 and counts[PRUNED] == 3  # the grid run is never pruned
    ((_, search),) = queue.searches
    trials = [t for t in search.trials if Attr.VOID not in t.user_attrs]
    assert len(trials) == 3  # pruned trials count toward the search's `trials`
    for t in trials:
        folder = results / "runs" / t.user_attrs[Attr.RUN_ID]
        status = json.loads((folder / RunFiles.STATUS).read_text())
        evals = read_jsonl(folder / RunFiles.EVAL_LOG)
        spec = RunSpec.from_record(json.loads((folder / RunFiles.CONFIG).read_text()))
        # stopped at its first evaluation after step 0, with a checkpoint there
        assert status["status"] == Status.PRUNED and status["step"] == 3
        assert [e["step"] for e in evals] == [0, 3]
        assert (folder / RunFiles.CHECKPOINT).exists()
        # told to the sampler as complete, its value the best FID so far; its last FID kept
        assert t.state == optuna.trial.TrialState.COMPLETE
        assert t.value == pytest.approx(min(e["fid"] for e in evals))
        assert t.user_attrs[Attr.PRUNED_FID] == pytest.approx(evals[-1]["fid"])
        assert status["pruned_fid"] == pytest.approx(evals[-1]["fid"])
        assert t.user_attrs[Attr.PRUNED_STEP] == 3
        # compute: D steps, FLOPs (3 steps and 2 evaluations) and the run's own clock
        flops = 3 * step_flops(spec) + 2 * eval_flops(spec)
        assert t.user_attrs[Attr.D_STEPS] == 3
        assert t.user_attrs[Attr.FLOPS] == pytest.approx(flops)
        assert status["flops"] == pytest.approx(flops)
        assert t.user_attrs[Attr.DEVICE_SECONDS] == status["wall_time"] > 0
    # a second worker trains nothing: pruned runs are ended, never trained again
    assert Worker(study, results, default_storage(results), device="cpu").run() == 0
    grid_trial = queue.grid.trials[0]
    assert grid_trial.user_attrs[Attr.STATUS] == Status.OK
    assert grid_trial.user_attrs[Attr.D_STEPS] == 6


@pytest.mark.slow
def test_budget_curves_spend_pruned_compute_but_take_no_fid_from_it(pruned_study):
    _, results, _ = pruned_study
    runs = load_results(results).runs
    board = leaderboard(runs, ("lr", "beta1", "beta2", "n_disc", "penalty_weight"))
    assert set(board["origin"]) == {"grid"}  # pruned trials are not finished settings
    curve = budget_curves(board, "loss", draws=10, runs=runs)
    assert list(curve.columns) == BUDGET_COLUMNS
    # k: the grid setting, then the 3 pruned trials in trial order
    assert list(curve["k"]) == [1, 2, 3, 4] and set(curve["n_pruned"]) == {3}
    grid_fid = board["fid_median"].iloc[0]
    assert list(curve["mean"]) == pytest.approx(
        [grid_fid] * 4
    )  # a pruned trial never becomes the best found
    assert list(curve["d_steps"]) == [6, 9, 12, 15]  # 6 D steps, then 3 per pruned trial
    by_run = runs.set_index("run_id")
    assert curve["flops"].iloc[-1] == pytest.approx(by_run["flops"].sum())
    assert curve["device_hours"].iloc[-1] == pytest.approx(by_run["wall_time"].sum() / 3600)
    assert (by_run["status"] == Status.PRUNED).sum() == 3


@pytest.mark.slow
def test_status_and_report_know_pruned_runs(pruned_study, tmp_path, capsys):
    from landscape.cli import main
    from landscape.report import write_report

    _, results, _ = pruned_study
    argv = ["status", str(tmp_path / "study.yaml"), "--results", str(results.parent)]
    assert main(argv) == 0
    assert "study tiny_pruned: 4 done (3 pruned), 0 running, 0 failed, 0 left of 4" in (
        capsys.readouterr().out
    )
    write_report(results, expected_runs=4)
    runs = (results / "runs.csv").read_text()
    assert runs.count(",pruned,") == 3
    assert list((results / "figures").glob("budget_flops_*.png"))  # against compute
    budget = (results / "budget.csv").read_text().splitlines()
    assert budget[0].endswith("n_grid,n_pruned,d_steps,flops,device_hours")


def test_plan_shows_the_expected_compute_with_the_pruner(capsys):
    from landscape.commands.plan import plan

    args = argparse.Namespace(
        storage=None, results=Path("/nonexistent"), list=False, steps_per_second=100.0, device="cpu"
    )
    plan(ROOT / "studies" / "quickstart_pruned.yaml", args)
    out = capsys.readouterr().out
    # rungs 50 and 150 of 300 D steps, reduction factor 3: a third of a full trial on average
    assert "with the asha pruner: about " in out
    assert "a search trial trains 33% of its D steps on average, from the rungs" in out


@pytest.mark.slow
def test_the_pruned_quickstart_runs_end_to_end(tmp_path):
    """studies/quickstart_pruned.yaml as documented: its grid trained, its search pruned."""
    proc = subprocess.run(
        [sys.executable, "-m", "landscape.cli", "run", str(ROOT / "studies/quickstart_pruned.yaml")]
        + ["--workers", "2", "--results", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    runs = tmp_path / "quickstart_pruned" / "runs"
    statuses = [
        json.loads((d / RunFiles.STATUS).read_text()) for d in runs.iterdir() if d.name[0] != "."
    ]
    origins = [
        json.loads((d / RunFiles.CONFIG).read_text())["origin"]
        for d in runs.iterdir()
        if d.name[0] != "."
    ]
    assert len(statuses) == 12
    for status, origin in zip(statuses, origins, strict=True):
        if origin.startswith("grid:"):
            assert status["status"] == Status.OK  # fixed settings are never pruned
        assert status["status"] in (Status.OK, Status.PRUNED)
        assert status["flops"] > 0
    assert any(s["status"] == Status.PRUNED for s in statuses)
    assert (tmp_path / "quickstart_pruned" / "report.html").exists()


@pytest.mark.parametrize("name", ["asha", "hyperband", "median", "patient", "wilcoxon"])
def test_every_built_in_pruner_answers_through_the_queue(tmp_path, name):
    """Each pruner is asked the way a worker asks it (a stored trial, no optuna.Trial); with
    one trial and no finished ones, none of them stops it at its first evaluations."""
    data = {**TINY, "search": {**TINY["search"], "pruner": name}}
    study = load_study(write(tmp_path, data))
    results = tmp_path / "results" / TINY["name"]
    queue = Queue(study, default_storage(results), results)
    lease = queue.claim()  # no grid queued: a search proposal
    assert lease.study is not queue.grid
    assert [queue.should_prune(lease, step, 50.0 - step) for step in (0, 3, 6)] == [False] * 3
