"""Two workers share one study through a real PostgreSQL server on loopback.

The server is started by this test (initdb + pg_ctl on a free port, trust auth, loopback only)
and stopped at the end; the test is skipped, saying why, where no server can be started.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import optuna
import pytest
import yaml
from test_study_run import CLI, TINY


def _binary(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's "
            "`postgresql` package (.ci/run does) to run this test"
        )
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e .[dev])")
    as_postgres: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="landscape-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        if not shutil.which("runuser"):
            pytest.skip("running as root without `runuser` to start PostgreSQL as another user")
        as_postgres = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    port = _free_port()
    data, log = root / "data", root / "server.log"
    try:
        subprocess.run(
            [*as_postgres, initdb, "-D", str(data), "-U", "landscape", "--auth=trust"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *as_postgres,
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-o",
                f"-p {port} -h 127.0.0.1 -k {root}",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, KeyError) as error:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL here: {error}")
    yield f"postgresql+psycopg://landscape@127.0.0.1:{port}/postgres"
    subprocess.run(
        [*as_postgres, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
    )
    shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_one_study_in_postgresql(tmp_path, postgres_url):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, "name": "pgtiny"}))
    workers = [
        subprocess.Popen(
            [
                *CLI,
                "worker",
                str(path),
                "--storage",
                postgres_url,
                "--results",
                str(tmp_path),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    # the first worker to start finds an empty queue unless the grid is queued first
    plan = subprocess.run(
        [
            *CLI,
            "run",
            str(path),
            "--workers",
            "1",
            "--storage",
            postgres_url,
            "--results",
            str(tmp_path),
            "--no-report",
        ],
        capture_output=True,
        text=True,
    )
    for w in workers:
        w.wait(timeout=600)
    assert plan.returncode == 0, plan.stderr
    study = optuna.load_study(study_name="pgtiny", storage=postgres_url)
    done = [t for t in study.trials if "void" not in t.user_attrs]
    assert len(done) == 4 and all(t.state.name == "COMPLETE" for t in done)
    assert max(Counter(t.user_attrs["run_id"] for t in done).values()) == 1


def _racing_worker(spec_path: Path, url: str, results: Path) -> None:
    """A worker minus the training: claim and complete until the queue is empty."""
    from landscape.execution.queue import Queue
    from landscape.study import load_study

    queue = Queue(load_study(spec_path), url, results)
    while (claim := queue.claim()) is not None:
        queue.complete(claim, 1.0, {"fid": 1.0})


@pytest.mark.parametrize("storage", ["journal", "postgresql"])
def test_racing_claims_take_each_waiting_run_once(tmp_path, request, storage):
    """Six processes claim a 40-run grid at once through the id-only listing of waiting trials
    (storage.waiting): each run is taken and completed exactly once, none is left, and the
    listing gives the oldest waiting trials first, RUNNING ones left out, on both storages."""
    from landscape.execution.queue import Queue, default_storage
    from landscape.execution.storage import take, waiting
    from landscape.study import grid_runs, load_study

    spec_path = tmp_path / "race.yaml"
    spec_path.write_text(
        yaml.safe_dump({**TINY, "name": f"race_{storage}", "seeds": list(range(20))})
    )
    study = load_study(spec_path)
    results = tmp_path / "results"
    if storage == "postgresql":  # started (or skipped, saying why) only for this case
        url = request.getfixturevalue("postgres_url")
    else:
        url = default_storage(results)
    queue = Queue(study, url, results)
    assert queue.add_grid(grid_runs(study)) == (40, 0)
    sid = queue.study_id(queue.grid)
    first = waiting(queue.storage, sid, 5)
    assert [number for _, number in first] == [0, 1, 2, 3, 4]
    assert take(queue.storage, first[0][0])  # now RUNNING: no longer listed
    assert [number for _, number in waiting(queue.storage, sid, 3)] == [1, 2, 3]
    queue.storage.set_trial_state_values(first[0][0], optuna.trial.TrialState.WAITING)

    pids = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            try:
                _racing_worker(spec_path, url, results)
                os._exit(0)
            except BaseException:
                import traceback

                traceback.print_exc()
                os._exit(1)
        pids.append(pid)
    assert [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids] == [0] * 6
    trials = optuna.load_study(study_name=study.name, storage=queue.storage).trials
    assert Counter(t.state.name for t in trials) == {"COMPLETE": 40}
    assert len({t.user_attrs["run_id"] for t in trials}) == 40
    assert waiting(queue.storage, sid, 5) == []
