"""Ensemble weights from OOS skill (demotion with reasons), the linear pool, and scoring rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine.forecast.base import drivers_json
from engine.forecast.ensemble import combine, compute_weights
from engine.forecast.scoring import score_rows


def daily(model: str, h: int, model_mse: float, naive_mse: float, n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = [dt.date(2017, 1, 2) + dt.timedelta(days=i) for i in range(n)]
    noise = rng.uniform(0.8, 1.2, n)
    return pd.DataFrame(
        {
            "model": model,
            "horizon": h,
            "forecast_as_of": days,
            "sse": model_mse * noise * 10,
            "naive_sse": naive_mse * noise * 10,
            "n": 10,
        }
    )


def test_models_worse_than_naive_are_demoted_with_a_reason() -> None:
    d = pd.concat([daily("arima", 1, 0.8, 1.0), daily("ssa", 1, 1.2, 1.0), daily("garch", 1, 0.9, 1.0)])
    w = compute_weights(d, ["naive", "arima", "ssa", "garch"], [1], min_scored=20).set_index("model")
    assert w.loc["ssa", "demoted"] and w.loc["ssa", "weight"] == 0 and "worse than naive" in w.loc["ssa", "reason"]
    assert w.loc["arima", "skill"] == pytest.approx(0.2)
    assert w.loc["arima", "weight"] == pytest.approx(0.2 / 0.3) and w.loc["garch", "weight"] == pytest.approx(0.1 / 0.3)
    assert w.loc["naive", "weight"] == 0
    assert w.loc["arima", "dm_pvalue"] < 0.05  # consistently 20% better: significant


def test_no_model_beating_naive_leaves_naive_alone_and_warmup_shares_equally() -> None:
    w = compute_weights(daily("arima", 5, 1.3, 1.0), ["arima"], [5], min_scored=20).set_index("model")
    assert w.loc["naive", "weight"] == 1.0 and w.loc["arima", "weight"] == 0.0
    w = compute_weights(daily("arima", 5, 1.3, 1.0, n=5), ["arima", "ssa"], [5], min_scored=20).set_index("model")
    assert w["weight"].tolist() == pytest.approx([1 / 3] * 3) and "warming up" in w.loc["arima", "reason"]


def test_combine_is_a_renormalised_linear_pool_carrying_drivers() -> None:
    drv = drivers_json([("mom_21", 0.042, 0.0031)])
    fc = pd.DataFrame(
        {
            "ticker": ["A", "A", "B"],
            "model": ["arima", "lightgbm", "arima"],
            "horizon": [1, 1, 1],
            "mean": [0.01, 0.03, -0.02],
            "lower": [-0.01, 0.0, -0.05],
            "upper": [0.03, 0.06, 0.01],
            "level": 0.9,
            "prob_up": [0.6, 0.8, 0.3],
            "vol": [0.02, 0.03, 0.02],
            "drivers": [None, drv, None],
        }
    )
    weights = pd.DataFrame({"model": ["arima", "lightgbm"], "horizon": [1, 1], "weight": [0.25, 0.75]})
    out = combine(fc, weights).set_index("ticker")
    assert out.loc["A", "mean"] == pytest.approx(0.25 * 0.01 + 0.75 * 0.03)
    assert out.loc["B", "mean"] == pytest.approx(-0.02)  # only arima forecast B: its weight renormalises to 1
    assert out.loc["A", "drivers"] == drv and out.loc["B", "drivers"] is None


def test_score_rows_measure_error_coverage_and_direction() -> None:
    fc = pd.DataFrame(
        {
            "as_of": [dt.date(2017, 1, 3)] * 2,
            "ticker": ["A", "B"],
            "model": "arima",
            "horizon": 1,
            "mean": [0.01, 0.01],
            "lower": [-0.02, -0.02],
            "upper": [0.02, 0.02],
            "prob_up": [0.6, 0.6],
        }
    )
    s = score_rows(fc, pd.Series({"A": 0.015, "B": -0.05}), "paper", dt.date(2017, 1, 4)).set_index("ticker")
    assert s.loc["A", "error"] == pytest.approx(0.005) and s.loc["B", "naive_error"] == pytest.approx(-0.05)
    assert s.loc["A", "covered"] and not s.loc["B", "covered"]
    assert s.loc["A", "hit"] and not s.loc["B", "hit"]
    zero = score_rows(fc.assign(mean=0.0), pd.Series({"A": 0.015, "B": 0.0}), "paper", dt.date(2017, 1, 4))
    assert zero["hit"].isna().all()  # a forecast of 0 (or an actual of 0) is a tie, not a miss


def test_only_a_significant_dm_test_is_called_skill() -> None:
    rng = np.random.default_rng(3)
    n = 40
    days = [dt.date(2017, 1, 2) + dt.timedelta(days=i) for i in range(n)]
    naive = rng.uniform(5, 15, n)
    # barely better on average, with noise: positive skill, far from significant
    noisy = pd.DataFrame(
        {
            "model": "ssa",
            "horizon": 1,
            "forecast_as_of": days,
            "sse": naive * rng.uniform(0.6, 1.3, n),
            "naive_sse": naive,
            "n": 10,
        }
    )
    steady = daily("arima", 1, 0.8, 1.0, n=n)
    w = compute_weights(pd.concat([noisy, steady]), ["naive", "arima", "ssa"], [1], min_scored=20).set_index("model")
    assert w.loc["ssa", "skill"] > 0 and w.loc["ssa", "dm_pvalue"] > 0.1
    assert w.loc["ssa", "reason"].startswith("weighted:") and "not significant" in w.loc["ssa", "reason"]
    assert w.loc["arima", "reason"].startswith("skilled:")
