"""Operating points along a strength sweep (docs/method.md section 7), interpolated by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rapidun.evaluation.frontier import mix, operating_point

RATIOS = [1.0, 1.02, 1.08, 1.2]
ASRS = [0.9, 0.6, 0.3, 0.1]


def test_budget_between_two_settings_interpolates_on_the_crossing_segment() -> None:
    p = operating_point(RATIOS, ASRS, 1.05)
    # r crosses 1.05 halfway between 1.02 and 1.08, where the ASR is halfway between 0.6 and 0.3
    assert (p.segment, p.t, p.ratio, p.asr) == (1, pytest.approx(0.5), 1.05, pytest.approx(0.45))
    assert p.budget_reached
    np.testing.assert_allclose(p.weights(4), [0.0, 0.5, 0.5, 0.0])
    p10 = operating_point(RATIOS, ASRS, 1.10)
    # 1.10 lies 0.02 / 0.12 = 1/6 of the way from 1.08 to 1.2: ASR 0.3 - (1/6) 0.2
    assert (p10.segment, p10.t, p10.asr) == (2, pytest.approx(1 / 6), pytest.approx(0.3 - 0.2 / 6))


def test_budget_beyond_the_sweep_takes_the_strongest_setting_and_says_so() -> None:
    p = operating_point(RATIOS, ASRS, 1.5)
    assert (p.segment, p.t, p.asr, p.budget_reached) == (3, 0.0, 0.1, False)


def test_lowest_asr_within_budget_not_the_last_feasible_point() -> None:
    # ASR rises again past the second setting: the vertex (1.03, 0.2) beats the crossing at 1.10 (ASR 0.32)
    p = operating_point([1.0, 1.03, 1.2], [0.9, 0.2, 0.5], 1.10)
    assert (p.segment, p.t, p.asr) == (1, 0.0, 0.2)


def test_non_monotone_perplexity_uses_every_feasible_point() -> None:
    # the strongest setting comes back under budget (1.04) with the lowest ASR; the crossings score 0.8 and 0.125
    p = operating_point([1.0, 1.2, 1.04], [0.9, 0.5, 0.1], 1.05)
    assert (p.segment, p.t, p.asr) == (2, 0.0, 0.1)


def test_a_higher_budget_never_gives_a_higher_asr() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        ratios = np.concatenate([[1.0], 1.0 + rng.uniform(0, 0.3, size=4)])
        asrs = rng.uniform(0, 1, size=5)
        values = [operating_point(ratios, asrs, b).asr for b in (1.01, 1.05, 1.10, 1.2, 1.4)]
        assert all(x >= y for x, y in zip(values, values[1:], strict=False))


def test_ties_go_to_the_lower_ratio() -> None:
    p = operating_point([1.0, 1.02, 1.04], [0.5, 0.0, 0.0], 1.05)
    assert (p.segment, p.ratio) == (1, 1.02)


def test_mix_applies_the_weights_per_seed_and_prompt() -> None:
    p = operating_point(RATIOS, ASRS, 1.05)  # halfway between positions 1 and 2
    values = np.zeros((4, 2, 3))
    values[1] = 1.0
    values[2, 0, 0] = 1.0
    np.testing.assert_allclose(mix(values, p), [[1.0, 0.5, 0.5], [0.5, 0.5, 0.5]])


def test_first_position_must_be_within_budget() -> None:
    with pytest.raises(ValueError, match="exceeds the budget"):
        operating_point([1.2, 1.3], [0.5, 0.4], 1.05)
