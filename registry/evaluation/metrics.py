"""How good is a ranking of intermediate tasks, measured against real transfer?

The measures of the ESM-LogME paper and of the task-selection literature, on plain
mappings (task -> measured target score, task -> predicted score):

* :func:`regret_at_k`: how much worse the best of the top ``k`` is than the best task,
  in percent of the best (0 is perfect);
* :func:`random_regret_at_k`: the exact expectation of that for a uniformly random ranking
  (the mean over every ``k``-subset, not a simulation);
* :func:`kendall_tau`: Kendall's tau-b between predicted and measured scores;
* :func:`bootstrap_interval`: a percentile bootstrap interval of a mean (seeded, so a
  report is reproducible).

Example:
    >>> measured = {"a": 0.70, "b": 0.80, "c": 0.75}
    >>> round(regret_at_k(["a", "c", "b"], measured, 1), 6)
    12.5
    >>> round(random_regret_at_k(measured, 1), 6)
    6.25
    >>> kendall_tau([1.0, 3.0, 2.0], [0.70, 0.80, 0.75])
    1.0
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "bootstrap_interval",
    "kendall_tau",
    "mean_or_nan",
    "random_regret_at_k",
    "ranking_by",
    "regret_at_k",
]


def regret_at_k(order: Sequence[str], measured: Mapping[str, float], k: int) -> float:
    """``(best - best of the first k of order) / best * 100``: the paper's regret@k.

    Args:
        order: Tasks, best predicted first (tasks not in ``measured`` are ignored).
        measured: Task -> measured target score (higher is better).
        k: How many of the top-ranked tasks one would try.

    Raises:
        ValueError: no task of ``order`` has a measurement, or ``k`` < 1.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    ranked = [task for task in order if task in measured]
    if not ranked:
        raise ValueError("no task of the ranking has a measurement")
    best = max(measured.values())
    top = max(measured[task] for task in ranked[:k])
    return (best - top) / best * 100.0 if best > 0 else 0.0


def random_regret_at_k(measured: Mapping[str, float], k: int) -> float:
    """The exact expected regret@k of a uniformly random ranking.

    The top ``k`` of a random ranking is a uniformly random ``k``-subset; with the scores
    sorted ascending, the ``i``-th smallest is the best of a subset with probability
    ``C(i, k-1) / C(n, k)`` (0-based ``i``), so no enumeration is needed.
    """
    values = sorted(measured.values())
    n = len(values)
    if n == 0:
        raise ValueError("no measurements")
    k = min(k, n)
    best = values[-1]
    if best <= 0:
        return 0.0
    total = math.comb(n, k)
    expected_top = sum(values[i] * math.comb(i, k - 1) for i in range(k - 1, n)) / total
    return (best - expected_top) / best * 100.0


def kendall_tau(predicted: Sequence[float], measured: Sequence[float]) -> float:
    """Kendall's tau-b (ties in either list are accounted for); NaN when undefined."""
    if len(predicted) != len(measured):
        raise ValueError("the two lists differ in length")
    concordant = discordant = ties_predicted = ties_measured = 0
    for i, j in itertools.combinations(range(len(predicted)), 2):
        dp = np.sign(predicted[i] - predicted[j])
        dm = np.sign(measured[i] - measured[j])
        if dp == 0 and dm == 0:
            continue
        if dp == 0:
            ties_predicted += 1
        elif dm == 0:
            ties_measured += 1
        elif dp == dm:
            concordant += 1
        else:
            discordant += 1
    pairs = concordant + discordant
    denominator = math.sqrt((pairs + ties_predicted) * (pairs + ties_measured))
    return (concordant - discordant) / denominator if denominator else math.nan


def ranking_by(scores: Mapping[str, float]) -> list[str]:
    """Tasks, highest score first (ties broken by name, so the order is stable)."""
    return sorted(scores, key=lambda task: (-scores[task], task))


def bootstrap_interval(
    values: Sequence[float], *, level: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """The mean of ``values`` and a percentile bootstrap interval around it.

    Returns:
        ``(mean, low, high)``; for a single value the interval is that value.
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise ValueError("no values")
    mean = float(data.mean())
    if data.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return mean, float(low), float(high)


def mean_or_nan(values: Sequence[float]) -> float:
    """The mean, ignoring NaN; NaN when nothing is left."""
    kept = [value for value in values if not math.isnan(value)]
    return statistics.fmean(kept) if kept else math.nan
