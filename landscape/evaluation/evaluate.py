"""The evaluation step: a generator in memory -> every metric of the protocol, each on its
own network (Inception for IS/FID/KID, DINOv2 for FD_DINOv2, ...), under a protocol.

PAPER.md 7: G in eval mode; z ~ U(-1, 1) drawn once for all N fakes from a generator seeded
with 42; G run in batches of 64; its [0, 1] output scaled by 255 and not quantized; features
of the fakes against cached features of the first N real test images; IS over one split; any
NaN/inf pixel makes every metric the sentinel 31337.0 (compare_gan's ``NAN_DETECTED``).
"""

from __future__ import annotations

from collections.abc import Generator as PyGenerator
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

from landscape.evaluation import ms_ssim
from landscape.evaluation.extractors import FLOAT_INPUT, create_extractor, feature_layers
from landscape.evaluation.features import extract_each
from landscape.evaluation.protocol import Protocol, protocol_for
from landscape.evaluation.reference import Reference, load_reference, reference_path
from landscape.evaluation.scores import Statistics
from landscape.evaluation.weights import file_sha256
from landscape.metrics import METRICS
from landscape.records import SENTINEL
from landscape.train.precision import float32_mode
from landscape.variants.architectures.base import Generator

EVAL_DIVERGED = SENTINEL  # compare_gan's NAN_DETECTED (PAPER.md 7), one home: landscape.records
MS_SSIM_SEED = 0  # the shuffle that picks the 5 x 64 fakes MS-SSIM looks at


@dataclass(frozen=True)
class MetricInputs:
    """What a metric of ``METRICS`` may read (landscape/metrics/registry.py says which is
    which)."""

    protocol: Protocol
    device: torch.device
    fake_features: Tensor
    real_features: Tensor
    fid_features: Tensor
    real_stats: Statistics
    fake_logits: Tensor
    fake_images: Tensor | None


class _Diverged(Exception):
    """A fake pixel was NaN or infinite."""


class Evaluator:
    """Scores generators under one :class:`Protocol`.

    Every network the protocol's metrics read is built here, so a missing weights file
    (Inception's, DINOv2's) raises before a run records anything. The reference statistics,
    one file per network, are loaded (or computed and cached) on first use or by
    :meth:`prepare`.
    """

    def __init__(
        self,
        protocol: Protocol,
        *,
        data_root: str | Path | None = None,
        device: str | torch.device = "cpu",
        cache_dir: str | Path | None = None,
    ) -> None:
        check_metric_columns()
        self.protocol = protocol
        self.data_root = data_root
        self.device = torch.device(device)
        self.cache_dir = cache_dir
        self.networks: dict[str, FeatureExtractorBase] = {
            name: self._build(name) for name in protocol.networks
        }
        self._references: dict[str, Reference] = {}

    def _build(self, network: str) -> FeatureExtractorBase:
        return create_extractor(
            network, device=self.device, cache_dir=self.cache_dir, data_root=self.data_root
        )

    @property
    def extractor(self) -> FeatureExtractorBase:
        """The protocol's own extractor (the ``inception`` role; floors and prepare-stats)."""
        name = self.protocol.extractor
        if name not in self.networks:
            self.networks[name] = self._build(name)
        return self.networks[name]

    @property
    def layers(self) -> dict[str, str]:
        """The feature layers of the protocol's own extractor."""
        return feature_layers(self.protocol.extractor)

    @property
    def reference_path(self) -> Path:
        return reference_path(self.protocol, self.cache_dir)

    def reference_for(self, network: str) -> Reference:
        """The real split's statistics under ``network``: cached, computed on a miss."""
        if network not in self._references:
            extractor = self.extractor if network == self.protocol.extractor else None
            self._references[network], _ = load_reference(
                self.protocol,
                extractor or self.networks[network],
                data_root=self.data_root,
                device=self.device,
                cache_dir=self.cache_dir,
                network=network,
            )
        return self._references[network]

    @property
    def reference(self) -> Reference:
        """The real split's statistics under the protocol's own extractor."""
        return self.reference_for(self.protocol.extractor)

    def prepare(self) -> Path:
        """Fill the reference cache of every network now (e.g. before training starts);
        returns the protocol extractor's file."""
        for network in self.networks:
            self.reference_for(network)
        return self.reference_path

    def record(self) -> dict:
        """The protocol record stored with each score: :meth:`Protocol.as_dict` and the
        SHA-256 of each network's weights file as loaded here."""
        out = self.protocol.as_dict()
        for name, entry in out["networks"].items():
            path = getattr(self.networks.get(name), "landscape_weights", None)
            entry["weights_sha256"] = file_sha256(path) if path else None
        return out

    @float32_mode("fp32")  # no TF32: the reference statistics were computed in float32
    def __call__(self, G: Generator) -> dict:
        """Scores of ``G``: every metric of the protocol (fid, is_mean, is_std, kid_mean,
        kid_std, ms_ssim, knn_precision, knn_recall, density, coverage, plugins'...; None where
        a metric is not computed under the protocol), and the protocol record."""
        p = self.protocol
        used = p.networks
        references = {name: self.reference_for(name) for name in used}  # data fail first
        shape = next(iter(references.values())).meta.get("image_shape") if references else None
        keep = ms_ssim.selection(p.n_fake, seed=MS_SSIM_SEED) if p.ms_ssim else None
        kept: list[tuple[Tensor, Tensor]] = []
        nets = {name: (self.networks[name], name not in FLOAT_INPUT) for name in used}
        try:  # closing(): G's mode is restored even if an extractor raises mid-way
            with closing(self._fakes(G, keep, kept, shape)) as fakes:
                features = extract_each(nets, fakes, device=self.device)
        except _Diverged:
            return diverged(p, self.record())
        images = _in_order(kept, keep) if keep is not None else None
        out: dict = {}
        for entry in METRICS.values():
            if entry.name not in p.selected or not entry.applies_to(p):
                out.update(dict.fromkeys(entry.keys))
                continue
            network = next(n for n, names in used.items() if entry.name in names)
            inputs = _inputs(p, self.device, network, features[network], references[network])
            out.update(entry(replace(inputs, fake_images=images)))
        out["protocol"] = self.record()
        return out

    def _fakes(
        self,
        G: Generator,
        keep: Tensor | None,
        kept: list[tuple[Tensor, Tensor]],
        shape: list[int] | None,
    ) -> PyGenerator[Tensor, None, None]:
        """Fakes in [0, 255], unquantized, batch by batch; the ones at ``keep`` go to ``kept``
        (with their indices) for MS-SSIM. G's train/eval mode is restored afterwards."""
        p = self.protocol
        was_training = G.training
        G.eval()
        try:
            device = next(G.parameters()).device
            rng = torch.Generator(device).manual_seed(p.z_seed)
            z = G.sample_z(p.n_fake, device=device, generator=rng)
            for start, zb in zip(
                range(0, p.n_fake, p.batch_size), z.split(p.batch_size), strict=True
            ):
                with torch.no_grad():
                    x = G(zb)
                if shape is not None and list(x.shape[1:]) != shape:
                    raise ValueError(
                        f"G makes {tuple(x.shape[1:])} images, but {p.dataset} "
                        f"({p.split}) holds {tuple(shape)} images"
                    )
                if not torch.isfinite(x).all():
                    raise _Diverged
                x = x * 255
                if keep is not None:
                    hit = keep[(keep >= start) & (keep < start + len(x))]
                    kept.append((hit, x[(hit - start).to(x.device)]))
                yield x
        finally:
            G.train(was_training)


def _inputs(
    protocol: Protocol,
    device: torch.device,
    network: str,
    features: dict[str, Tensor],
    reference: Reference,
) -> MetricInputs:
    """What the metrics reading ``network`` see: its features of the fakes and the reals."""
    layers = feature_layers(network)
    return MetricInputs(
        protocol=protocol,
        device=device,
        fake_features=features[layers["kid"]],
        real_features=reference.kid_features,
        fid_features=features[layers["fid"]],
        real_stats=reference.stats,
        fake_logits=features[layers["isc"]],
        fake_images=None,
    )


def _in_order(kept: list[tuple[Tensor, Tensor]], keep: Tensor) -> Tensor:
    """The kept fakes, rearranged in the order of ``keep`` (the MS-SSIM batches)."""
    index = torch.cat([i for i, _ in kept])
    images = torch.cat([x for _, x in kept])
    position = torch.empty(int(index.max()) + 1, dtype=torch.long)
    position[index] = torch.arange(len(index))
    return images[position[keep].to(images.device)]


def diverged(protocol: Protocol, record: dict | None = None) -> dict:
    """The record of an evaluation whose fakes held NaN/inf: every metric computed under the
    protocol is 31337.0, the others None."""
    out: dict = {}
    for entry in METRICS.values():
        computed = entry.name in protocol.selected and entry.applies_to(protocol)
        out.update(dict.fromkeys(entry.keys, EVAL_DIVERGED if computed else None))
    out["protocol"] = record if record is not None else protocol.as_dict()
    return out


def check_metric_columns() -> None:
    """A metric column named like a run's config key (``lr``, ``precision``...) would be
    mistaken for it in runs.csv: refuse it before anything is recorded."""
    from dataclasses import fields

    from landscape.train.spec import RunSpec

    taken = {f.name for f in fields(RunSpec)} | {"run_id", "status", "error", "setting"}
    for m in METRICS.values():
        clash = sorted(set(m.keys) & taken)
        if clash:
            raise ValueError(
                f"metric {m.name!r} ({m.fn.__module__}) writes the column(s) {', '.join(clash)}, "
                f"which are a run's own keys; rename them (e.g. {m.name}_{clash[0]})"
            )


def prepare_stats(
    dataset: str,
    *,
    data_root: str | Path | None = None,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
    n_samples: int | None = None,
    extractor: str | None = None,
    metrics: tuple[str, ...] | None = None,
) -> Path:
    """Fill the reference-statistics cache for ``dataset`` (``landscape prepare-stats``) under
    its default protocol (or the given sample count / extractor / metrics: each of their
    networks gets its file); returns the protocol extractor's cache file."""
    protocol = protocol_for(dataset, n_samples=n_samples, extractor=extractor, metrics=metrics)
    return Evaluator(protocol, data_root=data_root, device=device, cache_dir=cache_dir).prepare()
