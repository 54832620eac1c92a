"""README "Add a metric and score the finished runs", run as printed: the tutorial's study is
trained, then a metric registered afterwards fills its column for every finished run and a
second protocol scores them apart, without any training."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTION = "### Add a metric and score the finished runs"


def section_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    body = readme.split(SECTION, 1)[1].split("\n### ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", body, re.S)
    return block.strip().splitlines()


def metric_file() -> str:
    readme = (ROOT / "README.md").read_text()
    (code,) = re.findall(r"```python\n# my_metrics.py\n(.*?)```", readme, re.S)
    return code


def test_the_section_trains_once_then_only_scores():
    commands = section_commands()
    assert commands[0] == "landscape run studies/tutorial.yaml --workers 2"
    assert all(" evaluate results/tutorial" in c for c in commands[1:3])
    assert commands[-1].endswith("report results/tutorial")


@pytest.mark.slow
def test_the_section_runs_as_printed(tmp_path):
    (tmp_path / "studies").mkdir()
    shutil.copy(ROOT / "studies" / "tutorial.yaml", tmp_path / "studies" / "tutorial.yaml")
    (tmp_path / "my_metrics.py").write_text(metric_file())
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    runs = tmp_path / "results" / "tutorial" / "runs"
    trained: dict[str, int] = {}
    for i, command in enumerate(section_commands()):
        proc = subprocess.run(
            shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
        )
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        if i == 0:
            trained = {p.parent.name: p.stat().st_mtime_ns for p in runs.glob("*/checkpoint.pt")}
    assert len(trained) == 4
    after = {p.parent.name: p.stat().st_mtime_ns for p in runs.glob("*/checkpoint.pt")}
    assert after == trained  # nothing was trained again
    table = pd.read_csv(tmp_path / "results" / "tutorial" / "runs.csv")
    own = table[table["protocol"] == "digits/test/350/digits-cnn"]
    other = table[table["protocol"] == "digits/test/200/digits-cnn"]
    assert len(own) == len(other) == 4
    assert own["feature_spread"].gt(0).all()  # the metric added later, for every finished run
    assert not own.set_index("run_id")["fid"].equals(other.set_index("run_id")["fid"])
