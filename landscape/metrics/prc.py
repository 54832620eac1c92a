"""Improved precision and recall (Kynkäänniemi et al. 2019), by torch-fidelity's
``prc_features_to_metric``: with k = 3 nearest neighbours, precision is the share of fakes
inside the k-NN ball of some real image, recall the share of real images inside the k-NN ball
of some fake. Both on the protocol's KID/FID features (Inception pool_3 by default; the paper
used VGG-16 fc2, so values differ from theirs), higher is better, in [0, 1]."""

from __future__ import annotations

from typing import Any

from landscape.metrics.registry import metric

NEIGHBOURHOOD = 3
# Rows and columns of the distance matrices computed at once (torch-fidelity's default): one
# 10K x 10K block (400 MB) at a time. Smaller blocks are far slower (10K vs 10K, 128-d, busy
# 2-core CPU: 21 s with 10,000, 73 s with 1,000).
BATCH = 10_000


NAME = "prc"  # the metric's name in METRICS (the cost estimate counts its distances)


@metric(
    NAME,
    columns=("knn_precision", "knn_recall"),  # not "precision": a run's config has that key
    direction="higher",
    needs=("fake_features", "real_features"),
    labels={"knn_precision": "precision", "knn_recall": "recall"},
)
def precision_recall(inputs: Any) -> dict:
    from torch_fidelity.metric_prc import prc_features_to_metric

    out = prc_features_to_metric(
        inputs.fake_features.to(inputs.device).float(),
        inputs.real_features.to(inputs.device).float(),
        prc_neighborhood=NEIGHBOURHOOD,
        prc_batch_size=BATCH,
        save_cpu_ram=True,
        verbose=False,
    )
    return {"knn_precision": float(out["precision"]), "knn_recall": float(out["recall"])}
