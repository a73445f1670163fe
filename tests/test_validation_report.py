"""`pmax validate`'s report: statuses agree with the row, n in sessions, ties, per-ticker
Ljung–Box, interval calibration with binomial tests, and the VaR backtest on a real store."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine.forecast.calibration import coverage_table
from engine.forecast.report import directional, per_ticker_tests, report_from_scores, status_of
from engine.significance import christoffersen_independence, kupiec_pof
from engine.var_backtest import backtest, var_pairs


def _scores(
    rng: np.random.Generator, models: dict[str, float], n_days: int = 120, n_tickers: int = 8, h: int = 1
) -> pd.DataFrame:
    """Scored forecasts: actual ~ N(0, 1%); model mean = actual * share + noise (share 0: naive)."""
    days = pd.bdate_range("2020-01-01", periods=n_days).date
    rows = []
    actual = rng.normal(0, 0.01, (n_days, n_tickers))
    for m, share in models.items():
        mean = np.zeros_like(actual) if m == "naive" else share * actual + rng.normal(0, 0.002, actual.shape)
        for i, d in enumerate(days):
            for j in range(n_tickers):
                rows.append(
                    {
                        "model": m,
                        "horizon": h,
                        "ticker": f"T{j}",
                        "forecast_as_of": d,
                        "actual": actual[i, j],
                        "mean": mean[i, j],
                        "prob_up": 0.5,
                        "vol": 0.01,
                        "lower": mean[i, j] - 0.0164,
                        "upper": mean[i, j] + 0.0164,
                        "level": 0.9,
                    }
                )
    return pd.DataFrame(rows)


def test_status_agrees_with_the_rows_own_skill_and_p_and_n_is_sessions() -> None:
    rng = np.random.default_rng(0)
    rep = report_from_scores(_scores(rng, {"naive": 0, "good": 0.5, "bad": -0.3, "noise": 0.0}), alpha=0.1)
    by = rep.set_index("model")
    assert by.loc["good", "status"] == "skilled" and by.loc["good", "dm_pvalue"] < 0.1 and by.loc["good", "skill"] > 0
    assert by.loc["bad", "status"] == "worse than naive" and by.loc["bad", "skill"] <= 0
    assert by.loc["naive", "status"] == "baseline"
    for r in rep.itertuples():
        assert r.status == status_of(r.model, r.skill, r.dm_pvalue, 0.1)
        assert r.n == 120 and r.n_rows == 960  # sessions, the DM test's unit; ticker-rows apart


def test_zero_forecasts_are_ties_not_misses() -> None:
    acc, calls, zero = directional(np.array([0.01, -0.02, 0.03, 0.0]), np.array([0.0, -0.01, -0.01, 0.02]))
    assert calls == 2 and acc == pytest.approx(0.5) and zero == pytest.approx(0.25)
    acc, calls, zero = directional(np.array([0.01, -0.02]), np.zeros(2))
    assert np.isnan(acc) and calls == 0 and zero == 1.0
    rep = report_from_scores(_scores(np.random.default_rng(1), {"naive": 0, "good": 0.5}))
    naive = rep[rep.model == "naive"].iloc[0]
    assert np.isnan(naive["directional_accuracy"]) and naive["zero_share"] == 1.0


def test_ljung_box_is_per_ticker_on_non_overlapping_errors() -> None:
    rng = np.random.default_rng(2)
    n, k = 300, 10
    days = pd.bdate_range("2020-01-01", periods=n).date
    rows = []
    for j in range(k):
        e = rng.normal(0, 1, n)
        if j < 5:  # AR(1) errors on half the tickers
            for t in range(1, n):
                e[t] += 0.6 * e[t - 1]
        rows += [{"ticker": f"T{j}", "forecast_as_of": d, "actual": x, "mean": 0.0} for d, x in zip(days, e)]
    med, share, tested, _ = per_ticker_tests(pd.DataFrame(rows), h=1)
    assert tested == k and share == pytest.approx(0.5)
    # Overlapping 5-step errors of white noise: thinning to every 5th origin removes the MA(4).
    rows = []
    for j in range(k):
        e = np.convolve(rng.normal(0, 1, n + 4), np.ones(5), "valid")[:n]
        rows += [{"ticker": f"T{j}", "forecast_as_of": d, "actual": x, "mean": 0.0} for d, x in zip(days, e)]
    med, share, tested, _ = per_ticker_tests(pd.DataFrame(rows), h=5)
    assert tested == k and share <= 0.2 and med > 0.1


def test_coverage_flags_a_model_whose_intervals_are_too_narrow() -> None:
    rng = np.random.default_rng(3)
    df = _scores(rng, {"naive": 0, "good": 0.5})
    narrow = df[df.model == "good"].assign(
        model="narrow", vol=0.004, lower=lambda d: d["mean"] - 0.004, upper=lambda d: d["mean"] + 0.004
    )
    cov = coverage_table(pd.concat([df, narrow]))
    assert set(cov["level"].round(2)) == {0.8, 0.9, 0.95}
    bad = cov[cov.model == "narrow"]
    assert bad["flag"].all() and (bad["rate"] <= bad["level"] - 0.05).all()
    ok = cov[(cov.model == "naive") & (cov.interval == "stored")].iloc[0]
    assert abs(ok["rate"] - 0.9) < 0.03 and not ok["flag"] and ok["n"] == 960


def test_kupiec_and_christoffersen_by_hand() -> None:
    e = np.zeros(250)
    e[[10, 50, 51, 100, 200, 201, 202]] = 1
    # LR_uc = -2[243 ln .99 + 7 ln .01 - 243 ln(243/250) - 7 ln(7/250)]
    want = -2 * (243 * np.log(0.99) + 7 * np.log(0.01) - 243 * np.log(243 / 250) - 7 * np.log(7 / 250))
    assert kupiec_pof(e, 0.01).stat == pytest.approx(want)
    assert christoffersen_independence(e).pvalue < 0.01  # three clustered pairs
    assert christoffersen_independence(np.zeros(50)).pvalue != christoffersen_independence(np.zeros(50)).pvalue


def test_var_backtest_reads_the_stored_var_and_the_next_sessions_return(tmp_path) -> None:
    from engine.store import Store, append

    store = Store.open(tmp_path / "v.duckdb")
    days = pd.bdate_range("2021-01-04", periods=101).date
    ret = np.random.default_rng(4).normal(0, 0.01, 101)
    ret[[20, 21, 60]] = -0.05  # three losses beyond any VaR below
    append(
        store.con,
        "equity",
        pd.DataFrame(
            {
                "account": "a",
                "as_of": days,
                "cash": 0.0,
                "equity": 1.0,
                "gross": 1.0,
                "net": 1.0,
                "drawdown": 0.0,
                "daily_return": ret,
            }
        ),
    )
    append(
        store.con, "risk", pd.DataFrame({"account": "a", "as_of": days, "var_hist_95": -0.0165, "var_hist_99": -0.03})
    )
    pairs = var_pairs(store.con, "a")
    store.close()
    assert len(pairs) == 101 and pairs["next_return"].iloc[19] == pytest.approx(-0.05)
    res = backtest(pairs).set_index("measure")
    assert res.loc["var_hist_99", "n"] == 100 and res.loc["var_hist_99", "exceptions"] == 3
    assert res.loc["var_hist_99", "kupiec_p"] == pytest.approx(kupiec_pof(np.r_[np.ones(3), np.zeros(97)], 0.01).pvalue)
    assert "var_param_95" not in res.index  # nothing stored, nothing claimed
    assert pd.Timestamp(pairs["as_of"].iloc[0]).date() == dt.date(2021, 1, 4)
