"""What a study file may choose of an evaluation protocol, checked without torch.

The feature networks landscape provides, by name (their code is in ``landscape/evaluation/``:
``inception.py``, ``digits_cnn.py``, ``mnist_cnn.py``, ``dinov2.py``, which take their names
from here), and the sample count rule of PAPER.md 7. ``landscape.evaluation.protocol`` builds
the full protocol from these. A study that names only these networks is checked here; any other
name must be a torch-fidelity feature extractor, which only importing torch-fidelity can tell
(``study/validate_data.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from landscape.metrics.builtin import DINOV2
from landscape.metrics.registry import INCEPTION, METRICS, selected_metrics

INCEPTION_V3 = "inception-v3-compat"  # torch-fidelity's TF-exact Inception (the paper's)
DIGITS_CNN = "digits-cnn"  # the offline stand-in for the embedded digits set
MNIST_CNN = "mnist-cnn"  # the offline choice for MNIST
BUILT_IN_NETWORKS = frozenset({INCEPTION_V3, DIGITS_CNN, MNIST_CNN, DINOV2})

SAMPLE_MULTIPLE = 50  # compare_gan's Inception batch: N is rounded down to a multiple of 50


def round_samples(n: int) -> int:
    """``n`` rounded down to a multiple of 50 (PAPER.md 7); at least 50."""
    if n < SAMPLE_MULTIPLE:
        raise ValueError(f"need at least {SAMPLE_MULTIPLE} samples for an evaluation, got {n}")
    return n // SAMPLE_MULTIPLE * SAMPLE_MULTIPLE


def built_in_only(extractor: str | None, metrics: Iterable[str] | None) -> bool:
    """Whether the protocol's extractor (None: the data set's default, always built in) and the
    network of every metric computed (None: the default metrics) are networks landscape
    provides, so that no feature extractor registry need be asked."""
    if extractor is not None and extractor not in BUILT_IN_NETWORKS:
        return False
    chosen = selected_metrics(None if metrics is None else tuple(metrics))
    return all(METRICS[m].network in BUILT_IN_NETWORKS | {INCEPTION} for m in chosen)
