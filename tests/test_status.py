"""The status view's arithmetic (execution/status.py) on hand-built trial rows: the ETA past
24 h and after a restart, throughput, failures by reason, the device time of void claims; and
where a run ran (execution/where.py), kept across a resume."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from landscape.execution import where
from landscape.execution.status import (
    TrialRow,
    duration_text,
    failure_groups,
    line,
    reason_of,
    summarize,
    throughput,
    void_seconds,
)
from landscape.execution.trials import HEARTBEAT_EVERY
from landscape.records import RunFiles

H = 3600.0


def done(start: float, end: float, fid: float = 50.0, run: str = "r") -> TrialRow:
    return TrialRow("done", run, "grid:hp-01", start=start, end=end, value=fid)


def test_durations_are_hours_or_days_never_a_clock_that_wraps():
    assert duration_text(45) == "45 s"
    assert duration_text(12 * 60 + 59) == "12 min"
    assert duration_text(25 * H + 60) == "25 h 01 min"  # gmtime would say 01:01:00
    assert duration_text(47 * H + 59 * 60 + 50) == "48 h 00 min"
    assert duration_text(900 * H) == "37.5 days"
    assert duration_text(None) == "unknown"


def test_the_issues_example_100_of_1980_runs_after_48_hours():
    """One worker, a run every 1,728 s for 48 h: 100 done, 1,880 to go (one running) at
    100 / 48 runs per hour is 902.4 h, not the "14:24:00" gmtime printed."""
    rows = [done(i * 1728.0, (i + 1) * 1728.0, run=f"r{i}") for i in range(100)]
    rows.append(TrialRow("running", "r100", start=48 * H))
    s = summarize("paper", rows, total=1980, now=48 * H, window=48 * H)
    assert s.counts == {"done": 100, "pruned": 0, "running": 1, "failed": 0, "left": 1879}
    assert s.rate.finished == 100 and s.rate.span == 48 * H
    assert s.rate.per_hour == pytest.approx(100 / 48)
    assert s.eta == pytest.approx(1880 * 48 / 100 * H)  # 902.4 h
    assert duration_text(s.eta) == "37.6 days"
    assert "ETA 37.6 days" in line(s)


def test_after_a_restart_the_eta_comes_from_the_session_not_all_time():
    """100 runs on day one; a day of nothing; a restart at T0. Ten minutes later 3 runs are
    done in the session and 2 run: 3 runs / 600 s = 18/h; 95 left + 2 running take
    97 / 18 h = 5 h 23 min. (The old line, this session's 600 s over 103 finished runs, said
    565 s.) A claim lost before the restart is voided at it, but its device stopped one beat
    after its last heartbeat: it is neither in the window nor more than 130 s of lost time."""
    t0 = 2 * 86400.0
    rows = [done(i * 864.0, (i + 1) * 864.0, run=f"old{i}") for i in range(100)]
    rows += [
        done(t0, t0 + 200, run="a"),
        done(t0 + 200, t0 + 400, run="b"),
        done(t0, t0 + 500, run="c"),
        TrialRow("running", "d", start=t0 + 400),
        TrialRow("running", "e", start=t0 + 500),
    ]
    lost_start = t0 - 86400 + 500
    rows.append(
        TrialRow("void", "x", start=lost_start, end=lost_start + 100 + HEARTBEAT_EVERY,
                 error="worker vm:123 lost")
    )  # fmt: skip
    s = summarize("s", rows, total=200, now=t0 + 600)
    assert s.counts == {"done": 103, "pruned": 0, "running": 2, "failed": 0, "left": 95}
    assert (s.rate.finished, s.rate.span) == (3, 600.0)
    assert s.rate.per_hour == pytest.approx(18.0)
    assert s.eta == pytest.approx(97 / 18 * H)
    assert duration_text(s.eta) == "5 h 23 min"
    assert s.lost["lost"] == pytest.approx(130.0)


def test_a_lost_claims_device_time_ends_one_beat_after_its_last_heartbeat():
    """Read from a real Optuna trial: claimed at 1000, last heartbeat at 1100, voided as lost
    at 5000 by reclaim_stale: 100 + HEARTBEAT_EVERY seconds, not 4000."""
    import datetime as dt

    import optuna
    from optuna.trial import TrialState

    from landscape.execution.status import _row
    from landscape.execution.trials import Attr

    def at(seconds):
        return dt.datetime.fromtimestamp(seconds)

    t = optuna.trial.FrozenTrial(
        number=0, state=TrialState.FAIL, value=None, datetime_start=at(1000),
        datetime_complete=at(5000), params={}, distributions={},
        user_attrs={Attr.RUN_ID: "x", Attr.HEARTBEAT: 1100.0, Attr.VOID: "worker h:1 lost"},
        system_attrs={}, intermediate_values={}, trial_id=0,
    )  # fmt: skip
    row = _row(t, stands=False)
    assert (row.kind, row.start, row.end) == ("void", 1000.0, 1100.0 + HEARTBEAT_EVERY)
    assert void_seconds([row])["lost"] == pytest.approx(100 + HEARTBEAT_EVERY)


def test_throughput_counts_only_the_window_and_stops_when_nothing_runs():
    rows = [done(0, 100), done(100, 4000), done(4000, 7000)]
    # window [3400, 7400]: two runs ended in it; the earliest still working started at 100,
    # so the window is fully busy up to the last end, 7000 (nothing runs now)
    rate = throughput(rows, now=7400.0, window=4000.0)
    assert (rate.finished, rate.span) == (2, 7000.0 - 3400.0)
    assert throughput([], now=10.0).per_hour is None


def test_eta_is_unknown_while_nothing_runs_and_zero_when_through():
    rows = [done(0, 3600)]
    assert summarize("s", rows, total=5, now=4000).eta is None  # stopped: no promise
    s = summarize("s", rows, total=1, now=4000)
    assert s.eta == 0.0 and "ETA" not in line(s)


def test_failures_are_grouped_by_reason_numbers_paths_and_ids_taken_out():
    oom = "RuntimeError: CUDA out of memory. Tried to allocate {} GiB (GPU 0)"
    rows = [
        TrialRow("failed", "a", error="Traceback ...\n" + oom.format("2.00")),
        TrialRow("failed", "b", error=oom.format("3.50")),
        TrialRow("void", "c", error="attempt 1 raised: " + oom.format("1.25")),
        TrialRow("failed", "d", error="FileNotFoundError: no file /data/x/1a2b3c4d5e.png"),
        TrialRow("failed", "e", error="FileNotFoundError: no file /scratch/y/z.png"),
        TrialRow("failed", "f", error="ValueError: boom"),
        TrialRow("void", "g", error="duplicate: another worker is training this run"),
    ]
    groups = failure_groups(rows)
    assert [(g.reason, g.runs, g.retried, g.run_ids) for g in groups] == [
        ("RuntimeError: CUDA out of memory. Tried to allocate <n> GiB (GPU <n>)", 2, 1,
         ["a", "b"]),
        ("FileNotFoundError: no file <path>", 2, 0, ["d", "e"]),
        ("ValueError: boom", 1, 0, ["f"]),
    ]  # fmt: skip
    assert groups[0].example.endswith(oom.format("2.00"))  # the first message, whole
    assert reason_of("KeyError: 'deadbeef0123'") == "KeyError: '<id>'"
    assert reason_of("") == "no error recorded"


def test_device_time_of_claims_that_did_not_finish_is_summed_by_kind():
    rows = [
        TrialRow("void", "a", start=0, end=100, error="interrupted; resumes from its checkpoint"),
        TrialRow("void", "a", start=200, end=260, error="interrupted; resumes from its checkpoint"),
        TrialRow("void", "b", start=0, end=5, error="duplicate: the run's result is recorded"),
        TrialRow("void", "c", start=0, end=40, error="attempt 1 raised: ValueError: x"),
        TrialRow("void", "d", start=0, end=9, error="worker h:7 lost"),
        TrialRow("void", None, start=0, end=3, error="over budget"),  # never ran
        TrialRow("done", "e", start=0, end=1000, value=3.0),
    ]
    assert void_seconds(rows) == {
        "interrupted": 160.0, "cannot_start": 0.0, "lost": 9.0, "duplicate": 5.0, "retried": 40.0
    }  # fmt: skip


def test_the_best_fid_is_the_lowest_usable_score():
    rows = [done(0, 1, fid=31337.0, run="diverged"), done(0, 2, fid=12.5, run="b"),
            done(0, 3, fid=20.0, run="c"), TrialRow("failed", "f", end=4)]  # fmt: skip
    assert summarize("s", rows, total=4, now=10).best == {
        "run_id": "b", "origin": "grid:hp-01", "fid": 12.5
    }  # fmt: skip


def test_the_status_module_does_not_import_torch():
    code = "import sys, landscape.execution.status; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- where a run ran ------------------------------------------------------------------------------
def test_where_a_run_ran_is_recorded_once_per_place_and_kept_across_a_resume(tmp_path, monkeypatch):
    import torch

    folder = tmp_path / "runs" / "abc"
    assert where.record(folder, "abc", "cpu", env={})
    assert not where.record(folder, "abc", "cpu", env={})  # resumed in the same place
    first = where.places(folder)
    assert len(first) == 1
    assert first[0]["device"] == "cpu" and first[0]["slurm"] is None
    assert first[0]["versions"]["torch"] == torch.__version__
    assert first[0]["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    # pre-empted, resumed on another node as a Slurm array task
    monkeypatch.setattr(where.socket, "gethostname", lambda: "node17")
    env = {"SLURM_JOB_ID": "4242", "SLURM_ARRAY_JOB_ID": "4240", "SLURM_ARRAY_TASK_ID": "2",
           "SLURMD_NODENAME": "node17", "CUDA_VISIBLE_DEVICES": "0"}  # fmt: skip
    assert where.record(folder, "abc", "cpu", env=env)
    later = where.places(folder)
    assert later[0] == first[0]  # nothing recorded is overwritten
    assert later[1]["host"] == "node17"
    assert later[1]["slurm"] == {k: v for k, v in env.items() if k.startswith("SLURM")}
    assert where.last_place(folder) == later[1]


def test_where_leaves_a_folder_holding_another_run_untouched(tmp_path):
    folder = tmp_path / "abc"
    folder.mkdir()
    (folder / RunFiles.CONFIG).write_text(json.dumps({"run_id": "other"}))
    assert not where.record(folder, "abc", "cpu", env={})
    assert not (folder / RunFiles.WHERE).exists()


def test_the_documented_json_schema_is_the_one_printed():
    """docs/studies.md lists every key of --json, and each sub-key of the objects it names."""
    import re
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[1] / "docs" / "studies.md").read_text()
    section = docs.split("## Watching a study")[1].split("\n## ")[0]
    table = dict(re.findall(r"^\| `(\w+)` \| [^|]+ \| (.*) \|$", section, re.M))
    rows = [done(0, 10, run="a"), TrialRow("running", "b", start=5, step=3, steps=6)]
    doc = summarize("s", rows, total=3, now=20, where=lambda run_id: {"host": "h"}).to_json()
    assert set(table) == set(doc)
    for key in ("counts", "throughput", "void_seconds"):
        assert all(f"`{sub}`" in table[key] for sub in doc[key]), key
    assert all(f"`{sub}`" in table["running"] for sub in doc["running"][0])
    assert all(f"`{sub}`" in table["best"] for sub in doc["best"])


def test_a_gpu_is_named_with_its_index_and_model(monkeypatch):
    """No GPU here: torch.cuda's answers stand in, so the CUDA branch is still exercised."""
    import torch

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"GPU model {i}")
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 3)
    assert where.device_name(torch.device("cuda:1")) == "cuda:1 GPU model 1"
    assert where.device_name("cuda") == "cuda:3 GPU model 3"  # the current device
    assert where.device_name("cpu") == "cpu"


def test_the_text_view_shows_where_each_running_run_runs():
    from landscape.commands.status import report

    place = {"host": "node17", "device": "cuda:0 GPU model 0",
             "slurm": {"SLURM_JOB_ID": "4242", "SLURM_ARRAY_JOB_ID": "4240",
                       "SLURM_ARRAY_TASK_ID": "2"},
             "versions": {"python": "3.11.7", "torch": "2.14.1+cu130",
                          "optuna": "5.1.0"}}  # fmt: skip
    rows = [
        done(0, 3600, fid=12.5, run="a"),
        TrialRow("running", "b", "grid:hp-01", start=3000, worker="node17:99", step=40, steps=60),
        TrialRow("void", "b", start=0, end=2700, error="interrupted; resumes from its checkpoint"),
    ]
    s = summarize("s", rows, total=3, now=3600 + 1800, where={"b": place}.get)
    assert report(s) == [
        # the window, [1800, 5400], is busy throughout (the void claim ran until 2700)
        "study s: 1 done, 1 running, 0 failed, 1 left of 3; 1 runs/h over the last 1 h 00 min; "
        "ETA 2 h 00 min; best FID 12.5",
        "  best FID so far: 12.5 (a, grid:hp-01)",
        "  running: b (grid:hp-01) at step 40 of 60 on node17:99",
        "    on node17 (Slurm job 4240_2), cuda:0 GPU model 0; python 3.11.7, torch "
        "2.14.1+cu130, optuna 5.1.0",
        "  device time in claims that did not finish: 45 min interrupted",
    ]


def test_pruned_trials_are_ended_apart_from_done_and_never_the_best():
    """Two done runs and one search trial the pruner stopped (its value: its FID so far, lower
    than both): the line says 3 done (1 pruned), nothing is left, the throughput counts the
    pruned trial as ended, and the best FID is a finished run's."""
    rows = [done(0.0, 1 * H, fid=40.0, run="a"), done(1 * H, 2 * H, fid=30.0, run="b")]
    rows.append(TrialRow("pruned", "c", "search:x", start=2 * H, end=2.5 * H, value=10.0))
    s = summarize("study", rows, total=3, now=3 * H, window=3 * H)
    assert s.counts == {"done": 2, "pruned": 1, "running": 0, "failed": 0, "left": 0}
    assert s.rate.finished == 3
    assert s.best["fid"] == 30.0 and s.best["run_id"] == "b"
    assert line(s).startswith("3 done (1 pruned), 0 running, 0 failed, 0 left of 3")
