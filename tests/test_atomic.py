"""Atomic writes: all or nothing, readable by others like any file, no temporary files left."""

from __future__ import annotations

import os
import stat

import pytest

from landscape.atomic import FILE_MODE, atomic_path, atomic_write_bytes


def test_a_write_replaces_the_file_whole_with_normal_permissions(tmp_path):
    target = tmp_path / "sub" / "status.json"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == FILE_MODE  # not mkstemp's private 0600
    assert [p.name for p in target.parent.iterdir()] == ["status.json"]


def test_a_failed_write_keeps_the_previous_file_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "checkpoint.pt"
    atomic_write_bytes(target, b"complete")
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"complete"
    assert os.listdir(tmp_path) == ["checkpoint.pt"]
