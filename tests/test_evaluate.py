"""Models kept and scored again (issue 18.2, 18.3): each run keeps G at its best evaluation (and at
every one on request); `landscape evaluate` scores finished runs from them under another protocol
or with a metric added later, appending records of their own protocol, never training and never
touching another protocol's scores; the same protocol reproduces the recorded FID exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from landscape import cli
from landscape.analysis.load import load_results
from landscape.evaluation import Evaluator, protocol_of
from landscape.execution import evaluations as ev
from landscape.metrics import metric
from landscape.records import best_evaluation, protocol_name
from landscape.train import RunSpec, train
from landscape.train.kept import NotKept, every_kept, generator_at, step_of
from landscape.train.records import RunFolder, read_jsonl

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = dict(
    dataset="digits",
    architecture="sndcgan",
    width=1 / 16,
    z_dim=8,
    batch_size=8,
    steps=4,
    eval_every=2,
    eval_samples=100,
    lr=5e-3,
    study="tiny",
)
OWN = "digits/test/100/digits-cnn"  # the protocol the runs are trained and evaluated under


def trained(results: Path, cache: Path, keep: str = "best", seed: int = 0) -> RunFolder:
    spec = RunSpec(**TINY, seed=seed)
    folder = results / "runs" / spec.run_id
    evaluate = Evaluator(protocol_of(spec), cache_dir=cache)
    train(spec, folder, evaluate=evaluate, progress=False, keep_generators=keep)
    return RunFolder(folder)


def test_g_is_kept_at_the_best_evaluation_and_at_every_one_on_request(tmp_path, cache):
    best_only = trained(tmp_path / "a", cache)
    every = trained(tmp_path / "b", cache, keep="every")
    evals = read_jsonl(every.eval_log)
    best = best_evaluation(evals)
    assert [s for s, _ in every_kept(every)] == [r["step"] for r in evals] == [0, 2, 4]
    assert every_kept(best_only) == [] and [p.name for p in best_only.generators.iterdir()] == [
        "best.pt"
    ]
    for folder in (best_only, every):
        payload = torch.load(folder.best_generator, weights_only=False)
        assert payload["step"] == best["step"] and payload["fid"] == best["fid"]
        assert payload["protocol"] == OWN and payload["image_shape"] == [1, 32, 32]
    # the kept G at step 4 is the G of the final checkpoint, byte for byte
    final = torch.load(every.checkpoint, weights_only=False)["G"]
    kept = torch.load(every.generator_at(4), weights_only=False)["G"]
    assert final.keys() == kept.keys() and all(torch.equal(final[k], kept[k]) for k in final)
    with pytest.raises(ValueError, match="keep_generators = 'all'; choose from: best, every"):
        train(RunSpec(**TINY), tmp_path / "c", progress=False, keep_generators="all")


def test_rescoring_under_the_original_protocol_reproduces_the_recorded_fid(tmp_path, cache):
    folder = trained(tmp_path, cache, keep="every")
    recorded = {r["step"]: r["fid"] for r in read_jsonl(folder.eval_log)}
    spec = RunSpec.from_record(json.loads(folder.config.read_text()))
    job = ev.Job(spec, folder.path, tuple(every_kept(folder)))
    evaluate = Evaluator(protocol_of(spec), cache_dir=cache)  # a fresh one: nothing carried over
    again = ev.score_run(job, evaluate, None, "cpu")
    assert {r["step"]: r["fid"] for r in again} == recorded  # exactly: eval mode, z seed 42
    assert len(set(recorded.values())) == 3  # G changed between the steps


@pytest.mark.slow
def test_evaluate_adds_another_protocol_and_never_touches_the_first(tmp_path, cache, capsys):
    results = tmp_path / "results" / "tiny"
    folders = [trained(results, cache, seed=s) for s in (0, 1)]
    before = {f.path.name: f.eval_log.read_text() for f in folders}
    argv = ["evaluate", str(results), "--samples", "150", "--cache-dir", str(cache)]
    assert cli.main(argv) == 0
    assert "2 run(s) to score under digits/test/150/digits-cnn" in capsys.readouterr().out
    for folder in folders:
        text = folder.eval_log.read_text()
        assert text.startswith(before[folder.path.name])  # appended, nothing rewritten
        evals = read_jsonl(folder.eval_log)
        own = best_evaluation(evals)
        assert own == best_evaluation(evals, OWN)  # the run's own score did not move
        (other,) = [r for r in evals if protocol_name(r) == "digits/test/150/digits-cnn"]
        assert other["step"] == own["step"] and other["rescored_from"] == "best.pt"
        assert other["protocol"]["n_fake"] == 150 and other["fid"] != own["fid"]
    assert cli.main(argv) == 0  # resumable: what is scored is not scored again
    assert "nothing to score: 2 finished run(s) scored already" in capsys.readouterr().out
    loaded = load_results(results)
    assert sorted(loaded.protocol_names()) == [OWN, "digits/test/150/digits-cnn"]
    by = loaded.runs.set_index(["protocol", "run_id"])
    for folder in folders:
        evals = read_jsonl(folder.eval_log)
        for name in loaded.protocol_names():
            assert by.loc[(name, folder.path.name), "fid"] == best_evaluation(evals, name)["fid"]


@pytest.mark.slow
def test_a_metric_added_later_is_scored_at_the_step_fid_chose(tmp_path, cache, restore_registries):
    results = tmp_path / "results" / "tiny"
    folders = [trained(results, cache, seed=s) for s in (0, 1)]
    recorded = {f.path.name: best_evaluation(read_jsonl(f.eval_log)) for f in folders}

    @metric("spread", columns=("spread",), direction="higher", needs=("fake_features",))
    def spread(inputs):
        return {"spread": float(inputs.fake_features.float().std(dim=0).mean())}

    assert cli.main(["evaluate", str(results), "--cache-dir", str(cache), "--workers", "1"]) == 0
    loaded = load_results(results)
    assert loaded.protocol_names() == [OWN]  # the same protocol: no new rows
    runs = loaded.runs.set_index("run_id")
    for folder in folders:
        best = recorded[folder.path.name]
        assert runs.loc[folder.path.name, "spread"] > 0
        assert runs.loc[folder.path.name, "best_step"] == best["step"]
        assert runs.loc[folder.path.name, "fid"] == best["fid"]  # reproduced exactly


def test_an_old_folder_is_rescored_from_its_checkpoint_only_at_that_step(tmp_path, cache):
    folder = trained(tmp_path, cache)
    for path in folder.generators.iterdir():  # as a run from before G was kept
        path.unlink()
    best = best_evaluation(read_jsonl(folder.eval_log))["step"]
    assert step_of(folder.checkpoint) == 4
    assert generator_at(folder, 4) == (4, folder.checkpoint)
    if best == 4:
        assert generator_at(folder) == (4, folder.checkpoint)
    else:
        with pytest.raises(
            NotKept, match=rf"no generator of step {best} was kept in .*\(kept: steps 4\)"
        ):
            generator_at(folder)
        jobs, problems, done = ev.plan(tmp_path, lambda spec: protocol_of(spec).as_dict())
        assert jobs == [] and done == 0
        assert len(problems) == 1 and "cannot be scored or sampled at that step" in problems[0]


def test_the_claim_study_hands_each_run_to_one_worker(tmp_path):
    from landscape.execution.queue import default_storage

    url = default_storage(tmp_path)
    first = ev.EvalQueue(url, "tiny:eval:x")
    second = ev.EvalQueue(url, "tiny:eval:x")  # another process
    assert first.add(["a", "b"]) == 2 and second.add(["a", "b", "c"]) == 1
    claims = [first.claim(), second.claim(), first.claim(), second.claim()]
    assert sorted(c[2] for c in claims[:3]) == ["a", "b", "c"] and claims[3] is None
    first.finish(claims[0][1], 1.0)
    assert first.add(["a", "b", "c"]) == 1  # only the finished one is queued again
    assert (
        ev.protocol_key({"name": "n", "k": 1, "versions": 1})
        == ev.protocol_key({"name": "n", "k": 1, "versions": 2})
        != ev.protocol_key({"name": "n", "k": 2})
    )


def test_the_study_option_says_which_generators_to_keep(tmp_path):
    import yaml

    from landscape.errors import UserError
    from landscape.study.spec import load_study

    def study(evaluation: dict):
        path = tmp_path / "s.yaml"
        raw = {
            "name": "s",
            "dataset": "digits",
            "evaluation": evaluation,
            "budget": {"steps": 4, "eval_every": 2, "batch_size": 8},
            "grid": {"loss": ["ns"], "architecture": ["sndcgan"]},
            "hyperparameters": [{"lr": 1e-3}],
        }
        path.write_text(yaml.safe_dump(raw))
        return load_study(path)

    assert study({}).keep_generators == "best"
    assert study({"keep_generators": "every"}).keep_generators == "every"
    with pytest.raises(UserError, match="evaluation.keep_generators.*choose from: best, every"):
        study({"keep_generators": "all"})


PLUGIN_LOSS = '''
import torch.nn.functional as F

from landscape import LOSSES, LossPair


@LOSSES.register("ns_plugin")
def ns_plugin(real, fake):
    """The non-saturating loss, from a plugin file."""
    d = F.softplus(-real).mean() + F.softplus(fake).mean()
    return LossPair(d=d, g=F.softplus(-fake).mean())
'''


def test_runs_of_a_plugin_variant_are_rescored_and_sampled_without_plugin_flag(
    tmp_path, cache, capsys, restore_registries
):
    """A run trained with a plugin's loss names the plugin file in its code.json: `evaluate`
    and `sample` load it themselves; when the file is gone they say so and how to fix it."""
    from landscape import LOSSES, plugins
    from landscape.records import RunFiles
    from landscape.train.fingerprint import run_code
    from landscape.train.records import write_json

    file = tmp_path / "my_loss.py"
    file.write_text(PLUGIN_LOSS)
    plugins.load_plugin(file)
    spec = RunSpec(**{**TINY, "loss": "ns_plugin"})
    results = tmp_path / "results" / "tiny"
    folder = results / "runs" / spec.run_id
    train(spec, folder, evaluate=Evaluator(protocol_of(spec), cache_dir=cache), progress=False)
    write_json(folder / RunFiles.CODE, {"run_id": spec.run_id, **run_code(spec)})  # as a worker

    def forget() -> None:  # a new process: the plugin is not loaded
        LOSSES._entries.pop("ns_plugin", None)
        plugins._LOADED.pop(file.resolve(), None)

    forget()
    argv = ["evaluate", str(results), "--cache-dir", str(cache), "--samples", "150"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert f"loaded plugin {file.resolve()}: the runs were trained with its loss:ns_plugin" in err
    protocols = {r["protocol"]["name"] for r in read_jsonl(folder / RunFiles.EVAL_LOG)}
    assert protocols == {OWN, "digits/test/150/digits-cnn"}

    forget()
    out = tmp_path / "samples"
    assert cli.main(["sample", str(folder), "--n", "4", "--out", str(out)]) == 0
    assert len(list(out.glob("*.png"))) == 4

    forget()
    file.unlink()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "loss:ns_plugin from plugin" in err and "which is gone; give --plugin FILE" in err
