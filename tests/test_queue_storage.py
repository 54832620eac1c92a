"""Choosing the storage: $LANDSCAPE_STORAGE, passwords kept out of messages and command
lines, and the warning for a journal on a network file system (from /proc/mounts' text)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_study_queue import landscape, queued  # noqa: F401 (a fixture)
from test_study_run import TINY, write_study

from landscape.execution.storage import mount_of, network_fs_warning, redact
from landscape.study import load_study

MOUNTS = r"""/dev/sda1 / ext4 rw,relatime 0 0
proc /proc proc rw,nosuid 0 0
server:/export/home /home nfs4 rw,relatime,vers=4.2 0 0
10.0.0.1@tcp:/lfs /scratch lustre rw,flock 0 0
tmpfs /scratch/local tmpfs rw 0 0
//nas/share /mnt/my\040share cifs rw 0 0
"""


@pytest.mark.parametrize(
    "path, mount, warned",
    [
        ("/home/ana/results/s/optuna.journal", ("/home", "nfs4"), "nfs4"),
        ("/scratch/ana/optuna.journal", ("/scratch", "lustre"), "lustre"),
        ("/scratch/local/optuna.journal", ("/scratch/local", "tmpfs"), None),  # longest prefix
        ("/scratchy/optuna.journal", ("/", "ext4"), None),  # a prefix of the name is not one
        ("/mnt/my share/optuna.journal", ("/mnt/my share", "cifs"), "cifs"),
        ("/tmp/optuna.journal", ("/", "ext4"), None),
    ],
)
def test_a_journal_on_a_network_file_system_is_warned_about(path, mount, warned):
    assert mount_of(Path(path), MOUNTS) == mount
    message = network_fs_warning(Path(path), MOUNTS)
    if warned is None:
        assert message is None
    else:
        assert f"on a {warned} file system (mounted at {mount[0]})" in message
        assert "PostgreSQL" in message and "docs/cluster.md" in message


def test_passwords_are_redacted_in_any_text():
    text = "storage postgresql+psycopg://ana:s3:cr%40t@db.example:5432/gan failed; journal:/a"
    assert redact(text) == (
        "storage postgresql+psycopg://ana:***@db.example:5432/gan failed; journal:/a"
    )
    assert redact("postgresql://ana@db/gan") == "postgresql://ana@db/gan"  # no password


def test_the_storage_comes_from_the_environment(tmp_path, landscape, monkeypatch):  # noqa: F811
    path = write_study(tmp_path, TINY)
    url = f"journal:{tmp_path / 'elsewhere' / 'queue.journal'}"
    monkeypatch.setenv("LANDSCAPE_STORAGE", url)
    code, _, err = landscape("run", path.name, "--workers", "0")
    assert code == 0, err
    assert (tmp_path / "elsewhere" / "queue.journal").exists()
    assert not (tmp_path / "results" / "tiny" / "optuna.journal").exists()
    code, out, err = landscape("status", path.name)
    assert code == 0, err
    assert "tiny: 0 done, 0 running, 0 failed, 4 left of 4" in out
    monkeypatch.delenv("LANDSCAPE_STORAGE")
    code, out, _ = landscape("status", path.name)  # without it: the (absent) default journal
    assert code == 0 and "study tiny has not started" in out


def test_a_password_never_reaches_a_message_or_a_command_line(tmp_path, landscape, monkeypatch):  # noqa: F811
    from landscape.execution.runner import worker_command

    path = write_study(tmp_path, TINY)
    url = "postgresql+psycopg://ana:hunter2@127.0.0.1:9/x"
    code, _, err = landscape("worker", path.name, "--storage", url)
    assert code == 2 and "hunter2" not in err and "ana:***@127.0.0.1:9/x" in err
    monkeypatch.setenv("LANDSCAPE_STORAGE", url)
    code, _, err = landscape("status", path.name)
    assert code == 2 and "hunter2" not in err and "ana:***@" in err
    code, _, err = landscape("status", path.name, "--storage", "ana:hunter2@db/x")
    assert code == 2 and "hunter2" not in err
    command = worker_command(load_study(path), url, tmp_path)
    assert "--storage" not in command and not any("hunter2" in c for c in command)
