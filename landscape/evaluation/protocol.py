"""Evaluation protocols: exactly how a score was computed, stored beside every score.

PAPER.md 7 fixes, per data set, the reference split (test), the sample counts (10K vs 10K;
3K vs 3K for CelebA-HQ; N rounded down to a multiple of 50), IS over one split, unquantized
fakes from z ~ U(-1, 1) with seed 42 in batches of 64, the TF-exact Inception, and MS-SSIM for
CelebA(-HQ) only. Two scores are comparable only when their protocols are equal; every part of
the protocol except the library versions is part of its identity.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from importlib import metadata

from landscape.data.base import fact_of
from landscape.evaluation import digits_cnn, inception, ms_ssim
from landscape.evaluation.extractors import FLOAT_INPUT, feature_layers, weights_label
from landscape.evaluation.networks import metrics_by_network, network_of, network_record
from landscape.evaluation.scores import KID_SEED, KID_SUBSET_SIZE, KID_SUBSETS
from landscape.metrics import METRICS, selected_metrics
from landscape.metrics.protocol import round_samples
from landscape.train.precision import EVALUATION_ARITHMETIC

EVAL_Z_SEED = 42  # compare_gan resets the eval z seed to 42 at every checkpoint (PAPER.md 6)
EVAL_BATCH = 64
DEFAULT_N = 10_000
MS_SSIM_DATASETS = frozenset({"celeba", "celeba_hq_128"})  # PAPER.md 7: CelebA(-HQ) only
# The data sets whose images here are the paper's. MNIST and Fashion-MNIST are not: we
# zero-pad their 28x28 digits to 32x32 (the architectures need sizes divisible by 8), where
# compare_gan fed Inception the 28x28 images, so even Inception scores of them differ.
PAPER_DATASETS = frozenset({"cifar10", "lsun_bedroom", "celeba_hq_128"})
INCEPTION_NOTE = "TF-exact Inception (2015-12-05) under the paper's protocol (PAPER.md 7)"
PADDED_NOTE = (
    "TF-exact Inception, but on {} digits zero-padded from 28x28 to 32x32 (the paper scored "
    "the 28x28 images): NOT comparable with numbers from papers; compare only with scores "
    "computed under this same protocol"
)
NOT_PAPER_PROTOCOL_NOTE = (
    "TF-exact Inception, but not the paper's protocol for this data set (PAPER.md 7): compare "
    "only with scores computed under this same protocol"
)
NOT_COMPARABLE_NOTE = (
    "features from '{}', not Inception: these scores rank models against each other under this "
    "protocol only and are NOT comparable with Inception-based FID/IS/KID numbers from papers"
)
# Recorded with every score but not part of a protocol's identity: library versions, the
# networks' details (implied by the extractor's name and weights file, which are) and which
# metrics were computed (a metric's value does not depend on the others beside it). Records
# from before they were recorded thus stay comparable with new ones.
RECORDED_ONLY = ("versions", "networks", "metrics")
VERSIONED = ("torch", "torchvision", "torch-fidelity", "numpy", "scipy", "landscape")


class ProtocolMismatchError(ValueError):
    """Scores computed under different protocols were about to be mixed."""


@dataclass(frozen=True)
class Protocol:
    """How one score is computed. Build it with :func:`protocol_for`."""

    dataset: str
    split: str
    n_fake: int
    n_real: int
    extractor: str
    is_splits: int = 1
    ms_ssim: bool = False
    kid_subsets: int = KID_SUBSETS
    kid_subset_size: int = KID_SUBSET_SIZE
    kid_seed: int = KID_SEED
    z_seed: int = EVAL_Z_SEED
    batch_size: int = EVAL_BATCH
    quantize_fakes: bool = False
    data_options: str = ""  # the loader's options as canonical JSON (image_folder's path...)
    metrics: tuple[str, ...] | None = None  # METRICS computed; None: every default one

    @property
    def selected(self) -> tuple[str, ...]:
        """The metrics computed under this protocol (``metrics``, or the default ones)."""
        return selected_metrics(self.metrics)

    @property
    def networks(self) -> dict[str, tuple[str, ...]]:
        """Network -> the computed metrics that read its features (each network once; the
        ``inception`` role is the protocol's extractor)."""
        applies = tuple(m for m in self.selected if METRICS[m].applies_to(self))
        return metrics_by_network(applies, self.extractor)

    @property
    def source(self) -> str:
        """The data set, with a short hash of its loader options when it has any."""
        if not self.data_options:
            return self.dataset
        return f"{self.dataset}[{hashlib.sha1(self.data_options.encode()).hexdigest()[:8]}]"

    @property
    def name(self) -> str:
        """e.g. ``cifar10/test/10000/inception-v3-compat``; ``A-vs-B`` when the counts differ."""
        n = str(self.n_real) if self.n_fake == self.n_real else f"{self.n_fake}-vs-{self.n_real}"
        return f"{self.source}/{self.split}/{n}/{self.extractor}"

    @property
    def comparable_with_papers(self) -> bool:
        """Inception features under the paper's own protocol for one of the paper's data sets."""
        return (
            self.extractor == inception.NAME
            and self.dataset in PAPER_DATASETS
            and replace(self, metrics=None) == protocol_for(self.dataset)
        )

    @property
    def note(self) -> str:
        """A plain sentence on what these scores may be compared with."""
        if self.comparable_with_papers:
            return INCEPTION_NOTE
        if self.extractor == inception.NAME and fact_of(self.dataset, "padded_from"):
            return PADDED_NOTE.format(self.dataset)
        if self.extractor == inception.NAME:
            return NOT_PAPER_PROTOCOL_NOTE
        return NOT_COMPARABLE_NOTE.format(self.extractor)

    def as_dict(self) -> dict:
        """Every field, the derived labels, and the library versions (JSON-ready)."""
        return {
            "name": self.name,
            **asdict(self),
            "metrics": self.metric_records(),
            "networks": self.network_records(),
            "reference": f"{self.source}/{self.split}",
            "reference_images": f"the first {self.n_real} of the {self.split} split, file order",
            "fakes": (
                f"G.eval(), z ~ U(-1,1) seed {self.z_seed}, batches of {self.batch_size}, x255, "
                + ("rounded to uint8" if self.quantize_fakes else "not quantized")
            ),
            "feature_layers": feature_layers(self.extractor),
            "arithmetic": EVALUATION_ARITHMETIC,
            "extractor_weights": weights_label(self.extractor),
            "comparable_with_papers": self.comparable_with_papers,
            "note": self.note,
            "versions": versions(),
        }

    def metric_records(self) -> dict[str, dict]:
        """Per computed metric: its network, its sample counts and its reference split (FID's
        bias depends on N)."""
        out = {}
        for name in self.selected:
            m = METRICS[name]
            if not m.applies_to(self):
                continue
            reads_reals = bool(m.needs & {"real_features", "real_stats"})
            fakes = self.n_fake
            if m.needs <= {"fake_images"}:  # MS-SSIM: 5 batches of 64 of the fakes
                fakes = len(ms_ssim.selection(self.n_fake, seed=0))
            out[name] = {
                "network": network_of(name, self.extractor),
                "n_fake": fakes,
                "n_real": self.n_real if reads_reals else None,
                "reference": f"{self.source}/{self.split}" if reads_reals else None,
            }
        return out

    def network_records(self) -> dict[str, dict]:
        """Per network used: its weights file, resize path, input size, whether fakes are
        rounded to uint8 for it, its feature layers and the metrics that read it."""
        options = json.loads(self.data_options) if self.data_options else {}
        return {
            network: {**network_record(network, self.dataset, options), "metrics": list(names)}
            for network, names in self.networks.items()
        }


def versions() -> dict[str, str]:
    """Versions of the libraries a score depends on (recorded, not part of the identity)."""
    out = {"python": platform.python_version()}
    for package in VERSIONED:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "unknown"
    return out


def protocol_for(
    dataset: str,
    *,
    n_samples: int | None = None,
    extractor: str | None = None,
    data_options: Mapping | None = None,
    metrics: Iterable[str] | None = None,
) -> Protocol:
    """The PAPER.md 7 protocol of ``dataset``.

    ``n_samples`` sets the number of fakes (default 10K; 3K for CelebA-HQ; 350 for digits); the
    real count is the same, capped at the test split's size where that is known (10K for MNIST
    and Fashion-MNIST). ``extractor`` defaults to ``inception-v3-compat``, or ``digits-cnn``
    for the offline ``digits`` set; ``mnist-cnn`` is the offline choice for ``mnist``.
    ``data_options`` are the data set loader's options (e.g. ``image_folder``'s ``path``); they
    are part of the protocol (``download`` is not: it changes where the data come from, not
    which data they are). ``metrics`` names the METRICS to compute (None: the default ones);
    each metric's network must be a registered feature extractor.
    """
    options = {k: v for k, v in (data_options or {}).items() if k != "download"}
    test_size = fact_of(dataset, "test_size")  # declared on the data set (data/*.py)
    limit = round_samples(test_size) if test_size else None  # digits: 359 -> 350
    n_fake = round_samples(n_samples if n_samples is not None else (limit or DEFAULT_N))
    n_real = min(n_fake, limit) if limit else n_fake
    if extractor is None:
        extractor = digits_cnn.NAME if dataset == "digits" else inception.NAME
    feature_layers(extractor)  # validates the name
    chosen = None if metrics is None else selected_metrics(tuple(metrics))
    for network, names in metrics_by_network(selected_metrics(chosen), extractor).items():
        try:
            feature_layers(network)  # a metric's own network must exist too
        except ValueError as error:
            raise ValueError(f"metric {names[0]!r} reads network {network!r}: {error}") from None
    return Protocol(
        dataset=dataset,
        split="test",
        n_fake=n_fake,
        n_real=n_real,
        extractor=extractor,
        ms_ssim=dataset in MS_SSIM_DATASETS,
        kid_subset_size=min(KID_SUBSET_SIZE, n_fake, n_real),
        quantize_fakes=extractor not in FLOAT_INPUT,
        data_options=json.dumps(options, sort_keys=True) if options else "",
        metrics=chosen,
    )


def protocol_of(run, metrics: Iterable[str] | None = None) -> Protocol:
    """The protocol a run (a ``RunSpec``) is evaluated under, computing ``metrics`` (a study's
    ``evaluation: metrics`` list; None: the default ones)."""
    return protocol_for(
        run.dataset,
        n_samples=run.eval_samples,
        extractor=run.extractor,
        data_options=run.data_options,
        metrics=metrics,
    )


def identity(protocol: Mapping) -> dict:
    """The part of a protocol record that decides comparability (all but
    :data:`RECORDED_ONLY`: versions, networks' details, the metrics computed)."""
    return {k: v for k, v in protocol.items() if k not in RECORDED_ONLY}


def assert_one_protocol(records: Iterable[Mapping]) -> str:
    """The name of the one protocol shared by ``records`` (evaluation records holding a
    ``protocol`` dict, or protocol dicts); :class:`ProtocolMismatchError` if they differ."""
    seen: dict[str, dict] = {}
    for record in records:
        protocol = record.get("protocol", record)
        seen.setdefault(repr(sorted(identity(protocol).items())), identity(protocol))
    if len(seen) > 1:
        names = sorted({p.get("name", "?") for p in seen.values()})
        raise ProtocolMismatchError(
            f"scores from {len(seen)} different evaluation protocols cannot share one table: "
            f"{', '.join(names)}; filter the records by protocol first"
        )
    if not seen:
        raise ValueError("no evaluation records")
    return next(iter(seen.values())).get("name", "?")
