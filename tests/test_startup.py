"""A command imports what it uses: `landscape plan` of a study whose FLOP counts are cached
needs neither torchvision nor torch-fidelity (together over a second of every start-up; issue
16.7 asks `plan` of a paper study under 3 s). Checked by the modules a fresh process holds
after the command, never by timing; bench/plan.py measures the seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from landscape.cli import COMMANDS, chosen_command, command_module, main

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torchvision", "torch_fidelity", "landscape.evaluation")


def plan_in_fresh_process(study: Path, cache: Path) -> tuple[str, list[str]]:
    """``landscape plan STUDY`` (nothing trained yet) in a new interpreter: its output, and
    which HEAVY modules it had imported by the end."""
    results = str(cache / "results")
    code = (
        "import sys\nfrom landscape.cli import main\n"
        f"assert main(['plan', {str(study)!r}, '--results', {results!r}]) == 0\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    env = {**os.environ, "LANDSCAPE_CACHE": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    out, _, heavy = done.stdout.rpartition("HEAVY ")
    return out, eval(heavy)


def test_plan_with_cached_counts_imports_no_evaluation_side(tmp_path):
    study = ROOT / "studies" / "quickstart.yaml"
    cold, cold_heavy = plan_in_fresh_process(study, tmp_path)  # counts FLOPs, keeps them
    warm, warm_heavy = plan_in_fresh_process(study, tmp_path)
    assert (tmp_path / "flops.json").is_file()
    assert "landscape.evaluation" in cold_heavy  # counting an evaluation builds its network
    assert warm_heavy == []
    assert warm == cold  # the same figures from the counts read back
    assert "device-hours" in warm


@pytest.mark.parametrize(
    "argv, chosen",
    [
        (["plan", "s.yaml"], "plan"),
        (["--debug", "status", "s.yaml"], "status"),
        (["--plugin", "run", "plan", "s.yaml"], "plan"),  # a plugin file named like a command
        (["--plugin=run", "report"], "report"),
        (["--help"], None),
        (["plann", "s.yaml"], None),  # argparse lists the valid commands
        ([], None),
    ],
)
def test_the_command_named_is_the_one_imported(argv, chosen):
    assert chosen_command(argv) == chosen


def test_every_command_module_loads_and_help_lists_them_all(capsys):
    for name in COMMANDS:
        module = command_module(name)
        assert module.HELP and callable(module.run) and callable(module.add_arguments)
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in COMMANDS)
    with pytest.raises(SystemExit) as exit_:
        main(["plann", "s.yaml"])
    assert exit_.value.code == 2
    assert "invalid choice: 'plann'" in capsys.readouterr().err


def test_built_in_networks_are_the_ones_the_evaluation_side_registers():
    """The study validator accepts these names without asking torch-fidelity's registry
    (metrics/protocol.py): each must be registered there, and be every data set's default."""
    from landscape.data import DATASETS
    from landscape.evaluation import protocol_for
    from landscape.evaluation.extractors import feature_layers
    from landscape.metrics.protocol import BUILT_IN_NETWORKS, built_in_only

    for name in BUILT_IN_NETWORKS:
        assert feature_layers(name)["fid"]
    for dataset in DATASETS:
        assert protocol_for(dataset).extractor in BUILT_IN_NETWORKS
    assert built_in_only(None, None)
    assert built_in_only("mnist-cnn", ["fid", "fd_dinov2"])
    assert not built_in_only("clip-vit-b-32", None)  # torch-fidelity's: its registry decides
