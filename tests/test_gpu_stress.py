"""Historical stress test through betas, checked by hand against the bundled S&P 500 prices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine.errors import InputError
from engine.portfolio.stress import STRESS_WINDOWS, estimate_betas, stress_test, window_returns


def _prices() -> pd.Series:
    from arch.data import sp500

    close = sp500.load()["Adj Close"]
    close.index = [ts.date() for ts in pd.to_datetime(close.index)]
    return close


def test_beta_one_portfolio_moves_with_the_index_price_ratio() -> None:
    close = _prices()
    got = stress_test({"SPY": 1.0}, {"SPY": 1.0})
    assert set(got) == set(STRESS_WINDOWS)
    for name, (first, last) in STRESS_WINDOWS.items():
        before = close[[d < first for d in close.index]].iloc[-1]  # close of the session before
        end = close[[d <= last for d in close.index]].iloc[-1]
        assert got[name] == pytest.approx(end / before - 1.0, rel=1e-9)
    # The windows are the named crises: the GFC leg lost far more than the others.
    assert got["gfc_2008_09"] < -0.4 < got["us_downgrade_2011"] < -0.1
    assert -0.2 < got["selloff_2015_16"] < -0.05


def test_betas_weights_and_cash_compound_day_by_day() -> None:
    weights = {"A": 0.4, "B": 0.3, "C": -0.1}  # 40% cash
    betas = {"A": 1.5, "B": 0.6}  # C has none: the default beta applies
    got = stress_test(weights, betas, default_beta=0.8)
    beta_p = 0.4 * 1.5 + 0.3 * 0.6 - 0.1 * 0.8
    for name in STRESS_WINDOWS:
        total = 1.0
        for r in window_returns(name):
            total *= 1.0 + beta_p * r
        assert got[name] == pytest.approx(total - 1.0, rel=1e-12)
    assert stress_test({}, {}) == dict.fromkeys(STRESS_WINDOWS, 0.0)


def test_custom_window_outside_the_data_is_nan() -> None:
    got = stress_test({"A": 1.0}, {"A": 1.0}, windows={"future": (dt.date(2030, 1, 1), dt.date(2030, 2, 1))})
    assert np.isnan(got["future"])


def test_estimate_betas_equals_ols_slope() -> None:
    rng = np.random.default_rng(0)
    idx = pd.date_range("2020-01-01", periods=300, freq="B")
    market = pd.Series(rng.standard_normal(300) * 0.01, index=idx)
    df = pd.DataFrame(
        {
            "HI": 1.5 * market + rng.standard_normal(300) * 0.005,
            "LO": 0.3 * market + rng.standard_normal(300) * 0.005,
            "NEW": np.r_[np.full(290, np.nan), rng.standard_normal(10) * 0.01],
        },
        index=idx,
    )
    df.iloc[5:15, 0] = np.nan
    betas = estimate_betas(df, market)
    assert set(betas) == {"HI", "LO"}  # NEW has 10 observations, fewer than min_obs
    ok = df["HI"].notna()
    assert betas["HI"] == pytest.approx(np.polyfit(market[ok], df["HI"][ok], 1)[0], rel=1e-10)
    assert betas["HI"] == pytest.approx(1.5, abs=0.1) and betas["LO"] == pytest.approx(0.3, abs=0.1)
    # An index-aligned Series and a positional array give the same answer.
    assert estimate_betas(df, market.to_numpy()) == betas
    # Series alignment: a shuffled market series is re-aligned by date.
    assert estimate_betas(df, market.sample(frac=1.0, random_state=1))["LO"] == pytest.approx(betas["LO"])
    with pytest.raises(InputError):
        estimate_betas(df, market.to_numpy()[:-1])
