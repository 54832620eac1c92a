"""Evaluation, the torch side of the metrics: IS, FID, KID and MS-SSIM through torch-fidelity,
under recorded protocols.

See docs/metrics.md and PAPER.md 7. The public surface:

- :func:`protocol_for` / :class:`Protocol`: how a score is computed, stored beside it.
- :class:`Evaluator`: ``Evaluator(protocol)(G)`` -> scores of a generator in memory.
- :func:`prepare_stats`: fill the reference-statistics cache ahead of a study.
- :func:`run_score` / :func:`best_evaluation`: a run's score from its evaluation log.
- ``digits-cnn``, ``mnist-cnn``: offline feature extractors, registered with torch-fidelity on
  import (``landscape.evaluation.extractors``), trained on first use; ``dinov2-vitl14``
  (FD_DINOv2's network) from a local weights file.
- :func:`network`: register a plugin's own network (a torch-fidelity feature extractor) for
  metrics that declare ``network=`` its name.
"""

from landscape.evaluation.cache import default_cache_dir
from landscape.evaluation.dinov2 import DinoV2WeightsMissing
from landscape.evaluation.evaluate import EVAL_DIVERGED, Evaluator, prepare_stats
from landscape.evaluation.extractors import network
from landscape.evaluation.inception import InceptionWeightsMissing, inception_weights_path
from landscape.evaluation.log import best_evaluation, run_score
from landscape.evaluation.protocol import (
    Protocol,
    ProtocolMismatchError,
    assert_one_protocol,
    protocol_for,
    protocol_of,
)

__all__ = [
    "DinoV2WeightsMissing",
    "EVAL_DIVERGED",
    "Evaluator",
    "InceptionWeightsMissing",
    "Protocol",
    "ProtocolMismatchError",
    "best_evaluation",
    "assert_one_protocol",
    "default_cache_dir",
    "inception_weights_path",
    "network",
    "prepare_stats",
    "protocol_for",
    "protocol_of",
    "run_score",
]
