"""torch-fidelity's TF-exact Inception (``inception-v3-compat``) with a float input path.

PAPER.md 7: fakes are scaled by 255 and **not quantized** to uint8 before Inception.
torch-fidelity's ``FeatureExtractorInceptionV3.forward`` refuses anything but uint8, although
the first thing it does is cast the input to float32. :class:`InceptionV3FloatInput` runs the
very same modules in the very same order on float input in [0, 255] (TF1 bilinear resize to
299, (x - 128) / 128, the Inception trunk, pool_3, the 1008-way fc). On integer-valued input
it matches torch-fidelity bit for bit (tests/test_metrics_extractors.py checks this).

The weights are torch-fidelity's conversion of the 2015-12-05 TF graph. torch-fidelity
downloads them with ``torch.hub`` into ``<torch hub dir>/checkpoints/``; machines without
internet need the file put there by hand, and :func:`inception_weights` says so when it is
missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor
from torch_fidelity.feature_extractor_inceptionv3 import (
    URL_INCEPTION_V3,
    FeatureExtractorInceptionV3,
)
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from landscape.metrics.protocol import INCEPTION_V3 as NAME  # noqa: F401  (inception.NAME)

WEIGHTS_FILE = os.path.basename(URL_INCEPTION_V3)  # weights-inception-2015-12-05-6726825d.pth

_TRUNK = (
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1", "Conv2d_3b_1x1",
    "Conv2d_4a_3x3", "MaxPool_2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b",
    "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "AvgPool",
)  # fmt: skip
_FLOAT_FEATURES = ("2048", "logits_unbiased", "logits")


class InceptionWeightsMissing(FileNotFoundError):
    """The Inception weights are not on disk and could not be downloaded."""


def inception_weights_path() -> Path:
    """Where torch-fidelity (through ``torch.hub.load_state_dict_from_url``) keeps the weights:
    ``<torch.hub.get_dir()>/checkpoints/weights-inception-2015-12-05-6726825d.pth``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def inception_weights(*, download: bool = True) -> Path:
    """The path of the Inception weights, downloading them once if allowed and possible.

    Raises :class:`InceptionWeightsMissing` naming the file, the folder and the URL otherwise.
    """
    path = inception_weights_path()
    if path.is_file():
        return path
    error: BaseException | None = None
    if download:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(URL_INCEPTION_V3, str(path), progress=False)
            return path
        except Exception as e:  # no network, proxy, DNS...: all end in the same advice
            error = e
    raise InceptionWeightsMissing(
        f"the Inception weights {WEIGHTS_FILE} (torch-fidelity's 'inception-v3-compat', "
        f"needed for FID/IS/KID) are not in {path.parent}"
        + (f" and could not be downloaded ({type(error).__name__}: {error})" if error else "")
        + f". torch-fidelity looks for them in torch.hub's checkpoints folder "
        f"(<torch.hub.get_dir()>/checkpoints, i.e. $TORCH_HOME/hub/checkpoints; default "
        f"~/.cache/torch/hub/checkpoints). Download {URL_INCEPTION_V3} on a machine with "
        f"internet access and copy it to {path}. (Without it, only the bundled digits data "
        f"set can be scored, with its own 'digits-cnn' extractor.)"
    ) from error


class InceptionV3FloatInput(FeatureExtractorInceptionV3):
    """``inception-v3-compat`` that also accepts float images in [0, 255] (not quantized)."""

    def __init__(self, name: str, features_list, **kwargs) -> None:
        unsupported = set(features_list) - set(_FLOAT_FEATURES)
        if unsupported:
            raise ValueError(f"float input path provides {_FLOAT_FEATURES}, not {unsupported}")
        super().__init__(name, features_list, **kwargs)

    def preprocess(self, x: Tensor) -> Tensor:
        """Images in [0, 255] -> the trunk's input: TF1 bilinear resize to 299, (x - 128) / 128
        (the protocol records this path as ``tf1-bilinear``)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"Inception expects Bx3xHxW images in [0, 255], got {tuple(x.shape)}")
        x = x.to(self.feature_extractor_internal_dtype)
        x = interpolate_bilinear_2d_like_tensorflow1x(
            x, size=(self.INPUT_IMAGE_SIZE, self.INPUT_IMAGE_SIZE), align_corners=False
        )
        return (x - 128) / 128

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        x = self.preprocess(x)
        for name in _TRUNK:
            x = getattr(self, name)(x)
        x = torch.flatten(x, 1)
        features = {"2048": x.to(torch.float32)}
        if "logits_unbiased" in self.features_list:  # same op order as torch-fidelity
            x = x.mm(self.fc.weight.T)
            features["logits_unbiased"] = x.to(torch.float32)
            x = x + self.fc.bias.unsqueeze(0)
        else:
            x = self.fc(x)
        features["logits"] = x.to(torch.float32)
        return tuple(features[name] for name in self.features_list)
