"""Forecast metrics (engine.forecast_metrics) against hand-worked values and slow loops."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine import forecast_metrics as fm
from engine.errors import UsageError

Y = [1.0, 2.0, 3.0, 4.0]
YHAT = [1.5, 1.5, 3.0, 6.0]


def test_hand_worked_point_metrics() -> None:
    # errors 0.5, 0.5, 0, 2
    assert fm.mae(Y, YHAT) == pytest.approx(3.0 / 4)
    assert fm.rmse(Y, YHAT) == pytest.approx(math.sqrt((0.25 + 0.25 + 0 + 4) / 4))
    # |e| / (|y| + |ŷ|): 0.5/2.5, 0.5/3.5, 0, 2/10
    assert fm.smape(Y, YHAT) == pytest.approx((0.2 + 1 / 7 + 0 + 0.2) / 4)
    # naive in-sample steps of [1, 3, 2, 5] at lag 1: 2, 1, 3 → scale 2
    assert fm.mase(Y, YHAT, [1.0, 3.0, 2.0, 5.0]) == pytest.approx(0.75 / 2)
    # seasonal m=2 steps of [1, 3, 2, 5, 4]: |2-1|, |5-3|, |4-2| → scale 5/3
    assert fm.mase(Y, YHAT, [1.0, 3.0, 2.0, 5.0, 4.0], m=2) == pytest.approx(0.75 / (5 / 3))


def test_nan_pairs_are_dropped() -> None:
    y = [1.0, np.nan, 3.0, 4.0, 5.0]
    yhat = [1.5, 2.0, np.nan, 6.0, 5.0]
    assert fm.mae(y, yhat) == pytest.approx((0.5 + 2.0 + 0.0) / 3)
    assert fm.rmse(pd.Series(y), pd.Series(yhat)) == pytest.approx(math.sqrt((0.25 + 4.0) / 3))
    assert np.isnan(fm.mae([np.nan], [1.0]))
    assert np.isnan(fm.smape([], []))
    assert fm.mase(y, yhat, [1.0, np.nan, 2.0, 4.0]) == pytest.approx((2.5 / 3) / 2.0)


def test_smape_zero_over_zero_and_bounds() -> None:
    assert fm.smape([0.0, 1.0], [0.0, -1.0]) == pytest.approx((0 + 1.0) / 2)
    rng = np.random.default_rng(0)
    y, yhat = rng.normal(0, 1, 100), rng.normal(0, 1, 100)
    assert 0.0 <= fm.smape(y, yhat) <= 1.0


def test_mase_flat_training_series() -> None:
    assert fm.mase([1.0], [2.0], [3.0, 3.0, 3.0]) == np.inf
    assert fm.mase([1.0], [1.0], [3.0, 3.0, 3.0]) == 0.0
    assert np.isnan(fm.mase([1.0], [2.0], [3.0]))
    with pytest.raises(UsageError):
        fm.mase([1.0], [2.0], [1.0, 2.0], m=0)


def test_directional_accuracy() -> None:
    # the 0-vs-0 pair is a tie: left out (it used to count as a hit), as `pmax validate` does
    assert fm.directional_accuracy([0.01, -0.02, 0.03, 0.0], [0.02, 0.01, 0.001, 0.0]) == pytest.approx(2 / 3)
    # levels: last value 10; up/down moves compared with the forecast's move
    assert fm.directional_accuracy([11.0, 9.0, 12.0], [10.5, 10.5, 9.0], y_prev=[10.0, 10.0, 10.0]) == pytest.approx(
        1 / 3
    )
    rng = np.random.default_rng(1)
    y, yhat = rng.normal(0, 1, 300), rng.normal(0, 1, 300)
    slow = sum(1 for a, b in zip(y, yhat) if (a > 0) == (b > 0)) / 300
    assert fm.directional_accuracy(y, yhat) == pytest.approx(slow)


def test_hit_rate_leaves_ties_and_gaps_out() -> None:
    actual = [0.01, -0.02, 0.0, 0.03, np.nan, -0.01]
    mean = [0.02, 0.01, 0.01, 0.0, 0.01, -0.02]
    np.testing.assert_array_equal(fm.hit_flags(actual, mean), [1.0, 0.0, np.nan, np.nan, np.nan, 1.0])
    rate, n = fm.hit_rate(actual, mean)
    assert rate == pytest.approx(2 / 3) and n == 3
    rate, n = fm.hit_rate([0.0], [0.0])
    assert np.isnan(rate) and n == 0


def test_skill_score() -> None:
    assert fm.skill_score(1.0, 4.0) == pytest.approx(0.75)
    assert fm.skill_score(5.0, 4.0) == pytest.approx(-0.25)  # worse than the random walk
    assert np.isnan(fm.skill_score(1.0, 0.0))
    np.testing.assert_allclose(fm.skill_score([1.0, 2.0, 3.0], [2.0, 0.0, np.nan]), [0.5, np.nan, np.nan])


def test_interval_coverage() -> None:
    y = [1.0, 2.0, 3.0, 4.0, np.nan]
    lo = [0.0, 2.0, 3.5, 3.0, 0.0]
    hi = [2.0, 2.5, 4.0, 3.9, 1.0]
    assert fm.interval_coverage(y, lo, hi) == pytest.approx(2 / 4)  # bounds count as inside
    rng = np.random.default_rng(2)
    z = rng.normal(0, 1, 20000)
    assert fm.interval_coverage(z, np.full_like(z, -1.959964), np.full_like(z, 1.959964)) == pytest.approx(
        0.95, abs=0.006
    )


def test_log_loss() -> None:
    p = [0.9, 0.2, 0.6]
    up = [1, 0, 0]
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.4)) / 3
    assert fm.log_loss(p, up) == pytest.approx(expected)
    assert fm.log_loss([0.5] * 4, [True, False, True, False]) == pytest.approx(math.log(2))
    assert np.isfinite(fm.log_loss([0.0, 1.0], [1, 0]))  # clipped, not infinite
    assert fm.log_loss([0.7, np.nan], [1, 1]) == pytest.approx(-math.log(0.7))
    with pytest.raises(UsageError):
        fm.log_loss([0.5], [2])


def test_length_mismatch_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        fm.mae([1.0, 2.0], [1.0])


def test_score_forecasts_collects_everything() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(0, 0.01, 60)
    mean = 0.5 * y + rng.normal(0, 0.005, 60)
    lower, upper = mean - 0.015, mean + 0.015
    prob = 1 / (1 + np.exp(-mean / 0.005))
    s = fm.score_forecasts(y, mean, lower, upper, prob, y_train=rng.normal(0, 0.01, 200))
    assert s["n"] == 60
    assert s["mae"] == fm.mae(y, mean)
    assert s["coverage"] == fm.interval_coverage(y, lower, upper)
    assert s["log_loss"] == pytest.approx(fm.log_loss(prob, (y > 0).astype(float)))
    assert np.isfinite(s["mase"]) and s["directional_accuracy"] > 0.5
    bare = fm.score_forecasts(y, mean)
    assert np.isnan(bare["mase"]) and np.isnan(bare["coverage"]) and np.isnan(bare["log_loss"])
