"""The cost estimate counts what an evaluation extracts: each network once, whatever number of
metrics read it, and the k-NN metrics' distances."""

from __future__ import annotations

from landscape.cost.flops import KNN_PAIRS, eval_flops, extractor, host_work
from landscape.evaluation import protocol_for
from landscape.train import RunSpec

RUN = RunSpec(dataset="cifar10", architecture="sndcgan", width=0.25, steps=10, eval_every=10)


def test_each_network_is_counted_once():
    n = protocol_for("cifar10").n_fake
    inception, d = extractor("inception-v3-compat")
    dino = extractor("dinov2-vitl14")[0]
    fid = eval_flops(RUN, metrics=("fid",))
    # IS and KID read Inception too: no second Inception pass
    assert eval_flops(RUN, metrics=("fid", "is", "kid")) == fid
    assert eval_flops(RUN, metrics=("fid", "fd_dinov2")) - fid == n * dino
    assert eval_flops(RUN, metrics=("fd_dinov2",)) == fid - n * inception + n * dino
    assert 12 < dino / inception < 16  # ViT-L/14 at 224 vs Inception-v3 at 299 (issue: ~13x)
    knn = eval_flops(RUN, metrics=("fid", "density_coverage")) - fid
    assert knn == 2 * d * KNN_PAIRS["density_coverage"](n, n) == 2 * d * 2 * n * n


def test_the_default_metrics_leave_fd_dinov2_out():
    assert eval_flops(RUN) == eval_flops(
        RUN, metrics=("fid", "is", "kid", "prc", "density_coverage")
    )
    assert eval_flops(RUN) < eval_flops(RUN, metrics=("fid", "fd_dinov2"))


def test_host_work_counts_each_frechet_distance():
    _, fid_only = host_work(RUN, ("fid",))
    _, both = host_work(RUN, ("fid", "fd_dinov2"))
    assert both - fid_only == 25 * 1024**3  # the matrix square root of 1024-d statistics
