"""Reading a results folder: run scores, sentinels, statuses, settings, bad records."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from fake_results import PROTOCOL, make_config, write_run

from landscape.analysis import SENTINEL, effective_score, load_results

OK = {"status": "ok", "step": 2000, "steps": 2000, "diverged_at": None, "wall_time": 12.5}


def ev(step: int, fid: float, is_mean: float = 5.0, kid: float = 0.01) -> dict:
    return {"step": step, "fid": fid, "is_mean": is_mean, "kid_mean": kid, "time": 1.0}


def sentinel_eval(step: int) -> dict:
    return {"step": step, **dict.fromkeys(("fid", "is_mean", "kid_mean"), SENTINEL)}


def test_score_is_the_min_fid_over_all_evals_with_is_and_kid_at_that_step(tmp_path):
    config = make_config(seed=1)
    write_run(tmp_path, config, [ev(0, 90, 1, 0.9), ev(500, 40, 7, 0.2), ev(1000, 45, 8, 0.3)], OK)
    runs = load_results(tmp_path).runs
    row = runs.iloc[0]
    assert (row.fid, row.is_mean, row.kid_mean, row.best_step) == (40, 7, 0.2, 500)
    assert (row.status, row.steps_trained, row.wall_time, row.n_evals) == ("ok", 2000, 12.5, 3)


def test_step_zero_counts(tmp_path):
    write_run(tmp_path, make_config(), [ev(0, 30, 2), ev(500, 80), ev(1000, 70)], OK)
    row = load_results(tmp_path).runs.iloc[0]
    assert (row.fid, row.best_step, row.is_mean) == (30, 0, 2)


def test_sentinel_evaluations_are_nan_and_ignored_by_the_score(tmp_path):
    diverged = {**OK, "status": "diverged", "step": 1000, "diverged_at": 1000}
    write_run(tmp_path, make_config(), [ev(0, 300), ev(500, 60), sentinel_eval(1000)], diverged)
    results = load_results(tmp_path)
    evals = results.evals
    assert evals["diverged"].tolist() == [False, False, True]
    assert evals.loc[2, ["fid", "is_mean", "kid_mean"]].isna().all()
    row = results.runs.iloc[0]
    assert row.fid == 60 and row.status == "diverged" and row.diverged_at == 1000
    assert effective_score(results.runs).iloc[0] == 60  # the best FID before it diverged


def test_effective_score_diverged_keeps_its_best_fid_failed_and_unscored_are_inf(tmp_path):
    diverged = {**OK, "status": "diverged", "step": 1000, "diverged_at": 1000}
    failed = {**OK, "status": "failed", "step": 500, "error": "RuntimeError: boom"}
    write_run(tmp_path, make_config(seed=0), [ev(0, 300), ev(500, 70)], OK)
    reached = [ev(0, 300), ev(500, 40), sentinel_eval(1000)]
    write_run(tmp_path, make_config(seed=1), reached, diverged)
    write_run(tmp_path, make_config(seed=2), [sentinel_eval(0)], {**diverged, "diverged_at": 0})
    write_run(tmp_path, make_config(seed=3), [ev(0, 300), ev(500, 20)], failed)
    write_run(tmp_path, make_config(seed=4), [ev(0, 300), ev(500, 10)], {**OK, "status": "running"})
    runs = load_results(tmp_path).runs
    eff = dict(zip(runs["seed"], effective_score(runs), strict=True))
    assert dict(zip(runs["seed"], runs["fid"], strict=True))[3] == 20  # its own score is kept
    assert {s: eff[s] for s in (0, 1, 2, 3)} == {0: 70, 1: 40, 2: math.inf, 3: math.inf}
    assert np.isnan(eff[4])  # unfinished: not aggregated yet


def test_runs_without_a_finite_score_are_kept_and_sort_last(tmp_path):
    failed = {**OK, "status": "failed", "step": 0, "error": "RuntimeError: boom"}
    write_run(tmp_path, make_config(seed=0), [sentinel_eval(0)], failed)
    write_run(tmp_path, make_config(seed=1), [ev(0, 50)], OK)
    write_run(tmp_path, make_config(seed=2))  # pending: config only
    runs = load_results(tmp_path).runs
    assert runs["seed"].tolist() == [1, 0, 2]
    assert runs["status"].tolist() == ["ok", "failed", "pending"]
    assert np.isnan(runs["fid"].iloc[1]) and np.isnan(runs["fid"].iloc[2])
    assert runs["error"].iloc[1] == "RuntimeError: boom"
    eff = effective_score(runs)
    assert eff.iloc[0] == 50 and eff.iloc[1] == math.inf and np.isnan(eff.iloc[2])


def test_protocol_dict_is_collected_once_per_name(tmp_path):
    other = {"name": "digits-test-1k-cnn", "extractor": "digits-cnn", "n_fake": 1000}
    write_run(tmp_path, make_config(seed=0), [ev(0, 50)], OK)
    write_run(tmp_path, make_config(seed=1, protocol=other["name"]), [ev(0, 9)], OK, protocol=other)
    results = load_results(tmp_path)
    assert sorted(results.protocols) == ["cifar10-test-10k-inception", "digits-test-1k-cnn"]
    assert results.protocols["digits-test-1k-cnn"]["extractor"] == "digits-cnn"
    assert set(results.evals["protocol"]) == set(results.protocols)


def test_settings_group_seeds_and_nothing_else(tmp_path):
    for seed in (0, 1, 2):
        write_run(tmp_path, make_config(seed=seed, origin="grid:a"), [ev(0, 50 + seed)], OK)
    write_run(tmp_path, make_config(seed=0, lr=1e-3), [ev(0, 70)], OK)
    write_run(tmp_path, make_config(seed=0, loss_kwargs={"m": 2.0}), [ev(0, 70)], OK)
    runs = load_results(tmp_path).runs
    sizes = runs.groupby("setting")["seed"].agg(sorted)
    assert sorted(sizes.tolist()) == [[0], [0], [0, 1, 2]]


def test_nested_options_become_canonical_json(tmp_path):
    write_run(tmp_path, make_config(loss_kwargs={"m": 1.0, "a": 2}), [ev(0, 50)], OK)
    results = load_results(tmp_path)
    assert json.loads(results.runs["loss_kwargs"].iloc[0]) == {"a": 2, "m": 1.0}
    assert "seed" not in results.hyper_columns and "lr" in results.hyper_columns


def test_torn_lines_and_missing_configs_are_reported_not_fatal(tmp_path):
    write_run(tmp_path, make_config(), [ev(0, 50), ev(500, 40)], OK, torn_line=True)
    (tmp_path / "runs" / "orphan").mkdir()
    (tmp_path / "runs" / ".locks").mkdir()  # the workers' lock files: not a run, not a problem
    results = load_results(tmp_path)
    assert len(results.runs) == 1 and results.runs["fid"].iloc[0] == 40
    assert len(results.problems) == 2
    assert any("not a JSON line" in p for p in results.problems)
    assert any("orphan" in p and "config.json" in p for p in results.problems)


def test_empty_and_missing_folders(tmp_path):
    results = load_results(tmp_path)
    assert results.runs.empty and results.evals.empty and results.protocol_names() == []
    with pytest.raises(FileNotFoundError, match="no results folder"):
        load_results(tmp_path / "nope")


def test_a_resumed_run_repeats_evaluations_and_the_last_line_wins(tmp_path):
    write_run(tmp_path, make_config(), [ev(0, 300), ev(500, 60), ev(500, 55), ev(1000, 58)], OK)
    results = load_results(tmp_path)
    assert results.evals["step"].tolist() == [0, 500, 1000]
    assert results.runs["fid"].iloc[0] == 55 and results.runs["n_evals"].iloc[0] == 3


def test_protocol_falls_back_to_the_evaluations_then_to_runs_like_it(tmp_path):
    for seed, dataset, evals in ((0, "cifar10", [ev(0, 50)]), (1, "cifar10", []), (2, "mnist", [])):
        config = make_config(seed=seed, dataset=dataset)
        del config["protocol"]
        write_run(tmp_path, config, evals, OK if evals else None)
    results = load_results(tmp_path)
    by_seed = results.runs.set_index("seed")["protocol"].to_dict()
    assert by_seed == {0: PROTOCOL["name"], 1: PROTOCOL["name"], 2: "unknown"}
    assert "protocol" in results.config_columns


def test_a_protocol_name_with_two_different_settings_is_reported(tmp_path):
    write_run(tmp_path, make_config(seed=0), [ev(0, 50)], OK)
    write_run(tmp_path, make_config(seed=1), [ev(0, 50)], OK, protocol={**PROTOCOL, "n_real": 5})
    results = load_results(tmp_path)
    assert any("recorded with different settings" in p for p in results.problems)
    assert results.protocols[PROTOCOL["name"]]["conflict"] is True
