"""``landscape slurm`` without a cluster: the script it writes, the numbering that never
overwrites one, what it refuses, and a whole launch against a fake ``sbatch`` (test_slurm.py
runs a real one)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from test_study_run import CLI, TINY, write_study

from landscape.execution.slurm import (
    SbatchOptions,
    new_script,
    storage_note,
    worker_script,
)
from landscape.execution.storage import redact
from landscape.records import CLAIMS_JSON, JOURNAL, STUDY_COPY
from landscape.study import load_study

URL = "postgresql+psycopg://me:secret@db-host:5432/landscape"


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_script_carries_the_users_options_execs_the_worker_and_hides_the_password(tmp_path):
    path = write_study(tmp_path, TINY)
    done = cli(
        *("slurm", path.name, "--workers", "3", "--array-parallelism", "2"),
        *("--partition", "gpu", "--gres", "gpu:1", "--time", "1:00:00", "--mem", "8G"),
        *("--storage", URL, "--sbatch-arg=--qos=long", "--warning", "120", "--dry-run"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    script = done.stdout
    for line in (
        "#SBATCH --array=0-2%2",
        "#SBATCH --requeue",
        "#SBATCH --signal=B:USR2@120",
        "#SBATCH --open-mode=append",
        "#SBATCH --partition=gpu",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --time=1:00:00",
        "#SBATCH --mem=8G",
        "#SBATCH --qos=long",
        f"#SBATCH --chdir={tmp_path}",
        f"#SBATCH --output={tmp_path}/results/tiny/slurm/logs/%A_%a.out",
    ):
        assert f"\n{line}\n" in script, line
    last = script.strip().splitlines()[-1]
    assert last.startswith("exec ") and f"worker {path}" in last
    assert f"--results {tmp_path / 'results'}" in last
    assert last.endswith('${LANDSCAPE_STORAGE:+--storage "$LANDSCAPE_STORAGE"}')
    assert "secret" not in script and "me:***@db-host:5432/landscape" in script
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    assert not (tmp_path / "results").exists()  # a dry run writes and queues nothing


def test_data_cache_and_torch_home_reach_the_workers_as_absolute_paths(tmp_path):
    study = load_study(write_study(tmp_path, TINY))
    staged = {"LANDSCAPE_DATA": "/d a/ta", "LANDSCAPE_CACHE": "/c", "TORCH_HOME": "/t"}
    text = worker_script(
        study,
        tmp_path,
        1,
        SbatchOptions(),
        staged=staged,
        storage_note=storage_note(None),
        launched_by="a test",
    )
    assert "export LANDSCAPE_DATA='/d a/ta'\n" in text and "export TORCH_HOME=/t\n" in text
    assert "#SBATCH --array=0-0\n" in text and "the journal in the results folder" in text
    env = dict(os.environ, LANDSCAPE_DATA="rel/data", TORCH_HOME="~/th")
    env.pop("LANDSCAPE_CACHE", None)
    out = cli("slurm", "tiny.yaml", "--workers", "1", "--dry-run", cwd=tmp_path, env=env).stdout
    assert f"export LANDSCAPE_DATA={tmp_path / 'rel' / 'data'}\n" in out
    assert f"export TORCH_HOME={Path.home() / 'th'}\n" in out
    assert f"export LANDSCAPE_CACHE={Path.home() / '.cache' / 'landscape'}\n" in out


def test_a_script_is_never_overwritten(tmp_path):
    first = new_script(tmp_path, "one")
    (tmp_path / "workers-7.sh").write_text("seven")
    assert [first.name, new_script(tmp_path, "two").name] == ["workers-1.sh", "workers-8.sh"]
    assert first.read_text() == "one" and (tmp_path / "workers-7.sh").read_text() == "seven"
    assert (tmp_path / "logs").is_dir()  # Slurm would not create it: the tasks would fail


def test_passwords_are_redacted():
    assert redact(URL) == "postgresql+psycopg://me:***@db-host:5432/landscape"
    assert redact("journal:/x/optuna.journal") == "journal:/x/optuna.journal"


def test_without_sbatch_nothing_is_queued_and_the_message_says_where_to_run(tmp_path):
    write_study(tmp_path, TINY)
    env = dict(os.environ, PATH=str(tmp_path / "empty"))
    done = cli("slurm", "tiny.yaml", "--workers", "2", cwd=tmp_path, env=env)
    assert done.returncode == 2 and "sbatch not found" in done.stderr
    assert "--dry-run" in done.stderr and not (tmp_path / "results").exists()
    bad = cli("slurm", "tiny.yaml", "--workers", "0", "--dry-run", cwd=tmp_path)
    assert bad.returncode == 2 and "--workers must be >= 1" in bad.stderr


def test_a_launch_queues_into_the_workers_results_prepares_and_submits(tmp_path, cache):
    """Against a fake sbatch that keeps the script it is given and the storage it sees."""
    path = write_study(tmp_path, TINY)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(
        f'#!/bin/sh\ncp "$2" {tmp_path}/seen.sh\necho "$LANDSCAPE_STORAGE" > {tmp_path}/seen.url\n'
        "echo '4242;cluster'\n"
    )
    (bin_dir / "sbatch").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    env["LANDSCAPE_CACHE"] = str(cache)  # digits-cnn trained already: only the statistics
    journal = f"journal:{tmp_path / 'elsewhere.journal'}"
    launch = ("slurm", path.name, "--workers", "2", "--storage", journal, "--mem", "1G")
    done = cli(*launch, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    results = tmp_path / "results" / "tiny"
    assert (results / STUDY_COPY).exists() and (results / CLAIMS_JSON).exists()
    assert (tmp_path / "elsewhere.journal").exists() and not (results / JOURNAL).exists()
    assert "reference statistics of digits" in done.stdout and "real-data floor" in done.stdout
    assert "submitted job array 4242 (2 workers)" in done.stdout
    script = results / "slurm" / "workers-1.sh"
    assert script.read_bytes() == (tmp_path / "seen.sh").read_bytes()  # the exact script
    assert (tmp_path / "seen.url").read_text().strip() == journal
    (line,) = [json.loads(x) for x in (results / "slurm" / "submitted.jsonl").open()]
    assert line["job"] == "4242" and line["script"] == "workers-1.sh" and line["workers"] == 2
    again = cli(*launch, cwd=tmp_path, env=env)  # more workers later: nothing queued twice
    assert again.returncode == 0, again.stderr
    assert "0 new grid runs queued, 4 already known" in again.stdout
    assert (results / "slurm" / "workers-2.sh").exists()
