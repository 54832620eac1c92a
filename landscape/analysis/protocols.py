"""Which evaluation protocol each run was scored under. Scores of different protocols are never
compared (PAPER.md 8, pitfall 8): the analysis groups everything by protocol name."""

from __future__ import annotations

from typing import Any

import pandas as pd

from landscape.records import PROTOCOL_CHANGES, PROTOCOL_VERSION

# config keys that decide the protocol of a run (spec.py) when the config names none
PROTOCOL_KEYS = ("dataset", "extractor", "eval_samples")


def identity(protocol: dict[str, Any]) -> dict[str, Any]:
    """What makes two protocols the same: every field but the library versions."""
    return {k: v for k, v in protocol.items() if k != "versions"}


def note_protocol(
    protocol: Any, protocols: dict[str, dict[str, Any]], problems: list[str], where: str
) -> str | None:
    """Record an evaluation's protocol (a dict, or only its name); returns its name. A name
    seen before with different settings is reported in ``problems``."""
    if not isinstance(protocol, dict):
        return None if protocol is None else str(protocol)
    name = str(protocol.get("name", "unknown"))
    seen = protocols.setdefault(name, protocol)
    if seen is not protocol and seen != protocol and identity(seen) != identity(protocol):
        problems.append(f"{where}: protocol {name!r} recorded with different settings")
        protocols[name] = {**seen, "conflict": True}
    return name


def protocol_names(runs: pd.DataFrame, evals: pd.DataFrame) -> pd.Series:
    """Each run's protocol name: its config's ``protocol``; else the one its evaluations
    recorded; else the one of the other runs with the same data set, extractor and sample
    count (a run not evaluated yet), when that is unambiguous; else "unknown"."""
    if "protocol" in runs:
        named = runs["protocol"].astype(object)
    else:
        named = pd.Series(None, index=runs.index, dtype=object)
    if "protocol" in evals and len(evals):
        recorded = evals.dropna(subset="protocol").groupby("run_id")["protocol"].first()
        named = named.fillna(runs["run_id"].map(recorded))
    keys = [k for k in PROTOCOL_KEYS if k in runs]
    if keys and named.isna().any() and named.notna().any():
        parts = [runs[k].astype(str) for k in keys]
        key = parts[0].str.cat(parts[1:], sep="\x1f") if len(parts) > 1 else parts[0]
        known = pd.DataFrame({"key": key, "name": named}).dropna()
        unique = known.groupby("key")["name"].agg(lambda s: s.iloc[0] if s.nunique() == 1 else None)
        named = named.fillna(key.map(unique.dropna()))
    return named.fillna("unknown").astype(str)


def apart_older_training(
    runs: pd.DataFrame, protocols: dict[str, dict[str, Any]], problems: list[str]
) -> list[str]:
    """Runs trained under an older training protocol (records.PROTOCOL_CHANGES) are scored under
    a protocol of their own, "<name> · training v<n>", so they are reported apart and never
    compared with current runs (they stay in runs/, and a study started under that version
    resumes under it). Renames them in ``runs`` and ``protocols``; returns their run_ids."""
    if "protocol_version" not in runs:
        return []
    version = pd.to_numeric(runs["protocol_version"], errors="coerce").fillna(1).astype(int)
    older = version != PROTOCOL_VERSION
    change = PROTOCOL_CHANGES[PROTOCOL_VERSION]
    for (name, v), group in runs[older].groupby([runs["protocol"], version]):
        apart = f"{name} · training v{v}"
        protocols[apart] = {**protocols.get(name, {}), "name": apart, "training_protocol": int(v)}
        runs.loc[group.index, "protocol"] = apart
        problems.append(
            f"{len(group)} run(s) were trained under training protocol {v}, not the current "
            f"{PROTOCOL_VERSION} ({change}); they are reported apart as {apart!r}"
        )
    return runs.loc[older, "run_id"].tolist()
