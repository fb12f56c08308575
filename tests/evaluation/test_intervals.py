from __future__ import annotations

import math

import pytest

from rapidun.evaluation import bootstrap_ratio_interval, wilson_interval


def test_wilson_known_values() -> None:
    lo, hi = wilson_interval(0, 10)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(0.27753, abs=1e-5)
    lo, hi = wilson_interval(5, 10)
    assert (lo, hi) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    lo, hi = wilson_interval(10, 10)
    assert lo == pytest.approx(0.72247, abs=1e-5) and hi == pytest.approx(1.0)
    lo, hi = wilson_interval(81, 263)  # R: binom.confint(81, 263, method = "wilson") -> 0.2553, 0.3662
    assert (lo, hi) == pytest.approx((0.2553, 0.3662), abs=2e-4)
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_bootstrap_interval_is_seeded_and_brackets_estimate() -> None:
    nll = [2.0, 3.5, 1.0, 4.0, 2.5, 3.0]
    tok = [4, 5, 2, 6, 5, 4]
    a = bootstrap_ratio_interval(nll, tok, seed=1)
    assert a == bootstrap_ratio_interval(nll, tok, seed=1)
    assert a is not None
    point = math.exp(sum(nll) / sum(tok))
    assert a[0] <= point <= a[1]
    flat = bootstrap_ratio_interval([1.0] * 5, [2] * 5)
    assert flat == pytest.approx((math.exp(0.5), math.exp(0.5)))
    assert bootstrap_ratio_interval([], []) is None
