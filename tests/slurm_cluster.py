"""A throwaway single-node Slurm cluster (Debian's slurm-wlm and munge, started as root without
systemd) for the tests that launch studies through ``landscape slurm``.

Everything lives in one folder: munge's key and socket, slurm.conf and cgroup.conf, the state
and spool folders, the logs. Clients find it through ``SLURM_CONF`` (``env()``); the daemons
listen on free loopback ports, so the machine's own Slurm (if any) is left alone.

Pitfalls met on the way (issue 16): munged checks that its socket folder and every parent are
not writable by others and refuses otherwise (``--force``); slurmd needs its spool folder made
first; the node's address must be 127.0.0.1; without ``--mem`` a job takes all the node's
memory and the array runs one task at a time; a requeued job waits ~2 minutes for its
BeginTime unless ``scontrol update JobId=... StartTime=now``. ``ProctrackType=proctrack/cgroup``
is what production clusters use, and the reason the worker must be ``exec``-ed by the batch
script: Slurm signals the batch shell only, and SIGKILLs the rest of the job's cgroup.
"""

from __future__ import annotations

import getpass
import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel")
KILL_WAIT = 30  # seconds between Slurm's SIGTERM and its SIGKILL (Slurm's default)
START_TIMEOUT = 60.0


class ClusterUnavailable(RuntimeError):
    """Slurm cannot run here; the message says why (the tests skip with it)."""


def missing_programs() -> list[str]:
    found = {name: shutil.which(name) or _sbin(name) for name in DAEMONS + CLIENTS}
    return [name for name, path in found.items() if path is None]


def _sbin(name: str) -> str | None:
    path = Path("/usr/sbin") / name
    return str(path) if path.exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cgroup_conf() -> str:
    """cgroup v2 (a unified hierarchy) or v1, whichever this machine mounts; no systemd."""
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return "CgroupPlugin=cgroup/v2\nIgnoreSystemd=yes\nCgroupAutomount=yes\n"
    return "CgroupPlugin=cgroup/v1\nCgroupAutomount=yes\nCgroupMountpoint=/sys/fs/cgroup\n"


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 1024


class SlurmCluster:
    """``start()`` munged, slurmctld and slurmd under ``root``; ``stop()`` them again."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.conf = self.root / "slurm.conf"
        self.socket = self.root / "munge" / "munge.socket"
        self.node = socket.gethostname().split(".")[0]
        self.partition = "cpu"
        self.pids: dict[str, Path] = {}

    def env(self) -> dict[str, str]:
        """The environment clients (sbatch, scontrol, a job's worker) need."""
        return dict(os.environ, SLURM_CONF=str(self.conf))

    def start(self) -> SlurmCluster:
        missing = missing_programs()
        if missing:
            raise ClusterUnavailable(
                f"{', '.join(missing)} not found: install Debian's slurm-wlm and munge "
                f"(.ci/run does, as root)"
            )
        if os.geteuid() != 0:
            raise ClusterUnavailable("starting slurmd with proctrack/cgroup needs root")
        self._write_files()
        self._start_munge()
        self._start("slurmctld", ["-f", str(self.conf)])
        self._start("slurmd", ["-f", str(self.conf)])
        self._wait_for_node()
        return self

    def _write_files(self) -> None:
        for sub in ("munge", "state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        cpus = os.cpu_count() or 1
        memory = max(256, int(_memory_mb() * 0.8))
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=landscape-test",
                    # job ids of their own: cgroups are named after them, per machine
                    f"FirstJobId={random.randrange(10_000, 1_000_000)}",
                    f"SlurmctldHost={self.node}(127.0.0.1)",
                    f"SlurmctldPort={_free_port()}",
                    f"SlurmdPort={_free_port()}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={self.socket}",
                    "CredType=cred/munge",
                    "ProctrackType=proctrack/cgroup",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "SchedulerType=sched/backfill",
                    "JobRequeue=1",
                    f"KillWait={KILL_WAIT}",
                    "MinJobAge=3600",
                    "ReturnToService=2",
                    "MpiDefault=none",
                    "AccountingStorageType=accounting_storage/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "JobCompType=jobcomp/none",
                    f"StateSaveLocation={self.root / 'state'}",
                    f"SlurmdSpoolDir={self.root / 'spool'}",
                    f"SlurmctldPidFile={self.root / 'slurmctld.pid'}",
                    f"SlurmdPidFile={self.root / 'slurmd.pid'}",
                    f"SlurmctldLogFile={self.root / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={self.root / 'log' / 'slurmd.log'}",
                    "SlurmctldDebug=info",
                    "SlurmdDebug=info",
                    f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={cpus} "
                    f"RealMemory={memory} State=UNKNOWN",
                    f"PartitionName={self.partition} Nodes={self.node} Default=YES "
                    f"MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
        (self.root / "cgroup.conf").write_text(_cgroup_conf())

    def _start_munge(self) -> None:
        munge = self.root / "munge"
        command = [
            shutil.which("munged") or "/usr/sbin/munged",
            "--force",  # a pytest tmp folder is not o+x all the way up
            f"--socket={self.socket}",
            f"--key-file={munge / 'munge.key'}",
            f"--pid-file={munge / 'munged.pid'}",
            f"--log-file={munge / 'munged.log'}",
            f"--seed-file={munge / 'munged.seed'}",
        ]
        self._run(command, "munged")
        self.pids["munged"] = munge / "munged.pid"
        self._wait(lambda: self.socket.exists(), "munged", munge / "munged.log")

    def _start(self, daemon: str, args: list[str]) -> None:
        self._run([shutil.which(daemon) or f"/usr/sbin/{daemon}", *args], daemon)
        self.pids[daemon] = self.root / f"{daemon}.pid"

    def _run(self, command: list[str], name: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, env=self.env())
        if done.returncode != 0:
            raise ClusterUnavailable(f"{name} did not start: {(done.stderr or done.stdout)[-800:]}")

    def _wait(self, ready, name: str, log: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.2)
        tail = log.read_text()[-1500:] if log.exists() else "(no log)"
        raise ClusterUnavailable(f"{name} not ready after {START_TIMEOUT:.0f} s; its log:\n{tail}")

    def _wait_for_node(self) -> None:
        def idle() -> bool:
            out = self.scontrol("show", "node", self.node, check=False).stdout
            if "State=DOWN" in out or "DRAIN" in out:  # an earlier test's state, or a restart
                self.scontrol("update", f"NodeName={self.node}", "State=RESUME", check=False)
            return "State=IDLE" in out

        self._wait(idle, "the node", self.root / "log" / "slurmd.log")

    # -- clients ------------------------------------------------------------------------------
    def scontrol(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["scontrol", *args], capture_output=True, text=True, env=self.env(), check=check
        )

    def jobs(self, job: str) -> dict[str, dict[str, str]]:
        """Every task of array ``job``: its ``scontrol show job`` fields, by JobId."""
        out = self.scontrol("show", "job", "--oneliner", job, check=False).stdout
        jobs = {}
        for line in out.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if "JobId" in fields:
                jobs[fields["JobId"]] = fields
        return jobs

    def log(self, name: str) -> str:
        path = self.root / "log" / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        """Cancel every job left (their workers checkpoint and exit), then stop the daemons."""
        if "slurmctld" in self.pids:
            env = self.env()
            subprocess.run(["scancel", "--user", getpass.getuser()], env=env, capture_output=True)
            deadline = time.monotonic() + KILL_WAIT + 10
            while time.monotonic() < deadline:
                left = subprocess.run(
                    ["squeue", "--noheader"], env=env, capture_output=True, text=True
                )
                if left.returncode != 0 or not left.stdout.strip():
                    break
                time.sleep(0.5)
        for daemon in ("slurmd", "slurmctld", "munged"):
            pid_file = self.pids.get(daemon)
            if pid_file is None or not pid_file.exists():
                continue
            try:
                pid = int(pid_file.read_text().strip())
                os.kill(pid, 15)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and _alive(pid):
                    time.sleep(0.1)
            except (ValueError, ProcessLookupError):
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
