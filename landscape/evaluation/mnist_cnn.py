"""``mnist-cnn``: an offline feature extractor for MNIST, trained on first use.

The paper scores MNIST with the 2015 Inception network (PAPER.md 7), whose weights cannot be
downloaded on offline machines. Like ``digits-cnn`` for the bundled digits, we register with
torch-fidelity a small CNN trained with a fixed seed on the MNIST train split (60,000 digits,
zero-padded to 32x32 as ``landscape.data.load("mnist")`` returns them; 2 epochs, one CPU
thread, about a minute or two). It gives 128-d penultimate activations (for FID and KID) and
10 class logits (for IS); its accuracy on the 10,000 test digits is recorded in the cached
weights (about 99.2%).

Scores computed with it are NOT comparable with Inception-based numbers from papers: they
only rank models trained on MNIST against each other under the same protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from landscape.data import load
from landscape.data.base import default_root
from landscape.data.torchvision_sets import _torchvision, _unpacked_root
from landscape.evaluation.cache import default_cache_dir, load_or_compute
from landscape.evaluation.digits_cnn import GrayCNNExtractor, accuracy
from landscape.metrics.cache import EXTRACTORS_DIR
from landscape.metrics.protocol import MNIST_CNN as NAME

DATASET = "mnist"  # trained on its train split, accuracy measured on its test split
VERSION = 1  # bump when the network or its training changes: the cache file name follows
WEIGHTS_FILE = f"{NAME}-v{VERSION}.pt"
SEED = 0
EPOCHS = 2
BATCH = 128
LR = 3e-3  # Adam under a one-cycle schedule peaking at LR
RECIPE = {"version": VERSION, "seed": SEED, "epochs": EPOCHS, "batch": BATCH, "lr": LR}


class MnistNet(nn.Module):
    """Gray 32x32 in [0, 1] -> (128-d penultimate activations, 10 logits)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),  # 16
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 8
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),  # 4
            nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(),
        )  # fmt: skip
        self.fc = nn.Linear(128, 10)
        # Features divided to unit mean square on the train split, as digits-cnn's (for KID).
        self.register_buffer("feature_scale", torch.ones(()))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        hidden = self.body(x)
        return hidden / self.feature_scale, self.fc(hidden)


def _split(split: str, data_root: str | Path | None) -> tuple[Tensor, Tensor]:
    """Images of an MNIST split in [0, 1] (N, 1, 32, 32) and their labels."""
    root = Path(data_root) if data_root is not None else default_root()
    images = load("mnist", split, root=root).images.float() / 255
    unpacked = _unpacked_root(root, "MNIST")
    labels = _torchvision("MNIST", "mnist", "MNIST", unpacked, split, False).targets
    return images, labels


def train(data_root: str | Path | None = None) -> dict:
    """Train on the MNIST train split (seeded, one CPU thread so that the weights do not depend
    on the core count); returns the state to cache, with the test split's accuracy."""
    images, labels = _split("train", data_root)
    test_images, test_labels = _split("test", data_root)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            net = _train(images, labels)
        train_accuracy = _calibrate(net, images, labels)
        return {
            "state_dict": net.state_dict(),
            "test_accuracy": _accuracy(net, test_images, test_labels),
            "train_accuracy": train_accuracy,
            "recipe": RECIPE,
        }
    finally:
        torch.set_num_threads(threads)


def _accuracy(net: MnistNet, images: Tensor, labels: Tensor) -> float:
    """Accuracy in batches of 1000 (the whole split at once would need gigabytes)."""
    batches = zip(images.split(1000), labels.split(1000), strict=True)
    return sum(accuracy(net, x, y) * len(x) for x, y in batches) / len(images)


@torch.no_grad()
def _calibrate(net: MnistNet, images: Tensor, labels: Tensor) -> float:
    """Set the feature scale to unit mean square on the train split, in one pass that also
    returns the train accuracy."""
    net.eval()
    square, hits = 0.0, 0
    for x, y in zip(images.split(1000), labels.split(1000), strict=True):
        hidden = net.body(x)
        square += hidden.pow(2).sum().item()
        hits += int((net.fc(hidden).argmax(1) == y).sum())
    net.feature_scale.fill_((square / hidden.shape[1] / len(images)) ** 0.5)
    return hits / len(images)


def _train(images: Tensor, labels: Tensor) -> MnistNet:
    """Adam with a one-cycle schedule, seeded initialisation and batch order."""
    torch.manual_seed(SEED)
    net = MnistNet()
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    steps = EPOCHS * -(-len(images) // BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
    order = torch.Generator().manual_seed(SEED)
    net.train()
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(images), generator=order).split(BATCH):
            loss = F.cross_entropy(net(images[idx])[1], labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    return net


def load_or_train(path: str | Path | None = None, data_root: str | Path | None = None) -> dict:
    """The trained state from ``path`` (default ``<cache>/extractors/mnist-cnn-v1.pt``),
    trained on the MNIST under ``data_root`` and cached (atomically, under a file lock) on
    first use. A cached file made by another recipe is an error, never silently used."""
    path = Path(path) if path is not None else default_cache_dir() / EXTRACTORS_DIR / WEIGHTS_FILE

    def save(state: dict, f: IO[bytes]) -> None:
        torch.save(state, f)

    state = load_or_compute(
        path, lambda: train(data_root), save, lambda p: torch.load(p, weights_only=True)
    )
    if state.get("recipe") != RECIPE:
        raise ValueError(
            f"{path} was trained with recipe {state.get('recipe')}, not the current {RECIPE}; "
            f"delete it to retrain (and recompute the mnist-cnn statistics under "
            f"{path.parent.parent / 'stats'}: scores from the two are not comparable)"
        )
    return state


class FeatureExtractorMnistCNN(GrayCNNExtractor):
    """``mnist-cnn``: :class:`MnistNet`, trained on the MNIST train split on first use (from
    ``data_root``, default ``$LANDSCAPE_DATA``)."""

    def __init__(
        self,
        name: str,
        features_list,
        feature_extractor_weights_path=None,
        data_root: str | Path | None = None,
        **kwargs,
    ):
        super().__init__(name, features_list)
        self._use(MnistNet(), load_or_train(feature_extractor_weights_path, data_root))


FEATURE_EXTRACTOR = FeatureExtractorMnistCNN


def register() -> None:
    """Register ``mnist-cnn`` with torch-fidelity (idempotent)."""
    if FEATURE_EXTRACTORS_REGISTRY.get(NAME) is not FeatureExtractorMnistCNN:
        register_feature_extractor(NAME, FeatureExtractorMnistCNN)
