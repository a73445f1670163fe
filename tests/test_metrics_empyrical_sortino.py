"""empyrical's test cases, continued: downside risk and the Sortino ratio.

Same inputs, expected values and proxies as `test_metrics_empyrical.py` (copied
from empyrical-reloaded's tests/test_stats.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_metrics_empyrical import Proxy, close, val

from engine import metrics

DAILY, WEEKLY, MONTHLY = "daily", "weekly", "monthly"


@pytest.mark.parametrize(
    "returns, required_return, period, expected",
    [
        ("empty_returns", "0.0", DAILY, np.nan),
        ("one_return", "0.0", DAILY, np.nan),
        ("mixed_returns", "mixed_returns", DAILY, np.nan),
        ("mixed_returns", "0.0", DAILY, 2.605531251673693),
        ("mixed_returns", "flat_line_1", DAILY, -1.3934779588919977),
        ("positive_returns", "0.0", DAILY, np.inf),
        ("negative_returns", "0.0", DAILY, -13.532743075043401),
        ("simple_benchmark", "0.0", DAILY, np.inf),
        ("weekly_returns", "0.0", WEEKLY, 1.1158901056866439),
        ("monthly_returns", "0.0", MONTHLY, 0.53605626741889756),
        ("df_simple", "0.0", DAILY, [3.0639640966566306, 38.090963117002495]),
        ("df_week", "0.0", WEEKLY, [1.3918264112070571, 17.303077589064618]),
        ("df_month", "0.0", MONTHLY, [0.6686117809312383, 8.3121296084492844]),
    ],
)
def test_sortino(em: Proxy, returns: str, required_return: str, period: str, expected: Any) -> None:
    close(em.sortino_ratio(val(returns), required_return=val(required_return), period=period), expected)


@pytest.mark.parametrize("returns", ["noise_uniform", "noise"])
def test_sortino_add_noise(em: Proxy, returns: str) -> None:
    r = val(returns)
    rand = np.random.RandomState(1337)
    sr_1 = em.sortino_ratio(r, 0.0)
    loss_loc = rand.choice(r[r > 0].index.tolist(), 2)
    r[loss_loc[0]] = -0.01
    sr_2 = em.sortino_ratio(r, 0.0)
    r[loss_loc[1]] = -0.01
    sr_3 = em.sortino_ratio(r, 0.0)
    assert sr_1 > sr_2 > sr_3


@pytest.mark.parametrize("returns", ["noise_uniform", "noise"])
def test_sortino_sub_noise(em: Proxy, returns: str) -> None:
    r = val(returns)
    rand = np.random.RandomState(1337)
    sr_1 = em.sortino_ratio(r, 0.0)
    loc = rand.choice(r[r < 0].index.tolist(), 2)
    r[loc[0]] = 0.0
    sr_2 = em.sortino_ratio(r, 0.0)
    r[loc[1]] = 0.0
    sr_3 = em.sortino_ratio(r, 0.0)
    assert sr_1 <= sr_2 <= sr_3


@pytest.mark.parametrize("required_return, translation", [(0, 0.005), (0.005, 0.005)])
def test_sortino_translation_same(em: Proxy, required_return: float, translation: float) -> None:
    r = val("noise_uniform")
    sr = em.sortino_ratio(r, required_return)
    close(sr, em.sortino_ratio(r - translation, required_return - translation))
    close(sr, em.sortino_ratio(r + translation, required_return + translation))


@pytest.mark.parametrize("required_return, t_returns, t_required", [(0, 0, 0.001), (0.005, 0.001, 0)])
def test_sortino_translation_diff(em: Proxy, required_return: float, t_returns: float, t_required: float) -> None:
    r = val("noise_uniform")
    sr = em.sortino_ratio(r, required_return)
    assert sr != em.sortino_ratio(r - t_returns, required_return - t_required)
    assert sr != em.sortino_ratio(r + t_returns, required_return + t_required)


_DF_DR = {
    "df_simple": [0.20671788246185202, 0.083495680595704475],
    "df_week": [0.093902996054410062, 0.037928477556776516],
    "df_month": [0.045109540184877193, 0.018220251263412916],
}


@pytest.mark.parametrize(
    "returns, required_return, period, expected",
    [
        ("empty_returns", "0.0", DAILY, np.nan),
        ("one_return", "0.0", DAILY, 0.0),
        ("mixed_returns", "mixed_returns", DAILY, 0.0),
        ("mixed_returns", "0.0", DAILY, 0.60448325038829653),
        ("mixed_returns", "0.1", DAILY, 1.7161730681956295),
        ("weekly_returns", "0.0", WEEKLY, 0.25888650451930134),
        ("weekly_returns", "0.1", WEEKLY, 0.7733045971672482),
        ("monthly_returns", "0.0", MONTHLY, 0.1243650540411842),
        ("monthly_returns", "0.1", MONTHLY, 0.37148351242013422),
        ("df_simple", "0.0", DAILY, _DF_DR["df_simple"]),
        ("df_week", "0.0", WEEKLY, _DF_DR["df_week"]),
        ("df_month", "0.0", MONTHLY, _DF_DR["df_month"]),
    ],
)
def test_downside_risk(em: Proxy, returns: str, required_return: str, period: str, expected: Any) -> None:
    out = em.downside_risk(val(returns), required_return=val(required_return), period=period)
    close(out, expected)
    if em.module is metrics and em.kind == "series" and isinstance(expected, list):
        assert list(out.index) == ["one", "two"]


@pytest.mark.parametrize("noise", ["noise", "noise_uniform"])
def test_downside_risk_noisy(em: Proxy, noise: str) -> None:
    add, flat = val(noise), val("flat_line_0")
    dr = [em.downside_risk(add[0:k].add(flat[k:], fill_value=0), flat) for k in (250, 500, 750)]
    assert dr[0] <= dr[1] <= dr[2]


@pytest.mark.parametrize("returns, required_return", [("noise", 0.005), ("noise_uniform", 0.005)])
def test_downside_risk_trans(em: Proxy, returns: str, required_return: float) -> None:
    r = val(returns)
    assert em.downside_risk(r, -required_return) <= em.downside_risk(r, 0) <= em.downside_risk(r, required_return)


@pytest.mark.parametrize("smaller_std, larger_std", [(0.001, 0.002), (0.001, 0.01), (0, 0.001)])
def test_downside_risk_std(em: Proxy, smaller_std: float, larger_std: float) -> None:
    rand = np.random.RandomState(1337)
    index = pd.date_range("2000-1-30", periods=1000, freq="D")

    def draw(std: float) -> pd.Series:
        return pd.Series(rand.normal(0, std, 1000) if std != 0 else np.full(1000, 0.0), index=index)

    less, more = draw(smaller_std), draw(larger_std)
    assert em.downside_risk(less) < em.downside_risk(more)
