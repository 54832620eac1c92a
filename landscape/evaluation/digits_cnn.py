"""``digits-cnn``: an offline feature extractor for the bundled ``digits`` data set.

The paper's metrics use the 2015 Inception network (PAPER.md 7), whose weights cannot be
downloaded on offline machines. For the quickstart we register, through torch-fidelity's own
``register_feature_extractor``, a small CNN trained with a fixed seed on the ``digits`` train
split (scikit-learn's 8x8 digits at 32x32, as ``landscape.data.load("digits")`` returns them).
It gives its 64-d penultimate activations (for FID and KID) and 10 class logits (for IS).

Scores computed with it are NOT comparable with Inception-based numbers from papers: they
only rank models trained on ``digits`` against each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from landscape.data import load
from landscape.data.digits import digits_arrays
from landscape.evaluation.cache import default_cache_dir, load_or_compute
from landscape.metrics.cache import EXTRACTORS_DIR
from landscape.metrics.protocol import DIGITS_CNN as NAME

DATASET = "digits"  # trained on its train split, accuracy measured on its test split
VERSION = 2  # bump when the network or its training changes: the cache file name follows
WEIGHTS_FILE = f"{NAME}-v{VERSION}.pt"
SEED = 0
EPOCHS = 8
BATCH = 32
LR = 3e-3  # Adam, cosine-annealed to 0 over the run
RECIPE = {"version": VERSION, "seed": SEED, "epochs": EPOCHS, "batch": BATCH, "lr": LR}


class DigitsNet(nn.Module):
    """Gray 32x32 in [0, 1] -> (64-d penultimate activations, 10 logits). The digits are 8x8
    images upsampled, so a 2x2 average pool to 16x16 loses little and makes the net 4x cheaper."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.AvgPool2d(2),  # 32 -> 16
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16 -> 8
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 8 -> 4
            nn.Flatten(), nn.Linear(64 * 4 * 4, 64), nn.ReLU(),
        )  # fmt: skip
        self.fc = nn.Linear(64, 10)
        # Divides the features so that their mean square on the train split is 1: x.y / d is
        # then of order one, as with Inception's pool_3 features, the scale KID's kernel
        # (x.y / d + 1)^3 was designed for (unscaled, KID came out in the hundreds).
        self.register_buffer("feature_scale", torch.ones(()))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        hidden = self.body(x)
        return hidden / self.feature_scale, self.fc(hidden)


def _split(split: str) -> tuple[Tensor, Tensor]:
    """Images of a digits split in [0, 1] (N, 1, 32, 32) and their labels."""
    images = load("digits", split).images.float() / 255
    return images, digits_arrays(split)[1]


@torch.no_grad()
def accuracy(net: DigitsNet, images: Tensor, labels: Tensor) -> float:
    """Fraction of ``images`` (in [0, 1]) that ``net`` classifies correctly."""
    net.eval()
    return (net(images)[1].argmax(1) == labels).float().mean().item()


def train() -> dict:
    """Train on the digits train split (seeded, CPU, a few seconds); returns the state to cache,
    with the accuracy on the held-out test split."""
    images, labels = _split("train")
    threads = torch.get_num_threads()
    # One thread: for ops this small it is the fastest (several threads spin and fight over
    # busy cores), and the weights then do not depend on the machine's core count.
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            return _train(images, labels)
    finally:
        torch.set_num_threads(threads)


def _train(images: Tensor, labels: Tensor) -> dict:
    """Adam with a cosine schedule, seeded initialisation and batch order."""
    torch.manual_seed(SEED)
    net = DigitsNet()
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS * -(-len(images) // BATCH))
    order = torch.Generator().manual_seed(SEED)
    net.train()
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(images), generator=order).split(BATCH):
            loss = F.cross_entropy(net(images[idx])[1], labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    with torch.no_grad():
        net.eval()
        net.feature_scale.fill_(net.body(images).pow(2).mean().sqrt().item())
    test_images, test_labels = _split("test")
    return {
        "state_dict": net.state_dict(),
        "test_accuracy": accuracy(net, test_images, test_labels),
        "train_accuracy": accuracy(net, images, labels),
        "recipe": RECIPE,
    }


def load_or_train(path: str | Path | None = None, data_root: str | Path | None = None) -> dict:
    """The trained state from ``path`` (default ``<cache>/extractors/digits-cnn-v2.pt``),
    training and caching it (atomically, under a file lock) on first use. A cached file made
    by another recipe is an error, never silently used or replaced: scores made with it would
    not be comparable with new ones. ``data_root`` is unused: the digits are bundled."""
    path = Path(path) if path is not None else default_cache_dir() / EXTRACTORS_DIR / WEIGHTS_FILE

    def save(state: dict, f: IO[bytes]) -> None:
        torch.save(state, f)

    state = load_or_compute(path, train, save, lambda p: torch.load(p, weights_only=True))
    if state.get("recipe") != RECIPE:
        raise ValueError(
            f"{path} was trained with recipe {state.get('recipe')}, not the current {RECIPE}; "
            f"delete it to retrain (and recompute the digits-cnn statistics under "
            f"{path.parent.parent / 'stats'}: scores from the two are not comparable)"
        )
    return state


class GrayCNNExtractor(FeatureExtractorBase):
    """torch-fidelity feature extractor over a small gray 32x32 classifier whose forward gives
    (penultimate activations, logits), such as :class:`DigitsNet`.

    Takes Bx3xHxW (or Bx1xHxW) images in [0, 255], uint8 as torch-fidelity feeds them or float
    (our unquantized fakes, PAPER.md 7); the channels are averaged to gray.
    """

    def _use(self, net: nn.Module, state: dict) -> None:
        """Load the trained ``state`` into ``net``, frozen, in eval mode."""
        net.load_state_dict(state["state_dict"])
        self.net = net
        self.test_accuracy: float = state["test_accuracy"]
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"{self.name} expects Bx3xHxW or Bx1xHxW images, got {tuple(x.shape)}")
        gray = x.float().mean(dim=1, keepdim=True) / 255
        if gray.shape[-1] != 32 or gray.shape[-2] != 32:
            gray = F.interpolate(gray, size=(32, 32), mode="bilinear", align_corners=False)
        hidden, logits = self.net(gray)
        features = {"penultimate": hidden, "logits": logits}
        return tuple(features[name] for name in self.features_list)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return "penultimate", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return {"isc": "logits", "fid": "penultimate", "kid": "penultimate", "prc": "penultimate"}[
            metric
        ]

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> Tensor:
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)


class FeatureExtractorDigitsCNN(GrayCNNExtractor):
    """``digits-cnn``: :class:`DigitsNet` trained on the digits train split on first use."""

    def __init__(self, name: str, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        self._use(DigitsNet(), load_or_train(feature_extractor_weights_path))


FEATURE_EXTRACTOR = FeatureExtractorDigitsCNN


def register() -> None:
    """Register ``digits-cnn`` with torch-fidelity (idempotent)."""
    if FEATURE_EXTRACTORS_REGISTRY.get(NAME) is not FeatureExtractorDigitsCNN:
        register_feature_extractor(NAME, FeatureExtractorDigitsCNN)
