"""PaperBroker scenario tables: an order and the next session's bar -> fill, status, cash.

Costs are 10 bps slippage and 10 bps commission; cash amounts are rounded to the cent.
"""

from __future__ import annotations

import datetime as dt

import pytest

from engine.portfolio.broker import Bar, Book, BrokerCosts, Order, PaperBroker, cents, fill_id, order_id

D0, D1 = dt.date(2016, 1, 4), dt.date(2016, 1, 5)
COSTS = BrokerCosts(slippage_bps=10.0, commission_bps=10.0, max_bar_participation=0.1, allow_short=False)


def _order(side: str, qty: int, typ: str = "market", limit: float | None = None, ticker: str = "AAA") -> Order:
    return Order(order_id("paper", D0, ticker, "rebalance"), "paper", D0, ticker, side, qty, typ, limit)


# (name, order, bar at t+1, starting cash, starting qty,
#  expected status, filled qty, fill price, cash after, qty after)
SCENARIOS = [
    (
        "market buy fills at open + slippage",
        _order("BUY", 100),
        Bar(50.0, 51.0, 49.0, 50.5, 1e6),
        10_000.0,
        0,
        "filled",
        100,
        50.05,
        10_000.0 - 5005.0 - 5.01,
        100,
    ),
    (
        "market sell fills at open - slippage",
        _order("SELL", 40),
        Bar(50.0, 51.0, 49.0, 50.5, 1e6),
        0.0,
        100,
        "filled",
        40,
        49.95,
        1998.0 - 2.0,
        60,
    ),
    (
        "buy limit below the range is not reached: cancelled",
        _order("BUY", 10, "limit", 48.0),
        Bar(50.0, 51.0, 49.0, 50.5, 1e6),
        10_000.0,
        0,
        "cancelled",
        0,
        None,
        10_000.0,
        0,
    ),
    (
        "buy limit inside the range fills at the limit at most",
        _order("BUY", 10, "limit", 49.5),
        Bar(50.0, 51.0, 49.0, 50.5, 1e6),
        10_000.0,
        0,
        "filled",
        10,
        49.5,
        10_000.0 - 495.0 - 0.50,
        10,
    ),
    (
        "buy limit above the open fills at open + slippage",
        _order("BUY", 10, "limit", 52.0),
        Bar(50.0, 51.0, 49.0, 50.5, 1e6),
        10_000.0,
        0,
        "filled",
        10,
        50.05,
        10_000.0 - 500.5 - 0.50,
        10,
    ),
    (
        "sell limit reached intraday fills at the limit",
        _order("SELL", 10, "limit", 50.8),
        Bar(50.0, 51.0, 49.0, 50.5, 1e6),
        0.0,
        10,
        "filled",
        10,
        50.8,
        508.0 - 0.51,
        0,
    ),
    (
        "volume cap: partial fill at 10% of the bar's volume",
        _order("BUY", 500),
        Bar(10.0, 10.5, 9.5, 10.2, 2_000),
        100_000.0,
        0,
        "partially_filled",
        200,
        10.01,
        100_000.0 - 2002.0 - 2.0,
        200,
    ),
    (
        "not enough cash: partial fill of what cash buys",
        _order("BUY", 100),
        Bar(100.0, 101.0, 99.0, 100.0, 1e6),
        5_000.0,
        0,
        "partially_filled",
        49,
        100.1,
        5_000.0 - 4904.9 - 4.90,
        49,
    ),
    (
        "no cash at all: rejected",
        _order("BUY", 10),
        Bar(100.0, 101.0, 99.0, 100.0, 1e6),
        50.0,
        0,
        "rejected",
        0,
        None,
        50.0,
        0,
    ),
    ("no bar at the fill session: cancelled", _order("BUY", 10), None, 10_000.0, 0, "cancelled", 0, None, 10_000.0, 0),
    (
        "long-only: cannot sell more than held",
        _order("SELL", 50),
        Bar(20.0, 21.0, 19.0, 20.0, 1e6),
        0.0,
        30,
        "partially_filled",
        30,
        19.98,
        599.4 - 0.60,
        0,
    ),
]


@pytest.mark.parametrize("case", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_fill_scenarios(case: tuple) -> None:
    _name, order, bar, cash0, qty0, status, fq, price, cash1, qty1 = case
    book = Book(cash=cash0, positions={"AAA": (qty0, 20.0)} if qty0 else {})
    updated, fill = PaperBroker(COSTS).fill_one(order, bar, book, D1)
    assert updated.status == status, updated.reason
    assert updated.filled_qty == fq
    assert updated.updated_session == D1 and updated.reason
    if price is None:
        assert fill is None
    else:
        assert fill is not None and fill.price == pytest.approx(price) and fill.qty == fq
        assert fill.date == D1 and fill.fill_id == fill_id(order.order_id, D1)
        assert fill.commission == cents(cents(fq * price) * 0.001)
    assert book.cash == pytest.approx(cash1, abs=0.005)
    assert book.qty("AAA") == qty1


def test_sells_fill_before_buys_so_their_proceeds_fund_the_buys() -> None:
    book = Book(cash=0.0, positions={"AAA": (100, 10.0)})
    buy = Order(order_id("paper", D0, "BBB", "rebalance"), "paper", D0, "BBB", "BUY", 9, "market")
    sell = _order("SELL", 100)
    bars = {"AAA": Bar(10.0, 10.0, 10.0, 10.0, 1e6), "BBB": Bar(100.0, 100.0, 100.0, 100.0, 1e6)}
    updated, fills = PaperBroker(COSTS).fill_session([buy, sell], bars, book, D1)
    assert [f.side for f in fills] == ["SELL", "BUY"]
    assert [u.status for u in updated] == ["filled", "filled"]
    assert book.positions["BBB"][0] == 9 and "AAA" not in book.positions
    assert book.cash == pytest.approx(999.0 - 1.0 - 900.9 - 0.90, abs=0.005)


def test_order_ids_are_deterministic_and_distinct_per_intent() -> None:
    a = order_id("paper", D0, "AAPL", "rebalance")
    assert a == order_id("paper", D0, "AAPL", "rebalance")
    assert a != order_id("paper", D0, "AAPL", "flatten")
    assert a != order_id("paper", D1, "AAPL", "rebalance")
    assert a != order_id("other", D0, "AAPL", "rebalance")


def test_book_average_cost() -> None:
    book = Book(cash=10_000.0)
    o = _order("BUY", 10)
    broker = PaperBroker(BrokerCosts(0.0, 0.0, 1.0, allow_short=False))
    broker.fill_one(o, Bar(10.0, 10.0, 10.0, 10.0, 1e6), book, D1)
    broker.fill_one(o, Bar(20.0, 20.0, 20.0, 20.0, 1e6), book, D1)
    assert book.positions["AAA"][0] == 20 and book.positions["AAA"][1] == pytest.approx(15.0)
    broker.fill_one(_order("SELL", 5), Bar(30.0, 30.0, 30.0, 30.0, 1e6), book, D1)
    assert book.positions["AAA"][0] == 15 and book.positions["AAA"][1] == pytest.approx(15.0)  # keeps the avg cost
    assert book.cash == pytest.approx(10_000 - 100 - 200 + 150)
