"""Property-style comparison of every engine.metrics function with empyrical itself.

Random and edge-case return streams (empty, one value, constant, zeros, NaN
sprinkled or everywhere, ±inf, losses of 100% and more, heavy tails, long and
short) are fed, as ndarray, Series and — where empyrical takes one — DataFrame,
with a spread of periods, risk-free rates and thresholds, to both
implementations; the results must agree to 1e-9 relative, NaN and inf included.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import empyrical
import numpy as np
import pandas as pd
import pytest

from engine import metrics, sharpe_stats

LENGTHS = (0, 1, 2, 3, 21, 300)


def _streams() -> Iterator[tuple[str, np.ndarray]]:
    """Named 1-D return streams: random ones from fixed seeds plus edge cases."""
    rng = np.random.default_rng(20261120)
    for n in LENGTHS:
        yield f"normal{n}", rng.normal(0.0005, 0.012, n)
        yield f"student{n}", 0.01 * rng.standard_t(3, n)
        sparse = rng.normal(0.0, 0.01, n)
        sparse[rng.random(n) < 0.15] = np.nan
        yield f"sparse{n}", sparse
        yield f"allnan{n}", np.full(n, np.nan)
        yield f"const{n}", np.full(n, 0.01)
        yield f"zeros{n}", np.zeros(n)
        yield f"negative{n}", -np.abs(rng.normal(0.01, 0.01, n))
        yield f"positive{n}", np.abs(rng.normal(0.01, 0.01, n))
    base = rng.normal(0.0, 0.02, 40)
    for label, value in (("posinf", np.inf), ("neginf", -np.inf), ("wipeout", -1.0), ("beyond", -1.5), ("huge", 50.0)):
        x = base.copy()
        x[17] = value
        yield label, x
    yield "nan_first_last", np.r_[np.nan, base[1:-1], np.nan]


STREAMS = list(_streams())
INDEX_START = "2015-01-02"


def _kinds(x: np.ndarray, frame: bool) -> Iterator[tuple[str, Any]]:
    """The same data as ndarray, Series and (two-column) DataFrame / 2-D array."""
    idx = pd.bdate_range(INDEX_START, periods=len(x))
    yield "array", x.copy()
    yield "series", pd.Series(x.copy(), index=idx)
    if frame:
        other = np.roll(x, 3) * 0.5
        yield "frame", pd.DataFrame({"a": x.copy(), "b": other}, index=idx)
        yield "array2d", np.column_stack([x, other])


def same(mine: Any, theirs: Any, what: str) -> None:
    a = np.asarray(mine, dtype=float)
    b = np.asarray(theirs, dtype=float)
    assert a.shape == b.shape or a.size == b.size, f"{what}: shape {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a.reshape(b.shape), b, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=what)


def compare(
    name: str,
    kwargs_list: list[dict[str, Any]],
    frame: bool = False,
    prep: Callable[[str, Any], dict[str, Any]] | None = None,
) -> int:
    """Call `name` in both libraries on every stream/kind/kwargs; return the count compared."""
    count = 0
    for label, x in STREAMS:
        for kind, data in _kinds(x, frame):
            for kwargs in kwargs_list:
                extra = prep(kind, data) if prep else {}
                what = f"{name}({label}, {kind}, {kwargs})"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    theirs = getattr(empyrical, name)(data.copy(), **kwargs, **extra)
                    mine = getattr(metrics, name)(data.copy(), **kwargs, **extra)
                same(mine, theirs, what)
                count += 1
    return count


PERIODS: list[dict[str, Any]] = [
    {"period": "daily"},
    {"period": "weekly"},
    {"period": "monthly"},
    {"annualization": 100},
]


@pytest.mark.parametrize("starting_value", [0, 100])
def test_cum_returns(starting_value: float) -> None:
    assert compare("cum_returns", [{"starting_value": starting_value}], frame=True) > 100


@pytest.mark.parametrize("starting_value", [0, 1, 100])
def test_cum_returns_final(starting_value: float) -> None:
    assert compare("cum_returns_final", [{"starting_value": starting_value}], frame=True) > 100


def test_max_drawdown() -> None:
    assert compare("max_drawdown", [{}], frame=True) > 100


def test_annual_return() -> None:
    assert compare("annual_return", PERIODS, frame=True) > 100


def test_annual_volatility() -> None:
    assert compare("annual_volatility", PERIODS + [{"alpha": 3.0}], frame=True) > 100


def test_sharpe_ratio() -> None:
    kw: list[dict[str, Any]] = [
        {},
        {"risk_free": 0.0001},
        {"risk_free": -0.0003, "period": "weekly"},
        {"annualization": 365},
    ]
    assert compare("sharpe_ratio", kw, frame=True) > 100


def test_sharpe_ratio_series_risk_free() -> None:
    def rf(kind: str, data: Any) -> dict[str, Any]:
        values = np.linspace(0.0, 0.0002, len(data))
        if kind == "series":
            return {"risk_free": pd.Series(values, index=data.index)}
        return {"risk_free": values if np.ndim(data) == 1 else values[:, None]}

    assert compare("sharpe_ratio", [{}], frame=True, prep=rf) > 100


@pytest.mark.parametrize("name", ["sharpe_ratio", "sortino_ratio", "downside_risk"])
def test_frame_with_series_rate_is_per_column(name: str) -> None:
    """A DataFrame less a dated Series subtracts by date (empyrical would align on columns)."""
    rng = np.random.default_rng(3)
    idx = pd.bdate_range(INDEX_START, periods=60)
    frame = pd.DataFrame(rng.normal(0.001, 0.01, (60, 3)), index=idx, columns=list("xyz"))
    rate = pd.Series(np.linspace(0, 0.001, 60), index=idx)
    out = getattr(metrics, name)(frame, rate)
    assert list(out.index) == list("xyz")
    for col in frame:
        same(out[col], getattr(empyrical, name)(frame[col], rate), f"{name} {col}")


@pytest.mark.parametrize("name", ["downside_risk", "sortino_ratio"])
def test_downside_and_sortino(name: str) -> None:
    kw: list[dict[str, Any]] = [
        {},
        {"required_return": 0.001},
        {"required_return": -0.002, "period": "monthly"},
        {"annualization": 12},
    ]
    assert compare(name, kw, frame=True) > 100


def test_calmar_ratio() -> None:
    assert compare("calmar_ratio", PERIODS) > 100


def test_omega_ratio() -> None:
    kw = [
        {},
        {"risk_free": 0.0001},
        {"required_return": 0.1},
        {"required_return": -2.0},
        {"required_return": 0.001, "annualization": 1},
        {"required_return": 0.5, "annualization": 12},
    ]
    assert compare("omega_ratio", kw) > 100


@pytest.mark.parametrize("name", ["value_at_risk", "conditional_value_at_risk"])
def test_var_cvar(name: str) -> None:
    assert compare(name, [{}, {"cutoff": 0.01}, {"cutoff": 0.5}, {"cutoff": 0.0}, {"cutoff": 1.0}]) > 100


@pytest.mark.parametrize("name", ["tail_ratio", "stability_of_timeseries"])
def test_tail_and_stability(name: str) -> None:
    assert compare(name, [{}]) > 100


def _factor(kind: str, data: Any) -> dict[str, Any]:
    """A benchmark correlated with the stream, same kind; NaN in other places."""
    x = np.asarray(data, dtype=float)
    f = 0.6 * np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0) + 0.004 * np.cos(np.arange(len(x)))
    if len(f) > 4:
        f[len(f) // 3] = np.nan
    if kind == "series":
        return {"factor_returns": pd.Series(f, index=data.index)}
    return {"factor_returns": f}


@pytest.mark.parametrize("name", ["alpha", "beta", "alpha_beta"])
def test_alpha_beta_family(name: str) -> None:
    kw = [{}, {"risk_free": 0.0001}] + ([] if name == "beta" else [{"period": "monthly"}])
    assert compare(name, kw, prep=_factor) > 100


def test_alpha_beta_misaligned_series() -> None:
    """Series on different dates are aligned on their index before fitting."""
    rng = np.random.default_rng(7)
    r = pd.Series(rng.normal(0, 0.01, 300), index=pd.bdate_range("2016-01-04", periods=300))
    f = pd.Series(rng.normal(0, 0.01, 280), index=pd.bdate_range("2016-01-20", periods=280))
    same(metrics.alpha_beta(r, f), empyrical.alpha_beta(r, f), "alpha_beta misaligned")
    same(metrics.beta(r, f), empyrical.beta(r, f), "beta misaligned")


@pytest.mark.parametrize(
    "name",
    [
        "cum_returns",
        "cum_returns_final",
        "max_drawdown",
        "annual_return",
        "annual_volatility",
        "sharpe_ratio",
        "downside_risk",
        "sortino_ratio",
        "calmar_ratio",
        "omega_ratio",
        "value_at_risk",
        "conditional_value_at_risk",
        "tail_ratio",
        "stability_of_timeseries",
        "profit_factor",
        "hit_rate",
    ],
)
def test_no_warnings_on_edge_cases(name: str) -> None:
    """NaN, inf and empty inputs answer NaN/inf quietly (the engine logs warnings as problems)."""
    for _label, x in STREAMS:
        for _kind, data in _kinds(x, frame=name in ("cum_returns", "max_drawdown", "sharpe_ratio")):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                getattr(sharpe_stats if name in ("profit_factor", "hit_rate") else metrics, name)(data)
