"""The margin of a measured number: a 95% normal bootstrap interval, the value ± 1.96 times the
standard deviation of the statistic over seeded resamples (of test images, of draws, of grid
pairs). The scorecard gives every metric one (its ``intervals``); ``scorecard.winner`` calls two
models tied when their intervals overlap.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

BOOTSTRAP = 100  # resamples behind each interval
INTERVAL = 0.95


def normal_interval(value: float, replicates: Any, level: float = INTERVAL) -> list[float] | None:
    """[value − z·sd, value + z·sd]: the normal bootstrap interval, sd the standard deviation of
    the statistic over resamples (z = 1.96 for 95%). Centred on the value itself: a percentile
    interval would be shifted for coverage and gaps, which a resample with repeated codes (about
    63% distinct) biases low and high."""
    from statistics import NormalDist

    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if len(r) < 2 or not math.isfinite(value):
        return None
    half = NormalDist().inv_cdf(0.5 + level / 2) * float(r.std(ddof=1))
    return [float(value - half), float(value + half)]


def bootstrap_interval(stat: Callable[[np.ndarray], float], n: int, reps: int = BOOTSTRAP,
                       seed: int = 0, level: float = INTERVAL) -> list[float] | None:
    """``normal_interval`` of ``stat(idx)`` over ``reps`` resamples idx of range(n) with
    replacement (seeded), around ``stat`` of all n; None when there is nothing to resample."""
    if n < 2 or reps < 2:
        return None
    rng = np.random.default_rng(seed)
    return normal_interval(stat(np.arange(n)), [stat(rng.integers(0, n, n)) for _ in range(reps)],
                           level)


def mean_interval(values: torch.Tensor | np.ndarray, reps: int, seed: int) -> list[float] | None:
    v = np.asarray(values, dtype=np.float64).ravel()
    return bootstrap_interval(lambda i: float(v[i].mean()), len(v), reps, seed)
