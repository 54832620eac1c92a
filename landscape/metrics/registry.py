"""``METRICS``: the scores every evaluation computes, one function and one registration line
each, importable without torch (the analysis and the report read the metadata only).

A metric declares the columns it writes into each evaluation record (``evals.jsonl``), which
of them are scores and which way is better, and what it reads::

    from landscape import METRICS  # or: from landscape.metrics import metric

    @metric("my_score", columns=("my_score",), direction="higher", needs=("fake_features",))
    def my_score(inputs):
        import torch  # inside the function: the registration stays torch-free
        return {"my_score": float(inputs.fake_features.norm(dim=1).mean())}

``inputs`` (built by ``landscape.evaluation.Evaluator``) holds, per name in ``needs``:
``fake_features`` and ``real_features`` (N x D CPU tensors of the fakes and of the reference
images, the KID layer), ``fid_features`` (the fakes' FID layer, the same for Inception and our
extractors) and ``real_stats`` (the reference's cached FID statistics), ``fake_logits`` (the IS
layer), ``fake_images`` (the 5 x 64 fakes MS-SSIM looks at, in [0, 255], where the protocol
keeps them, else None), and always ``protocol`` and ``device``.

Each metric reads the features of one **network** (``network=``; default ``"inception"``, the
role that the protocol's extractor fills: Inception-v3, or a data set's offline stand-in such
as ``digits-cnn``). Any other name is a feature extractor registered with torch-fidelity
(``torch_fidelity.register_feature_extractor``), ours included (``dinov2-vitl14``). An
evaluation runs each network it needs once over the fakes and shares the features among the
metrics that name it; the reference statistics are cached per network. A metric with
``default=False`` is computed only where a study lists it (``evaluation: {metrics: [...]}``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from landscape.registry import Registry

DIRECTIONS = ("lower", "higher")
NEEDS = frozenset(
    {"fake_features", "real_features", "fid_features", "real_stats", "fake_logits", "fake_images"}
)
INCEPTION = "inception"  # the role the protocol's extractor fills (Inception, or its stand-in)
RESERVED = frozenset({"protocol", "step", "time", "eval_seconds"})  # other keys of a record

MetricFn = Callable[[Any], Mapping[str, float | None]]


@dataclass(frozen=True)
class Metric:
    """One registered metric. ``columns`` are its scores (better in ``direction``); ``spread``
    are columns it writes beside them without a direction (e.g. ``kid_std``)."""

    name: str
    fn: MetricFn
    columns: tuple[str, ...]
    direction: str
    needs: frozenset[str]
    spread: tuple[str, ...] = ()
    applies: Callable[[Any], bool] | None = None  # protocol -> bool; None: always
    labels: Mapping[str, str] | None = None  # column -> how tables title it (default: itself)
    network: str = INCEPTION  # whose features ``needs`` are (see the module's docstring)
    default: bool = True  # computed when a study does not list its metrics

    def label(self, column: str) -> str:
        """The title of ``column`` in tables and figures, e.g. ``FID`` for ``fid``."""
        return (self.labels or {}).get(column, column)

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key this metric writes into an evaluation record."""
        return self.columns + self.spread

    def applies_to(self, protocol: Any) -> bool:
        """Whether the metric is computed under ``protocol`` (its keys are None otherwise)."""
        return self.applies is None or bool(self.applies(protocol))

    def __call__(self, inputs: Any) -> dict[str, float | None]:
        out = dict(self.fn(inputs))
        if set(out) != set(self.keys):
            raise ValueError(
                f"metric {self.name!r} ({self.fn.__module__}) returned {sorted(out)}, "
                f"but declared the columns {sorted(self.keys)}"
            )
        return {key: out[key] for key in self.keys}


METRICS: Registry[Metric] = Registry("metric")


def metric(
    name: str,
    *,
    columns: tuple[str, ...],
    direction: str,
    needs: tuple[str, ...],
    spread: tuple[str, ...] = (),
    applies: Callable[[Any], bool] | None = None,
    labels: Mapping[str, str] | None = None,
    network: str = INCEPTION,
    default: bool = True,
) -> Callable[[MetricFn], MetricFn]:
    """Decorator: register the function as metric ``name`` in :data:`METRICS`."""
    where = f"metric {name!r}"
    if direction not in DIRECTIONS:
        raise ValueError(f"{where}: direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    if not isinstance(network, str) or not network:
        raise ValueError(f"{where}: network must be a name, e.g. {INCEPTION!r}; got {network!r}")
    if not columns:
        raise ValueError(f"{where}: declare at least one score column")
    stray = set(labels or {}) - set(columns) - set(spread)
    if stray:
        raise ValueError(f"{where}: labels for undeclared columns {sorted(stray)}")
    unknown = set(needs) - NEEDS
    if unknown:
        raise ValueError(
            f"{where}: unknown needs {sorted(unknown)}; choose from: {', '.join(sorted(NEEDS))}"
        )

    def add(fn: MetricFn) -> MetricFn:
        keys = tuple(columns) + tuple(spread)
        taken = {k: m.name for m in METRICS.values() if m.name != name for k in m.keys}
        clash = sorted((set(keys) & set(taken)) | (set(keys) & RESERVED))
        if clash or len(set(keys)) != len(keys):
            owners = ", ".join(f"{k} ({taken.get(k, 'reserved')})" for k in clash)
            raise ValueError(f"{where}: columns already used: {owners or 'declared twice'}")
        if name in METRICS and METRICS[name].fn is fn:
            return fn  # the same module imported twice
        needed = frozenset(needs)
        METRICS.register(name)(
            Metric(
                name,
                fn,
                tuple(columns),
                direction,
                needed,
                tuple(spread),
                applies,
                labels,
                network,
                default,
            )
        )
        return fn

    return add


def metric_columns() -> dict[str, str]:
    """Score column -> ``"lower"`` or ``"higher"`` (is better), for every registered metric:
    ``fid``, ``is_mean``, ``kid_mean``, ``ms_ssim``, ``precision``, ``recall`` and plugins'."""
    return {column: m.direction for m in METRICS.values() for column in m.columns}


def column_labels() -> dict[str, str]:
    """Score column -> its title in tables (``fid`` -> ``FID``, ``is_mean`` -> ``IS``, ...)."""
    return {column: m.label(column) for m in METRICS.values() for column in m.columns}


def record_columns() -> tuple[str, ...]:
    """Every metric key of an evaluation record, spreads (``is_std``, ``kid_std``) included."""
    return tuple(key for m in METRICS.values() for key in m.keys)


def default_metrics() -> tuple[str, ...]:
    """The metrics an evaluation computes when its study lists none (``default=True``)."""
    return tuple(m.name for m in METRICS.values() if m.default)


def selected_metrics(names: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """``names`` checked against :data:`METRICS` (in registry order, each once), or the
    default metrics when None. An unknown name is a ``KeyError`` listing the valid ones."""
    if names is None:
        return default_metrics()
    for name in names:
        METRICS[name]  # raises "unknown metric ...; choose from: ..."
    wanted = set(names)
    return tuple(m for m in METRICS if m in wanted)
