"""Which network each metric reads, and how each network sees the stored images.

A metric names its network (``landscape.metrics.registry``): ``"inception"`` is a role that
the protocol's extractor fills (``inception-v3-compat``, or a data set's offline stand-in,
``digits-cnn`` / ``mnist-cnn``); any other name is a torch-fidelity feature extractor, ours
(``dinov2-vitl14``) or a plugin's. An evaluation runs each network once over the fakes.

Each network has a **resize path**, named in the protocol record and applied by its
``preprocess``/``forward`` (tests/test_metrics_resize.py checks that the recorded path is the
one applied, for every data set):

- ``tf1-bilinear``: torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x`` on float
  input (Inception-v3, to 299 x 299: the TF graph's own resize, as compare_gan fed it).
- ``pil-bicubic``: PIL's bicubic on uint8 RGB images (``torchvision.transforms.Resize`` on a
  PIL image; dgm-eval's DINOv2 path, to 224 x 224). Not torch's tensor bicubic (a = -0.75 vs
  PIL's -0.5, no antialias on downscaling): clean-fid's resizing trap.
- ``torch-bilinear``: ``F.interpolate(mode="bilinear")`` to 32 x 32 (our gray CNNs; a no-op
  for the 32 x 32 data sets they are trained on).
- ``extractor's own``: any other torch-fidelity extractor (recorded, not checked).
"""

from __future__ import annotations

from collections.abc import Mapping

from landscape.data.base import resolution_of
from landscape.evaluation import digits_cnn, dinov2, inception, mnist_cnn
from landscape.evaluation.extractors import FLOAT_INPUT, feature_layers, weights_label
from landscape.metrics import INCEPTION, METRICS

RESIZE = {  # network -> (resize path, network input size)
    inception.NAME: ("tf1-bilinear", 299),
    dinov2.NAME: (dinov2.RESIZE, dinov2.INPUT_SIZE),
    digits_cnn.NAME: ("torch-bilinear", 32),
    mnist_cnn.NAME: ("torch-bilinear", 32),
}
OTHER = "extractor's own"


def network_of(metric: str, extractor: str) -> str:
    """The network metric ``metric`` reads when the protocol's extractor is ``extractor``."""
    name = METRICS[metric].network
    return extractor if name == INCEPTION else name


def metrics_by_network(metrics: tuple[str, ...], extractor: str) -> dict[str, tuple[str, ...]]:
    """Network -> the metrics of ``metrics`` that read it, in order (each network once)."""
    out: dict[str, list[str]] = {}
    for name in metrics:
        out.setdefault(network_of(name, extractor), []).append(name)
    return {network: tuple(names) for network, names in out.items()}


def resize_path(network: str, resolution: int | None) -> str:
    """e.g. ``tf1-bilinear 32->299``; ``none`` when the images are the network's size."""
    path, size = RESIZE.get(network, (OTHER, None))
    if size is None:
        return OTHER
    if resolution == size:
        return "none"
    return f"{path} {resolution if resolution is not None else '?'}->{size}"


def network_record(network: str, dataset: str, data_options: Mapping | None) -> dict:
    """What the protocol records of one network (the Evaluator adds the weights' hash)."""
    return {
        "weights": weights_label(network),
        "resize": resize_path(network, resolution_of(dataset, dict(data_options or {}))),
        "input_size": RESIZE.get(network, (OTHER, None))[1],
        "quantized": network not in FLOAT_INPUT,
        "layers": feature_layers(network),
    }
