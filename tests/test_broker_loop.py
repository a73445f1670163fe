"""The paper broker inside the real loop: a bar-by-bar scenario table through
ingest -> broker_fill -> (scripted orders) -> risk, on a temporary DuckDB file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from engine.config import load_config
from engine.cycle import CycleContext, Stage
from engine.errors import InvariantError
from engine.feeds import ReplayFeed
from engine.loop import Engine
from engine.portfolio.broker import ORDER_COLUMNS, Order, order_id
from engine.stages.broker_fill import BrokerFillStage
from engine.stages.ingest import IngestStage
from engine.stages.risk import RiskStage
from engine.store import Store, append

D = [dt.date(2016, 1, 4), dt.date(2016, 1, 5), dt.date(2016, 1, 6), dt.date(2016, 1, 7)]

# Bar-by-bar inputs: (session, ticker, open, high, low, close)
BARS = [
    (D[0], "AAA", 100.0, 101.0, 99.0, 100.0),
    (D[0], "BBB", 50.0, 51.0, 49.0, 50.0),
    (D[1], "AAA", 102.0, 103.0, 101.0, 102.0),
    (D[1], "BBB", 50.0, 50.5, 48.0, 49.0),
    (D[2], "AAA", 101.0, 104.0, 100.0, 103.0),
    (D[2], "BBB", 49.0, 49.5, 48.5, 49.0),
    (D[3], "AAA", 103.0, 103.0, 99.0, 100.0),
    (D[3], "BBB", 49.0, 50.0, 48.0, 50.0),
]
# Orders decided at a session's close: (session, ticker, side, qty, type, limit)
SCRIPT = [
    (D[0], "AAA", "BUY", 100, "market", None),
    (D[0], "BBB", "BUY", 200, "limit", 48.5),
    (D[1], "AAA", "SELL", 50, "limit", 105.0),
    (D[2], "BBB", "SELL", 200, "market", None),
]
# Expected: order -> (status, filled qty, fill date, fill price, commission)
EXPECTED_ORDERS = {
    (D[0], "AAA"): ("filled", 100, D[1], 102.102, 10.21),  # open 102 + 10 bps
    (D[0], "BBB"): ("filled", 200, D[1], 48.5, 9.70),  # limit inside [48, 50.5]
    (D[1], "AAA"): ("cancelled", 0, None, None, None),  # high 104 < limit 105
    (D[2], "BBB"): ("filled", 200, D[3], 48.951, 9.79),  # open 49 - 10 bps
}
# Expected cash and equity at each close.
EXPECTED_BOOK = {
    D[0]: (100_000.00, 100_000.00),
    D[1]: (80_069.89, 80_069.89 + 100 * 102 + 200 * 49),
    D[2]: (80_069.89, 80_069.89 + 100 * 103 + 200 * 49),
    D[3]: (89_850.30, 89_850.30 + 100 * 100),
}


class ScriptedOrders(Stage):
    """Places the SCRIPT's orders at their session's close (stands in for the portfolio stage)."""

    name = "scripted"

    def __init__(self, script: list[tuple]) -> None:
        self.script = script

    def run(self, ctx: CycleContext) -> None:
        rows = [
            Order(order_id(ctx.account, s, t, "test"), ctx.account, s, t, side, q, typ, lim, intent="test")
            for s, t, side, q, typ, lim in self.script
            if s == ctx.session
        ]
        if rows:
            append(ctx.con, "orders", pd.DataFrame([{c: getattr(o, c) for c in ORDER_COLUMNS} for o in rows]))


def _feed(tmp_path: Path) -> ReplayFeed:
    df = pd.DataFrame(BARS, columns=["date", "ticker", "open", "high", "low", "close"])
    df["volume"] = 1_000_000
    path = tmp_path / "bars.parquet"
    df.to_parquet(path)
    return ReplayFeed(path, start=D[0])


def _engine(tmp_path: Path, stages: list[Stage]) -> tuple[Engine, Store]:
    cfg = load_config(env={}, overrides={"portfolio.initial_cash": 100_000.0, "risk.mc_paths": 0, "risk.stress": False})
    store = Store.open(tmp_path / "t.duckdb")
    return Engine(store, cfg, _feed(tmp_path), stages=stages), store


def test_scenario_table_orders_fills_cash(tmp_path: Path) -> None:
    eng, store = _engine(tmp_path, [IngestStage(), BrokerFillStage(), ScriptedOrders(SCRIPT), RiskStage()])
    events: list = []
    eng.subscribe(events.append)
    asyncio.run(eng.run())
    orders = store.query_df(
        "SELECT o.as_of, o.ticker, o.status, o.filled_qty, o.reason, f.date, f.price, "
        "f.commission FROM orders o LEFT JOIN fills f USING (order_id) ORDER BY o.as_of, o.ticker"
    )
    assert len(orders) == len(EXPECTED_ORDERS)
    for r in orders.itertuples():
        st, fq, fdate, price, comm = EXPECTED_ORDERS[(r.as_of.date(), r.ticker)]
        assert (r.status, r.filled_qty) == (st, fq), r.reason
        assert r.reason  # every outcome has a reason
        if fdate is None:
            assert pd.isna(r.date)
        else:
            assert r.date.date() == fdate and r.price == pytest.approx(price) and r.commission == pytest.approx(comm)
    book = store.query_df("SELECT as_of, cash, equity FROM equity ORDER BY as_of")
    assert [d.date() for d in book["as_of"]] == D
    for r in book.itertuples():
        cash, equity = EXPECTED_BOOK[r.as_of.date()]
        assert r.cash == pytest.approx(cash, abs=0.005)
        assert r.equity == pytest.approx(equity, abs=0.005)
    # Reconciliation holds every session: cash + sum(qty x close) = equity, to the cent.
    rec = store.query_df(
        "SELECT e.cash + coalesce(sum(p.qty * p.close), 0) AS marked, e.equity FROM equity e "
        "LEFT JOIN positions p USING (account, as_of) GROUP BY e.as_of, e.cash, e.equity"
    )
    assert (rec["marked"] - rec["equity"]).abs().max() < 0.005
    names = [type(e).__name__ for e in events]
    assert names.count("OrderFilled") == 3 and names.count("OrderCancelled") == 1
    store.close()


def test_tampered_ledger_raises_invariant_error_and_rolls_back(tmp_path: Path) -> None:
    eng, store = _engine(tmp_path, [IngestStage(), BrokerFillStage(), ScriptedOrders(SCRIPT), RiskStage()])
    asyncio.run(eng.run(cycles=3))
    store.con.execute("UPDATE fills SET price = price + 0.05 WHERE ticker = 'AAA'")
    before = store.con.execute("SELECT count(*) FROM cycles").fetchall()[0][0]
    with pytest.raises(InvariantError, match="ledger"):
        asyncio.run(eng.step())
    assert store.con.execute("SELECT count(*) FROM cycles").fetchall()[0][0] == before
    assert store.con.execute("SELECT count(*) FROM equity WHERE as_of = ?", [D[3]]).fetchall()[0][0] == 0
    store.close()


def test_a_rerun_cycle_never_fills_twice(tmp_path: Path) -> None:
    eng, store = _engine(tmp_path, [IngestStage(), BrokerFillStage(), ScriptedOrders(SCRIPT), RiskStage()])
    asyncio.run(eng.run(cycles=2))
    # Re-running the fill stage for a session already filled books nothing new.
    fills = store.con.execute("SELECT count(*) FROM fills").fetchall()[0][0]
    store.con.execute("UPDATE orders SET status = 'new' WHERE as_of = ?", [D[0]])
    eng2 = Engine(store, eng.config, _feed(tmp_path), stages=[BrokerFillStage()])
    with store.transaction() as con:
        ctx = CycleContext(D[1], 1, "paper", con, eng.config, pd.DataFrame(columns=["date"]), {})
        eng2.stages[0].run(ctx)
    assert store.con.execute("SELECT count(*) FROM fills").fetchall()[0][0] == fills
    store.close()
