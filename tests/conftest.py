"""Shared fixtures: a fixed seed for every test, one-thread runs for tiny models, registry
isolation, and hand-made discriminators whose input gradients are known in closed form."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from landscape import ARCHITECTURES, LOSSES, NORMALIZATIONS, PENALTIES, plugins


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Tests (and the workers they start) cache extractors and statistics in a folder of their
    own, never in the user's ~/.cache/landscape."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LANDSCAPE_CACHE", str(tmp_path_factory.mktemp("landscape-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def digits_weights(tmp_path_factory):
    """digits-cnn trained once per test session."""
    from landscape.evaluation import digits_cnn

    path = tmp_path_factory.getbasetemp() / "digits-cnn-shared" / digits_cnn.WEIGHTS_FILE
    digits_cnn.load_or_train(path)
    return path


def shared_data() -> Path | None:
    """``shared/data`` beside the project (or beside the folder of its worktrees), or None."""
    for folder in Path(__file__).resolve().parents[1:4]:
        if (folder / "shared" / "data" / "MNIST").is_dir():
            return folder / "shared" / "data"
    return None


SHARED_DATA = shared_data()
needs_mnist = pytest.mark.skipif(
    SHARED_DATA is None, reason="real MNIST not found in ../shared/data/MNIST (nor one folder up)"
)


@pytest.fixture(scope="session")
def mnist_weights(tmp_path_factory):
    """mnist-cnn trained once per test session on the real MNIST of ../shared/data."""
    from landscape.evaluation import mnist_cnn

    if SHARED_DATA is None:
        pytest.skip("real MNIST not found in ../shared/data/MNIST (nor one folder up)")
    path = tmp_path_factory.getbasetemp() / "mnist-cnn-shared" / mnist_cnn.WEIGHTS_FILE
    mnist_cnn.load_or_train(path, SHARED_DATA)  # unpacks the .gz files into the test cache
    return path


@pytest.fixture
def cache(tmp_path, digits_weights):
    """An empty metrics cache folder holding only the trained digits-cnn weights."""
    from landscape.evaluation import digits_cnn

    (tmp_path / "extractors").mkdir()
    shutil.copy(digits_weights, tmp_path / "extractors" / digits_cnn.WEIGHTS_FILE)
    return tmp_path


@pytest.fixture
def one_thread():
    """Tiny models run faster on one thread than on two, and far faster when another process
    shares the (2-core) machine, where OpenMP threads spin waiting for each other. Scoped per
    test (``pytestmark = pytest.mark.usefixtures("one_thread")``), and undone afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def restore_registries():
    """Undo every registration (and plugin import) a test makes, so tests stay independent."""
    from landscape import DATASETS  # here, not at the top: it imports torchvision (slow)
    from landscape.execution.samplers import SAMPLERS
    from landscape.metrics import METRICS

    registries = (LOSSES, PENALTIES, NORMALIZATIONS, ARCHITECTURES, DATASETS, METRICS, SAMPLERS)
    saved = [dict(r._entries) for r in registries]
    loaded = dict(plugins._LOADED)
    modules = set(sys.modules)
    yield
    for registry, entries in zip(registries, saved, strict=True):
        registry._entries.clear()
        registry._entries.update(entries)
    plugins._LOADED.clear()
    plugins._LOADED.update(loaded)
    for name in set(sys.modules) - modules:
        if name.startswith("landscape_plugin_"):
            del sys.modules[name]


class LinearCritic(nn.Module):
    """D(x) = <w, x.flatten()>: the input gradient is w for every sample and every x."""

    def __init__(self, w: Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.seen: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.seen.append(x.detach().clone())
        return x.flatten(1) @ self.w


class QuadraticCritic(nn.Module):
    """D(x) = 1/2 x^T A x per sample with A symmetric: the input gradient is A x."""

    def __init__(self, a: Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a.clone())

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(1)
        return 0.5 * ((flat @ self.a) * flat).sum(1)


@pytest.fixture
def linear_critic():
    """Factory: a LinearCritic over inputs of ``shape`` whose weight has norm ``slope``."""

    def make(shape: tuple[int, ...], slope: float) -> LinearCritic:
        w = torch.randn(int(torch.tensor(shape).prod()), dtype=torch.float64)
        return LinearCritic((w / w.norm() * slope).float())

    return make


@pytest.fixture
def quadratic_critic():
    """Factory: a QuadraticCritic over ``n`` inputs with a random symmetric A."""

    def make(n: int) -> QuadraticCritic:
        m = torch.randn(n, n) / n**0.5
        return QuadraticCritic(0.5 * (m + m.T))

    return make


@pytest.fixture
def nan_loss(restore_registries):
    """A registered loss that turns NaN at the 6th step (two calls a step at n_disc 1)."""
    from landscape import LossPair

    calls = {"n": 0}

    @LOSSES.register("test_nan_after_5_steps")
    def nan_after(real, fake):
        calls["n"] += 1
        scale = float("nan") if calls["n"] > 10 else 1.0
        return LossPair(d=(real.mean() - fake.mean()) * scale, g=-fake.mean() * scale)

    return "test_nan_after_5_steps"


@pytest.fixture
def no_inception(monkeypatch, tmp_path):
    """An empty torch hub folder and no network: Inception's weights cannot be had."""
    import urllib.error

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path / "torch" / "hub" / "checkpoints"
