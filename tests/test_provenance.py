"""Code provenance: what a variant's fingerprint covers, and the README's "fix it and rerun"
run as printed on a tiny study (a plugin loss, a behaviour change, a comment-only change)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from landscape.train import RunSpec
from landscape.train.fingerprint import fingerprint, run_code

ROOT = Path(__file__).resolve().parents[1]
LOSS = '''
import torch.nn.functional as F
from landscape import LossPair

SCALE = {scale}


def helper(x):
    return x * SCALE


def ragan(real, fake):
    """Relativistic average."""
    dr, df = real - fake.mean(), fake - real.mean()
    return LossPair(d=helper(F.softplus(-dr).mean()), g=F.softplus({g}).mean())
'''


def load(tmp_path: Path, name: str, text: str):
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.ragan


def test_comments_docstrings_and_formatting_are_not_changes(tmp_path):
    base = fingerprint(load(tmp_path, "m0", LOSS.format(scale=1.0, g="dr")))
    reworded = LOSS.format(scale=1.0, g="dr").replace('"""Relativistic average."""', "# hm")
    reformatted = reworded.replace("dr, df = real", "dr,   df = (real").replace(
        "real.mean()\n", "real.mean())  # why\n"
    )
    assert fingerprint(load(tmp_path, "m1", reformatted)) == base


@pytest.mark.parametrize(
    "change",
    [
        {"scale": 1.0, "g": "-df"},  # the variant's own line
        {"scale": 2.0, "g": "dr"},  # a module constant that a helper it calls reads
    ],
)
def test_a_change_of_behaviour_is_a_change(tmp_path, change):
    base = fingerprint(load(tmp_path, "n0", LOSS.format(scale=1.0, g="dr")))
    assert fingerprint(load(tmp_path, "n1", LOSS.format(**change))) != base


def test_a_declared_version_is_the_fingerprint(tmp_path):
    fn = load(tmp_path, "v0", LOSS.format(scale=1.0, g="dr"))
    fn.fingerprint_version = 3
    assert fingerprint(fn) == "v3"


def test_the_record_names_every_variant_and_its_digest_ignores_metrics():
    spec = RunSpec("digits", "sndcgan", "hinge", "gp", "sn")
    code = run_code(spec)
    assert {"loss:hinge", "penalty:gp", "normalization:sn", "architecture:sndcgan"} <= set(
        code["variants"]
    )
    assert {"dataset:digits", "metric:fid"} <= set(code["variants"])
    assert set(code["libraries"]) == {"python", "torch", "numpy"}
    from landscape.train.fingerprint import digest

    trained = {k: v for k, v in code["variants"].items() if not k.startswith("metric:")}
    assert digest(trained) == code["code"]  # a metric added later changes no training code


def test_a_retrain_has_its_own_id_and_old_ids_stay():
    spec = RunSpec("digits", "sndcgan", "hinge")
    assert "code_generation" not in spec.to_dict()  # config.json as before the field
    assert spec.with_(code_generation=0).run_id == spec.run_id
    again = spec.with_(code_generation=1)
    assert again.run_id != spec.run_id and again.to_dict()["code_generation"] == 1
    assert RunSpec.from_dict(again.to_dict()).run_id == again.run_id
    with pytest.raises(ValueError, match="code_generation"):
        spec.with_(code_generation=-1)


STUDY = """
name: fixit
dataset: digits
plugins: [my_losses.py]
evaluation: {samples: 100}
budget: {steps: 4, eval_every: 4, batch_size: 16, checkpoint_every: 4}
model: {width: 0.0625, z_dim: 8}
grid:
  loss: [ns, ragan]
  penalty: [none]
  normalization: [none]
  architecture: [sndcgan]
hyperparameters:
  - {lr: 0.0005, beta1: 0.5, beta2: 0.999, n_disc: 1}
seeds: [0]
"""


def readme_section() -> tuple[str, list[str], str]:
    """The README's plugin file, the commands of "Fix it and rerun", and the buggy line."""
    text = (ROOT / "README.md").read_text()
    plugin = re.search(r"```python\n(# my_losses.py\n.*?)```", text, re.S).group(1)
    section = text.split("### Fix it and rerun", 1)[1].split("\n### ", 1)[0]
    bash = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in bash.splitlines()]
    buggy = re.search(r"`(g=F\.softplus\(dr\)\.mean\(\) \+ F\.softplus\(df\)\.mean\(\))`", section)
    return plugin, commands, buggy.group(1)


def landscape(tmp_path: Path, command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    args = command.replace("STUDY.yaml", "study.yaml").split() + ["--no-report"] * (
        " run " in f" {command} "
    )
    return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def run_folders(tmp_path: Path) -> dict[str, dict]:
    runs = tmp_path / "results" / "fixit" / "runs"
    return {
        p.name: json.loads((p / "config.json").read_text())
        for p in runs.iterdir()
        if (p / "config.json").is_file()
    }


@pytest.mark.slow
def test_fix_it_and_rerun_as_the_readme_prints_it(tmp_path):
    plugin, commands, buggy_line = readme_section()
    plan, stop, retrain = commands
    fixed_line = "g=F.softplus(dr).mean() + F.softplus(-df).mean()"
    assert fixed_line in plugin.replace("\n        ", " ").replace(",\n    )", "")
    buggy = plugin.replace("F.softplus(-df).mean(),\n    )", "F.softplus(df).mean(),\n    )")
    assert buggy != plugin and buggy_line.split("+ ")[1].rstrip(")") in buggy
    (tmp_path / "study.yaml").write_text(STUDY)
    (tmp_path / "my_losses.py").write_text(buggy)
    first = landscape(tmp_path, "landscape run STUDY.yaml")
    assert first.returncode == 0, first.stderr
    before = run_folders(tmp_path)
    assert sorted(c["loss"] for c in before.values()) == ["ns", "ragan"]
    for run_id in before:
        code = json.loads((tmp_path / "results/fixit/runs" / run_id / "code.json").read_text())
        assert code["run_id"] == run_id
        assert f"loss:{before[run_id]['loss']}" in code["variants"]
    ragan = next(r for r, c in before.items() if c["loss"] == "ragan")

    (tmp_path / "my_losses.py").write_text(plugin)  # the fix
    told = landscape(tmp_path, plan)
    assert told.returncode == 0, told.stderr
    assert "loss:ragan: 1 finished run(s)" in told.stdout and ragan in told.stdout
    stopped = landscape(tmp_path, stop)
    assert stopped.returncode == 2
    assert ragan in stopped.stderr and "--retrain-changed" in stopped.stderr
    assert "--keep-changed" in stopped.stderr
    assert run_folders(tmp_path).keys() == before.keys()  # nothing trained
    again = landscape(tmp_path, retrain)
    assert again.returncode == 0, again.stderr
    after = run_folders(tmp_path)
    new = {r: c for r, c in after.items() if r not in before}
    assert [(c["loss"], c["code_generation"]) for c in new.values()] == [("ragan", 1)]
    assert {k: v for k, v in after.items() if k in before} == before  # old runs kept

    (tmp_path / "my_losses.py").write_text(plugin.replace('"""Relativistic', '"""A rel') + "# ok\n")
    quiet = landscape(tmp_path, stop)  # a comment-only change is not a change
    assert quiet.returncode == 0, quiet.stderr
    assert run_folders(tmp_path).keys() == after.keys()

    from landscape.analysis import load_results

    results = load_results(tmp_path / "results" / "fixit")
    protocol = results.runs.set_index("run_id")["protocol"]
    assert protocol[ragan].endswith("· older code")
    assert not protocol[next(iter(new))].endswith("· older code")

    (tmp_path / "my_losses.py").write_text(plugin.replace("real.mean()\n", "real.mean() * 2\n"))
    asked = landscape(tmp_path, stop)  # changed again: the retrain is the run asked about now
    assert asked.returncode == 2 and next(iter(new)) in asked.stderr and ragan not in asked.stderr
    kept = landscape(tmp_path, stop + " --keep-changed")
    assert kept.returncode == 0, kept.stderr
    assert landscape(tmp_path, stop).returncode == 0  # asked once per change
    assert run_folders(tmp_path).keys() == after.keys()  # nothing trained
    problems = load_results(tmp_path / "results" / "fixit").problems
    assert any("kept as they are" in p and "loss:ragan" in p for p in problems)
