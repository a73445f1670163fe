"""empyrical's test cases, continued: alpha/beta, stability, tail ratio, CAGR, VaR, CVaR, DataFrames.

Same inputs, expected values and proxies as `test_metrics_empyrical.py` (copied
from empyrical-reloaded's tests/test_stats.py).
"""

from __future__ import annotations

from typing import Any

import empyrical
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_metrics_empyrical import DECIMAL_PLACES, EXPECTED_DF, Proxy, close, val

from engine import metrics

DAILY, YEARLY = "daily", "yearly"
pytestmark = pytest.mark.filterwarnings("ignore:One or more sample arguments is too small")
BOTH = pytest.mark.parametrize("mod", [metrics, empyrical], ids=["pmax", "empyrical"])


@BOTH
@pytest.mark.parametrize(
    "returns, benchmark, expected",
    [
        ("empty_returns", "simple_benchmark", (np.nan, np.nan)),
        ("one_return", "one_return", (np.nan, np.nan)),
        ("mixed_returns", "negative_returns[1:]", (-0.9997853834885004, -0.71296296296296313)),
        ("mixed_returns", "mixed_returns", (0.0, 1.0)),
        ("mixed_returns", "-mixed_returns", (0.0, -1.0)),
    ],
)
def test_alpha_beta(mod: Any, returns: str, benchmark: str, expected: tuple[float, float]) -> None:
    a, b = mod.alpha_beta(val(returns), val(benchmark))
    close(a, expected[0])
    close(b, expected[1])


@pytest.mark.parametrize(
    "returns, benchmark, expected",
    [
        ("empty_returns", "simple_benchmark", np.nan),
        ("one_return", "one_return", np.nan),
        ("mixed_returns", "mixed_returns", 0.0),
        ("mixed_returns", "-mixed_returns", 0.0),
    ],
)
def test_alpha(em: Proxy, returns: str, benchmark: str, expected: float) -> None:
    r, f = val(returns), val(benchmark)
    observed = em.alpha(r, f)
    close(observed, expected)
    if len(r) == len(f):  # compare with scipy's linregress
        mask = ~np.isnan(r.values) & ~np.isnan(f.values)
        _, intercept, *_ = stats.linregress(f.values[mask], r.values[mask])
        close(observed, intercept * 252)


@pytest.mark.parametrize("mean_returns, translation", [(0, 0.001), (0.01, 0.001)])
def test_alpha_beta_translation(em: Proxy, mean_returns: float, translation: float) -> None:
    rand = np.random.RandomState(1337)
    std_r, corr, std_b = 0.01, 0.8, 0.001
    covs = [[std_r**2, std_r * std_b * corr], [std_r * std_b * corr, std_b**2]]
    ret, bench = rand.multivariate_normal([mean_returns, 0.001], covs, 1000).T
    index = pd.date_range("2000-1-30", periods=1000, freq="D")
    returns, benchmark = pd.Series(ret, index=index), pd.Series(bench, index=index)
    a_dep, b_dep = em.alpha_beta(returns - translation, benchmark)
    a_std, b_std = em.alpha_beta(returns, benchmark)
    a_rai, b_rai = em.alpha_beta(returns + translation, benchmark)
    close((a_std + 1) ** (1 / 252) - (a_dep + 1) ** (1 / 252), translation)
    close((a_rai + 1) ** (1 / 252) - (a_std + 1) ** (1 / 252), translation)
    close(b_std, b_dep)
    close(b_std, b_rai)


def test_alpha_beta_correlation(em: Proxy) -> None:
    rand = np.random.RandomState(1337)
    index = pd.date_range("2000-1-30", periods=1000, freq="D")
    out = []
    for corr in (0.1, 0.9):
        covs = [[0.01**2, 0.01 * 0.001 * corr], [0.01 * 0.001 * corr, 0.001**2]]
        ret, bench = rand.multivariate_normal([0.01, 0.001], covs, 1000).T
        out.append(em.alpha_beta(pd.Series(ret, index=index), pd.Series(bench, index=index)))
    (alpha_less, beta_less), (alpha_more, beta_more) = out
    assert alpha_less > alpha_more
    assert beta_less < beta_more


def test_alpha_beta_with_nan_inputs(em: Proxy) -> None:
    a, b = em.alpha_beta(val("sparse_noise"), val("sparse_noise"))
    assert not np.isnan(a)
    assert not np.isnan(b)


@pytest.mark.parametrize(
    "returns, benchmark, expected, decimal",
    [
        ("empty_returns", "simple_benchmark", np.nan, DECIMAL_PLACES),
        ("one_return", "one_return", np.nan, DECIMAL_PLACES),
        ("noise", "noise", 1.0, DECIMAL_PLACES),
        ("2 * noise", "noise", 2.0, DECIMAL_PLACES),
        ("noise", "inv_noise", -1.0, DECIMAL_PLACES),
        ("2 * noise", "inv_noise", -2.0, DECIMAL_PLACES),
        ("simple_benchmark_w_noise", "simple_benchmark_df", 1.0, 2),
    ],
)
def test_beta(em: Proxy, returns: str, benchmark: str, expected: float, decimal: int) -> None:
    r, f = val(returns), val(benchmark)
    observed = em.beta(r, f)
    close(observed, expected, decimal)
    if len(r) == len(f):
        f = f["returns"] if isinstance(f, pd.DataFrame) else f
        mask = ~np.isnan(r.values) & ~np.isnan(f.values)
        slope, *_ = stats.linregress(f.values[mask], r.values[mask])
        close(observed, slope, 7)


@BOTH
@pytest.mark.parametrize(
    "returns, benchmark",
    [
        ("empty_returns", "simple_benchmark"),
        ("one_return", "one_return"),
        ("mixed_returns", "mixed_returns"),
        ("mixed_returns", "-mixed_returns"),
    ],
)
def test_alpha_beta_equality(mod: Any, returns: str, benchmark: str) -> None:
    r, f = val(returns), val(benchmark)
    a, b = mod.alpha_beta(r, f)
    close(a, mod.alpha(r, f))
    close(b, mod.beta(r, f))


@pytest.mark.parametrize(
    "returns, expected",
    [("empty_returns", np.nan), ("one_return", np.nan), ("mixed_returns", 0.1529973665111273), ("flat_line_1_tz", 1.0)],
)
def test_stability_of_timeseries(em: Proxy, returns: str, expected: float) -> None:
    close(em.stability_of_timeseries(val(returns)), expected)


@pytest.mark.parametrize(
    "returns, expected",
    [("empty_returns", np.nan), ("one_return", 1.0), ("mixed_returns", 0.9473684210526313), ("random_100k", 1.0)],
)
def test_tail_ratio(em: Proxy, returns: str, expected: float) -> None:
    close(em.tail_ratio(val(returns)), expected, 1)


@pytest.mark.parametrize(
    "returns, period, expected",
    [
        ("empty_returns", DAILY, np.nan),
        ("one_return", DAILY, 11.274002099240244),
        ("mixed_returns", DAILY, 1.9135925373194231),
        ("flat_line_1_tz", DAILY, 11.274002099240256),
        ("flat_line_yearly", YEARLY, 0.03),
    ],
)
def test_cagr(em: Proxy, returns: str, period: str, expected: float) -> None:
    close(em.cagr(val(returns), period=period), expected)


@pytest.mark.parametrize("returns", ["noise", "noise_uniform"])
def test_cagr_translation(em: Proxy, returns: str) -> None:
    r = val(returns)
    assert em.cagr(r - 0.01) < em.cagr(r) < em.cagr(r + 0.01)


def test_cagr_with_nan_inputs(em: Proxy) -> None:
    assert not np.isnan(em.cagr(val("sparse_noise")))


@pytest.mark.parametrize(
    "returns, noise", [("pos_line", "noise"), ("pos_line", "noise_uniform"), ("flat_line_1_tz", "noise")]
)
def test_cagr_noisy(em: Proxy, returns: str, noise: str) -> None:
    r, n = val(returns), val(noise)
    cagr = em.cagr(r)
    np.testing.assert_approx_equal(cagr, em.cagr(r + n), 1)
    np.testing.assert_approx_equal(cagr, em.cagr(r - n), 1)


def test_value_at_risk(em: Proxy) -> None:
    var = em.value_at_risk
    close(var([1.0, 2.0], cutoff=0.0), 1.0)
    close(var([1.0, 2.0], cutoff=0.3), 1.3)
    close(var([1.0, 2.0], cutoff=1.0), 2.0)
    returns = [1, 81, 82, 83, 84, 85]
    close(var(returns, cutoff=0.1), 41)
    close(var(returns, cutoff=0.2), 81)
    close(var(returns, cutoff=0.3), 81.5)
    noisy = np.random.RandomState(1337).normal(0, 0.02, 21)
    for cutoff in (0, 0.0499, 0.05, 0.20, 0.999, 1):
        close(var(noisy, cutoff), np.percentile(noisy, cutoff * 100))


def test_conditional_value_at_risk(em: Proxy) -> None:
    rand = np.random.RandomState(1337)
    returns = rand.normal(0, 0.02, 1)
    close(em.conditional_value_at_risk(returns, cutoff=0), returns[0])
    close(em.conditional_value_at_risk(returns, cutoff=1), returns[0])
    returns = rand.normal(0, 0.02, 21)
    for cutoff in (0, 0.0499, 0.05, 0.20, 0.999, 1):
        var = em.value_at_risk(returns, cutoff)
        close(em.conditional_value_at_risk(returns, cutoff), np.mean(returns[returns <= var]))


@pytest.mark.parametrize(
    "returns, starting_value, expected",
    [("df_input", 0, "df_0_expected"), ("df_input", 100, "df_100_expected"), ("df_empty", 0, "df_empty")],
)
def test_cum_returns_df(em: Proxy, returns: str, starting_value: float, expected: str) -> None:
    out = em.cum_returns(val(returns), starting_value=starting_value)
    close(np.asarray(out), np.asarray(EXPECTED_DF[expected]), 4)
    if em.kind == "series":
        pd.testing.assert_index_equal(out.index, val(returns).index)
    if em.kind == "array":
        assert isinstance(out, np.ndarray)


@pytest.mark.parametrize(
    "returns, starting_value, expected", [("df_input", 0, "df_0_expected"), ("df_input", 100, "df_100_expected")]
)
def test_cum_returns_final_df(em: Proxy, returns: str, starting_value: float, expected: str) -> None:
    out = em.cum_returns_final(val(returns), starting_value=starting_value)
    close(np.array(out), EXPECTED_DF[expected].iloc[-1], 5)
    if em.kind == "series":
        pd.testing.assert_index_equal(out.index, EXPECTED_DF[expected].columns)
