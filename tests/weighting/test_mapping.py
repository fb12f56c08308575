"""Aggregation, fusion and the robust weight mapping (METHOD.md sections 2-3), incl. hypothesis properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rapidun.errors import RapidunError
from rapidun.weighting import WEIGHTINGS, WeightParams, aggregate, compute_weights, fuse, robust_weights, robust_z
from rapidun.weighting.mapping import bounded_weights

scores_st = arrays(
    np.float64,
    st.integers(1, 60),
    elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False),
)
mapping_st = st.tuples(st.floats(0.05, 5.0), st.floats(0.01, 1.0), st.floats(1.0, 20.0))  # tau, w_min, w_max


@settings(max_examples=200, deadline=None)
@given(scores_st, mapping_st)
def test_weights_finite_bounded_mean_one(scores, mapping):
    tau, w_min, w_max = mapping
    bounded = bounded_weights(robust_z(scores), tau, w_min, w_max)
    assert np.isfinite(bounded).all()
    assert (bounded >= w_min * (1 - 1e-12)).all() and (bounded <= w_max * (1 + 1e-12)).all()
    w = robust_weights(scores, tau, w_min, w_max)
    assert np.isfinite(w).all() and (w > 0).all()
    assert abs(w.mean() - 1.0) < 1e-9
    np.testing.assert_allclose(w, bounded / bounded.mean(), rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(scores_st, mapping_st)
def test_weights_monotone_in_score(scores, mapping):
    tau, w_min, w_max = mapping
    w = robust_weights(scores, tau, w_min, w_max)
    order = np.argsort(scores, kind="stable")
    assert (np.diff(w[order]) >= -1e-12).all()


@given(st.floats(-1e6, 1e6, allow_nan=False), st.integers(1, 50))
def test_constant_scores_give_all_ones(value, n):
    w = robust_weights(np.full(n, value), tau=0.7)
    assert np.array_equal(w, np.ones(n))


def test_robust_z_formula_and_floor():
    s = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    # median 3, |s - 3| = 2, 1, 0, 1, 97 -> MAD 1
    np.testing.assert_allclose(robust_z(s), (s - 3.0) / 1.4826)
    s = np.array([0.0, 0.0, 0.0, 5.0, -5.0])  # MAD 0 -> scale floored at 1e-3
    np.testing.assert_allclose(robust_z(s), s / 1e-3)
    np.testing.assert_allclose(robust_weights(s, tau=1.2), np.array([1, 1, 1, 3, 0.2]) / (6.2 / 5))


def test_robust_weights_rejects_bad_input():
    with pytest.raises(RapidunError):
        robust_weights(np.array([1.0, np.nan]), tau=0.7)
    with pytest.raises(RapidunError):
        robust_weights(np.array([1.0, 2.0]), tau=0.0)
    with pytest.raises(RapidunError):
        robust_weights(np.array([1.0, 2.0]), tau=1.0, w_min=1.5, w_max=3.0)


def test_fuse_arithmetic():
    a, b = np.array([1.0, 2.0, -3.0]), np.array([0.5, -1.0, 4.0])
    np.testing.assert_allclose(fuse(a, b), a - b)
    np.testing.assert_allclose(fuse(a, b, 2.0, 0.5), 2 * a - 0.5 * b)
    with pytest.raises(RapidunError):
        fuse(a, b[:2])


def test_aggregate_median_and_topk():
    m = np.array([[5.0, 1.0, 3.0, -2.0], [0.0, 4.0, 2.0, 9.0], [1.0, 1.0, 8.0, 7.0]])
    np.testing.assert_allclose(aggregate(m, "median"), [1.0, 1.0, 3.0, 7.0])
    # top-2 per query: [5,0,3,0], [0,4,0,9], [0,0,8,7] -> medians
    np.testing.assert_allclose(aggregate(m, "topk_median", top_k=2), [0.0, 0.0, 3.0, 7.0])
    np.testing.assert_allclose(aggregate(m, "topk_median", top_k=10), aggregate(m, "median"))
    with pytest.raises(RapidunError):
        aggregate(m, "mean")


def test_topk_tolerates_scores_rapidin_did_not_list():
    m = np.array([[5.0, np.nan, 3.0], [np.nan, 4.0, 2.0]])
    np.testing.assert_allclose(aggregate(m, "topk_median", top_k=1), [2.5, 2.0, 0.0])
    with pytest.raises(RapidunError):
        aggregate(m, "median")
    with pytest.raises(RapidunError):
        aggregate(m, "topk_median", top_k=3)


def _mats(seed: int = 0, n_f: int = 6, n_r: int = 15):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n_f, n_f)),
        rng.normal(size=(n_r, n_f)),
        rng.normal(size=(n_f, n_r)),
        rng.normal(size=(n_r, n_r)),
    )


def test_compute_weights_fuses_aggregates():
    ff, fr, rf, rr = _mats()
    p = WeightParams(alpha=2.0, beta=0.5, gamma=1.5, delta=3.0)
    res = compute_weights(ff, fr, rf, rr, p)
    s_f = 2.0 * np.median(ff, axis=0) - 0.5 * np.median(fr, axis=0)
    s_r = 1.5 * np.median(rr, axis=0) - 3.0 * np.median(rf, axis=0)
    np.testing.assert_allclose(res.forget.scores, s_f)
    np.testing.assert_allclose(res.retain.scores, s_r)


def test_compute_weights_by_hand():
    # Column medians: FF -> [1, 2, 3], FR -> 0, RF -> [1, 1, 5], RR -> 0.
    ff = np.array([[1.0, 2.0, 3.0], [0.0, 9.0, 3.0], [1.0, 2.0, -4.0]])
    fr, rr = np.zeros((3, 3)), np.zeros((3, 3))
    rf = np.array([[1.0, 1.0, 5.0], [1.0, 0.0, 5.0], [7.0, 1.0, 5.0]])
    res = compute_weights(ff, fr, rf, rr, WeightParams(alpha=2.0, beta=0.5, gamma=1.5, delta=3.0))
    # Forget: S = 2 [1, 2, 3] = [2, 4, 6]; median 4, MAD 2, z = +-2 / (1.4826 * 2) = +-0.67449;
    # w = exp(z / 0.7) = [0.38154, 1, 2.62095], mean 1.33416 -> [0.28597, 0.74952, 1.96451].
    np.testing.assert_allclose(res.forget.scores, [2.0, 4.0, 6.0])
    np.testing.assert_allclose(res.forget.weights, [0.2859682, 0.7495243, 1.9645076], rtol=1e-6)
    # Retain: S = -3 [1, 1, 5] = [-3, -3, -15]; median -3, MAD 0 -> scale floor 1e-3, z = [0, 0, -12000];
    # z / 1.2 is clipped at ln 0.2, so w = [1, 1, 0.2], mean 11/15 -> [15/11, 15/11, 3/11].
    np.testing.assert_allclose(res.retain.scores, [-3.0, -3.0, -15.0])
    np.testing.assert_allclose(res.retain.weights, [15 / 11, 15 / 11, 3 / 11], rtol=1e-12)


def test_compute_weights_checks_shapes():
    ff, fr, rf, rr = _mats()
    with pytest.raises(RapidunError, match="FR"):
        compute_weights(ff, fr.T, rf, rr)
    with pytest.raises(RapidunError, match="RF"):
        compute_weights(ff, fr, rf.T, rr)


def test_weightings_presets():
    ff, fr, rf, rr = _mats(1)
    assert set(WEIGHTINGS) == {"rapidun", "uniform", "self_only"}
    base = WeightParams(alpha=1.3, gamma=0.7)
    self_only = compute_weights(ff, fr, rf, rr, base.with_weighting("self_only"))
    explicit = compute_weights(ff, fr, rf, rr, WeightParams(alpha=1.3, gamma=0.7, beta=0.0, delta=0.0))
    np.testing.assert_array_equal(self_only.forget.weights, explicit.forget.weights)
    np.testing.assert_array_equal(self_only.retain.weights, explicit.retain.weights)
    uniform = compute_weights(ff, fr, rf, rr, base.with_weighting("uniform"))
    assert np.array_equal(uniform.forget.weights, np.ones(6)) and np.array_equal(uniform.retain.weights, np.ones(15))
    rapidun = compute_weights(ff, fr, rf, rr, base.with_weighting("rapidun"))
    np.testing.assert_array_equal(rapidun.forget.weights, compute_weights(ff, fr, rf, rr, base).forget.weights)
    with pytest.raises(RapidunError):
        base.with_weighting("nope")


def test_params_defaults_and_faithful():
    d, f = WeightParams(), WeightParams.faithful()
    assert (d.aggregation, f.aggregation, f.top_k) == ("median", "topk_median", 40)
    assert (d.alpha, d.beta, d.gamma, d.delta, d.tau_f, d.tau_r, d.w_min, d.w_max) == (1, 1, 1, 1, 0.7, 1.2, 0.2, 3.0)
