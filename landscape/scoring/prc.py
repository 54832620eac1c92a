"""Improved precision and recall (Kynkäänniemi et al. 2019), by torch-fidelity's
``prc_features_to_metric``: with k = 3 nearest neighbours, precision is the share of fakes
inside the k-NN ball of some real image, recall the share of real images inside the k-NN ball
of some fake. Both on the protocol's KID/FID features (Inception pool_3 by default; the paper
used VGG-16 fc2, so values differ from theirs), higher is better, in [0, 1]."""

from __future__ import annotations

from typing import Any

from landscape.scoring.registry import metric

NEIGHBOURHOOD = 3
BATCH = 1000  # rows of the distance matrix computed at once (memory: BATCH x N floats)


@metric(
    "prc",
    columns=("precision", "recall"),
    direction="higher",
    needs=("fake_features", "real_features"),
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
    return {"precision": float(out["precision"]), "recall": float(out["recall"])}
