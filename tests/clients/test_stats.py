"""Percentiles and accuracy intervals against hand-computed values."""

from __future__ import annotations

import pytest

from clients.stats import accuracy_interval, percentile, wilson_interval


def test_percentile_interpolates_like_numpy() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 4.0
    assert percentile(values, 95) == pytest.approx(3.85)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    lo, hi = wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.7225, abs=1e-4)  # not zero-width


def test_accuracy_interval_single_sample_uses_wilson() -> None:
    acc, lo, hi = accuracy_interval([[True]] * 8 + [[False]] * 2)
    assert acc == 0.8 and (lo, hi) == wilson_interval(8, 10)


def test_accuracy_interval_clusters_samples_by_problem() -> None:
    # 4 problems x 4 samples: per-problem means 1, 0.75, 0.25, 0 -> mean 0.5, sd 0.4564
    problems = [
        [True] * 4,
        [True, True, True, False],
        [True, False, False, False],
        [False] * 4,
    ]
    acc, lo, hi = accuracy_interval(problems)
    assert acc == 0.5
    half = 1.959963984540054 * 0.45643546458763845 / 2
    assert lo == pytest.approx(0.5 - half) and hi == pytest.approx(min(1.0, 0.5 + half))
    assert accuracy_interval([]) == (0.0, 0.0, 0.0)
