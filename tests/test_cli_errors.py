"""Every user mistake ends in one paragraph naming the file, key or flag, with exit status 2 and
no traceback; anything unexpected in a short message pointing to --debug, with exit status 1."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from landscape.cli import main

STUDY = {
    "name": "t",
    "dataset": "digits",
    "budget": {"steps": 10, "eval_every": 5, "batch_size": 8},
    "model": {"width": 0.0625, "z_dim": 16},
    "grid": {"loss": ["ns"], "architecture": ["sndcgan"]},
    "hyperparameters": [{"lr": 1e-3}],
}


def cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def study(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**STUDY, **changes}))
    return path


@pytest.mark.parametrize(
    "source, says",
    [
        ("def f(:\n    pass\n", r"line 1: Python cannot read it: .*\(def f\(:\)"),
        (
            "import numpy\nimport notapackage_xyz\n",
            "line 2 imports 'notapackage_xyz', which is not",
        ),
        ("from landscape.nothere import x\n", "'landscape.nothere', which this version of land"),
        ("x = 1\nraise RuntimeError('boom')\n", "line 2 failed while loading: RuntimeError: boom"),
    ],
)
def test_a_broken_plugin_names_the_flag_the_file_and_the_line(
    tmp_path, capsys, restore_registries, source, says
):
    (tmp_path / "bad.py").write_text(source)
    code, err = cli(capsys, "--plugin", str(tmp_path / "bad.py"), "plan", str(study(tmp_path)))
    assert code == 2
    assert f"--plugin {tmp_path / 'bad.py'}: plugin {tmp_path / 'bad.py'}" in err
    assert re.search(says, err), err


def test_a_broken_plugin_of_a_study_names_its_key(tmp_path, capsys, restore_registries):
    (tmp_path / "bad.py").write_text("import notapackage_xyz\n")
    path = study(tmp_path, plugins=["bad.py"])
    code, err = cli(capsys, "plan", str(path))
    assert code == 2 and f"{path}: plugins[0]: plugin {tmp_path / 'bad.py'}, line 1" in err


@pytest.mark.parametrize(
    "changes, says",
    [
        (
            {"data_options": {"resize": 64}},
            "data_options.resize: not an option of the digits data set; it takes: download "
            "(default False), resolution (default 32)",
        ),
        ({"data_options": {"resolution": "64"}}, "data_options.resolution: expected an integer"),
        (
            {"budget": {"steps": 10, "eval_every": 50}},
            "budget.eval_every: 50 is more than budget.steps (10)",
        ),
        (
            {"budget": {"steps": 10, "eval_every": 5, "batch_size": 4096}},
            "budget.batch_size: 4096 is more than the 1438 images in the train split of digits",
        ),
    ],
)
def test_a_study_that_could_not_run_is_refused_when_read(tmp_path, capsys, changes, says):
    path = study(tmp_path, **changes)
    code, err = cli(capsys, "plan", str(path))
    assert code == 2 and f"landscape plan: error: {path}: {says}" in err
    assert not (tmp_path / "results").exists()


def test_a_key_written_twice_is_an_error_with_both_lines(tmp_path, capsys):
    path = tmp_path / "twice.yaml"
    path.write_text(
        "name: t\ndataset: digits\ngrid:\n  loss: [ns]\n  architecture: [sndcgan]\n"
        "  loss: [hinge]\nbudget: {steps: 10, eval_every: 5}\n"
    )
    code, err = cli(capsys, "plan", str(path))
    assert code == 2
    assert f"{path}: grid.loss: written twice (lines 4 and 6)" in err


def test_yaml_merge_keys_may_override_what_they_bring(tmp_path):
    from landscape.study import load_study

    path = tmp_path / "merge.yaml"
    text = yaml.safe_dump({k: v for k, v in STUDY.items() if k != "budget"})
    path.write_text(text + "budget:\n  <<: {steps: 10, eval_every: 5}\n  eval_every: 2\n")
    assert load_study(path).eval_every == 2


@pytest.mark.parametrize("command", ["plan", "run", "status"])
def test_results_flag_naming_a_file_is_refused(tmp_path, capsys, command):
    (tmp_path / "notes.txt").write_text("my notes\n")
    args = [command, str(study(tmp_path)), "--results", str(tmp_path / "notes.txt")]
    code, err = cli(capsys, *args)
    assert code == 2 and f"--results {tmp_path / 'notes.txt'}: this is a file, not a folder" in err
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"


def test_report_refuses_a_folder_that_is_not_a_results_folder(tmp_path, capsys):
    (tmp_path / "some-folder").mkdir()
    code, err = cli(capsys, "report", str(tmp_path / "some-folder"))
    assert code == 2 and "some-folder: is not a results folder" in err
    assert list((tmp_path / "some-folder").iterdir()) == []  # nothing written
    (tmp_path / "some-folder" / "quick" / "runs").mkdir(parents=True)
    code, err = cli(capsys, "report", str(tmp_path / "some-folder"))
    assert code == 2 and f"it holds these: {tmp_path / 'some-folder' / 'quick'}" in err
    code, err = cli(capsys, "report", str(tmp_path / "nowhere"))
    assert code == 2 and "nowhere: does not exist" in err


def test_an_unknown_variant_name_is_a_user_error(tmp_path, capsys):
    code, err = cli(capsys, "train", "--dataset", "digits", "--architecture", "sndgan")
    assert code == 2 and "unknown architecture 'sndgan'; choose from" in err


def test_an_unexpected_error_points_to_debug(tmp_path, capsys, monkeypatch):
    from landscape.commands import status

    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(status, "run", broken)
    code, err = cli(capsys, "status", str(study(tmp_path)))
    assert code == 1
    assert "unexpected error" in err and "ZeroDivisionError: division by zero" in err
    assert "run with --debug for the traceback" in err
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "status", str(study(tmp_path))])


def test_the_command_line_itself_prints_no_traceback_unless_asked(tmp_path):
    """The real process: `python -m landscape`, as a user runs it."""
    (tmp_path / "bad.py").write_text("def f(:\n")
    command = [sys.executable, "-m", "landscape", "--plugin", "bad.py", "plan", "s.yaml"]
    study(tmp_path).rename(tmp_path / "s.yaml")
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("landscape plan: error: --plugin bad.py: plugin ")
    assert len(proc.stderr.strip().splitlines()) == 1  # one paragraph
    debug = subprocess.run(
        [command[0], "-m", "landscape", "--debug", *command[3:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "SyntaxError" in debug.stderr
