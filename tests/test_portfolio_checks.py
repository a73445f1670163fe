"""Pre-trade checks: each rule as a row of a table -> accepted qty or rejection reason."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.portfolio.broker import Order, order_id
from engine.portfolio.checks import CheckContext, CheckLimits, run_checks

D0 = dt.date(2016, 1, 4)
LIM = CheckLimits(
    max_position=0.15,
    max_gross=1.0,
    max_trades_per_session=3,
    fat_finger_price_pct=0.10,
    fat_finger_notional_pct=0.25,
    max_participation=0.05,
    cost_bps=20.0,
    tolerance=0.0,
    cash_cushion_bps=0.0,
)


def _o(
    ticker: str, side: str, qty: int, typ: str = "market", limit: float | None = None, intent: str = "rebalance"
) -> Order:
    return Order(order_id("paper", D0, ticker, intent), "paper", D0, ticker, side, qty, typ, limit, intent=intent)


def _ctx(**kw: object) -> CheckContext:
    base = dict(
        equity=100_000.0,
        cash=100_000.0,
        positions={},
        closes={"AAA": 100.0, "BBB": 50.0, "CCC": 10.0, "DDD": 20.0, "EEE": 30.0},
        adv20=dict.fromkeys(("AAA", "BBB", "CCC", "DDD", "EEE"), 1000000.0),
    )
    base.update(kw)
    return CheckContext(**base)  # type: ignore[arg-type]


# (name, orders, context overrides, expected [(ticker, status, qty, reason fragment)])
TABLE = [
    ("plain buy accepted", [_o("AAA", "BUY", 100)], {}, [("AAA", "new", 100, "")]),
    (
        "buys halted by a kill switch",
        [_o("AAA", "BUY", 10), _o("BBB", "SELL", 10)],
        {"halt_buys": "daily loss -2.5%", "positions": {"BBB": 10}},
        [("BBB", "new", 10, ""), ("AAA", "rejected", 10, "kill switch: daily loss")],
    ),
    (
        "ticker halted for stale data",
        [_o("AAA", "SELL", 10)],
        {"ticker_halts": {"AAA": "stale data"}, "positions": {"AAA": 10}},
        [("AAA", "rejected", 10, "kill switch: stale data")],
    ),
    (
        "duplicate order for the same ticker",
        [_o("AAA", "BUY", 10), _o("AAA", "BUY", 5, intent="signal")],
        {},
        [("AAA", "new", 10, ""), ("AAA", "rejected", 5, "duplicate")],
    ),
    (
        "order id already stored",
        [_o("AAA", "BUY", 10)],
        {"existing_ids": {order_id("paper", D0, "AAA", "rebalance")}},
        [("AAA", "rejected", 10, "duplicate")],
    ),
    (
        "daily trade count",
        [_o(t, "BUY", 1) for t in ("AAA", "BBB", "CCC", "DDD")],
        {},
        [("AAA", "new", 1, ""), ("BBB", "new", 1, ""), ("CCC", "new", 1, ""), ("DDD", "rejected", 1, "trade count")],
    ),
    (
        "fat finger price on a limit",
        [_o("AAA", "BUY", 10, "limit", 120.0)],
        {},
        [("AAA", "rejected", 10, "fat finger: price")],
    ),
    ("fat finger notional", [_o("CCC", "BUY", 3000)], {}, [("CCC", "rejected", 3000, "fat finger: notional")]),
    (
        "participation cut to 5% of ADV",
        [_o("AAA", "BUY", 100)],
        {"adv20": {"AAA": 1000.0}},
        [("AAA", "new", 50, "5% of 20-session ADV")],
    ),
    (
        "max position",
        [_o("AAA", "BUY", 100)],
        {"positions": {"AAA": 100}, "cash": 90_000.0},
        [("AAA", "rejected", 100, "max position")],
    ),
    (
        "max gross",
        [_o("BBB", "BUY", 100)],
        {"positions": {"AAA": 150, "CCC": 1000, "DDD": 3000, "EEE": 1500}, "cash": 0.0},
        [("BBB", "rejected", 100, "max gross")],
    ),
    ("cash cuts the quantity", [_o("AAA", "BUY", 100)], {"cash": 5_000.0}, [("AAA", "new", 49, "estimated cash")]),
    ("no cash for one share", [_o("AAA", "BUY", 100)], {"cash": 50.0}, [("AAA", "rejected", 100, "cash")]),
    (
        "sell proceeds fund a buy in the same session",
        [_o("AAA", "BUY", 100), _o("BBB", "SELL", 200)],
        {"cash": 0.0, "positions": {"BBB": 200}},
        [("BBB", "new", 200, ""), ("AAA", "new", 99, "estimated cash")],
    ),
]


@pytest.mark.parametrize("case", TABLE, ids=[c[0] for c in TABLE])
def test_pretrade_checks(case: tuple) -> None:
    _name, orders, over, expected = case
    out = run_checks(orders, _ctx(**over), LIM)
    got = [(o.ticker, o.status, o.qty, o.reason) for o in out]
    assert len(got) == len(expected)
    for (t, st, q, why), (et, est, eq, efrag) in zip(got, expected):
        assert (t, st, q) == (et, est, eq), got
        if efrag:
            assert efrag in why, why
        if st == "rejected":
            assert why  # every rejection carries its reason


def test_bad_trading_settings_are_config_errors() -> None:
    from engine.config import load_config
    from engine.errors import ConfigError
    from engine.portfolio.settings import check_portfolio_config

    with pytest.raises(ConfigError, match=r"portfolio\.order_type"):
        load_config(env={}, overrides={"portfolio.order_type": "stop"})
    with pytest.raises(ConfigError, match=r"risk\.drawdown_flatten"):
        load_config(env={"PMAX_RISK__DRAWDOWN_FLATTEN": "1.5"})
    # Cross-field rules now stop load_config itself (issue 15), before any cycle runs.
    with pytest.raises(ConfigError, match=r"drawdown_halve .* must be below risk\.drawdown_flatten"):
        load_config(env={}, overrides={"risk.drawdown_halve": 0.2, "risk.drawdown_flatten": 0.15})
    check_portfolio_config(load_config(env={}))  # the defaults are valid


def test_buys_are_scaled_to_the_gross_budget() -> None:
    import numpy as np

    from engine.portfolio.sizing import RebalanceLeg
    from engine.stages.portfolio import fit_gross_budget

    cur = np.array([600, 0, 0])  # 60% held and left alone (small drift)
    px = np.array([100.0, 100.0, 100.0])
    legs = [RebalanceLeg(1, 300, 0.3, 0, 0, "r"), RebalanceLeg(2, 300, 0.3, 0, 0, "r")]
    out = fit_gross_budget(legs, cur, px, 100_000.0, max_gross=1.0)
    assert [leg.qty for leg in out] == [200, 200]  # 600 + 400 shares = 100% gross
    assert all("gross cap" in leg.reason for leg in out)
    assert fit_gross_budget(legs, np.zeros(3, dtype=int), px, 100_000.0, 1.0) == legs


def test_cash_cushion_leaves_room_for_a_gap_at_the_open() -> None:
    from dataclasses import replace

    lim = replace(LIM, cash_cushion_bps=50.0)
    out = run_checks([_o("AAA", "BUY", 100)], _ctx(cash=5_000.0), lim)
    assert out[0].qty == 49 and out[0].status == "new"  # 5000 / (100 x 1.007) = 49.65
    out = run_checks([_o("AAA", "BUY", 100)], _ctx(cash=4_980.0), lim)
    assert out[0].qty == 49 and "4,980.00" in out[0].reason  # 4980/100.7=49.45
    out = run_checks([_o("AAA", "BUY", 100)], _ctx(cash=4_930.0), lim)
    assert out[0].qty == 48  # without the cushion it would be 49 (4930/100.2 = 49.2)
