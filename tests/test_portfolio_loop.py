"""The default strategy through the loop: signals with their layers, next-open fills,
reconciliation, determinism and the run summary, on synthetic bars in a temp DuckDB.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.config import load_config
from engine.cycle import CycleContext, Stage
from engine.feeds import ReplayFeed
from engine.loop import Engine
from engine.portfolio.summary import run_summary
from engine.portfolio.synthetic import synthetic_bars
from engine.stages.broker_fill import BrokerFillStage
from engine.stages.ingest import IngestStage
from engine.stages.portfolio import PortfolioStage
from engine.stages.risk import RiskStage
from engine.stages.signals import SignalsStage
from engine.store import Store, append

TICKERS = [f"T{i}" for i in range(10)]
N, START = 95, 80
OVERRIDES = {
    "risk.mc_paths": 0,
    "risk.stress": False,
    "signals.regime_trend_threshold": 1.0,
    "signals.regime_crisis_vol": 5.0,
    "portfolio.max_position": 0.25,
}


class FakeForecasts(Stage):
    """Writes ensemble + GARCH forecasts each session, and a scored record once.

    T0: a strong BUY with a good out-of-sample record; T1: the same call with a bad
    record (fails the statistical layer); the rest: no directional call.
    """

    name = "forecast"

    def run(self, ctx: CycleContext) -> None:
        rows = []
        for t in TICKERS:
            mean, pu = (0.02, 0.65) if t in ("T0", "T1") else (0.0, 0.5)
            for model in ("ensemble", "garch"):
                rows.append(
                    {
                        "account": ctx.account,
                        "as_of": ctx.session,
                        "ticker": t,
                        "model": model,
                        "horizon": 5,
                        "mean": mean,
                        "lower": mean - 0.04,
                        "upper": mean + 0.04,
                        "level": 0.9,
                        "prob_up": pu,
                        "vol": 0.03,
                        "target_date": None,
                        "drivers": json.dumps([{"feature": "mom_21", "value": 0.1, "shap": 0.004}]),
                    }
                )
        append(ctx.con, "forecasts", pd.DataFrame(rows))
        if ctx.warmup:
            rng = np.random.default_rng(0)
            scores = []
            for t, ratio in (("T0", 0.3), ("T1", 1.5)):
                naive = rng.normal(0, 0.03, 60)
                for k in range(60):
                    day = ctx.session - dt.timedelta(days=200 - k)
                    scores.append(
                        {
                            "account": ctx.account,
                            "as_of": day,
                            "forecast_as_of": day - dt.timedelta(days=7),
                            "ticker": t,
                            "model": "ensemble",
                            "horizon": 5,
                            "actual": 0.0,
                            "mean": 0.0,
                            "error": naive[k] * ratio,
                            "naive_error": naive[k],
                            "covered": True,
                            "hit": bool(k % 5) if ratio < 1 else bool(k % 2),
                            "prob_up": 0.6,
                        }
                    )
            append(ctx.con, "model_scores", pd.DataFrame(scores))


class FlippingForecasts(FakeForecasts):
    """T0's validated BUY call switches on and off every session: a strategy that would
    churn without a turnover budget."""

    def run(self, ctx: CycleContext) -> None:
        super().run(ctx)
        if ctx.session.toordinal() % 2:
            ctx.con.execute(
                "UPDATE forecasts SET mean = 0.0, prob_up = 0.5 WHERE as_of = ? AND ticker = 'T0'", [ctx.session]
            )


def _replay(
    tmp_path: Path, name: str, forecasts: bool | Stage = True, cycles: int | None = None, **over: object
) -> Store:
    bars = synthetic_bars(TICKERS, N, seed=3)
    path = tmp_path / "bars.parquet"
    if not path.exists():
        bars.to_parquet(path)
    cfg = load_config(env={}, overrides={**OVERRIDES, **over})
    start = sorted(bars["date"].unique())[START]
    store = Store.open(tmp_path / f"{name}.duckdb")
    fc = forecasts if isinstance(forecasts, Stage) else (FakeForecasts() if forecasts else None)
    stages = [IngestStage(), BrokerFillStage(), *([fc] if fc else []), SignalsStage(), PortfolioStage(), RiskStage()]
    asyncio.run(Engine(store, cfg, ReplayFeed(path, start=start), stages=stages).run(cycles=cycles))
    return store


@pytest.fixture(scope="module")
def benchmark_book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The whole replay with no forecasts: the book funds and holds its benchmark (tests only read it)."""
    store = _replay(tmp_path_factory.mktemp("book"), "run", forecasts=False)
    yield store
    store.close()


def test_validated_signal_tilts_and_failed_layer_gets_none(tmp_path: Path) -> None:
    store = _replay(tmp_path, "sig", cycles=3)
    sig = store.query_df("SELECT * FROM signals WHERE as_of = (SELECT max(as_of) FROM signals)").set_index("ticker")
    t0, t1, t5 = sig.loc["T0"], sig.loc["T1"], sig.loc["T5"]
    layers0 = json.loads(t0["layers"])
    assert [x["layer"] for x in layers0] == ["statistical", "regime", "size", "correlation", "cost"]
    assert all(x["passed"] and x["reason"] for x in layers0)
    assert t0["action"] == "BUY" and t0["validated"] and t0["tilt"] > 0
    # Gross is capped at 100%, so the tilt is funded pro rata by every name.
    scale = t1["target_weight"] / t1["base_weight"]
    assert scale <= 1.0
    assert t0["target_weight"] == pytest.approx((t0["base_weight"] + t0["tilt"]) * scale)
    assert json.loads(t0["drivers"])[0]["feature"] == "mom_21"  # SHAP drivers travel with the signal
    layers1 = json.loads(t1["layers"])
    assert t1["action"] == "BUY" and not t1["validated"] and t1["tilt"] == 0.0
    assert not layers1[0]["passed"] and "naive" in layers1[0]["reason"]
    assert "not validated (statistical)" in t1["reason"]
    assert t5["action"] == "HOLD" and t5["tilt"] == 0.0  # no call: base weight only
    assert t5["target_weight"] == pytest.approx(t5["base_weight"] * scale)
    assert 0.5 < t0["confidence"] < 0.9
    store.close()


def test_orders_fill_at_next_open_and_books_reconcile(benchmark_book: Store) -> None:
    store = benchmark_book
    fills = store.query_df(
        "SELECT o.as_of, f.date, f.ticker, f.side, f.price, b.open FROM fills f "
        "JOIN orders o USING (order_id) JOIN bars b ON b.ticker = f.ticker AND b.date = f.date"
    )
    # No forecasts, so no validated signal: the book funds the benchmark once and then
    # holds it (its weights drift with prices; nothing else trades).
    assert len(fills) == len(TICKERS) and fills["as_of"].nunique() == 1
    sessions = sorted(store.query_df("SELECT session FROM cycles")["session"].dt.date)
    nxt = dict(itertools.pairwise(sessions))
    assert all(nxt[a.date()] == d.date() for a, d in zip(fills["as_of"], fills["date"]))
    slip = np.where(fills["side"] == "BUY", 1.001, 0.999)
    np.testing.assert_allclose(fills["price"], np.floor(fills["open"] * slip * 1e4 + 0.5) / 1e4, rtol=0, atol=1e-9)
    rec = store.query_df(
        "SELECT e.cash + coalesce(sum(p.qty * p.close), 0) AS marked, e.equity FROM equity e "
        "LEFT JOIN positions p USING (account, as_of) GROUP BY e.as_of, e.cash, e.equity"
    )
    assert len(rec) == N - START and (rec["marked"] - rec["equity"]).abs().max() < 0.005
    pos = store.query_df("SELECT qty FROM positions")
    assert (pos["qty"] > 0).all() and pos["qty"].dtype.kind == "i"  # long-only, whole shares
    risk = store.query_df("SELECT * FROM risk ORDER BY as_of").iloc[-1]
    assert risk["var_hist_99"] <= risk["var_hist_95"] < 0 and risk["cvar_hist_95"] <= risk["var_hist_95"]
    assert 0 < risk["gross"] <= 1.0 and risk["beta"] > 0 and risk["regime"] is not None
    assert set(json.loads(risk["limit_utilisation"])) >= {"gross", "max_position", "daily_loss", "trades"}
    s = run_summary(store.con, "paper")
    assert s["sessions"] == N - START and s["trade_count"] == store.query_df("SELECT count(*) n FROM fills")["n"][0]
    assert s["final_equity"] == pytest.approx(
        store.query_df("SELECT equity FROM equity ORDER BY as_of")["equity"].iloc[-1], abs=0.01
    )
    # 15 sessions: too few for a Sharpe, so it is withheld with the reason (never a wild number).
    assert s["max_drawdown"] <= 0 and s["sharpe"] is None and "need at least 20" in s["metrics_withheld"]
    assert s["benchmark"]["withheld"] and s["benchmark"]["strategy_total_return"] == pytest.approx(
        s["total_return"], abs=1e-6
    )
    json.dumps(s)


def test_same_data_same_books_bit_for_bit(tmp_path: Path) -> None:
    a, b = _replay(tmp_path, "a", cycles=8), _replay(tmp_path, "b", cycles=8)
    for table, key in (
        ("orders", "order_id"),
        ("fills", "fill_id"),
        ("equity", "as_of"),
        ("positions", "as_of, ticker"),
        ("signals", "as_of, ticker"),
    ):
        da = a.query_df(f"SELECT * FROM {table} ORDER BY {key}")
        db = b.query_df(f"SELECT * FROM {table} ORDER BY {key}")
        assert len(da) > 0
        pd.testing.assert_frame_equal(da, db, check_exact=True)
    a.close()
    b.close()


def test_limit_orders_fill_only_inside_the_next_range(tmp_path: Path) -> None:
    store = _replay(tmp_path, "lim", forecasts=False, cycles=6, **{"portfolio.order_type": "limit"})
    o = store.query_df(
        "SELECT o.side, o.limit_price, o.status, o.reason, b.low, b.high, c.close AS decided_close, "
        "f.price FROM orders o JOIN bars c ON c.ticker = o.ticker AND c.date = o.as_of "
        "LEFT JOIN fills f USING (order_id) "
        "LEFT JOIN bars b ON b.ticker = o.ticker AND b.date = o.updated_session "
        "WHERE o.status <> 'new'"
    )
    assert len(o) > 0 and o["limit_price"].notna().all()
    buy = o["side"] == "BUY"
    np.testing.assert_allclose(o.loc[buy, "limit_price"], np.round(o.loc[buy, "decided_close"] * 1.005, 2))
    filled = o["status"].isin(["filled", "partially_filled"])
    assert (o.loc[filled & buy, "price"] <= o.loc[filled & buy, "limit_price"] + 1e-9).all()
    assert (o.loc[filled & ~buy, "price"] >= o.loc[filled & ~buy, "limit_price"] - 1e-9).all()
    missed = o["status"] == "cancelled"
    assert (o.loc[missed & buy, "low"] > o.loc[missed & buy, "limit_price"]).all()
    assert o.loc[missed, "reason"].str.contains("not reached").all()
    store.close()


def test_with_no_signal_the_book_holds_the_drifting_benchmark(benchmark_book: Store) -> None:
    store = benchmark_book
    last = store.query_df("SELECT max(as_of) AS d FROM equity")["d"][0]
    held = store.query_df(
        "SELECT p.ticker, p.market_value / e.equity AS w FROM positions p JOIN equity e "
        "USING (account, as_of) WHERE as_of = ?",
        [last],
    ).set_index("ticker")["w"]
    bench = store.query_df("SELECT ticker, weight FROM benchmark_weights WHERE as_of = ?", [last]).set_index("ticker")[
        "weight"
    ]
    # Held weights are the benchmark's drifted weights less the 2% cash buffer (whole shares aside).
    np.testing.assert_allclose(held.reindex(bench.index), 0.98 * bench, atol=0.003)
    assert not np.allclose(bench, bench.mean(), atol=1e-4)  # it drifted: not rebalanced back to equal
    orders = store.query_df("SELECT DISTINCT intent FROM orders")["intent"].tolist()
    assert orders == ["fund"]  # nothing traded beyond funding the book once
    setup = store.query_df("SELECT DISTINCT benchmark, overlays FROM portfolio_setup")
    assert setup.values.tolist() == [["equal_weight", ""]]


def test_turnover_budget_caps_a_churning_signal(tmp_path: Path) -> None:
    budget = 0.5
    free = _replay(tmp_path, "free", FlippingForecasts(), None, **{"portfolio.turnover_budget": 100.0})
    capped = _replay(tmp_path, "capped", FlippingForecasts(), None, **{"portfolio.turnover_budget": budget})
    sql = (
        "SELECT coalesce(sum(f.qty * f.price), 0) / 2 AS one_way FROM fills f JOIN orders o USING (order_id) "
        "WHERE o.intent = 'rebalance'"
    )
    churn, kept = free.query_df(sql)["one_way"][0], capped.query_df(sql)["one_way"][0]
    sessions = capped.query_df("SELECT count(*) AS n FROM equity")["n"][0]
    equity = capped.query_df("SELECT max(equity) AS e FROM equity")["e"][0]
    assert churn > 3 * budget * equity * sessions / 252  # without the budget it churns
    assert kept <= budget * equity * sessions / 252 + 1.0  # with it, within the pro-rata allowance
    free.close()
    capped.close()


def test_cash_benchmark_with_no_signal_never_trades_and_hrp_is_an_opt_in_overlay(tmp_path: Path) -> None:
    cash = _replay(tmp_path, "cash", forecasts=False, cycles=4, **{"portfolio.benchmark": "cash"})
    assert cash.query_df("SELECT count(*) AS n FROM orders")["n"][0] == 0
    assert (cash.query_df("SELECT weight FROM benchmark_weights")["weight"] == 0).all()
    cash.close()
    hrp = _replay(tmp_path, "hrp", forecasts=False, cycles=2, **{"portfolio.overlays": ["hrp"]})
    sig = hrp.query_df(
        "SELECT s.core_weight, b.weight FROM signals s JOIN benchmark_weights b USING (account, as_of, ticker)"
    )
    assert not np.allclose(sig["core_weight"], sig["weight"])  # the core is HRP's, not the benchmark's
    assert hrp.query_df("SELECT DISTINCT overlays FROM portfolio_setup")["overlays"].tolist() == ["hrp"]
    hrp.close()
