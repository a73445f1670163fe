"""Pure kernels of engine.portfolio: HRP, regime, sizing, signal layers, risk measures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.portfolio import risk_measures as rk
from engine.portfolio.hrp import HRPAllocator, hrp_weights
from engine.portfolio.regime import classify_regime, detect_regime
from engine.portfolio.signal_layers import (
    calibrate_confidence,
    decide_action,
    layer_correlation,
    layer_cost,
    layer_regime,
    layer_size,
    layer_statistical,
)
from engine.portfolio.sizing import (
    apply_caps,
    correlation_reduction,
    kelly,
    rebalance_legs,
    signal_tilt,
    target_shares,
    vol_target_scale,
)

# --- HRP -----------------------------------------------------------------------------


def test_hrp_uncorrelated_assets_get_inverse_variance_weights() -> None:
    var = np.array([0.01, 0.04, 0.09, 0.16])
    w = hrp_weights(np.diag(var))
    ivp = (1 / var) / (1 / var).sum()
    np.testing.assert_allclose(w, ivp, rtol=1e-12)


def test_hrp_two_clusters_split_risk_between_clusters() -> None:
    # Assets 0,1 nearly identical; asset 2 independent with the same variance: the
    # independent one is a cluster of its own and gets about half of the weight.
    c = np.array([[1.0, 0.99, 0.0], [0.99, 1.0, 0.0], [0.0, 0.0, 1.0]])
    w = hrp_weights(c * 0.04)
    assert w.sum() == pytest.approx(1.0)
    assert w[2] == pytest.approx(w[0] + w[1], rel=0.02)
    assert np.all(w > 0)


def _hrp_slow(cov: np.ndarray) -> np.ndarray:
    """Textbook HRP (index lists, np.ix_ sub-matrices) as the oracle."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    dist = np.sqrt(np.clip(0.5 * (1 - corr), 0, None))
    np.fill_diagonal(dist, 0)
    order = list(leaves_list(linkage(squareform(dist, checks=False), method="single")))

    def cvar(idx: list[int]) -> float:
        sub = cov[np.ix_(idx, idx)]
        ivp = 1 / np.diag(sub)
        ivp /= ivp.sum()
        return float(ivp @ sub @ ivp)

    w = np.ones(len(order))
    clusters = [order]
    while clusters:
        clusters = [c[j:k] for c in clusters for j, k in ((0, len(c) // 2), (len(c) // 2, len(c))) if len(c) > 1]
        for i in range(0, len(clusters), 2):
            left, right = clusters[i], clusters[i + 1]
            a = 1 - cvar(left) / (cvar(left) + cvar(right))
            w[left] *= a
            w[right] *= 1 - a
    return w / w.sum()


def test_hrp_matches_the_textbook_implementation() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 1)) @ rng.uniform(0.2, 1.5, size=(1, 37)) + rng.normal(size=(300, 37))
    cov = np.cov(x, rowvar=False)
    np.testing.assert_allclose(hrp_weights(cov), _hrp_slow(cov), rtol=1e-10)


def test_hrp_allocator_falls_back_to_equal_weights_on_short_history() -> None:
    rng = np.random.default_rng(0)
    short = HRPAllocator(min_obs=60).fit(rng.normal(size=(10, 5)))
    np.testing.assert_allclose(short.weights_, np.full(5, 0.2))
    long = HRPAllocator(min_obs=60).fit(rng.normal(size=(200, 5)) * [1, 2, 3, 4, 5])
    assert long.weights_[0] > long.weights_[4]


# --- regime --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trend, vol, corr, expected",
    [
        (0.05, 0.15, 0.3, "bull"),
        (-0.05, 0.15, 0.3, "bear"),
        (0.00, 0.15, 0.3, "sideways"),
        (0.05, 0.40, 0.3, "crisis"),  # extreme volatility whatever the trend
        (-0.01, 0.20, 0.8, "crisis"),  # correlations converge while falling
        (0.03, 0.20, 0.8, "bull"),  # high correlation in a rally is not a crisis
    ],
)
def test_classify_regime_table(trend: float, vol: float, corr: float, expected: str) -> None:
    assert classify_regime(trend, vol, corr) == expected


def test_detect_regime_on_synthetic_crash_is_crisis_with_scaled_exposure() -> None:
    rng = np.random.default_rng(1)
    common = rng.normal(-0.01, 0.04, size=(80, 1))
    rets = common + rng.normal(0, 0.005, size=(80, 6))
    st = detect_regime(rets, exposure={"crisis": 0.3})
    assert st.regime == "crisis"
    assert st.exposure_scale == 0.3
    assert st.avg_correlation > 0.9 and st.trend < 0


# --- sizing --------------------------------------------------------------------------


def test_kelly_and_vol_targeting() -> None:
    assert kelly(0.6, 1.0) == pytest.approx(0.2)
    assert kelly(0.4, 1.0) == 0.0
    assert vol_target_scale(0.30, 0.15) == pytest.approx(0.5)
    assert vol_target_scale(0.05, 0.15, max_scale=2.0) == 2.0
    t = signal_tilt("BUY", 0.6, 1.0, 0.30, kelly_fraction=0.25, target_vol=0.15, max_tilt=1.0)
    assert t == pytest.approx(0.25 * 0.2 * 0.5)
    assert signal_tilt("SELL", 0.6, 1.0, 0.30, kelly_fraction=0.25, target_vol=0.15, max_tilt=1.0) == pytest.approx(-t)
    assert signal_tilt("HOLD", 0.9, 3.0, 0.1, kelly_fraction=0.25, target_vol=0.15, max_tilt=1.0) == 0.0


def test_correlation_reduction_splits_crowded_tilts() -> None:
    corr = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    out = correlation_reduction(np.array([0.04, 0.04, 0.04]), corr)
    np.testing.assert_allclose(out, [0.02, 0.02, 0.04])
    # Opposite directions do not crowd each other.
    np.testing.assert_allclose(correlation_reduction(np.array([0.04, -0.04, 0.0]), corr), [0.04, -0.04, 0.0])


def test_caps_and_whole_shares() -> None:
    w = apply_caps(np.array([0.3, 0.5, 0.4, -0.1]), max_position=0.35, max_gross=1.0)
    assert w.max() <= 0.35 + 1e-12 and w.min() >= 0.0
    assert np.abs(w).sum() == pytest.approx(1.0)
    q = target_shares(np.array([0.1, 0.1]), 10_000.0, np.array([33.0, 0.0]))
    assert q.tolist() == [30, 0]  # 1000/33 = 30.3 -> 30 whole shares, no price -> 0


def test_rebalance_rule_needs_drift_and_benefit() -> None:
    cur = np.array([0, 100, 100, 100])
    tgt = np.array([100, 101, 100, 0])
    px = np.full(4, 100.0)
    legs = rebalance_legs(
        cur, tgt, px, 100_000.0, np.zeros(4), drift_threshold=0.01, cost_bps=20.0, tracking_value_bps=50.0
    )
    assert [(leg.index, leg.qty) for leg in legs] == [(0, 100), (3, -100)]  # 1 share of drift is ignored
    # Benefit below cost: nothing trades even with large drift.
    assert (
        rebalance_legs(
            cur, tgt, px, 100_000.0, np.zeros(4), drift_threshold=0.01, cost_bps=20.0, tracking_value_bps=10.0
        )
        == []
    )
    # Small positions: a relative band (25% of the weight) instead of 1% absolute.
    small = rebalance_legs(
        np.array([0, 8, 10]),
        np.array([10, 10, 11]),
        np.full(3, 100.0),
        200_000.0,
        np.zeros(3),
        drift_threshold=0.01,
        cost_bps=20.0,
        tracking_value_bps=50.0,
        drift_relative=0.25,
    )
    assert [(leg.index, leg.qty) for leg in small] == [(0, 10)]  # 8->10 is 20% off, 10->11 is 9% off
    # A forced leg trades regardless.
    legs = rebalance_legs(
        cur,
        tgt,
        px,
        100_000.0,
        np.zeros(4),
        drift_threshold=0.5,
        cost_bps=20.0,
        tracking_value_bps=0.0,
        force=np.array([False, True, False, False]),
    )
    assert [(leg.index, leg.qty, leg.reason) for leg in legs] == [(1, 1, "forced")]


# --- signals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mean, pu, action",
    [
        (0.01, 0.60, "BUY"),
        (-0.01, 0.40, "SELL"),
        (0.01, 0.51, "HOLD"),
        (-0.01, 0.60, "HOLD"),
        (float("nan"), 0.9, "HOLD"),
    ],
)
def test_decide_action(mean: float, pu: float, action: str) -> None:
    assert decide_action(mean, pu, band=0.02) == action


def test_confidence_tends_to_the_hit_rate() -> None:
    prior_only = calibrate_confidence(0.7, "BUY", hits=0, n_calls=0, prior_strength=20)
    assert prior_only == pytest.approx(0.7)
    # 1000 scored forecasts right half the time: confidence ~ 0.5 whatever P(up) says.
    assert calibrate_confidence(0.7, "BUY", hits=500, n_calls=1000, prior_strength=20) == pytest.approx(
        0.5039, abs=1e-3
    )
    assert calibrate_confidence(0.3, "SELL", hits=0, n_calls=0) == pytest.approx(0.7)


def test_layers_verdicts_and_reasons() -> None:
    assert not layer_statistical(10, -3.0, 0.001, alpha=0.1, min_scored=30).passed
    assert layer_statistical(50, -3.0, 0.001, alpha=0.1, min_scored=30).passed
    assert not layer_statistical(50, -3.0, 0.001, alpha=0.1, min_scored=30, demoted=True).passed
    assert not layer_statistical(50, 1.0, 0.8, alpha=0.1, min_scored=30).passed
    assert layer_regime("BUY", "bull").passed and not layer_regime("BUY", "crisis").passed
    assert layer_regime("SELL", "bear").passed and not layer_regime("SELL", "bull").passed
    v = layer_size("BUY", 0.14, 0.02, 100.0, 1e6, max_position=0.15)
    assert not v.passed and "exceeds" in v.reason
    assert not layer_size("BUY", 0.05, 0.00005, 100.0, 1e6, max_position=0.15).passed  # < 1 share
    assert layer_size("BUY", 0.05, 0.01, 100.0, 1e6, max_position=0.15).passed
    assert not layer_correlation("BUY", 0.9, max_corr=0.75).passed
    assert layer_correlation("SELL", 0.99, max_corr=0.75).passed
    assert not layer_cost(0.005, 40.0, multiple=1.5).passed
    assert layer_cost(0.007, 40.0, multiple=1.5).passed


# --- risk measures against empyrical ---------------------------------------------------


def test_var_cvar_follow_empyrical() -> None:
    import empyrical

    r = np.random.default_rng(5).standard_t(4, 500) * 0.01
    assert rk.var_hist(r, 0.95) == pytest.approx(empyrical.value_at_risk(r, cutoff=0.05))
    assert rk.var_hist(r, 0.99) == pytest.approx(empyrical.value_at_risk(r, cutoff=0.01))
    assert rk.cvar_hist(r, 0.95) == pytest.approx(empyrical.conditional_value_at_risk(r, cutoff=0.05))
    assert rk.var_hist(r, 0.95) < 0 and rk.cvar_hist(r, 0.99) < rk.var_hist(r, 0.99)
    mu, sd = r.mean(), r.std(ddof=1)
    assert rk.var_param(r, 0.95) == pytest.approx(mu - 1.6448536 * sd)
    assert rk.cvar_param(r, 0.95) < rk.var_param(r, 0.95)


def test_vol_beta_concentration() -> None:
    import empyrical

    rng = np.random.default_rng(6)
    m = rng.normal(0, 0.01, 300)
    p = 1.5 * m + rng.normal(0, 0.002, 300)
    assert rk.beta(p, m) == pytest.approx(empyrical.beta(p, m), rel=1e-9)
    assert rk.annual_vol(p) == pytest.approx(empyrical.annual_volatility(p), rel=1e-9)
    assert rk.concentration(np.array([0.25, 0.25, 0.25, 0.25])) == pytest.approx(0.25)
    assert rk.concentration(np.array([0.5, 0.0])) == pytest.approx(1.0)
    assert rk.forecast_vol(np.array([0.5, 0.5]), np.array([0.2, 0.2]), np.eye(2)) == pytest.approx(0.2 / math.sqrt(2))
