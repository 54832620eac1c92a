"""Study files: inheritance, plugins, the grid, the paper's settings, and 15+ kinds of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from landscape import LOSSES
from landscape.study import StudyError, expected_runs, grid_runs, load_study, search_cells
from landscape.study.plan import cells, search_space
from landscape.study.settings import PAPER_TABLE1

STUDIES = Path(__file__).resolve().parents[1] / "studies"

VALID = {
    "name": "t",
    "dataset": "digits",
    "budget": {"steps": 10, "eval_every": 5, "batch_size": 8},
    "model": {"width": 0.0625, "z_dim": 16},
    "grid": {
        "loss": ["ns", "wgan"],
        "penalty": ["none", "gp"],
        "normalization": ["sn"],
        "architecture": ["sndcgan"],
    },
    "hyperparameters": [{"lr": 1e-3, "n_disc": 1, "penalty_weight": 1}],
    "seeds": [0, 1],
}


def write(tmp_path: Path, data: dict, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_quickstart_is_valid_and_its_size_is_known():
    study = load_study(STUDIES / "quickstart.yaml")
    assert len(cells(study)) == 3 * 2 * 2
    assert len(grid_runs(study)) == 12 * 2 and expected_runs(study) == 24 + 4


def test_grid_is_cells_x_settings_x_seeds_and_lambda_is_dropped_without_a_penalty(tmp_path):
    study = load_study(
        write(
            tmp_path,
            {
                **VALID,
                "hyperparameters": [
                    {"lr": 1e-3, "penalty_weight": 1},
                    {"lr": 1e-3, "penalty_weight": 10},
                ],
            },
        )
    )
    runs = grid_runs(study)
    # none-penalty cells: lambda is unused, so the two settings are one run per seed
    assert len(runs) == 2 * 2 * 1 + 2 * 2 * 2
    assert {r.penalty_weight for r in runs if r.penalty == "none"} == {0.0}
    assert {r.penalty_weight for r in runs if r.penalty == "gp"} == {1.0, 10.0}
    assert len({r.run_id for r in runs}) == len(runs)
    assert all(r.origin.startswith("grid:hp-0") for r in runs)


def test_paper_table1_is_the_24_settings_of_PAPER_md():
    assert len(PAPER_TABLE1) == 24
    assert {s["lr"] for s in PAPER_TABLE1} == {2e-4, 1e-4, 1e-3}
    assert {s["penalty_weight"] for s in PAPER_TABLE1} == {1.0, 10.0}
    assert {(s["beta1"], s["beta2"], s["n_disc"]) for s in PAPER_TABLE1} == {
        (0.5, 0.9, 5),
        (0.5, 0.999, 1),
        (0.5, 0.999, 5),
        (0.9, 0.999, 5),
    }


def test_numbers_yaml_reads_as_text_are_numbers(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump({**VALID, "hyperparameters": None}).replace(
            "hyperparameters: null", "hyperparameters: {lr: [1e-4, 2e-4]}"
        )
    )
    assert [s["lr"] for _, s in load_study(path).settings] == [1e-4, 2e-4]


def test_mapping_of_lists_is_a_product_and_exclude_rules_remove_cells(tmp_path):
    study = load_study(
        write(
            tmp_path,
            {
                **VALID,
                "hyperparameters": {"lr": [1e-4, 1e-3], "n_disc": [1, 5]},
                "exclude": [{"loss": "wgan", "penalty": "none"}],
            },
        )
    )
    assert len(study.settings) == 4
    assert ("wgan", "none") not in {(c.loss, c.penalty) for c in cells(study)}
    assert len(cells(study)) == 3


def test_base_inheritance_merges_sections_and_the_child_names_itself(tmp_path):
    write(tmp_path, VALID, "base.yaml")
    child = write(
        tmp_path,
        {"base": "base.yaml", "grid": {"loss": ["hinge"]}, "budget": {"steps": 20}},
        "child.yaml",
    )
    study = load_study(child)
    assert study.name == "child" and study.grid["loss"] == ("hinge",)
    assert study.grid["penalty"] == ("none", "gp") and study.steps == 20
    assert study.eval_every == 5  # merged, not replaced


def test_plugins_register_variants_before_names_are_checked(tmp_path):
    (tmp_path / "my_loss.py").write_text(
        "from landscape import LOSSES, LossPair\n"
        "@LOSSES.register('study_test_loss')\n"
        "def f(real, fake):\n    return LossPair(d=fake.mean() - real.mean(), g=-fake.mean())\n"
    )
    try:
        study = load_study(
            write(
                tmp_path,
                {
                    **VALID,
                    "plugins": ["my_loss.py"],
                    "grid": {**VALID["grid"], "loss": ["study_test_loss"]},
                },
            )
        )
        assert study.grid["loss"] == ("study_test_loss",)
    finally:
        LOSSES._entries.pop("study_test_loss", None)


def test_search_cells_and_the_paper_ranges(tmp_path):
    study = load_study(write(tmp_path, {**VALID, "search": {"trials": 3}}))
    assert len(search_cells(study)) == 4 * 2  # per cell x n_disc in {1, 5}
    space = search_space(study, next(sc for sc in search_cells(study) if sc.cell.penalty == "gp"))
    assert (space["lr"].low, space["lr"].high, space["lr"].log) == (1e-5, 1e-2, True)
    assert (space["penalty_weight"].low, space["penalty_weight"].high) == (0.1, 100.0)
    assert 0 <= space["beta2"].low and space["beta2"].high < 1
    assert expected_runs(study) == len(grid_runs(study)) + 8 * 3


BAD = [
    ({"colour": "red"}, "colour: unknown key; valid keys:"),
    ({"dataset": None}, "dataset: unknown data set None; choose from:"),
    ({"dataset": "cifar11"}, "dataset: unknown data set 'cifar11'; choose from: .*cifar10"),
    (
        {"grid": {**VALID["grid"], "loss": ["hing"]}},
        "grid.loss: unknown loss 'hing'; choose from: hinge",
    ),
    ({"grid": {**VALID["grid"], "loss": []}}, "grid.loss: empty axis"),
    ({"grid": {**VALID["grid"], "colour": ["x"]}}, "grid.colour: unknown key"),
    ({"grid": {**VALID["grid"], "normalization": ["sn", "sn"]}}, "lists a variant twice"),
    (
        {"grid": {**VALID["grid"], "architecture": ["resnet19"]}},
        "'resnet19' does not support digits's 32x32 images; it supports: 128",
    ),
    ({"hyperparameters": "paper_table2"}, "unknown named set 'paper_table2'; choose from"),
    ({"hyperparameters": [{"lr": -1}]}, r"hyperparameters\[0\].lr: must be >= 0"),
    (
        {"hyperparameters": [{"learning_rate": 1e-3}]},
        r"hyperparameters\[0\].learning_rate: unknown key",
    ),
    ({"hyperparameters": [{"beta2": 1.0}]}, "beta2: out of range"),
    ({"hyperparameters": [{"n_disc": 1.5}]}, "n_disc: expected an integer"),
    ({"seeds": []}, "seeds: expected a non-empty list"),
    ({"seeds": [1, 1]}, "seeds: lists a seed twice"),
    ({"budget": {"steps": 0}}, "budget.steps: must be >= 1"),
    ({"budget": {"steps": "many"}}, "budget.steps: expected an integer, got 'many'"),
    ({"model": {"precision": "fp8"}}, "model.precision: unknown precision 'fp8'; choose from"),
    ({"exclude": [{"loss": "nope"}]}, r"exclude\[0\].loss: unknown loss 'nope'"),
    ({"exclude": [{}]}, "an empty rule would exclude every run"),
    ({"search": {"sampler": "cmaes"}}, "search.sampler: unknown sampler 'cmaes'; choose from: gp"),
    (
        {"search": {"ranges": {"lr": [1e-2, 1e-5, "log"]}}},
        r"search.ranges.lr: low must not exceed high, got \[0.01, 1e-05\]",
    ),
    ({"search": {"ranges": {"beta1": [-1, 1, "log"]}}}, "a log-scale range needs low > 0"),
    ({"search": {"ranges": {"momentum": [0, 1]}}}, "search.ranges.momentum: unknown key"),
    ({"search": {"trials": 0}}, "search.trials: must be >= 1"),
    ({"search": {"scope": "galaxy"}}, "search.scope: unknown scope 'galaxy'"),
    ({"variant_options": {"loss": {"hing": {"m": 1}}}}, "variant_options.loss.hing: unknown"),
    ({"plugins": ["missing.py"]}, r"plugins\[0\]: file not found"),
    ({"evaluation": {"samples": 10}}, "evaluation.samples: need at least 50 samples"),
    (
        {"evaluation": {"extractor": "inceptoin"}},
        "evaluation.extractor: unknown feature extractor 'inceptoin'.*inception-v3-compat",
    ),
    (
        {"variant_options": {"loss": {"margin": {"mm": 2}}}},
        "variant_options.loss.margin.mm: not a keyword of this variant; it takes: m",
    ),
    (
        {"variant_options": {"penalty": {"gp": {"weight": -1}}}},
        "variant_options.penalty.gp.weight: must be >= 0",
    ),
    ({"base": "nothere.yaml"}, "base: file not found: .*nothere.yaml"),
    (
        {"data_options": {"resize": 64}},
        "data_options.resize: not an option of the digits data set; it takes: download",
    ),
    ({"data_options": {"download": "yes"}}, "data_options.download: expected true or false"),
    ({"budget": {"steps": 10, "eval_every": 20}}, "budget.eval_every: 20 is more than budget.st"),
    (
        {"budget": {"steps": 10, "eval_every": 5, "batch_size": 1439}},
        "budget.batch_size: 1439 is more than the 1438 images in the train split of digits",
    ),
    (
        {"variant_options": {"loss": {"margin": {"m": "wide"}}}},
        "variant_options.loss.margin.m: expected a number, got 'wide'",
    ),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_study_files_give_one_clear_message(tmp_path, change, message):
    path = write(tmp_path, {**VALID, **change})
    with pytest.raises(StudyError, match=message) as info:
        load_study(path)
    assert str(path) in str(info.value)  # the message names the file


def test_missing_grid_and_dataset_and_file_errors(tmp_path):
    no_grid = {k: v for k, v in VALID.items() if k != "grid"}
    with pytest.raises(StudyError, match="grid: missing"):
        load_study(write(tmp_path, no_grid))
    with pytest.raises(StudyError, match="dataset: missing; choose from"):
        load_study(write(tmp_path, {k: v for k, v in VALID.items() if k != "dataset"}))
    with pytest.raises(StudyError, match="study file not found"):
        load_study(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("grid: [unclosed")
    with pytest.raises(StudyError, match="not valid YAML"):
        load_study(tmp_path / "bad.yaml")


def test_inheritance_cycles_are_reported(tmp_path):
    write(tmp_path, {**VALID, "base": "b.yaml"}, "a.yaml")
    write(tmp_path, {"base": "a.yaml"}, "b.yaml")
    with pytest.raises(StudyError, match="inheritance cycle: a.yaml -> b.yaml -> a.yaml"):
        load_study(tmp_path / "a.yaml")


PAPER = sorted(p for p in (STUDIES / "paper").glob("*.yaml") if not p.name.startswith("_"))


@pytest.mark.parametrize("path", PAPER, ids=[p.stem for p in PAPER])
def test_every_paper_study_is_valid_and_follows_PAPER_md(path):
    study = load_study(path)
    assert study.settings and len(study.seeds) >= 1
    steps = {"cifar10": 200_000, "celeba_hq_128": 100_000, "lsun_bedroom": 100_000}
    if not study.targets:
        assert study.steps == steps[study.dataset] and len(study.seeds) == 5
        assert len(study.settings) == 24 and study.search.trials == 120
        assert study.search.n_disc == (1, 5) and study.search.sampler == "gp"
    assert study.eval_samples == (3000 if study.dataset == "celeba_hq_128" else 10_000)


def test_the_paper_slices_have_the_cells_of_PAPER_md():
    loss = load_study(STUDIES / "paper" / "lsun_loss.yaml")
    assert {(c.loss, c.normalization, c.penalty) for c in cells(loss)} == {
        (lo, n, p) for lo in ("ns", "wgan", "ls") for n, p in (("sn", "none"), ("none", "gp"))
    }
    norm = load_study(STUDIES / "paper" / "celeba_hq_norm_penalty.yaml")
    assert {(c.normalization, c.penalty) for c in cells(norm)} == {
        ("none", "none"),
        ("bn", "none"),
        ("ln", "none"),
        ("sn", "none"),
        ("none", "gp"),
        ("none", "dragan"),
        ("none", "l2"),
    }
    arch = load_study(STUDIES / "paper" / "cifar10_architecture.yaml")
    assert {c.architecture for c in cells(arch)} == {"sndcgan", "resnet_cifar"}


def test_targets_are_explicit_runs_with_published_scores(tmp_path):
    from landscape.study.plan import targets_frame

    data = {k: v for k, v in VALID.items() if k not in ("grid", "hyperparameters")}
    data["targets"] = [
        {
            "architecture": "sndcgan",
            "normalization": "sn",
            "lr": 2e-4,
            "beta1": 0.5,
            "beta2": 0.999,
            "n_disc": 1,
            "seed": 2,
            "published": {"fid": 25.27},
        },
        {
            "architecture": "sndcgan",
            "penalty": "gp",
            "penalty_weight": 10,
            "seed": 2,
            "loss": "ns",
            "published": {"fid": 26.0, "is": 7.1},
        },
    ]
    data["targets"][0]["loss"] = "ns"
    study = load_study(write(tmp_path, data))
    runs = grid_runs(study)
    assert [r.origin for r in runs] == ["target:1", "target:2"]
    assert (runs[0].normalization, runs[0].seed, runs[0].lr) == ("sn", 2, 2e-4)
    assert (runs[1].penalty, runs[1].penalty_weight) == ("gp", 10.0)
    frame = targets_frame(study)
    assert frame["published_fid"].tolist() == [25.27, 26.0]
    assert frame[["dataset", "architecture", "loss", "normalization", "penalty"]].iloc[
        1
    ].tolist() == ["digits", "sndcgan", "ns", "none", "gp"]
    bad = {**data, "targets": [{"architecture": "sndcgan", "published": {"fid": 1}}]}
    with pytest.raises(StudyError, match=r"targets\[0\].loss: missing; choose from"):
        load_study(write(tmp_path, bad))


def test_plan_estimates_device_hours_from_the_measured_speed(tmp_path):
    from landscape.cost.estimate import estimate

    runs = grid_runs(load_study(write(tmp_path, VALID)))  # 6 runs of 10 steps
    table = {"device": "test gpu", "architectures": {"sndcgan": 0.01}}
    cost = estimate(runs, table)
    assert cost.train_hours == pytest.approx(len(runs) * 10 / 0.01 / 3600)
    assert cost.hours > cost.train_hours  # 3 evaluations per run (steps 0, 5, 10) on top
    assert cost.device == "test gpu" and not cost.unmeasured
    assert estimate(runs, {"architectures": {}}).unmeasured == ("sndcgan",)


def test_plan_counts_the_search_trials_left_per_scope(tmp_path):
    from landscape.commands.plan import search_runs_left

    cell = load_study(write(tmp_path, {**VALID, "search": {"trials": 3}}))
    assert len(search_runs_left(cell, None)) == 4 * 2 * 3  # cells x n_disc x trials
    space = load_study(write(tmp_path, {**VALID, "search": {"trials": 3, "scope": "space"}}))
    left = search_runs_left(space, None)
    assert len(left) == 2 * 3 and {r.n_disc for r in left} == {1, 5}


def test_the_largest_batch_is_the_train_split_and_eval_every_may_equal_steps(tmp_path):
    from landscape.data import load

    budget = {"steps": 10, "eval_every": 10, "batch_size": len(load("digits", "train"))}
    study = load_study(write(tmp_path, {**VALID, "budget": budget}))
    assert study.batch_size == 1438 and study.eval_every == study.steps == 10


def test_options_keep_the_values_as_written_so_run_ids_do_not_move(tmp_path):
    study = load_study(
        write(
            tmp_path,
            {
                **VALID,
                "data_options": {"resolution": 32},
                "variant_options": {"loss": {"margin": {"m": 2}}, "penalty": {"gp": {"weight": 3}}},
            },
        )
    )
    assert (
        study.loss_options == {"margin": {"m": 2}}
        and type(study.loss_options["margin"]["m"]) is int
    )
    assert study.penalty_options == {"gp": {"weight": 3}} and study.data_options == {
        "resolution": 32
    }
