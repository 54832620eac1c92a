"""The evaluation step: a generator in memory -> IS, FID, KID (and MS-SSIM) under a protocol.

PAPER.md 7: G in eval mode; z ~ U(-1, 1) drawn once for all N fakes from a generator seeded
with 42; G run in batches of 64; its [0, 1] output scaled by 255 and not quantized; features
of the fakes against cached features of the first N real test images; IS over one split; any
NaN/inf pixel makes every metric the sentinel 31337.0 (compare_gan's ``NAN_DETECTED``).
"""

from __future__ import annotations

from collections.abc import Generator as PyGenerator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from landscape.evaluation import ms_ssim
from landscape.evaluation.extractors import create_extractor, feature_layers
from landscape.evaluation.features import extract
from landscape.evaluation.protocol import Protocol, protocol_for
from landscape.evaluation.reference import Reference, load_reference, reference_path
from landscape.evaluation.scores import Statistics
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

    The feature extractor is built here, so a missing Inception file raises
    :class:`~landscape.evaluation.inception.InceptionWeightsMissing` before a run records
    anything. The reference statistics are loaded (or computed and cached) on first use or by
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
        self.layers = feature_layers(protocol.extractor)
        self.extractor = create_extractor(
            protocol.extractor, device=self.device, cache_dir=cache_dir, data_root=data_root
        )
        self._reference: Reference | None = None

    @property
    def reference_path(self) -> Path:
        return reference_path(self.protocol, self.cache_dir)

    @property
    def reference(self) -> Reference:
        """The real split's statistics: from the cache, computed and cached on a miss."""
        if self._reference is None:
            self._reference, _ = load_reference(
                self.protocol,
                self.extractor,
                data_root=self.data_root,
                device=self.device,
                cache_dir=self.cache_dir,
            )
        return self._reference

    def prepare(self) -> Path:
        """Fill the reference cache now (e.g. before training starts); returns the file."""
        _ = self.reference
        return self.reference_path

    @float32_mode("fp32")  # no TF32: the reference statistics were computed in float32
    def __call__(self, G: Generator) -> dict:
        """Scores of ``G``: every metric of ``METRICS`` (fid, is_mean, is_std, kid_mean,
        kid_std, ms_ssim, precision, recall, and plugins'; None where a metric does not apply
        to the protocol), and the protocol."""
        p = self.protocol
        reference = self.reference  # a missing data set fails before any sampling
        keep = ms_ssim.selection(p.n_fake, seed=MS_SSIM_SEED) if p.ms_ssim else None
        kept: list[tuple[Tensor, Tensor]] = []
        try:  # closing(): G's mode is restored even if the extractor raises mid-way
            with closing(self._fakes(G, keep, kept, reference.meta.get("image_shape"))) as fakes:
                features = extract(
                    self.extractor, fakes, device=self.device, quantize=p.quantize_fakes
                )
        except _Diverged:
            return diverged(p)
        inputs = MetricInputs(
            protocol=p,
            device=self.device,
            fake_features=features[self.layers["kid"]],
            real_features=reference.kid_features,
            fid_features=features[self.layers["fid"]],
            real_stats=reference.stats,
            fake_logits=features[self.layers["isc"]],
            fake_images=_in_order(kept, keep) if keep is not None else None,
        )
        out: dict = {}
        for entry in METRICS.values():
            out.update(entry(inputs) if entry.applies_to(p) else dict.fromkeys(entry.keys))
        out["protocol"] = p.as_dict()
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


def _in_order(kept: list[tuple[Tensor, Tensor]], keep: Tensor) -> Tensor:
    """The kept fakes, rearranged in the order of ``keep`` (the MS-SSIM batches)."""
    index = torch.cat([i for i, _ in kept])
    images = torch.cat([x for _, x in kept])
    position = torch.empty(int(index.max()) + 1, dtype=torch.long)
    position[index] = torch.arange(len(index))
    return images[position[keep].to(images.device)]


def diverged(protocol: Protocol) -> dict:
    """The record of an evaluation whose fakes held NaN/inf: every metric that applies to the
    protocol is 31337.0, the others None."""
    out: dict = {}
    for entry in METRICS.values():
        out.update(dict.fromkeys(entry.keys, EVAL_DIVERGED if entry.applies_to(protocol) else None))
    out["protocol"] = protocol.as_dict()
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
) -> Path:
    """Fill the reference-statistics cache for ``dataset`` (``landscape prepare-stats``) under
    its default protocol (or the given sample count / extractor); returns the cache file."""
    protocol = protocol_for(dataset, n_samples=n_samples, extractor=extractor)
    return Evaluator(protocol, data_root=data_root, device=device, cache_dir=cache_dir).prepare()
