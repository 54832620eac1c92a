"""Comparisons with uncertainty: is variant a better than variant b, and how sure are we?

*Matched settings* (PAPER.md 6: the study holds everything but the compared axis fixed): runs
of side a and of side b that agree on every other axis and come from the same fixed setting of
the study, by the *name* in their origin (``grid:<name>``). The name, not the hyper-parameter
values, because a penalty's lambda belongs to the penalty (the planner trains penalty none with
weight 0.0), so none and gp runs of one setting are a match. Search trials, targets and manual
runs have no match and stay out.

For one comparison, each matched setting i has the effective scores (scores.py: a diverged run
keeps its best finite FID, a failed run or one without a finite FID is +inf) of its seeds on
side a, A_i, and on side b, B_i. Reported:

- ``diff``: the median over matched settings of median(A_i) - median(B_i) (negative: a has
  the lower FID). When both medians are +inf the setting's difference is 0 (a tie); when one
  is, it is -inf or +inf, and so may be the median over settings.
- ``p_better``: P(FID_a < FID_b) for a random matched setting and a random seed on each side:
  the mean over settings of the share of (a seed, b seed) pairs where a is lower, ties counted
  one half (inf vs inf is a tie; a failed run is worse than any finite score).
- 95% intervals of both, from a bootstrap over matched settings (vectorised numpy; seeded, so
  the same runs give the same numbers). With at least SETTINGS_ENOUGH matched settings it
  resamples the settings, each with all its seeds: a setting's seed median already carries its
  seed noise, and resampling the seeds again would count that noise twice (measured: a nominal
  95% interval then covered the truth in 100% of 200 synthetic studies, 91-97% without; see
  tests/test_analysis_compare.py). With one or two matched settings, resampling them says
  little, so the seeds within each are resampled as well. Percentiles are read from the sorted
  resamples (no interpolation: an interval end may be infinite, never NaN from inf - inf).
- ``p``: a two-sided bootstrap p-value for "P(a better) = 1/2": twice the share of resamples
  of ``p_better`` on the far side of 1/2 (the side with fewer; a resample at exactly 1/2
  counts as far), with one added to the count and to the resamples so that it is never 0:
  p = min(1, 2 (k + 1) / (R + 1)). With R = 2000 and the 95% level, p < 0.05 exactly when
  the interval excludes 1/2 (k <= 49 both ways). The comparisons table adjusts it for the
  number of comparisons (comparisons.py, Holm); the interval is per comparison.
- ``verdict``: "<a> better" when the interval of ``p_better`` lies above 1/2, "<b> better"
  when below, else "no clear difference"; also "no clear difference" when either side has fewer
  than MIN_RUNS runs in matched settings, because a bootstrap of a handful of runs is
  overconfident. The probability decides, not the difference: one failed seed makes a
  setting's median +inf and the difference's interval infinite, while the probability counts
  that seed as one loss among the pairs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from landscape.analysis.scores import finished
from landscape.analysis.settings import with_origins
from landscape.records import AXES, NO_PENALTY, SETTING_KEYS, OriginKind

RESAMPLES = 2000
LEVEL = 0.95
MIN_RUNS = 5  # runs per side in matched settings below which no verdict is given
SETTINGS_ENOUGH = 3  # from this many matched settings on, the bootstrap resamples settings only
NO_DIFFERENCE = "no clear difference"
MATCH_EXTRA = ("protocol", "dataset")  # also held equal, besides the other axes


@dataclass(frozen=True)
class Samples:
    """Matched settings' seed scores, NaN-padded: a (S, max seeds a), b (S, max seeds b)."""

    a: np.ndarray
    b: np.ndarray

    def seeds(self) -> float:
        """The median number of seeds per side in a matched setting."""
        if self.pairs == 0:
            return 0.0
        counts = np.concatenate([(~np.isnan(x)).sum(axis=1) for x in (self.a, self.b)])
        return float(np.median(counts))

    @property
    def pairs(self) -> int:
        return self.a.shape[0]

    def runs(self) -> tuple[int, int]:
        """Runs on each side (NaN is padding, +inf a run counted infinitely bad)."""
        return int((~np.isnan(self.a)).sum()), int((~np.isnan(self.b)).sum())


def matchable(runs: pd.DataFrame) -> pd.DataFrame:
    """The finished runs of grid settings, with only what matching needs (and ``effective``).

    A penalty-none run stands for every setting of the study that differs from its own only in
    lambda (the planner trains those as one run: lambda is unused without a penalty), so it is
    listed once under each of those settings' names: the gp runs of Table 1's lambda-10 settings
    then match it as well as the lambda-1 ones do."""
    done = with_origins(finished(runs))
    keep = [c for c in (*MATCH_EXTRA, *AXES) if c in done] + ["origin_name", "effective"]
    hyper = _hyper(done)
    done = done.loc[done["origin_kind"].eq(OriginKind.GRID.value), keep + ["run_id", *hyper]]
    if not hyper or "penalty" not in done or done.empty:
        return done[keep + ["run_id"]]
    signature = done[hyper].astype(str).agg("\x1f".join, axis=1)
    names = pd.DataFrame({"_sig": signature, "origin_name": done["origin_name"]}).drop_duplicates()
    unused = done["penalty"].eq(NO_PENALTY).to_numpy()
    expanded = done[unused].drop(columns="origin_name").assign(_sig=signature[unused]).merge(names)
    both = pd.concat([done[~unused], expanded.drop(columns="_sig")], ignore_index=True)
    return both[keep + ["run_id"]]


def _hyper(runs: pd.DataFrame) -> list[str]:
    """The setting's hyper-parameters that a penalty-none run shares with its settings."""
    return [c for c in SETTING_KEYS if c != "penalty_weight" and c in runs]


def matched_samples(runs: pd.DataFrame, a: Mapping[str, str], b: Mapping[str, str]) -> Samples:
    """The effective scores of side ``a`` ({axis: value}) and side ``b`` in matched settings.
    Axes named by a side are compared (or, with one value on both, fixed); every other axis,
    the protocol, the data set and the grid setting's name must agree. ``runs``: a runs frame,
    or ``matchable(runs)`` when many comparisons are made of the same runs."""
    done = runs if "effective" in runs else matchable(runs)
    masks = []
    for values in (a, b):
        mask = np.ones(len(done), dtype=bool)
        for axis, value in values.items():
            mask &= done[axis].astype(str).eq(str(value)).to_numpy() if axis in done else False
        masks.append(mask)
    side = np.where(masks[0], 1, np.where(masks[1], 2, 0))
    done = done[side != 0].assign(_side=side[side != 0])
    keys = [c for c in (*MATCH_EXTRA, *AXES) if c in done and c not in a and c not in b]
    keys.append("origin_name")
    if done.empty:
        empty = np.empty((0, 1))
        return Samples(empty, empty)
    unit = done.groupby(keys, sort=True, dropna=False).ngroup()
    both = unit.map(done["_side"].groupby(unit).nunique()).eq(2)
    # A penalty-none run listed under several settings' names (matchable) makes units that
    # hold the very same runs when penalty is not compared: count each such unit once.
    runs_of = done["run_id"].groupby(unit).agg(lambda ids: "\x1f".join(sorted(ids)))
    first = ~runs_of.duplicated()
    both &= unit.map(first)
    done, unit = done[both], unit[both]
    if done.empty:
        empty = np.empty((0, 1))
        return Samples(empty, empty)
    codes, _ = pd.factorize(unit, sort=True)
    out = []
    for code in (1, 2):
        on = done["_side"].to_numpy() == code
        rows, scores = codes[on], done["effective"].to_numpy(float)[on]
        position = pd.Series(rows).groupby(rows).cumcount().to_numpy()
        grid = np.full((codes.max() + 1, position.max() + 1), np.nan)
        grid[rows, position] = scores
        out.append(grid)
    return Samples(*out)


def _median_rows(x: np.ndarray) -> np.ndarray:
    """Median along the last axis of NaN-padded rows that may hold +-inf (NaN = no value)."""
    n = np.sum(~np.isnan(x), axis=-1)
    s = np.sort(x, axis=-1)  # NaN last, inf before it
    lo = np.take_along_axis(s, np.maximum((n - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(s, np.maximum(n // 2, 0)[..., None], axis=-1)[..., 0]
    with np.errstate(invalid="ignore"):
        return np.where(n > 0, np.where(lo == hi, lo, (lo + hi) / 2), np.nan)


def _per_setting(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each setting's difference of seed medians and share of won seed pairs (last axis:
    seeds; leading axes: resamples, settings)."""
    ma, mb = _median_rows(a), _median_rows(b)
    with np.errstate(invalid="ignore"):
        diff = np.where(ma == mb, 0.0, ma - mb)  # inf - inf: both infinitely bad, a tie
    x, y = a[..., :, None], b[..., None, :]
    wins = (x < y).sum(axis=(-1, -2)) + 0.5 * (x == y).sum(axis=(-1, -2))
    pairs = np.sum(~np.isnan(a), axis=-1) * np.sum(~np.isnan(b), axis=-1)
    return diff, wins / pairs


def _statistics(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(diff, p_better) over the second-to-last axis of settings; leading axes are resamples."""
    diff, p = _per_setting(a, b)
    return _median_rows(diff), np.mean(p, axis=-1)


def _resample(x: np.ndarray, units: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For resampled settings ``units`` (R, S): each setting's seeds drawn with replacement."""
    n = np.sum(~np.isnan(x), axis=1)[units]  # (R, S)
    width = x.shape[1]
    picks = np.floor(rng.random((*units.shape, width)) * n[..., None]).astype(np.intp)
    values = x[units[..., None], picks]
    return np.where(np.arange(width) < n[..., None], values, np.nan)


def compare(
    samples: Samples, *, resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL
) -> dict[str, float | int]:
    """Estimates and bootstrap intervals of one comparison (see the module docstring)."""
    runs_a, runs_b = samples.runs()
    out: dict[str, float | int] = {"pairs": samples.pairs, "runs_a": runs_a, "runs_b": runs_b}
    if samples.pairs == 0:
        nan = float("nan")
        return {**out, **dict.fromkeys(("diff", "diff_low", "diff_high"), nan)} | {
            "p_better": nan,
            "p_low": nan,
            "p_high": nan,
            "p": nan,
        }
    per_diff, per_p = _per_setting(samples.a, samples.b)
    diff, p = _median_rows(per_diff), np.mean(per_p)
    rng = np.random.default_rng(seed)
    units = rng.integers(0, samples.pairs, (resamples, samples.pairs))
    if samples.pairs >= SETTINGS_ENOUGH:  # settings resampled whole: their statistics reused
        boot_diff, boot_p = _median_rows(per_diff[units]), per_p[units].mean(axis=-1)
    else:
        a, b = _resample(samples.a, units, rng), _resample(samples.b, units, rng)
        boot_diff, boot_p = _statistics(a, b)
    low_i = int(np.floor((1 - level) / 2 * (resamples - 1)))
    high_i = int(np.ceil((1 + level) / 2 * (resamples - 1)))
    d, q = np.sort(boot_diff), np.sort(boot_p)
    return {
        **out,
        "diff": float(diff),
        "diff_low": float(d[low_i]),
        "diff_high": float(d[high_i]),
        "p_better": float(p),
        "p_low": float(q[low_i]),
        "p_high": float(q[high_i]),
        "p": bootstrap_p(boot_p),
    }


def bootstrap_p(resampled: np.ndarray, null: float = 0.5) -> float:
    """Two-sided: min(1, 2 (k + 1) / (R + 1)), k the resamples on the far side of ``null``
    (at it included). See the module docstring."""
    far = min(int(np.sum(resampled <= null)), int(np.sum(resampled >= null)))
    return min(1.0, 2 * (far + 1) / (len(resampled) + 1))


def verdict(row: Mapping[str, float], a: str, b: str) -> str:
    """ "<a> better", "<b> better" or "no clear difference" (see the module docstring)."""
    if min(row["runs_a"], row["runs_b"]) < MIN_RUNS:
        return NO_DIFFERENCE
    if row["p_low"] > 0.5:
        return f"{a} better"
    if row["p_high"] < 0.5:
        return f"{b} better"
    return NO_DIFFERENCE
