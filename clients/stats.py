"""Small statistics for the reports: percentiles and accuracy confidence intervals.

Written out rather than pulled from numpy/scipy so the clients stay light and the definitions
are visible: percentiles interpolate linearly (numpy's default), intervals are 95%.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear interpolation between order statistics."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion: unlike the normal approximation it stays
    inside [0, 1] and is not zero-width at 0% or 100%."""
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def accuracy_interval(per_problem: Sequence[Sequence[bool]]) -> tuple[float, float, float]:
    """Accuracy (mean over all samples) with a 95% interval.

    With one sample per problem the outcomes are independent: Wilson interval. With k samples
    per problem, samples of the same problem are correlated, so the interval comes from the
    spread of the per-problem mean accuracies (a clustered standard error), clipped to [0, 1].
    """
    samples = [c for problem in per_problem for c in problem]
    if not samples:
        return (0.0, 0.0, 0.0)
    acc = sum(samples) / len(samples)
    if all(len(p) <= 1 for p in per_problem):
        lo, hi = wilson_interval(sum(samples), len(samples))
        return (acc, lo, hi)
    means = [sum(p) / len(p) for p in per_problem if p]
    n = len(means)
    if n < 2:
        return (acc, 0.0, 1.0)
    m = sum(means) / n
    var = sum((x - m) ** 2 for x in means) / (n - 1)
    half = Z95 * math.sqrt(var / n)
    return (acc, max(0.0, acc - half), min(1.0, acc + half))
