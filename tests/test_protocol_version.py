"""The training protocol's version (records.PROTOCOL_CHANGES): version 2 makes G's batch norms
take each G step's batch twice, as compare_gan v2's second forward of G on the same z does
(PAPER.md pitfall 5). Recorded runs keep the version they were trained under; the analysis
reports runs of an older version apart."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from planned_results import planned_specs, write_planned_run

from landscape import ARCHITECTURES
from landscape.analysis.load import load_results
from landscape.records import PROTOCOL_CHANGES, PROTOCOL_VERSION
from landscape.study.spec import load_study
from landscape.train import RunSpec, train
from landscape.train.update import GanUpdate
from landscape.variants.batchnorm import BatchNorm1d, BatchNorm2d, folded

pytestmark = pytest.mark.usefixtures("one_thread")
STUDIES = Path(__file__).resolve().parents[1] / "studies"


def test_version_2_is_current_and_version_1_run_ids_did_not_move():
    assert PROTOCOL_VERSION == 2 and set(PROTOCOL_CHANGES) == {1, 2}
    spec = RunSpec(dataset="digits", architecture="sndcgan")
    assert spec.protocol_version == 2
    # ids from before the version was a field (test_penalty_kwargs): they name version-1 runs
    assert replace(spec, protocol_version=1).run_id == "30f89fc72feb"
    assert spec.run_id != "30f89fc72feb"
    assert spec.to_dict()["protocol_version"] == 2  # config.json says how the run was trained


def test_records_without_a_version_are_version_1_and_user_input_is_current():
    config = RunSpec(dataset="digits", architecture="sndcgan", protocol_version=1).to_dict()
    del config["protocol_version"]  # config.json as version 1 wrote it
    assert config["run_id"] == "30f89fc72feb"
    assert RunSpec.from_record(config).run_id == "30f89fc72feb"
    assert RunSpec.from_dict(config).protocol_version == PROTOCOL_VERSION
    with pytest.raises(ValueError, match=r"invalid protocol_version = 3; must be one of 1, 2"):
        RunSpec(dataset="digits", architecture="sndcgan", protocol_version=3)


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("kind", [BatchNorm1d, BatchNorm2d])
def test_folding_twice_is_two_forwards_of_the_same_batch(kind, momentum):
    x = torch.randn(8, 3) * 2 + 1 if kind is BatchNorm1d else torch.randn(8, 3, 4, 4) * 2 + 1
    twice, folded_in = kind(3, momentum=momentum), kind(3, momentum=momentum)
    for bn in (twice, folded_in):
        bn(x.flip(0) + 0.5)  # some history first
    twice(x)
    out = twice(x)
    with folded(torch.nn.Sequential(folded_in), 2):
        assert torch.equal(folded_in(x), out)
    torch.testing.assert_close(folded_in.running_mean, twice.running_mean)
    torch.testing.assert_close(folded_in.running_var, twice.running_var)
    assert folded_in.num_batches_tracked == twice.num_batches_tracked == 3
    folded_in(x)  # the block is over: once again
    assert folded_in.num_batches_tracked == 4


@pytest.mark.parametrize("version", [1, 2])
def test_g_running_stats_take_the_g_step_batch_twice_in_version_2(version):
    """n_disc 2: step 0 is a G turn (its batch counts twice in version 2), step 1 is not.
    Closed form of the first BN's running mean and biased variance, from 0 and 1."""
    spec = RunSpec(
        dataset="digits", architecture="sndcgan", n_disc=2, lr=1e-2, z_dim=8, batch_size=4
    )
    spec = replace(spec, protocol_version=version)
    G, D = ARCHITECTURES["sndcgan"](resolution=32, channels=1, norm="none", z_dim=8, width=1 / 32)
    bn = next(m for m in G.modules() if isinstance(m, BatchNorm1d))
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    bn.register_forward_hook(
        lambda m, inputs, out: seen.append(torch.var_mean(inputs[0], 0, correction=0)[::-1])
    )
    update = GanUpdate(spec, G, D, torch.device("cpu"))
    for step in range(2):
        update(step, torch.rand(4, 1, 32, 32))
    assert len(seen) == 2  # the G step reuses step 0's fakes: no second forward
    (m0, v0), (m1, v1) = seen
    first = 0.19 if version == 2 else 0.1  # 1 - 0.9^2: the batch folded in twice
    torch.testing.assert_close(bn.running_mean, 0.9 * first * m0 + 0.1 * m1)
    torch.testing.assert_close(bn.running_var, 0.9 * (1 - first + first * v0) + 0.1 * v1)
    assert bn.num_batches_tracked == (3 if version == 2 else 2)


def test_a_version_1_run_resumes_as_version_1(tmp_path):
    tiny = dict(dataset="digits", architecture="sndcgan", width=1 / 16, batch_size=16, seed=3)
    old = RunSpec(**tiny, steps=2, eval_every=2, protocol_version=1)
    train(old, tmp_path / "run", progress=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    del config["protocol_version"]  # as version 1 wrote it
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    again = RunSpec.from_record(config)
    assert again == old
    assert train(again, tmp_path / "run", progress=False).status == "ok"  # its own folder
    with pytest.raises(Exception, match="holds run"):
        train(replace(old, protocol_version=2), tmp_path / "run", progress=False)


def test_older_runs_are_reported_apart_and_said_to_be(tmp_path):
    shutil.copy(STUDIES / "quickstart.yaml", tmp_path / "quickstart.yaml")
    study = load_study(tmp_path / "quickstart.yaml")
    results = tmp_path / "results"
    specs = planned_specs(study, trials=0)
    for i, spec in enumerate(specs):
        write_planned_run(results, spec, "ok", 30.0 + i)
    old = [replace(s, protocol_version=1) for s in specs[:5]]
    for spec in old:
        write_planned_run(results, spec, "ok", 10.0)
        config = results / "runs" / spec.run_id / "config.json"
        recorded = json.loads(config.read_text())
        del recorded["protocol_version"]
        config.write_text(json.dumps(recorded))
    loaded = load_results(results)
    names = loaded.protocol_names()
    assert len(names) == 2
    current = next(n for n in names if "training v" not in n)
    assert f"{current} · training v1" in names
    by_protocol = loaded.runs.groupby("protocol")["run_id"].apply(set)
    assert by_protocol[f"{current} · training v1"] == {s.run_id for s in old}
    assert by_protocol[current] == {s.run_id for s in specs}
    evals = loaded.evals.groupby("protocol")["run_id"].apply(set)
    assert evals[f"{current} · training v1"] == {s.run_id for s in old}
    assert loaded.protocols[f"{current} · training v1"]["training_protocol"] == 1
    assert any("5 run(s) were trained under training protocol 1" in p for p in loaded.problems)
    assert "protocol_version" not in loaded.hyper_columns


def test_an_upgraded_study_replaces_its_queued_older_runs_that_never_started(tmp_path, monkeypatch):
    from landscape.execution.queue import Queue, default_storage
    from landscape.study import grid_runs
    from landscape.train.records import RunFolder, write_json

    path = tmp_path / "tiny.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "tiny",
                "dataset": "digits",
                "budget": {"steps": 6, "eval_every": 3, "batch_size": 8},
                "model": {"width": 0.03125, "z_dim": 8},
                "grid": {"loss": ["ns", "hinge"], "architecture": ["sndcgan"]},
                "hyperparameters": [{"lr": 1e-3, "n_disc": 1}],
                "seeds": [0, 1],
            }
        )
    )
    study = load_study(path)
    results = tmp_path / "results"
    current = grid_runs(study)
    old = [replace(r, protocol_version=1) for r in current]
    queue = Queue(study, default_storage(results), results)
    with monkeypatch.context() as m:  # the journal as version 1 wrote it: no version key
        to_dict = RunSpec.to_dict
        m.setattr(
            RunSpec,
            "to_dict",
            lambda s: {k: v for k, v in to_dict(s).items() if k != "protocol_version"},
        )
        assert queue.add_grid(old) == (4, 0)
    started = RunFolder(results / "runs" / old[0].run_id)  # a worker began this one
    started.path.mkdir(parents=True)
    write_json(started.config, old[0].to_dict())
    assert queue.add_grid(current) == (4, 0)
    assert queue.supersede_unstarted(results / "runs") == 3
    assert queue.supersede_unstarted(results / "runs") == 0  # once
    waiting = queue.run_ids((optuna.trial.TrialState.WAITING,))
    assert waiting == {r.run_id for r in current} | {old[0].run_id}
    claim = queue.claim()
    assert claim is not None and claim.spec == old[0]  # resumes under its own version


# -- issue 17.6: a run's id names what was trained, not how it is scored -------------------------
def _study_file(tmp_path, name: str, evaluation: dict) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "same",
                "dataset": "digits",
                "evaluation": evaluation,
                "budget": {"steps": 6, "eval_every": 3, "batch_size": 8},
                "model": {"width": 0.03125, "z_dim": 8},
                "grid": {"loss": ["ns", "hinge"], "architecture": ["sndcgan"]},
                "hyperparameters": [{"lr": 1e-3, "n_disc": 1}],
                "seeds": [0, 1],
            }
        )
    )
    return path


def test_studies_differing_only_in_evaluation_plan_the_same_run_ids(tmp_path):
    from landscape.study import grid_runs

    plans = [
        grid_runs(load_study(_study_file(tmp_path, f"s{i}", evaluation)))
        for i, evaluation in enumerate(
            [{}, {"samples": 350}, {"samples": 100, "extractor": "digits-cnn"}]
        )
    ]
    ids = [[r.run_id for r in runs] for runs in plans]
    assert len(ids[0]) == 4 and ids[0] == ids[1] == ids[2]
    assert {r.eval_samples for r in plans[2]} == {100}  # the training loop's protocol is kept


def test_ids_of_runs_evaluated_under_the_default_protocol_did_not_move():
    # computed by the code before 17.6 (evaluation settings hashed, here at their defaults)
    default = RunSpec(dataset="digits", architecture="sndcgan")
    assert default.run_id == "d18e715e2c21"
    assert replace(default, protocol_version=1).run_id == "30f89fc72feb"
    # evaluation settings no longer count...
    other = replace(default, eval_samples=350, extractor="digits-cnn")
    assert other.run_id == "d18e715e2c21"
    assert "legacy_eval_id" not in other.to_dict()  # config.json as before


def test_runs_recorded_with_their_evaluation_in_the_id_keep_it(tmp_path):
    """Pinned ids from the code before 17.6: a recorded run with a study's own evaluation
    settings is found under its old id by the folder, the journal and re-planning."""
    tiny = dict(dataset="digits", architecture="sndcgan", width=1 / 16, batch_size=16, seed=3)
    new = RunSpec(**tiny, steps=2, eval_every=2, eval_samples=350, extractor="digits-cnn")
    old = replace(new, legacy_eval_id=True)
    pinned = RunSpec(dataset="digits", architecture="sndcgan", eval_samples=350)
    assert replace(pinned, protocol_version=1, legacy_eval_id=True).run_id == "169388ad530a"
    assert replace(pinned, extractor="digits-cnn", legacy_eval_id=True).run_id == "f6bf9046b9d8"
    assert old.run_id != new.run_id
    config = old.to_dict()
    del config["legacy_eval_id"]  # as the code before 17.6 wrote config.json
    assert RunSpec.from_record(config) == old
    assert RunSpec.from_record(new.to_dict()) == new
    # its folder is its own: training it again returns it, not a foreign-folder error
    folder = tmp_path / "runs" / old.run_id
    train(old, folder, progress=False)
    (folder / "config.json").write_text(json.dumps(config))
    assert train(RunSpec.from_record(config), folder, progress=False).status == "ok"
    # re-planning the study finds it in the queue: nothing is queued twice
    from landscape.execution.queue import Queue, default_storage
    from landscape.train.spec import as_recorded

    assert as_recorded(new, {old.run_id}) == old and as_recorded(new, set()) == new
    study = load_study(_study_file(tmp_path, "q", {"samples": 350}))
    from landscape.study import grid_runs

    planned = grid_runs(study)
    queue = Queue(study, default_storage(tmp_path / "results"), tmp_path / "results")
    legacy = [replace(r, legacy_eval_id=True) for r in planned]
    assert queue.add_grid(legacy) == (4, 0)
    assert queue.add_grid(planned) == (0, 4)
