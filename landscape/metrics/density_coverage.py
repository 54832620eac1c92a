"""Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
Generative Models"), with k = 5 nearest neighbours as the authors recommend.

Around every reference image a ball reaches its k-th nearest reference neighbour. **Density**
counts, per fake, the reference balls it falls into, divided by k and averaged over the fakes
(1 on average when fakes are distributed like the reals; above 1 where fakes crowd dense real
regions). **Coverage** is the share of reference images whose ball holds at least one fake
(in [0, 1]). Unlike improved precision and recall (``prc.py``), neither builds balls around
the fakes, so a few outlying fakes cannot inflate them. Both on the protocol's KID features
(Inception pool_3 by default), higher is better. The arithmetic, in float64 on the evaluation
device, is ``landscape.evaluation.knn``; it agrees with the authors' ``prdc`` package to 1e-6
on fixed features (tests/test_metrics_density_coverage.py).
"""

from __future__ import annotations

from typing import Any

from landscape.metrics.registry import metric

NAME = "density_coverage"
NEIGHBOURHOOD = 5  # Naeem et al. 2020, section 4: k = 5


@metric(
    NAME,
    columns=("density", "coverage"),
    direction="higher",
    needs=("fake_features", "real_features"),
    labels={"density": "density", "coverage": "coverage"},
)
def density_coverage(inputs: Any) -> dict:
    from landscape.evaluation.knn import density_coverage as compute

    density, coverage = compute(
        inputs.fake_features, inputs.real_features, k=NEIGHBOURHOOD, device=inputs.device
    )
    return {"density": density, "coverage": coverage}
