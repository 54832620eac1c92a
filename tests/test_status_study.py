"""`landscape status` on a real tiny study run by the real runner: counts, best FID, failures
by reason, --json, --watch; and where each run ran, recorded by the worker."""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path

import pytest
import torch
from test_study_run import TINY, cli, trials, write_study

from landscape.commands import status as status_command
from landscape.execution import run_study
from landscape.execution.where import places
from landscape.study import load_study
from landscape.train.records import read_jsonl

BOOM = (
    "from landscape import LOSSES\n"
    "@LOSSES.register('boom_loss')\n"
    "def boom(real, fake):\n    raise RuntimeError('boom at step 0 of /tmp/x/y.py')\n"
)


def args(study: Path, results: Path, **flags) -> argparse.Namespace:
    base = {"storage": None, "results": results, "window": 60.0, "watch": None, "json": False}
    return argparse.Namespace(study=study, **{**base, **flags})


@pytest.fixture
def forget_boom():
    """The in-process status command loads boom.py: take its loss out of the registry after,
    so that another test's plugin may register the same name."""
    yield
    from landscape import LOSSES

    LOSSES._entries.pop("boom_loss", None)


@pytest.mark.slow
def test_status_of_a_real_study_with_a_failing_run(tmp_path, capsys, forget_boom):
    (tmp_path / "boom.py").write_text(BOOM)
    data = {**TINY, "plugins": ["boom.py"], "seeds": [0]}
    data["grid"] = {**TINY["grid"], "loss": ["ns", "boom_loss"]}
    path = write_study(tmp_path, data)
    root = tmp_path / "results"
    proc = cli("run", str(path), "--results", str(root), "--no-report")
    assert proc.returncode == 1, proc.stderr  # a run failed for good
    assert "finished: 1 done, 0 running, 1 failed, 0 left of 2" in proc.stdout

    out = cli("status", str(path), "--results", str(root), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    results = root / "tiny"
    final = {t.user_attrs["loss"]: t for t in trials(results, "tiny")}
    assert doc["schema"] == 1 and doc["study"] == "tiny" and doc["total"] == 2
    assert doc["counts"] == {"done": 1, "pruned": 0, "running": 0, "failed": 1, "left": 0}
    assert doc["best"] == {
        "run_id": final["ns"].user_attrs["run_id"],
        "origin": "grid:hp-01",
        "fid": final["ns"].value,
    }
    ok_run = results / "runs" / final["ns"].user_attrs["run_id"]
    evals = read_jsonl(ok_run / "evals.jsonl")
    assert doc["best"]["fid"] == min(e["fid"] for e in evals)
    # three attempts (max_retries 2): two retried, the third failed for good, one reason
    [group] = doc["failures"]
    assert group["reason"] == "RuntimeError: boom at step <n> of <path>"
    assert (group["runs"], group["retried"]) == (1, 2)
    assert group["run_ids"] == [final["boom_loss"].user_attrs["run_id"]]
    assert doc["throughput"]["finished"] == 2 and doc["throughput"]["per_hour"] > 0
    assert doc["eta_seconds"] == 0.0 and doc["running"] == []
    assert doc["void_seconds"]["retried"] > 0 and doc["void_seconds"]["lost"] == 0.0

    # where each run ran: this host, the CPU, the versions in use
    for t in final.values():
        [place] = places(results / "runs" / t.user_attrs["run_id"])
        assert place["host"] == socket.gethostname() and place["device"] == "cpu"
        assert place["versions"]["torch"] == torch.__version__

    # the text view, and --watch when not on a terminal: one line per refresh, ending when the
    # study is through
    assert status_command.run(args(path, root)) == 0
    text = capsys.readouterr().out
    assert "study tiny: 1 done, 0 running, 1 failed, 0 left of 2" in text
    assert "failures: 1 run(s) failed, 2 attempt(s) retried: RuntimeError: boom at step" in text
    assert status_command.run(args(path, root, watch=0.01)) == 0
    [watched] = capsys.readouterr().out.splitlines()
    assert watched.endswith(f"best FID {final['ns'].value:.4g}")


def test_watch_refreshes_until_interrupted_and_json_lines(tmp_path, capsys, monkeypatch):
    """A queued study (nothing trains): --watch prints one JSON line per refresh."""
    path = write_study(tmp_path, {**TINY, "seeds": [0]})
    run_study(load_study(path), workers=0, results_root=tmp_path, report=False)
    capsys.readouterr()
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(status_command.time, "sleep", sleep)
    assert status_command.run(args(path, tmp_path, watch=5.0, json=True)) == 0
    docs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert sleeps == [5.0, 5.0] and len(docs) == 2
    assert docs[0]["counts"] == {"done": 0, "pruned": 0, "running": 0, "failed": 0, "left": 2}
    assert docs[0]["eta_seconds"] is None and docs[0]["throughput"]["per_hour"] is None
