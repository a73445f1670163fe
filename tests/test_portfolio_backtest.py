"""The vectorised research backtest reproduces the event-driven broker's P&L to the cent,
and matches a slow per-order loop oracle."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from engine.config import load_config
from engine.feeds import ReplayFeed
from engine.loop import Engine
from engine.portfolio.backtest import orders_matrix, vector_backtest
from engine.portfolio.broker import cents, round_price
from engine.portfolio.synthetic import synthetic_bars
from engine.stages.broker_fill import BrokerFillStage
from engine.stages.ingest import IngestStage
from engine.stages.portfolio import PortfolioStage
from engine.stages.risk import RiskStage
from engine.stages.signals import SignalsStage
from engine.store import Store


def _slow_oracle(decided: np.ndarray, op: np.ndarray, cl: np.ndarray, cash0: float) -> np.ndarray:
    cash, held, out = cash0, np.zeros(decided.shape[1], dtype=np.int64), []
    for t in range(decided.shape[0]):
        if t > 0:
            for j, q in enumerate(decided[t - 1]):
                if q == 0:
                    continue
                px = round_price(op[t, j] * (1.001 if q > 0 else 0.999))
                n = cents(abs(q) * px)
                c = cents(n * 0.001)
                cash = cents(cash - n - c) if q > 0 else cents(cash + n - c)
                held[j] += q
        out.append(cash + float(np.nansum(held * cl[t])))
    return np.array(out)


def test_vector_backtest_matches_a_slow_loop() -> None:
    rng = np.random.default_rng(2)
    op = rng.uniform(20, 200, size=(40, 5))
    cl = op * rng.uniform(0.97, 1.03, size=op.shape)
    decided = rng.integers(-20, 30, size=op.shape)
    decided[:, 0] = 0
    res = vector_backtest(decided, op, cl, 1e6)
    np.testing.assert_allclose(res.equity, _slow_oracle(decided, op, cl, 1e6), atol=0.005, rtol=0)


def test_vector_backtest_reproduces_the_broker(tmp_path: Path) -> None:
    bars = synthetic_bars([f"T{i}" for i in range(8)], 100, seed=9)
    path = tmp_path / "bars.parquet"
    bars.to_parquet(path)
    cfg = load_config(env={}, overrides={"risk.mc_paths": 0, "risk.stress": False})
    store = Store.open(tmp_path / "bt.duckdb")
    start = sorted(bars["date"].unique())[80]
    asyncio.run(
        Engine(
            store,
            cfg,
            ReplayFeed(path, start=start),
            stages=[IngestStage(), BrokerFillStage(), SignalsStage(), PortfolioStage(), RiskStage()],
        ).run()
    )
    not_as_decided = store.con.execute(
        "SELECT count(*) FROM orders WHERE status <> 'filled' AND status <> 'new'"
    ).fetchall()[0][0]
    assert not_as_decided == 0  # precondition of an exact match: every order filled as decided
    _s, _t, decided, op, cl = orders_matrix(store.con, "paper")
    assert np.abs(decided).sum() > 0
    broker = np.array([r[0] for r in store.con.execute("SELECT equity FROM equity ORDER BY as_of").fetchall()])
    res = vector_backtest(decided, op, cl, float(cfg.portfolio.initial_cash))
    assert res.equity.shape == broker.shape
    assert np.max(np.abs(res.equity - broker)) < 0.005
    cash = np.array([r[0] for r in store.con.execute("SELECT cash FROM equity ORDER BY as_of").fetchall()])
    assert res.cash == pytest.approx(cash, abs=0.005)
    store.close()
