"""Grounding tools: they return the stored numbers with citations and can never write."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from copilot.router import find_tickers, is_trade_request, route
from copilot.testing import seed_store
from copilot.tools import TOOLS, known_tickers, run_tool, store_as_of
from copilot.tools.base import select
from engine.errors import InputError, InvariantError
from engine.store import Store

AS_OF = dt.date(2018, 2, 7)


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, dict]:
    path = tmp_path / "t.duckdb"
    store = Store.open(path)
    with store.transaction() as con:
        nums = seed_store(con, AS_OF)
    store.close()
    return path, nums


def _counts(con) -> dict[str, int]:
    tables = [
        r[0]
        for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()
    ]
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}


def test_every_tool_runs_on_a_read_only_store(seeded) -> None:
    path, _ = seeded
    store = Store.open(path, read_only=True)
    before = _counts(store.con)
    for name in TOOLS:
        for args in ({}, {"ticker": "AAPL"}):
            res = run_tool(store.cursor(), "paper", name, args)
            assert res.tool == name
            if not res.empty:
                assert res.citations, f"{name} returned rows without a citation"
    assert _counts(store.con) == before
    store.close()


def test_select_refuses_anything_but_one_select(seeded) -> None:
    path, _ = seeded
    store = Store.open(path)  # read-write on purpose: the guard, not DuckDB, must refuse
    for sql in (
        "DELETE FROM orders",
        "INSERT INTO orders (order_id) VALUES ('x')",
        "SELECT 1; DELETE FROM orders",
        "WITH x AS (SELECT 1) DELETE FROM orders",
        "UPDATE signals SET action = 'SELL'",
        "ATTACH 'other.db'",
    ):
        with pytest.raises(InvariantError):
            select(store.con, sql)
    assert store.con.execute("SELECT count(*) FROM orders").fetchall()[0][0] == 2
    store.close()


def test_unknown_tool_and_extra_arguments(seeded) -> None:
    path, _ = seeded
    store = Store.open(path, read_only=True)
    with pytest.raises(InputError):
        run_tool(store.con, "paper", "place_order", {"ticker": "AAPL", "qty": 1000})
    res = run_tool(store.con, "paper", "latest_signal", {"ticker": "aapl", "qty": 1000})
    assert res.records()[0]["ticker"] == "AAPL"
    store.close()


def test_latest_signal_returns_the_newest_row_with_layers_and_drivers(seeded) -> None:
    path, nums = seeded
    store = Store.open(path, read_only=True)
    res = run_tool(store.con, "paper", "latest_signal", {"ticker": "AAPL"})
    rec = res.records()[0]
    assert rec["as_of"] == AS_OF and rec["action"] == nums["action"]
    assert rec["confidence"] == pytest.approx(nums["confidence"])
    assert res.citations[0].table == "signals" and res.citations[0].as_of == AS_OF
    assert "ticker=AAPL" in res.citations[0].key
    titles = {c.title: c for c in res.children}
    assert [r[0] for r in titles["Validation layers"].rows] == ["skill", "regime"]
    assert titles["SHAP drivers"].rows[0][0] == "mom_20"  # largest |shap| first
    store.close()


def test_forecasts_carry_skill_from_model_weights(seeded) -> None:
    path, nums = seeded
    store = Store.open(path, read_only=True)
    res = run_tool(store.con, "paper", "forecasts", {"ticker": "AAPL"})
    by_model = {r["model"]: r for r in res.records()}
    assert by_model["arima"]["mean"] == pytest.approx(nums["arima_mean"])
    assert by_model["arima"]["skill"] == pytest.approx(nums["arima_skill"])
    assert by_model["ensemble"]["skill"] is None
    assert {c.table for c in res.citations} == {"forecasts", "model_weights"}
    store.close()


def test_walk_forward_matches_a_hand_computation(seeded) -> None:
    path, _ = seeded
    store = Store.open(path, read_only=True)
    rows = store.con.execute("SELECT error, naive_error, actual, mean FROM model_scores").fetchall()
    err = np.array([r[0] for r in rows])
    naive = np.array([r[1] for r in rows])
    res = run_tool(store.con, "paper", "walk_forward", {})
    rec = res.records()[0]
    assert rec["n_scored"] == len(rows)
    assert rec["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))
    assert rec["skill"] == pytest.approx(1 - np.mean(err**2) / np.mean(naive**2))
    calls = [(a > 0) == (m > 0) for _e, _n, a, m in rows if a != 0 and m != 0]  # ties left out
    assert len(calls) < len(rows) and rec["hit_rate"] == pytest.approx(np.mean(calls))
    store.close()


def test_performance_uses_empyrical_conventions(seeded) -> None:
    import empyrical  # dev dependency: the reference implementation

    path, nums = seeded
    store = Store.open(path, read_only=True)
    eq = np.array(nums["equity"])
    rets = eq[1:] / eq[:-1] - 1.0
    rec = run_tool(store.con, "paper", "performance", {}).records()[0]
    assert rec["sharpe_ratio"] == pytest.approx(empyrical.sharpe_ratio(rets))
    assert rec["max_drawdown"] == pytest.approx(empyrical.max_drawdown(rets))
    assert rec["annual_return"] == pytest.approx(empyrical.annual_return(rets))
    assert rec["total_return"] == pytest.approx(eq[-1] / eq[0] - 1)
    store.close()


def test_store_as_of_changes_when_rows_change(seeded) -> None:
    path, _ = seeded
    store = Store.open(path)
    first = store_as_of(store.con)
    assert "signals:2018-02-07" in first
    store.con.execute("DELETE FROM fills")
    store.con.execute("INSERT INTO orders (order_id, account, as_of) VALUES ('o9', 'paper', DATE '2018-02-07')")
    assert store_as_of(store.con) != first
    assert {"AAPL", "MSFT"} <= known_tickers(store.con)
    store.close()


@pytest.mark.parametrize(
    "question, trade",
    [
        ("buy 1000 shares of AAPL", True),
        ("Please sell MSFT", True),
        ("can you short NVDA?", True),
        ("place a market order for 10 AAPL", True),
        ("cancel my orders", True),
        ("Why is the signal for AAPL a BUY?", False),
        ("what did we buy yesterday?", False),
        ("Show recent fills", False),
        ("Should I worry about risk?", False),
    ],
)
def test_trade_requests_are_recognised(question: str, trade: bool) -> None:
    assert is_trade_request(question) is trade


def test_router_picks_tickers_and_topics() -> None:
    known = {"AAPL", "MSFT", "HD", "KO", "ALL"}
    assert find_tickers("what about aapl and $msft, and HD?", known) == ("AAPL", "MSFT", "HD")
    assert find_tickers("are all positions ok? hd", known) == ()
    r = route("What is the latest signal for AAPL, and why?", known)
    assert r.kind == "tools" and r.tickers == ("AAPL",)
    assert [c[0] for c in r.calls] == ["latest_signal", "forecasts"]
    assert [c[0] for c in route("what is our VaR and are we halted?", known).calls] == ["risk_snapshot"]
    assert [c[0] for c in route("which models were demoted?", known).calls] == ["model_weights"]
    assert route("buy 1000 shares of AAPL", known).kind == "trade"
    assert route("help", known).kind == "help"


def test_performance_sits_beside_buy_and_hold(seeded, tmp_path) -> None:
    import shutil

    import pandas as pd

    from engine.store import append

    path, _ = seeded
    copy = tmp_path / "with_bars.duckdb"
    shutil.copy(path, copy)
    store = Store.open(copy)
    days = [r[0] for r in store.con.execute("SELECT as_of FROM equity ORDER BY as_of").fetchall()]
    rng = np.random.default_rng(5)
    frames = []
    for ticker in ("AAA", "BBB", "CCC"):
        close = 50 * np.cumprod(1 + rng.normal(0, 0.01, len(days)))
        frames.append(
            pd.DataFrame(
                {
                    "ticker": ticker,
                    "date": days,
                    "open": close,
                    "high": close,
                    "low": close,
                    "close": close,
                    "volume": 1000,
                    "source": "test",
                }
            )
        )
    append(store.con, "bars", pd.concat(frames, ignore_index=True))
    res = run_tool(store.con, "paper", "performance", {})
    records = res.records()
    assert records[0]["portfolio"] == "paper"
    base = records[1]
    assert base["portfolio"].startswith("equal-weight buy-and-hold")
    bars = store.con.execute(
        "SELECT date, ticker, close FROM bars WHERE date BETWEEN ? AND ? AND NOT quarantined",
        [records[0]["first_as_of"], records[0]["last_as_of"]],
    ).df()
    closes = bars.pivot(index="date", columns="ticker", values="close").sort_index().ffill()
    expected = (closes.iloc[-1] / closes.iloc[0]).mean() - 1.0
    assert base["total_return"] == pytest.approx(expected)
    assert any(c.table == "bars" for c in res.citations)
    # The benchmark-relative block (engine.portfolio.report) rides along as a child table.
    bench = res.children[0].records()[0]
    assert bench["benchmark_total_return"] == pytest.approx(expected, abs=1e-6)
    assert bench["strategy_total_return"] == pytest.approx(records[0]["total_return"], abs=1e-6)
    assert "Survivorship" in res.children[0].title or "survivors" in res.children[0].title
    store.close()
