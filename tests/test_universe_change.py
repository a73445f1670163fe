"""Watchlist changes while the engine runs (`Engine.request_universe_change`).

A replay on synthetic bars in a temporary DuckDB: a held ticker removed with
"liquidate" is sold at the next session's open through the normal order path (order
and fill stored, attribution still sums); removed without it, it stays held and
managed; an added ticker is checked against the data file and its history backfilled.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from engine.config import load_config
from engine.errors import InputError
from engine.feeds import ReplayFeed
from engine.loop import Engine
from engine.portfolio.report import benchmark_report
from engine.portfolio.synthetic import synthetic_bars
from engine.stages.broker_fill import BrokerFillStage
from engine.stages.ingest import IngestStage
from engine.stages.portfolio import PortfolioStage
from engine.stages.risk import RiskStage
from engine.stages.signals import SignalsStage
from engine.store import Store
from engine.universe import UniverseChanged

TICKERS = [f"T{i}" for i in range(8)]
N, START = 90, 70
OVERRIDES = {
    "risk.mc_paths": 0,
    "risk.stress": False,
    "signals.regime_trend_threshold": 1.0,
    "signals.regime_crisis_vol": 5.0,
    "portfolio.max_position": 0.25,
}


def _engine(tmp_path: Path, name: str, watch: list[str] | None = None) -> tuple[Engine, list]:
    path = tmp_path / "bars.parquet"
    bars = synthetic_bars(TICKERS, N, seed=3)
    if not path.exists():
        bars.to_parquet(path)
    over = {**OVERRIDES, **({"data.watchlist": watch} if watch else {})}
    cfg = load_config(env={}, overrides=over)
    dates = sorted(bars["date"].unique())
    store = Store.open(tmp_path / f"{name}.duckdb")
    feed = ReplayFeed(path, start=dates[START], tickers=watch)
    stages = [IngestStage(), BrokerFillStage(), SignalsStage(), PortfolioStage(), RiskStage()]
    engine = Engine(store, cfg, feed, stages=stages)
    events: list = []
    engine.subscribe(events.append)
    return engine, events


def _steps(engine: Engine, n: int) -> None:
    async def go() -> None:
        for _ in range(n):
            assert await engine.step() is not None

    asyncio.run(go())


def _qty(engine: Engine, ticker: str) -> int:
    rows = engine.store.con.execute(
        "SELECT qty FROM positions WHERE ticker = ? AND as_of = (SELECT max(as_of) FROM positions)", [ticker]
    ).fetchall()
    return int(rows[0][0]) if rows else 0


def test_liquidate_sells_at_the_next_open_through_the_order_path(tmp_path: Path) -> None:
    engine, events = _engine(tmp_path, "liq")
    _steps(engine, 3)  # fund the benchmark, fill it, hold
    assert _qty(engine, "T3") > 0
    held = _qty(engine, "T3")
    engine.request_universe_change(remove=["T3"], liquidate=["T3"])
    _steps(engine, 1)  # session t: the exit is ordered at the close
    decided = engine.as_of
    assert decided is not None
    changed = [e for e in events if isinstance(e, UniverseChanged)]
    assert changed and changed[-1].liquidating == ("T3",) and changed[-1].session == decided
    order = engine.store.query_df("SELECT * FROM orders WHERE ticker = 'T3' AND intent = 'liquidate'")
    assert len(order) == 1 and order["side"][0] == "SELL" and order["qty"][0] == held
    assert "watchlist" in order["reason"][0]
    _steps(engine, 1)  # session t+1: filled at its open
    fill = engine.store.query_df(
        "SELECT f.date, f.price, f.commission, b.open FROM fills f JOIN bars b "
        "ON b.ticker = f.ticker AND b.date = f.date "
        f"WHERE f.order_id = '{order['order_id'][0]}'"
    )
    assert engine.as_of is not None
    assert len(fill) == 1 and fill["date"][0].date() == engine.as_of > decided
    assert fill["price"][0] == pytest.approx(fill["open"][0] * 0.999, abs=1e-3)  # slippage on the open
    assert fill["commission"][0] > 0
    assert _qty(engine, "T3") == 0
    _steps(engine, 2)  # flat: it leaves the universe and no signal, order or bar comes back
    last = engine.as_of
    assert engine.store.query_df(f"SELECT * FROM signals WHERE ticker = 'T3' AND as_of = DATE '{last}'").empty
    assert engine.store.query_df(f"SELECT * FROM bars WHERE ticker = 'T3' AND date = DATE '{last}'").empty
    actions = engine.store.query_df("SELECT ticker, action FROM universe_changes ORDER BY session")
    assert list(actions["action"]) == ["liquidate", "left"]
    rep = benchmark_report(engine.store.con, "paper", min_sessions=2)
    assert sum(rep["attribution"].values()) == pytest.approx(
        rep["active_return"], abs=1e-5
    )  # each part is rounded to 6 places


def test_keep_leaves_the_position_held_and_managed(tmp_path: Path) -> None:
    engine, events = _engine(tmp_path, "keep")
    _steps(engine, 3)
    held = _qty(engine, "T3")
    engine.request_universe_change(remove=["T3"])
    _steps(engine, 3)
    assert _qty(engine, "T3") == held
    assert engine.store.query_df("SELECT * FROM orders WHERE ticker = 'T3' AND side = 'SELL'").empty
    last = engine.as_of
    assert len(engine.store.query_df(f"SELECT * FROM signals WHERE ticker = 'T3' AND as_of = DATE '{last}'")) == 1
    changed = [e for e in events if isinstance(e, UniverseChanged)]
    assert changed[-1].kept == ("T3",)
    assert engine.universe.current.kept == ("T3",) and "T3" not in engine.universe.current.watch
    # A restart keeps managing it (no "held names left the universe" refusal).
    engine.store.close()
    again, _ = _engine(tmp_path, "keep", watch=[t for t in TICKERS if t != "T3"])  # saved without it
    assert "T3" in again.universe.current.managed
    assert any("still managing T3" in n for n in again.setup_notes)
    again.store.close()


def test_remove_unheld_then_add_back_is_a_no_op(tmp_path: Path) -> None:
    engine, events = _engine(tmp_path, "noop")
    _steps(engine, 1)
    engine.request_universe_change(remove=["T1"])
    engine.request_universe_change(add=["T1"])
    _steps(engine, 1)
    assert not [e for e in events if isinstance(e, UniverseChanged)]
    assert engine.universe.pending() == []


def test_add_checks_the_data_and_backfills_history(tmp_path: Path) -> None:
    engine, events = _engine(tmp_path, "add", watch=TICKERS[:-1])
    _steps(engine, 2)
    with pytest.raises(InputError, match="ZZZZ"):
        engine.request_universe_change(add=["ZZZZ"])
    with pytest.raises(InputError, match="not a ticker"):
        engine.request_universe_change(add=["[/]"])
    assert engine.universe.pending() == []
    new = TICKERS[-1]
    assert engine.store.query_df(f"SELECT * FROM bars WHERE ticker = '{new}'").empty
    engine.request_universe_change(add=[new])
    _steps(engine, 1)
    session = engine.as_of
    bars = engine.store.query_df(f"SELECT date FROM bars WHERE ticker = '{new}'")
    others = engine.store.query_df("SELECT count(DISTINCT date) AS n FROM bars WHERE ticker = 'T0'")["n"][0]
    assert len(bars) == others and bars["date"].max().date() == session  # its whole history up to today
    changed = [e for e in events if isinstance(e, UniverseChanged)][-1]
    assert changed.added == (new,) and changed.backfilled == others - 1
    _steps(engine, 2)  # joins the benchmark: signalled, bought at an open
    assert len(engine.store.query_df(f"SELECT * FROM signals WHERE ticker = '{new}'")) >= 2
    assert _qty(engine, new) > 0
    assert engine.store.query_df("SELECT universe FROM runs")["universe"][0].split(",") == TICKERS
    assert isinstance(engine.as_of, dt.date)
