"""Feature extractors by name, through torch-fidelity's registry.

Any name registered with ``torch_fidelity.register_feature_extractor`` works. Two get special
care (PAPER.md 7 wants unquantized fakes, torch-fidelity's extractors take uint8 only):

- ``inception-v3-compat`` (the default) runs through :class:`InceptionV3FloatInput`, the same
  network with a float input path; its weights are checked for before anything else happens.
- ``digits-cnn`` and ``mnist-cnn`` (ours, registered on import, trained on first use and
  cached in ``<cache>/extractors``) take float input natively.
- ``dinov2-vitl14`` (ours, registered on import: dgm-eval's FD_DINOv2 network) loads Meta's
  checkpoint from ``<cache>/extractors/dinov2_vitl14_pretrain.pth`` and takes uint8.

Any other registered extractor gets fakes rounded to uint8, and the protocol says so.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import torch
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from landscape.evaluation import digits_cnn, dinov2, inception, mnist_cnn
from landscape.evaluation.cache import resolve_cache_dir
from landscape.metrics.cache import EXTRACTORS_DIR

OURS = {m.NAME: m for m in (digits_cnn, mnist_cnn)}  # trained here; name -> module
LOCAL = {dinov2.NAME: dinov2}  # published weights read from <cache>/extractors; name -> module
for _module in (*OURS.values(), *LOCAL.values()):
    _module.register()

METRICS = ("fid", "kid", "isc")
FLOAT_INPUT = {inception.NAME, *OURS}  # extractors that see fakes unquantized


def network(name: str) -> Callable[[type[FeatureExtractorBase]], type[FeatureExtractorBase]]:
    """Decorator: register a ``FeatureExtractorBase`` subclass as network ``name`` (with
    torch-fidelity, so its tools know it too), for metrics that declare ``network=name``.
    Loading the same plugin file again re-registers its class; another class under a taken
    name is an error."""

    def add(cls: type[FeatureExtractorBase]) -> type[FeatureExtractorBase]:
        if not (isinstance(cls, type) and issubclass(cls, FeatureExtractorBase)):
            raise TypeError(f"network {name!r}: {cls!r} is not a FeatureExtractorBase subclass")
        old = FEATURE_EXTRACTORS_REGISTRY.get(name)
        if old is not None and (old.__module__, old.__qualname__) != (
            cls.__module__,
            cls.__qualname__,
        ):
            raise ValueError(
                f"network {name!r} is already registered (by {old.__module__}."
                f"{old.__qualname__}); pick another name"
            )
        FEATURE_EXTRACTORS_REGISTRY[name] = cls
        return cls

    return add


def extractor_class(name: str) -> type[FeatureExtractorBase]:
    """The class registered with torch-fidelity as ``name``; a clear error if there is none."""
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        valid = ", ".join(sorted(FEATURE_EXTRACTORS_REGISTRY))
        raise ValueError(f"unknown feature extractor {name!r}; torch-fidelity has: {valid}")
    return FEATURE_EXTRACTORS_REGISTRY[name]


def feature_layers(name: str) -> dict[str, str]:
    """metric -> the feature the extractor gives for it (torch-fidelity's own defaults)."""
    cls = extractor_class(name)
    return {metric: cls.get_default_feature_layer_for_metric(metric) for metric in METRICS}


def weights_label(name: str) -> str:
    """The weights an extractor runs with, for the record (file name and version)."""
    if name == inception.NAME:
        return inception.WEIGHTS_FILE
    if name in OURS:
        return OURS[name].WEIGHTS_FILE
    if name in LOCAL:
        return LOCAL[name].WEIGHTS_FILE
    return "torch-fidelity default"


def create_extractor(
    name: str,
    *,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
    data_root: str | Path | None = None,
) -> FeatureExtractorBase:
    """Build extractor ``name`` with the features FID, KID and IS need, in eval mode on
    ``device``. Raises :class:`InceptionWeightsMissing` early when Inception cannot load. Our
    own extractors are trained on first use, ``mnist-cnn`` on the MNIST under ``data_root``."""
    cls = extractor_class(name)
    features = sorted(set(feature_layers(name).values()))
    kwargs: dict = {"verbose": False}
    weights: str | None = None
    folder = resolve_cache_dir(cache_dir) / EXTRACTORS_DIR
    if cls is FeatureExtractorInceptionV3:
        cls = inception.InceptionV3FloatInput
        weights = kwargs["feature_extractor_weights_path"] = str(inception.inception_weights())
    elif name in OURS and cls is OURS[name].FEATURE_EXTRACTOR:
        weights = kwargs["feature_extractor_weights_path"] = str(folder / OURS[name].WEIGHTS_FILE)
        kwargs["data_root"] = data_root
    elif name in LOCAL and cls is LOCAL[name].FEATURE_EXTRACTOR:
        weights = kwargs["feature_extractor_weights_path"] = str(folder / LOCAL[name].WEIGHTS_FILE)
    if not _takes_keywords(cls):  # a plugin's class on FeatureExtractorBase's own __init__
        kwargs.pop("verbose")
    extractor = cls(name, features, **kwargs)
    extractor.requires_grad_(False)
    extractor.landscape_weights = weights  # the file it loaded, for the protocol record
    return extractor.eval().to(device)


def _takes_keywords(cls: type) -> bool:
    parameters = inspect.signature(cls.__init__).parameters.values()
    return any(p.kind is p.VAR_KEYWORD or p.name == "verbose" for p in parameters)
