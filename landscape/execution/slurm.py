"""The Slurm launcher: a job array of ``landscape worker``s, from a batch script we write.

Why an sbatch script of our own and not submitit (docs/cluster.md says the same for users):
submitit's job wrapper answers SIGTERM with "Bypassing signal SIGTERM" and checkpoints only on
its own USR2, so ``scontrol requeue``, ``scancel`` and a pre-emption (all SIGTERM) would kill a
run without a checkpoint; and it pickles a callable per job, where a worker needs nothing but a
command line. The script ``exec``s the worker: under ``ProctrackType=proctrack/cgroup`` Slurm
signals only the batch shell and SIGKILLs the rest of the job's cgroup, so the worker must *be*
the batch shell to see a signal at all.

Every script submitted is kept, numbered, in ``results/<study>/slurm/`` (``workers-N.sh``; the
job ids in ``submitted.jsonl``); the workers' output goes to ``slurm/logs/``, appended across
requeues.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from landscape.errors import UserError
from landscape.execution.signals import REQUEUE
from landscape.execution.storage import STORAGE_ENV, redact
from landscape.study.spec import StudySpec

SLURM_DIR = "slurm"  # results/<study>/slurm/: the scripts submitted, their job ids, the logs
LOGS = "logs"  # slurm/logs/<array job>_<task>.out, appended across requeues
SUBMITTED = "submitted.jsonl"  # one line per submission: script, job id, workers, time
SCRIPT_PREFIX = "workers-"
WARNING_SECONDS = 300  # the time-limit warning comes this early: one evaluation + a checkpoint
STAGED_ENV = ("LANDSCAPE_DATA", "LANDSCAPE_CACHE", "TORCH_HOME")  # resolved on the login node


class SlurmError(UserError):
    """sbatch is missing or refused the job; the message says what it said."""


@dataclass(frozen=True)
class SbatchOptions:
    """The user's own sbatch options; None leaves a setting to the cluster's defaults."""

    partition: str | None = None
    account: str | None = None
    time: str | None = None
    mem: str | None = None
    cpus_per_task: int | None = None
    gpus_per_task: str | None = None
    gres: str | None = None
    array_parallelism: int | None = None
    warning_seconds: int = WARNING_SECONDS
    extra: tuple[str, ...] = ()

    def directives(self, study: StudySpec, workers: int, logs: Path, chdir: Path) -> list[str]:
        """The #SBATCH lines: ours (array, requeue, warning signal, logs), then the user's."""
        array = f"0-{workers - 1}" + (
            f"%{self.array_parallelism}" if self.array_parallelism else ""
        )
        ours = [
            f"--job-name=landscape-{study.name}",
            f"--array={array}",
            "--nodes=1",
            "--ntasks=1",
            "--requeue",  # pre-emption and the time-limit warning requeue the task
            f"--signal=B:{REQUEUE.name.removeprefix('SIG')}@{self.warning_seconds}",
            "--open-mode=append",  # a requeued task adds to its log instead of truncating it
            f"--output={logs / '%A_%a.out'}",
            f"--chdir={chdir}",
        ]
        named = {
            "partition": self.partition,
            "account": self.account,
            "time": self.time,
            "mem": self.mem,
            "cpus-per-task": self.cpus_per_task,
            "gpus-per-task": self.gpus_per_task,
            "gres": self.gres,
        }
        theirs = [f"--{key}={value}" for key, value in named.items() if value is not None]
        return ours + theirs + list(self.extra)


def staged_environment() -> dict[str, str]:
    """LANDSCAPE_DATA, LANDSCAPE_CACHE and TORCH_HOME as this (login) node resolves them,
    absolute: the workers read the data, the cached statistics and weights where the launcher
    prepared them, whatever the compute nodes' own defaults."""
    from landscape.data.base import default_root
    from landscape.metrics.cache import default_cache_dir

    torch_home = os.environ.get("TORCH_HOME") or str(
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "torch"
    )  # torch.hub's own rule, without importing torch
    paths = {
        "LANDSCAPE_DATA": default_root(),
        "LANDSCAPE_CACHE": default_cache_dir(),
        "TORCH_HOME": Path(torch_home),
    }
    return {key: str(Path(value).expanduser().absolute()) for key, value in paths.items()}


def worker_script(
    study: StudySpec,
    results_root: Path,
    workers: int,
    options: SbatchOptions,
    *,
    staged: dict[str, str],
    storage_note: str,
    launched_by: str,
) -> str:
    """The batch script of a job array of ``workers`` workers on ``study``."""
    results_root = Path(results_root).absolute()
    logs = results_root / study.name / SLURM_DIR / LOGS
    plugins = [arg for p in study.plugins for arg in ("--plugin", p)]
    command = [
        sys.executable,
        "-m",
        "landscape.cli",
        *plugins,
        "worker",
        str(Path(study.path).absolute()),
        "--results",
        str(results_root),
    ]
    lines = [
        "#!/bin/bash",
        f"# {workers} landscape worker(s) for study {study.name}, written by {launched_by}",
        *(f"#SBATCH {d}" for d in options.directives(study, workers, logs, Path.cwd())),
        "",
        "# Where the data sets, the cached statistics and the Inception weights are (resolved",
        "# on the login node, which prepared the statistics there).",
        *(f"export {key}={shlex.quote(value)}" for key, value in staged.items()),
        "export LANDSCAPE_WORKER_INDEX=$SLURM_ARRAY_TASK_ID  # each task its own search stream",
        "# torch's threads: the task's CPUs (not every core of the node)",
        'if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then',
        "    export LANDSCAPE_THREADS=$SLURM_CPUS_PER_TASK",
        "fi",
        f"# Storage: {storage_note}",
        "# exec: the worker becomes the batch shell, so Slurm's signals reach it (SIGTERM on",
        f"# requeue or pre-emption, SIG{REQUEUE.name.removeprefix('SIG')} ahead of the time "
        f"limit); with proctrack/cgroup Slurm",
        "# signals only the batch shell and SIGKILLs everything else in the job.",
        f'exec {shlex.join(command)} ${{{STORAGE_ENV}:+--storage "${STORAGE_ENV}"}}',
        "",
    ]
    return "\n".join(lines)


def storage_note(url: str | None) -> str:
    """How the script's workers find the storage, without the password."""
    if not url:
        return "the journal in the results folder (no --storage)"
    return f"${STORAGE_ENV} from sbatch's environment: {redact(url)} (never written here)"


def new_script(folder: Path, text: str) -> Path:
    """``folder/workers-N.sh`` with the next free N, created exclusively: never overwritten.
    The logs folder is made too: Slurm does not create a missing --output folder (the task
    fails at launch)."""
    (folder / LOGS).mkdir(parents=True, exist_ok=True)
    taken = [
        int(p.stem.removeprefix(SCRIPT_PREFIX))
        for p in folder.glob(f"{SCRIPT_PREFIX}*.sh")
        if p.stem.removeprefix(SCRIPT_PREFIX).isdigit()
    ]
    n = max(taken, default=0) + 1
    while True:
        path = folder / f"{SCRIPT_PREFIX}{n}.sh"
        try:
            with open(path, "x") as f:
                f.write(text)
            return path
        except FileExistsError:  # another launcher took N at the same moment
            n += 1


def check_sbatch() -> str:
    found = shutil.which("sbatch")
    if found is None:
        raise SlurmError(
            "sbatch not found: run `landscape slurm` on a Slurm login node (or add --dry-run "
            "to print the script it would submit)"
        )
    return found


def submit(script: Path, storage_url: str | None) -> str:
    """``sbatch --parsable SCRIPT``; returns the job id. The storage URL travels in the
    environment sbatch passes on (its default --export=ALL), never in the script."""
    env = dict(os.environ)
    if storage_url:
        env[STORAGE_ENV] = storage_url
    done = subprocess.run(
        [check_sbatch(), "--parsable", str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        raise SlurmError(f"sbatch refused {script}: {said}")
    return done.stdout.strip().split(";")[0]


def record_submission(folder: Path, script: Path, job: str, workers: int) -> None:
    line = {
        "script": script.name,
        "job": job,
        "workers": workers,
        "submitted": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with open(folder / SUBMITTED, "a") as f:
        f.write(json.dumps(line) + "\n")


def prepare(study: StudySpec, device: str | None = None) -> list[str]:
    """What every worker needs, computed once here: the reference statistics of the study's
    protocol (and the extractor itself: digits-cnn is trained on first use) and its real-data
    floor. Returns one line per thing done, for the console."""
    from landscape.evaluation import Evaluator, protocol_of
    from landscape.evaluation.floor import floor
    from landscape.train import pick_device

    # A study has one data set and one evaluation section: its runs share one protocol
    # (protocol_of reads dataset, eval_samples, extractor and data_options, as a RunSpec has).
    protocol = protocol_of(study)
    where = pick_device(device)
    evaluator = Evaluator(protocol, data_root=study.data_root, device=where)
    lines = [f"reference statistics of {protocol.name}: {evaluator.prepare()}"]
    try:
        record, _ = floor(protocol, data_root=study.data_root, device=where)
        lines.append(f"real-data floor of {protocol.name}: FID {record['fid']:.4g}")
    except ValueError as error:  # a split too small for the protocol: the report says so
        lines.append(f"no real-data floor for {protocol.name}: {error}")
    return lines
