"""FLOPs of one training step and of one evaluation, counted on the meta device.

``torch.utils.flop_counter`` counts the FLOPs of the convolutions and matrix products a step
dispatches (2 per multiply-add), from shapes alone: the models are built on the ``meta``
device, so counting ResNet19 at width 1 takes about a second and no memory. The step counted
is the training loop's own (``GanUpdate``), so the penalty's extra backward, the G step every
``n_disc`` D steps and anything the loop changes later are counted as they run. Element-wise
work (activations, normalization, Adam) is not counted; it matters only for tiny models, which
is why cost.py scales from the measured model nearest in FLOPs.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from landscape.data.base import fact_of, resolution_of
from landscape.metrics import METRICS
from landscape.metrics.density_coverage import NAME as DENSITY_COVERAGE
from landscape.metrics.prc import NAME as PRC  # torch-fidelity's precision/recall, on the device
from landscape.train import RunSpec
from landscape.train.update import GanUpdate
from landscape.variants import ARCHITECTURES

META = torch.device("meta")
SAMPLE_GRID = 64  # fakes in the sample grid the loop saves at every evaluation


class _Everything:
    """Stands in for FlopCounterMode's module tracker, whose backward hooks break
    ``torch.autograd.grad`` (the gradient penalties' double backward); all FLOPs go to one
    total, which is all the estimate needs."""

    parents = frozenset({"Global"})

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def _counter() -> FlopCounterMode:
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _Everything()
    return counter


def image_shape(run: RunSpec) -> tuple[int, int]:
    """(channels, resolution) of the run's data set, without loading it."""
    options = run.data_options or {}
    resolution = resolution_of(run.dataset, options)
    if resolution is None:  # declared by no data set: the architecture's first size
        resolution = ARCHITECTURES[run.architecture].resolutions[0]
    channels = options.get("channels", fact_of(run.dataset, "channels", 3))
    return int(channels), int(resolution)


def _models(run: RunSpec, channels: int, resolution: int):
    with META:
        return ARCHITECTURES[run.architecture](
            resolution=resolution,
            channels=channels,
            norm=run.normalization,
            z_dim=run.z_dim,
            width=run.width,
        )


def _shape_key(run: RunSpec) -> RunSpec:
    """The run with every field that barely changes its FLOPs set to one value (for caching):
    a loss adds no network pass (relativistic ones reuse D(real)), bf16 no FLOPs."""
    return replace(
        run,
        loss="ns",
        loss_kwargs={},
        precision="fp32",
        lr=2e-4,
        beta1=0.5,
        beta2=0.999,
        seed=0,
        steps=1,
        eval_every=1,
        study="",
        origin="",
    )


def _cached(count):
    """Memoize ``count(run, shape)`` by what shapes the run (RunSpec holds dicts, so it is no
    dict key). ``shape`` is (channels, resolution), by default the data set's."""
    memo: dict[tuple, float] = {}

    def cached(run: RunSpec, shape: tuple[int, int] | None = None) -> float:
        run, shape = _shape_key(run), shape or image_shape(run)
        if (run.run_id, shape) not in memo:
            memo[run.run_id, shape] = count(run, shape)
        return memo[run.run_id, shape]

    cached.__doc__ = count.__doc__
    return cached


@_cached
def step_flops(run: RunSpec, shape: tuple[int, int]) -> float:
    """FLOPs per D step of ``run``, averaged over ``n_disc`` steps (one of which updates G)."""
    channels, resolution = shape
    G, D = _models(run, channels, resolution)
    update = GanUpdate(run, G, D, META)
    real = torch.empty(run.batch_size, channels, resolution, resolution, device=META)
    turns = [0] if run.n_disc == 1 else [0, 1]  # a step with the G update, one without
    counts = []
    for step in turns:
        with _counter() as counter:
            update(step, real)
        counts.append(counter.get_total_flops())
    return (counts[0] + (run.n_disc - 1) * counts[-1]) / run.n_disc


def evaluations(run: RunSpec) -> int:
    """How many times the loop evaluates ``run``: at step 0, every ``eval_every`` and the end."""
    return 1 + run.steps // run.eval_every + (1 if run.steps % run.eval_every else 0)


@_cached
def fake_flops(run: RunSpec, shape: tuple[int, int]) -> float:
    """FLOPs of G on one fake (eval mode)."""
    from landscape.evaluation.protocol import EVAL_BATCH

    channels, resolution = shape
    G, _ = _models(run, channels, resolution)
    with torch.no_grad(), _counter() as counter:
        G(torch.zeros(EVAL_BATCH, G.z_dim, device=META))
    return counter.get_total_flops() / EVAL_BATCH


# k-NN metrics: how many pairwise distances (in units of N^2) each computes on the device, from
# (n_fake, n_real). Precision/recall: fake-fake, real-fake, real-real and fake-real matrices;
# density/coverage: real-real (the radii) and real-fake.
KNN_PAIRS = {
    PRC: lambda fake, real: (fake + real) ** 2,
    DENSITY_COVERAGE: lambda fake, real: real * real + real * fake,
}


def eval_flops(
    run: RunSpec, shape: tuple[int, int] | None = None, metrics: tuple[str, ...] | None = None
) -> float:
    """FLOPs of one evaluation on the device: G over the protocol's fakes and the sample grid,
    each network the computed ``metrics`` read (None: the default ones) once over the fakes
    (the real statistics are computed once and cached), and the k-NN metrics' distances."""
    from landscape.evaluation.protocol import protocol_of

    protocol = protocol_of(run, metrics)
    flops = (protocol.n_fake + SAMPLE_GRID) * fake_flops(run, shape)
    for network, names in protocol.networks.items():
        per_image, d = extractor(network)
        flops += protocol.n_fake * per_image
        for name in names:  # 2 d FLOPs a pair
            if name in KNN_PAIRS:
                flops += 2 * d * KNN_PAIRS[name](protocol.n_fake, protocol.n_real)
    return flops


SQRTM_FLOPS = 25  # x d^3: FID's matrix square root (Schur method: ~25 d^3)


def host_work(run: RunSpec, metrics: tuple[str, ...] | None = None) -> tuple[float, float]:
    """(elements, FLOPs) of one evaluation's arithmetic on the host CPU in float64, whatever
    the device: KID's 3 cubic kernels (x.y / d + 1)^3 over m x m pairs per subset, a matrix
    product of 2 m^2 d FLOPs and m^2 elements raised to a power each, and the matrix square
    root of each Fréchet distance (FID, FD_DINOv2) on its network's features. For Inception
    features at 10K fakes that is 1.2 TFLOPs, seconds to minutes."""
    from landscape.evaluation.protocol import protocol_of

    protocol = protocol_of(run, metrics)
    m = min(protocol.kid_subset_size, protocol.n_fake, protocol.n_real)
    elements = flops = 0.0
    for network, names in protocol.networks.items():
        d = extractor(network)[1]
        for name in names:
            if name == KID:
                kernels = 3 * protocol.kid_subsets
                elements += kernels * m * m
                flops += kernels * 2 * m * m * d
            elif "real_stats" in METRICS[name].needs:
                flops += SQRTM_FLOPS * d**3
    return elements, flops


INCEPTION_FEATURES = 2048  # pool_3, the FID/KID features
KID = "kid"  # the metric whose kernels run on the host


def extractor_flops(name: str) -> float:
    """FLOPs of the feature extractor on one image."""
    return extractor(name)[0]


@lru_cache(maxsize=8)
def extractor(name: str) -> tuple[float, int]:
    """(FLOPs on one image, FID/KID feature dimension) of extractor ``name``: the offline gray
    nets on 32x32, DINOv2 ViT-L/14 on 224x224, or Inception-v3 on 299x299 (torchvision's
    network, the TF-compatible one's twin in FLOPs) for any other (a plugin's network is
    counted as Inception: an assumption, not a measurement). The evaluation side is imported
    here, when a count is missing from the cache: `landscape plan` reads counts without it."""
    from landscape.evaluation import digits_cnn, dinov2, mnist_cnn

    gray_nets = {digits_cnn.NAME: digits_cnn.DigitsNet, mnist_cnn.NAME: mnist_cnn.MnistNet}
    with META, _counter() as counter, torch.no_grad():
        if name in gray_nets:
            features, _ = gray_nets[name]().eval()(torch.zeros(1, 1, 32, 32))
            dim = features.shape[-1]
        elif name == dinov2.NAME:
            size = dinov2.INPUT_SIZE
            dim = dinov2.cls_features(dinov2.vit().eval(), torch.zeros(1, 3, size, size)).shape[-1]
        else:
            from torchvision.models import inception_v3

            net = inception_v3(weights=None, aux_logits=False, init_weights=False).eval()
            net(torch.zeros(1, 3, 299, 299))
            dim = INCEPTION_FEATURES
    return float(counter.get_total_flops()), int(dim)
