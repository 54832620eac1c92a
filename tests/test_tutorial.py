"""docs/tutorial.md, run verbatim: its files are written and its commands run, in order."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(\w+)(?: file=(\S+))?\n(.*?)^```$", re.M | re.S)


def steps() -> list[tuple[str, str | None, str]]:
    """(language, file name or None, body) of every fenced block of the tutorial."""
    return BLOCK.findall((ROOT / "docs" / "tutorial.md").read_text())


def test_the_tutorial_has_the_pieces_it_promises():
    blocks = steps()
    files = [f for _, f, _ in blocks if f]
    assert files == ["my_losses.py", "studies/tutorial.yaml"]
    commands = [line for lang, _, body in blocks if lang == "bash" for line in body.splitlines()]
    assert commands[0] == commands[-1] == "landscape run studies/tutorial.yaml --workers 2"


@pytest.mark.slow
def test_the_tutorial_runs_verbatim_and_trains_only_the_new_cells(tmp_path):
    (tmp_path / "studies").mkdir()
    shutil.copy(ROOT / "studies" / "tutorial.yaml", tmp_path / "studies" / "tutorial.yaml")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    outputs, mtimes = [], {}
    runs = tmp_path / "results" / "tutorial" / "runs"
    for lang, file, body in steps():
        if file:
            if file.endswith(".yaml"):  # the study changes: remember what was trained so far
                mtimes = {p.parent.name: p.stat().st_mtime_ns for p in runs.glob("*/checkpoint.pt")}
            (tmp_path / file).write_text(body)
            continue
        assert lang == "bash"
        for command in body.splitlines():
            proc = subprocess.run(
                shlex.split(command),
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
            outputs.append(proc.stdout)
    assert len(mtimes) == 4  # step 1 trained ns and hinge, two seeds each
    assert "6 runs" in outputs[1] and "2 to train, 4 done" in outputs[1]
    configs = {
        p.name: json.loads((p / "config.json").read_text())
        for p in runs.iterdir()
        if p.is_dir() and not p.name.startswith(".")
    }
    assert sorted(c["loss"] for c in configs.values()) == [
        "hinge",
        "hinge",
        "ns",
        "ns",
        "ragan",
        "ragan",
    ]
    after = {p.parent.name: p.stat().st_mtime_ns for p in runs.glob("*/checkpoint.pt")}
    assert {k: after[k] for k in mtimes} == mtimes  # nothing trained twice
    for run_id, config in configs.items():
        status = json.loads((runs / run_id / "status.json").read_text())
        assert status["status"] in ("ok", "diverged"), (config["loss"], status)
    report = (tmp_path / "results" / "tutorial" / "report.html").read_text()
    assert "ragan" in report
    runs_csv = (tmp_path / "results" / "tutorial" / "runs.csv").read_text()
    assert runs_csv.count("ragan") == 2
