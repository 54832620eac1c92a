"""METRICS: the torch-free metric registry, its built-ins, precision/recall and plugins."""

from __future__ import annotations

import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from landscape import ARCHITECTURES, METRICS, load_plugin, metric
from landscape.evaluation import EVAL_DIVERGED, Evaluator, protocol_for
from landscape.evaluation.evaluate import diverged
from landscape.metrics import column_labels, metric_columns, record_columns

PLUGIN = """
from landscape import metric

@metric("test_fakes_seen", columns=("fakes_seen",), direction="higher", needs=("fake_features",))
def fakes_seen(inputs):
    return {"fakes_seen": float(len(inputs.fake_features))}
"""


@pytest.fixture
def own_metrics(restore_registries):
    """Undo metric registrations and plugin imports (restore_registries does both)."""
    yield


def test_built_in_metrics_keep_the_evaluation_record_keys():
    assert list(METRICS) == ["density_coverage", "fd_dinov2", "fid", "is", "kid", "ms_ssim", "prc"]
    assert metric_columns() == {
        "density": "higher",
        "coverage": "higher",
        "fd_dinov2": "lower",
        "fid": "lower",
        "is_mean": "higher",
        "kid_mean": "lower",
        "ms_ssim": "lower",
        "knn_precision": "higher",
        "knn_recall": "higher",
    }
    assert record_columns() == (
        "density",
        "coverage",
        "fd_dinov2",
        "fid",
        "is_mean",
        "is_std",
        "kid_mean",
        "kid_std",
        "ms_ssim",
        "knn_precision",
        "knn_recall",
    )
    assert column_labels() == {
        "density": "density",
        "coverage": "coverage",
        "fd_dinov2": "FD_DINOv2",
        "fid": "FID",
        "is_mean": "IS",
        "kid_mean": "KID",
        "ms_ssim": "MS-SSIM",
        "knn_precision": "precision",
        "knn_recall": "recall",
    }
    assert METRICS["kid"].needs == {"fake_features", "real_features"}
    assert {m.name: m.network for m in METRICS.values() if m.network != "inception"} == {
        "fd_dinov2": "dinov2-vitl14"
    }
    assert [m.name for m in METRICS.values() if not m.default] == ["fd_dinov2"]
    assert METRICS["ms_ssim"].applies_to(protocol_for("celeba_hq_128"))
    assert not METRICS["ms_ssim"].applies_to(protocol_for("cifar10"))


def test_the_registry_and_its_metadata_import_without_torch():
    code = (
        "import sys; import landscape; landscape.METRICS; "
        "from landscape.metrics import metric_columns; assert metric_columns()['fid'] == 'lower';"
        " assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_metric_from_a_plugin_file_appears_in_the_evaluation_record(cache, tmp_path, own_metrics):
    (tmp_path / "my_metric.py").write_text(PLUGIN)
    load_plugin(tmp_path / "my_metric.py")
    assert metric_columns()["fakes_seen"] == "higher"
    protocol = protocol_for("digits", n_samples=100)
    G = ARCHITECTURES["sndcgan"](resolution=32, channels=1, norm="none", width=1 / 16).generator
    record = Evaluator(protocol, cache_dir=cache)(G)
    assert record["fakes_seen"] == 100.0
    assert diverged(protocol)["fakes_seen"] == EVAL_DIVERGED


def test_the_readme_metric_plugin_works_as_printed(cache, tmp_path, own_metrics):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (code,) = re.findall(r"```python\n# my_metrics.py\n(.*?)```", readme, re.S)
    (tmp_path / "my_metrics.py").write_text(code)
    load_plugin(tmp_path / "my_metrics.py")
    assert metric_columns()["feature_spread"] == "higher"
    G = ARCHITECTURES["sndcgan"](resolution=32, channels=1, norm="none", width=1 / 16).generator
    record = Evaluator(protocol_for("digits", n_samples=100), cache_dir=cache)(G)
    assert record["feature_spread"] > 0 and math.isfinite(record["feature_spread"])


def test_a_metric_column_named_like_a_run_config_key_is_refused(cache, own_metrics):
    @metric("lr_metric", columns=("lr",), direction="lower", needs=("fake_features",))
    def lr_metric(inputs):
        return {"lr": 0.0}

    with pytest.raises(ValueError, match="metric 'lr_metric' .* writes the column\\(s\\) lr"):
        Evaluator(protocol_for("digits", n_samples=100), cache_dir=cache)


def test_bad_registrations_name_what_is_wrong(own_metrics):
    def f(inputs):
        return {}

    with pytest.raises(ValueError, match="direction 'up' is not one of lower, higher"):
        metric("x", columns=("x",), direction="up", needs=())(f)
    with pytest.raises(ValueError, match=r"unknown needs \['pixels'\]"):
        metric("x", columns=("x",), direction="lower", needs=("pixels",))(f)
    with pytest.raises(ValueError, match=r"columns already used: fid \(fid\)"):
        metric("x", columns=("fid",), direction="lower", needs=())(f)
    with pytest.raises(ValueError, match=r"labels for undeclared columns \['y'\]"):
        metric("x", columns=("x",), direction="lower", needs=(), labels={"y": "Y"})(f)
    with pytest.raises(ValueError, match=r"protocol \(reserved\)"):
        metric("x", columns=("protocol",), direction="lower", needs=())(f)
    metric("x", columns=("x",), direction="lower", needs=())(f)
    with pytest.raises(ValueError, match=r"metric 'x' .* returned \[\], but declared.*\['x'\]"):
        METRICS["x"](SimpleNamespace())


def prc(fake, real):
    inputs = SimpleNamespace(fake_features=fake, real_features=real, device=torch.device("cpu"))
    return METRICS["prc"](inputs)


def test_precision_and_recall_in_closed_form():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(200, 8, generator=g)
    assert prc(real.clone(), real) == {"knn_precision": 1.0, "knn_recall": 1.0}
    far = real + 100.0  # every fake far outside every real k-NN ball, and vice versa
    assert prc(far, real) == {"knn_precision": 0.0, "knn_recall": 0.0}
    # Half the fakes are copies of real images, half far away: precision is exactly 1/2;
    # recall follows the definition (k = 3), computed here point by point.
    half = torch.cat([real[:100], far[100:]])
    out = prc(half, real)
    assert out["knn_precision"] == 0.5

    def radius(points, i):  # distance to the 3rd nearest other point
        return sorted(float((points[i] - p).norm()) for j, p in enumerate(points) if j != i)[2]

    radii = [radius(half, i) for i in range(len(half))]
    inside = [any(float((r - f).norm()) <= radii[j] for j, f in enumerate(half)) for r in real]
    assert out["knn_recall"] == pytest.approx(sum(inside) / len(real), abs=1e-6)  # float32 mean
    assert 0.5 <= out["knn_recall"] < 1


def test_the_readme_network_plugin_works_as_printed(cache, tmp_path, own_metrics, monkeypatch):
    import re
    from pathlib import Path

    from landscape.evaluation.reference import reference_path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (code,) = re.findall(r"```python\n# my_network.py\n(.*?)```", readme, re.S)
    (tmp_path / "my_network.py").write_text(code)
    load_plugin(tmp_path / "my_network.py")
    assert METRICS["fd_thumbnails"].network == "thumbnails-8"
    protocol = protocol_for("digits", n_samples=100, metrics=["fid", "fd_thumbnails"])
    assert protocol.networks == {"digits-cnn": ("fid",), "thumbnails-8": ("fd_thumbnails",)}
    evaluator = Evaluator(protocol, cache_dir=cache)
    G = ARCHITECTURES["sndcgan"](resolution=32, channels=1, norm="none", width=1 / 16).generator
    record = evaluator(G)
    assert record["fd_thumbnails"] > 0 and math.isfinite(record["fd_thumbnails"])
    assert record["protocol"]["networks"]["thumbnails-8"]["metrics"] == ["fd_thumbnails"]
    assert reference_path(protocol, cache, "thumbnails-8").is_file()
    # Its statistics are those of the 8x8 thumbnails of the 100 real digits, by hand:
    from landscape.data import load
    from landscape.evaluation import scores

    reals = load("digits", "test").images[: protocol.n_real].float().expand(-1, 3, -1, -1)
    thumbs = torch.nn.functional.adaptive_avg_pool2d(reals.mean(1, keepdim=True) / 255, 8)
    expected = scores.statistics(thumbs.flatten(1))
    assert np.allclose(evaluator.reference_for("thumbnails-8").stats.mu, expected.mu, atol=1e-6)
