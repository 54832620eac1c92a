"""Read a results folder (docs/results-layout.md) into two pandas frames: runs and evaluations.

Reading is the only per-run loop (it is I/O); everything after it is vectorised. A run folder
without a readable ``config.json`` is skipped and named in ``Results.problems``; a torn last
line of ``evals.jsonl`` (a worker appending right now) is skipped the same way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from landscape.analysis.code import apart_older_code, kept_notes
from landscape.analysis.columns import RANK
from landscape.analysis.protocols import apart_older_training, note_protocol, protocol_names
from landscape.analysis.read import read_evals, read_json, run_folders, status_columns
from landscape.analysis.scores import add_scores
from landscape.analysis.settings import with_origins
from landscape.metrics import record_columns
from landscape.records import RUNS_DIR, SENTINEL, STUDY_COPY, RunFiles, Status

STATUS_COLUMNS = ("status", "steps_trained", "diverged_at", "wall_time", "error", "flops")
# config keys that do not define a setting (the training protocol separates runs by itself)
NOT_HYPER = ("run_id", "study", "origin", "seed", "protocol_version", "code_generation")
FLAG = Status.DIVERGED.value  # evals.csv's column: True where the evaluation recorded SENTINEL


@dataclass
class Results:
    """Everything a study recorded, as read from ``root``."""

    root: Path
    study: str
    runs: pd.DataFrame  # one row per run: config, status, typed origin, score (scores.py)
    evals: pd.DataFrame  # one row per evaluation; sentinel metrics are NaN, `diverged` is True
    protocols: dict[str, dict[str, Any]]  # protocol name -> the dict the evaluations recorded
    config_columns: tuple[str, ...]  # the RunSpec keys found in config.json files
    study_yaml: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def hyper_columns(self) -> tuple[str, ...]:
        """Config columns that define a setting: everything except run_id, study, origin, seed."""
        return tuple(c for c in self.config_columns if c not in NOT_HYPER)

    def protocol_names(self) -> list[str]:
        return sorted(self.runs["protocol"].unique()) if len(self.runs) else []


def load_results(results_dir: str | Path) -> Results:
    """Read ``results_dir`` (a ``results/<study>/`` folder) into a ``Results``."""
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no results folder at {root} (expected results/<study>/)")
    problems: list[str] = []
    configs: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    protocols: dict[str, dict[str, Any]] = {}
    for folder in run_folders(root / RUNS_DIR):
        config = read_json(os.path.join(folder, RunFiles.CONFIG), problems)
        if config is None:
            continue
        run_id = str(config.setdefault("run_id", os.path.basename(folder)))
        config.setdefault("protocol_version", 1)  # recorded before versions were written down
        status = read_json(os.path.join(folder, RunFiles.STATUS), problems, missing_ok=True)
        config.update(status_columns(status))
        configs.append(config)
        rows = read_evals(os.path.join(folder, RunFiles.EVAL_LOG), problems)
        for row in rows:
            where = f"{folder}/evals.jsonl step {row.get('step')}"
            row["protocol"] = note_protocol(row.pop("protocol", None), protocols, problems, where)
            row["run_id"] = run_id
        records.extend(rows)
    yaml_path = root / STUDY_COPY
    study_yaml = yaml_path.read_text(errors="replace") if yaml_path.is_file() else None
    runs, config_columns = _runs_frame(configs)
    evals = _evals_frame(records)
    runs["protocol"] = protocol_names(runs, evals)
    of_run = runs.drop_duplicates("run_id").set_index("run_id")["protocol"]
    evals["protocol"] = evals["protocol"].fillna(evals["run_id"].map(of_run))
    older = apart_older_training(runs, protocols, problems)
    older += apart_older_code(runs, config_columns, protocols, problems)
    problems += kept_notes(root, runs)
    if older:  # their evaluations recorded the evaluation protocols' plain names
        evals = _older_apart(evals, runs, of_run, older, protocols)
    runs = with_rescored(runs, evals)
    if "protocol" not in config_columns:
        config_columns += ("protocol",)
    runs = add_scores(runs, evals, [c for c in config_columns if c not in NOT_HYPER])
    runs = with_origins(runs, problems)
    for name in runs["protocol"].unique():
        protocols.setdefault(name, {"name": name})
    return Results(root, root.name, runs, evals, protocols, config_columns, study_yaml, problems)


def _older_apart(
    evals: pd.DataFrame,
    runs: pd.DataFrame,
    plain: pd.Series,
    older: list[str],
    protocols: dict[str, dict],
) -> pd.DataFrame:
    """Evaluations of runs set apart (an older training protocol: "· training v<n>"; replaced
    by a retrain under changed code: "· older code"), under every evaluation protocol they were
    scored with, get the same suffix as their run. ``plain``: run_id -> its protocol's name
    before it was set apart."""
    apart = evals["run_id"].isin(older)
    renamed = runs.drop_duplicates("run_id").set_index("run_id")["protocol"]
    suffix = {r: renamed[r][len(plain[r]) :] for r in set(older)}
    names = evals.loc[apart, "protocol"].astype(str) + evals.loc[apart, "run_id"].map(suffix)
    for name, base in zip(names, evals.loc[apart, "protocol"], strict=True):
        protocols.setdefault(name, {**protocols.get(base, {}), "name": name})
    evals.loc[apart, "protocol"] = names
    return evals


def with_rescored(runs: pd.DataFrame, evals: pd.DataFrame) -> pd.DataFrame:
    """One more row per run for each protocol other than its own that it was scored under
    (`landscape evaluate`): each protocol's scores are then read and reported apart, its own
    best step chosen among its own evaluations only."""
    pairs = evals[["run_id", "protocol"]].drop_duplicates()
    own = set(zip(runs["run_id"], runs["protocol"], strict=True))
    extra = pairs[
        [pair not in own for pair in zip(pairs["run_id"], pairs["protocol"], strict=True)]
    ]
    if extra.empty:
        return runs
    rows = runs.drop(columns="protocol").merge(extra, on="run_id", how="inner")
    return pd.concat([runs, rows[runs.columns]], ignore_index=True)


def _runs_frame(configs: list[dict[str, Any]]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    keys: dict[str, None] = {}
    for config in configs:
        keys.update(dict.fromkeys(config))
    config_columns = tuple(k for k in keys if k not in STATUS_COLUMNS)
    runs = pd.DataFrame.from_records(configs, columns=list(keys) or ["run_id", *STATUS_COLUMNS])
    for column in runs.columns:  # dicts (loss_kwargs, data_options) -> canonical JSON strings
        if runs[column].dtype == object and runs[column].map(type).eq(dict).any():
            runs[column] = runs[column].map(_canonical)
    for column in ("steps_trained", "wall_time", "diverged_at", "flops"):
        runs[column] = pd.to_numeric(runs[column], errors="coerce")
    return runs, config_columns


def _canonical(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else value


def _evals_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    evals = pd.DataFrame.from_records(records)
    for column in ("run_id", "step", RANK, "protocol"):
        if column not in evals:
            evals[column] = pd.Series(dtype=object if column in ("run_id", "protocol") else float)
    metrics = [c for c in evals.columns if c not in ("run_id", "step", "time", "protocol")]
    for column in metrics:
        evals[column] = pd.to_numeric(evals[column], errors="coerce")
    sentinel = evals[metrics].eq(SENTINEL)
    evals[FLAG] = sentinel.any(axis=1)
    evals[metrics] = evals[metrics].mask(sentinel)
    # a run resumed from a checkpoint repeats the evaluations after it: the last line wins
    # (within one protocol: `landscape evaluate` adds other protocols' lines at the same steps)
    evals = evals.drop_duplicates(["run_id", "protocol", "step"], keep="last")
    evals = evals.sort_values(["run_id", "step"], kind="stable", ignore_index=True)
    first = ["run_id", "step", *[k for k in record_columns() if k in evals], FLAG]
    return evals[first + [c for c in evals.columns if c not in first]]
