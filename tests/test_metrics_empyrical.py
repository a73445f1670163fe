"""empyrical's own test cases (tests/test_stats.py, conftest.py of empyrical-reloaded) run on engine.metrics.

The inputs and expected values are copied from empyrical-reloaded's test suite,
NaN and infinity cases included. Each case runs on `engine.metrics` and, as a
check of the transcription, on the installed `empyrical` itself; and, as in
empyrical's suite, with Series, int-indexed Series and ndarray inputs.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

import empyrical
import numpy as np
import pandas as pd
import pytest

from engine import metrics

DECIMAL_PLACES = 8
DAILY, WEEKLY, MONTHLY, YEARLY = "daily", "weekly", "monthly", "yearly"


def _input_data() -> dict[str, Any]:
    """empyrical's `input_data` fixture, draws in the same order from RandomState(1337)."""
    simple_benchmark = pd.Series(
        np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]) / 100,
        index=pd.date_range("2000-1-30", periods=9, freq="D"),
    )
    rand = np.random.RandomState(1337)
    d1000 = pd.date_range("2000-1-30", periods=1000, freq="D", tz="UTC")
    noise = pd.Series(rand.normal(0, 0.001, 1000), index=d1000)
    noise_uniform = pd.Series(rand.uniform(-0.01, 0.01, 1000), index=d1000)
    random_100k = pd.Series(rand.randn(100_000))
    d9 = pd.date_range("2000-1-30", periods=9, freq="D")
    mixed_returns = pd.Series(np.array([np.nan, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100, index=d9)
    one = [-0.00171614, 0.01322056, 0.03063862, -0.01422057, -0.00489779, 0.01268925, -0.03357711, 0.01797036]
    two = [0.01846232, 0.00793951, -0.01448395, 0.00422537, -0.00339611, 0.03756813, 0.0151531, 0.03549769]
    replace_nan = rand.choice(noise.index.tolist(), rand.randint(1, 10))
    sparse_noise = noise.replace(replace_nan, np.nan)
    flat_line_1_tz = pd.Series(np.linspace(0.01, 0.01, num=1000), index=d1000)

    def frame(index: pd.DatetimeIndex, a: list[float], b: list[float]) -> pd.DataFrame:
        return pd.DataFrame({"one": pd.Series(a, index=index), "two": pd.Series(b, index=index)})

    input_one = [np.nan] + one[1:]
    input_two = two[:-1] + [np.nan]
    negative_returns = pd.Series(np.array([0.0, -6.0, -7.0, -1.0, -9.0, -2.0, -6.0, -8.0, -5.0]) / 100, index=d9)
    data = {
        "simple_benchmark": simple_benchmark,
        "simple_benchmark_w_noise": simple_benchmark + rand.normal(0, 0.001, len(simple_benchmark)),
        "simple_benchmark_df": simple_benchmark.rename("returns").to_frame(),
        "positive_returns": pd.Series(np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) / 100, index=d9),
        "negative_returns": negative_returns,
        "all_negative_returns": pd.Series(
            np.array([-2.0, -6.0, -7.0, -1.0, -9.0, -2.0, -6.0, -8.0, -5.0]) / 100, index=d9
        ),
        "mixed_returns": mixed_returns,
        "weekly_returns": pd.Series(
            np.array([0.0, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100,
            index=pd.date_range("2000-1-30", periods=9, freq="W"),
        ),
        "monthly_returns": pd.Series(
            np.array([0.0, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100,
            index=pd.date_range("2000-1-30", periods=9, freq="ME"),
        ),
        "one_return": pd.Series(np.array([1.0]) / 100, index=pd.date_range("2000-1-30", periods=1, freq="D")),
        "udu_returns": pd.Series(np.array([10, -10, 10]) / 100, index=pd.date_range("2000-1-30", periods=3, freq="D")),
        "empty_returns": pd.Series(np.array([]) / 100, index=pd.date_range("2000-1-30", periods=0, freq="D")),
        "noise": noise,
        "noise_uniform": noise_uniform,
        "random_100k": random_100k,
        "inv_noise": noise.multiply(-1),
        "flat_line_0": pd.Series(np.linspace(0, 0, num=1000), index=d1000),
        "flat_line_1": pd.Series(np.array([1.0] * 9) / 100, index=d9),
        "flat_line_1_tz": flat_line_1_tz,
        "flat_line_yearly": pd.Series(
            np.array([3.0, 3.0, 3.0]) / 100, index=pd.date_range("2000-1-30", periods=3, freq="YE")
        ),
        "pos_line": pd.Series(np.linspace(0, 1, num=1000), index=d1000),
        "neg_line": pd.Series(np.linspace(0, -1, num=1000), index=d1000),
        "sparse_noise": sparse_noise,
        "df_simple": frame(pd.date_range("2000-1-30", periods=8, freq="D"), one, two),
        "df_week": frame(pd.date_range("2000-1-30", periods=8, freq="W"), one, two),
        "df_month": frame(pd.date_range("2000-1-30", periods=8, freq="ME"), one, two),
        "df_empty": pd.DataFrame(),
        "df_input": frame(pd.date_range("2000-1-30", periods=8, freq="D"), input_one, input_two),
    }
    # the expressions empyrical's fixture evaluates
    data["2 * noise"] = 2 * noise
    data["-mixed_returns"] = -mixed_returns
    data["negative_returns[1:]"] = negative_returns[1:]
    data["mixed_returns[1:]"] = mixed_returns[1:]
    return data


DATA = _input_data()
_idx8 = pd.date_range("2000-1-30", periods=8, freq="D")
EXPECTED_DF = {
    "df_0_expected": pd.DataFrame(
        {
            "one": [0.000000, 0.013221, 0.044264, 0.029414, 0.024372, 0.037371, 0.002539, 0.020555],
            "two": [0.018462, 0.026548, 0.011680, 0.015955, 0.012504, 0.050542, 0.066461, 0.066461],
        },
        index=_idx8,
    ),
    "df_100_expected": pd.DataFrame(
        {
            "one": [100.000000, 101.322056, 104.426424, 102.941421, 102.437235, 103.737087, 100.253895, 102.055494],
            "two": [101.846232, 102.654841, 101.167994, 101.595466, 101.250436, 105.054226, 106.646123, 106.646123],
        },
        index=_idx8,
    ),
    "df_empty": pd.DataFrame(),
}


def val(name: str | float) -> Any:
    """A fixture value by name; numbers (empyrical writes "0.0") pass through as floats."""
    if isinstance(name, str) and name in DATA:
        return DATA[name].copy()
    return float(name)


class Proxy:
    """Calls a metrics module with inputs converted to one kind, checking types and mutation.

    kind: "series" (as given), "intindex" (pandas with a 0..n-1 index), "array" (ndarray).
    """

    def __init__(self, module: Any, kind: str) -> None:
        self.module, self.kind = module, kind

    def convert(self, x: Any) -> Any:
        if not isinstance(x, (pd.Series, pd.DataFrame)):
            return x
        if self.kind == "array":
            return x.values
        if self.kind == "intindex":
            return type(x)(x.values, index=np.arange(len(x)))
        return x

    def __getattr__(self, name: str) -> Any:
        if self.module is empyrical and self.kind == "array" and name in ("alpha", "beta", "alpha_beta"):
            name += "_aligned"  # empyrical's own array suite calls these
        func = getattr(self.module, name)

        @wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            args = tuple(self.convert(a) for a in args)
            kwargs = {k: self.convert(v) for k, v in kwargs.items()}
            before = [
                (a, a.copy()) for a in (*args, *kwargs.values()) if isinstance(a, (pd.Series, pd.DataFrame, np.ndarray))
            ]
            result = func(*args, **kwargs)
            for arg, copy in before:
                np.testing.assert_allclose(np.asarray(arg), np.asarray(copy), err_msg="input mutated")
            if self.module is metrics:
                allowed = (np.ndarray, float) if self.kind == "array" else (pd.Series, pd.DataFrame, float)
                for r in result if isinstance(result, tuple) else (result,):
                    assert isinstance(r, allowed), f"{name} returned {type(r)}"
            return result

        return call


def close(a: Any, b: Any, decimal: int = DECIMAL_PLACES) -> None:
    np.testing.assert_almost_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), decimal)


@pytest.mark.parametrize(
    "returns, starting_value, expected",
    [
        ("empty_returns", 0, []),
        ("mixed_returns", 0, [0.0, 0.01, 0.111, 0.066559, 0.08789, 0.12052, 0.14293, 0.15436, 0.03893]),
        ("mixed_returns", 100, [100.0, 101.0, 111.1, 106.65599, 108.78912, 112.05279, 114.29384, 115.43678, 103.89310]),
        ("negative_returns", 0, [0.0, -0.06, -0.1258, -0.13454, -0.21243, -0.22818, -0.27449, -0.33253, -0.36590]),
    ],
)
def test_cum_returns(em: Proxy, returns: str, starting_value: float, expected: list[float]) -> None:
    r = val(returns)
    out = em.cum_returns(r, starting_value=starting_value)
    close(out, expected, 4)
    assert len(out) == len(r)
    if isinstance(out, pd.Series) and em.kind == "series":
        pd.testing.assert_index_equal(out.index, r.index)


@pytest.mark.parametrize(
    "returns, starting_value, expected",
    [
        ("empty_returns", 0, np.nan),
        ("one_return", 0, 0.01),
        ("mixed_returns", 0, 0.03893),
        ("mixed_returns", 100, 103.89310),
        ("negative_returns", 0, -0.36590),
    ],
)
def test_cum_returns_final(em: Proxy, returns: str, starting_value: float, expected: float) -> None:
    close(em.cum_returns_final(val(returns), starting_value=starting_value), expected, 4)


@pytest.mark.parametrize(
    "returns, expected",
    [
        ("empty_returns", np.nan),
        ("one_return", 0.0),
        ("simple_benchmark", 0.0),
        ("mixed_returns", -0.1),
        ("positive_returns", -0.0),
        ("negative_returns", -0.36590730),
        ("all_negative_returns", -0.378589157),
        ("udu_returns", -0.10),
    ],
)
def test_max_drawdown(em: Proxy, returns: str, expected: float) -> None:
    close(em.max_drawdown(val(returns)), expected)


@pytest.mark.parametrize(
    "returns, constant", [("noise", 0.0001), ("noise", 0.001), ("noise_uniform", 0.01), ("noise_uniform", 0.1)]
)
def test_max_drawdown_translation(em: Proxy, returns: str, constant: float) -> None:
    r = val(returns)
    max_dd = em.max_drawdown(r)
    assert max_dd <= em.max_drawdown(r + constant)
    assert em.max_drawdown(r - constant) <= max_dd


@pytest.mark.parametrize(
    "returns, period, expected",
    [
        ("mixed_returns", DAILY, 1.9135925373194231),
        ("weekly_returns", WEEKLY, 0.24690830513998208),
        ("monthly_returns", MONTHLY, 0.052242061386048144),
    ],
)
def test_annual_ret(em: Proxy, returns: str, period: str, expected: float) -> None:
    close(em.annual_return(val(returns), period=period), expected)


@pytest.mark.parametrize(
    "returns, period, expected",
    [
        ("flat_line_1_tz", DAILY, 0.0),
        ("mixed_returns", DAILY, 0.9136465399704637),
        ("weekly_returns", WEEKLY, 0.38851569394870583),
        ("monthly_returns", MONTHLY, 0.18663690238892558),
    ],
)
def test_annual_volatility(em: Proxy, returns: str, period: str, expected: float) -> None:
    close(em.annual_volatility(val(returns), period=period), expected)


@pytest.mark.parametrize(
    "returns, period, expected",
    [
        ("empty_returns", DAILY, np.nan),
        ("one_return", DAILY, np.nan),
        ("mixed_returns", DAILY, 19.135925373194233),
        ("weekly_returns", WEEKLY, 2.4690830513998208),
        ("monthly_returns", MONTHLY, 0.52242061386048144),
    ],
)
def test_calmar(em: Proxy, returns: str, period: str, expected: float) -> None:
    close(em.calmar_ratio(val(returns), period=period), expected)


@pytest.mark.parametrize(
    "returns, risk_free, required_return, expected",
    [
        ("empty_returns", "0.0", 0.0, np.nan),
        ("one_return", "0.0", 0.0, np.nan),
        ("mixed_returns", "0.0", 10.0, 0.83354263497557934),
        ("mixed_returns", "0.0", -10.0, np.nan),
        ("mixed_returns", "flat_line_1", 0.0, 0.8125),
        ("positive_returns", "0.01", 0.0, np.nan),
        ("positive_returns", "0.011", 0.0, 1.125),
        ("positive_returns", "0.02", 0.0, 0.0),
        ("negative_returns", "0.01", 0.0, 0.0),
    ],
)
def test_omega(em: Proxy, returns: str, risk_free: str, required_return: float, expected: float) -> None:
    out = em.omega_ratio(val(returns), risk_free=val(risk_free), required_return=required_return)
    close(out, expected)


@pytest.mark.parametrize("returns, less, more", [("noise_uniform", 0.0, 0.001), ("noise", 0.001, 0.002)])
def test_omega_returns(em: Proxy, returns: str, less: float, more: float) -> None:
    assert em.omega_ratio(val(returns), less) > em.omega_ratio(val(returns), more)


@pytest.mark.parametrize(
    "returns, risk_free, expected",
    [
        ("empty_returns", "0.0", np.nan),
        ("one_return", "0.0", np.nan),
        ("mixed_returns", "mixed_returns", np.nan),
        ("mixed_returns", "0.0", 1.7238613961706866),
        ("mixed_returns", "simple_benchmark", 0.34111411441060574),
        ("positive_returns", "0.0", 52.915026221291804),
        ("negative_returns", "0.0", -24.406808633910085),
        ("flat_line_1", "0.0", np.inf),
    ],
)
def test_sharpe_ratio(em: Proxy, returns: str, risk_free: str, expected: float) -> None:
    close(em.sharpe_ratio(val(returns), risk_free=val(risk_free)), expected)


@pytest.mark.parametrize(
    "returns, required_return, translation", [("noise_uniform", 0, 0.005), ("noise_uniform", 0.005, 0.005)]
)
def test_sharpe_translation_same(em: Proxy, returns: str, required_return: float, translation: float) -> None:
    r = val(returns)
    sr = em.sharpe_ratio(r, required_return)
    close(sr, em.sharpe_ratio(r - translation, required_return - translation))
    close(sr, em.sharpe_ratio(r + translation, required_return + translation))


@pytest.mark.parametrize(
    "returns, required_return, t_returns, t_required",
    [("noise_uniform", 0, 0.0002, 0.0001), ("noise_uniform", 0.005, 0.0001, 0.0002)],
)
def test_sharpe_translation_diff(
    em: Proxy, returns: str, required_return: float, t_returns: float, t_required: float
) -> None:
    r = val(returns)
    sr = em.sharpe_ratio(r, required_return)
    assert sr != em.sharpe_ratio(r - t_returns, required_return - t_required)
    assert sr != em.sharpe_ratio(r + t_returns, required_return + t_required)


@pytest.mark.parametrize("returns, required_return, translation", [("noise_uniform", 0, 0.005), ("noise", 0, 0.005)])
def test_sharpe_translation_1(em: Proxy, returns: str, required_return: float, translation: float) -> None:
    r = val(returns)
    sr = em.sharpe_ratio(r, required_return)
    assert em.sharpe_ratio(r, required_return - translation) > sr
    assert sr > em.sharpe_ratio(r, required_return + translation)


@pytest.mark.parametrize("small, large", [(0.001, 0.002), (0.01, 0.02)])
def test_sharpe_noise(em: Proxy, small: float, large: float) -> None:
    rand = np.random.RandomState(1337)
    index = pd.date_range("2000-1-30", periods=1000, freq="D")
    smaller = pd.Series(rand.normal(0.01, small, 1000), index=index)
    larger = pd.Series(rand.normal(0.01, large, 1000), index=index)
    assert em.sharpe_ratio(smaller, 0.001) > em.sharpe_ratio(larger, 0.001)
