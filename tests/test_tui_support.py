"""Shared pieces for the TUI tests: a store filled with fixed rows, a fake engine,
an app factory, and a cursor factory that records which threads asked for cursors.

Collected by pytest as a module with one smoke test of its own fixtures.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from textual.worker import WorkerState

from engine.config import Config, load_config
from engine.events import CycleCompleted, FeedExhausted
from engine.store import Store, append

# The app picks glyphs from the locale and NO_COLOR: draw the TUI tests and snapshots in
# UTF-8 with colour whatever the runner's environment (the fallback tests set their own).
os.environ["LC_ALL"] = "C.UTF-8"
os.environ.pop("NO_COLOR", None)

TICKERS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
ACCOUNT = "paper"


def sessions(n: int, start: str = "2016-01-04") -> list[dt.date]:
    return [d.date() for d in pd.bdate_range(start, periods=n)]


def make_bars(n: int = 70, seed: int = 3) -> pd.DataFrame:
    """Deterministic random-walk bars for TICKERS (one quarantined bar, one stale bar)."""
    rng = np.random.default_rng(seed)
    days = sessions(n)
    rows = []
    for i, t in enumerate(TICKERS):
        px = 50.0 * (i + 1) * np.exp(np.cumsum(rng.normal(0.0005, 0.015, n)))
        for d, c in zip(days, px, strict=True):
            rows.append(
                {
                    "ticker": t,
                    "date": d,
                    "open": round(c * 0.998, 4),
                    "high": round(c * 1.01, 4),
                    "low": round(c * 0.99, 4),
                    "close": round(float(c), 4),
                    "volume": 1_000_000 + i,
                    "source": "test",
                    "quarantined": False,
                    "stale": False,
                }
            )
    df = pd.DataFrame(rows)
    df.loc[(df.ticker == "BBB") & (df.date == days[-5]), "quarantined"] = True
    df.loc[(df.ticker == "CCC") & (df.date == days[-1]), "stale"] = True
    return df


def fill_store(store: Store, n: int = 70) -> dt.date:
    """Write bars, cycles and one session of every later table; returns the last session."""
    bars = make_bars(n)
    days = sessions(n)
    last = days[-1]
    con = store.con
    append(con, "bars", bars)
    append(
        con,
        "cycles",
        pd.DataFrame(
            {
                "account": ACCOUNT,
                "session": days,
                "session_index": range(n),
                "run_id": "test",
                "n_bars": len(TICKERS),
                "committed_at": pd.Timestamp("2026-01-01"),
            }
        ),
    )
    fc, sig, weights, scores = [], [], [], []
    models = ("naive", "arima", "lightgbm", "ensemble")
    for i, t in enumerate(TICKERS):
        for h in (1, 5):
            for j, m in enumerate(models):
                mean = round(0.001 * (j - 1) * h + 0.0005 * i, 6)
                fc.append(
                    {
                        "account": ACCOUNT,
                        "as_of": last,
                        "ticker": t,
                        "model": m,
                        "horizon": h,
                        "mean": mean,
                        "lower": mean - 0.02 * h**0.5,
                        "upper": mean + 0.02 * h**0.5,
                        "level": 0.9,
                        "prob_up": 0.5 + mean * 10,
                        "vol": 0.02 * h**0.5,
                        "target_date": days[-1],
                        "drivers": None,
                    }
                )
        action = ("BUY", "SELL", "HOLD")[i % 3]
        layers = [
            {"layer": "statistical", "passed": True, "reason": "skill 0.04 > 0"},
            {"layer": "cost", "passed": i % 2 == 0, "reason": "edge 0.10% vs costs 0.20%"},
        ]
        drivers = [
            {"feature": "mom_21", "value": 0.05, "shap": 0.004 - 0.001 * i},
            {"feature": "vol_21", "value": 0.2, "shap": -0.002},
            {"feature": "rsi_14", "value": 55.0, "shap": 0.001},
        ]
        sig.append(
            {
                "account": ACCOUNT,
                "as_of": last,
                "ticker": t,
                "action": action,
                "confidence": 0.5 + 0.05 * i,
                "expected_return": 0.002 * (i - 2),
                "horizon": 5,
                "prob_up": 0.55,
                "validated": i % 2 == 0,
                "layers": json.dumps(layers),
                "drivers": json.dumps(drivers),
                "target_weight": 0.05,
                "base_weight": 0.04,
                "tilt": 0.01,
                "reason": "",
            }
        )
    for h in (1, 5):
        for j, m in enumerate(models):
            weights.append(
                {
                    "account": ACCOUNT,
                    "as_of": last,
                    "model": m,
                    "horizon": h,
                    "weight": (0.0, 0.3, 0.7, 0.0)[j],
                    "skill": (0.0, 0.01, 0.03, 0.02)[j],
                    "dm_stat": 1.0,
                    "dm_pvalue": (1.0, 0.4, 0.03, 0.1)[j],
                    "n_scored": 40,
                    "demoted": m == "naive",
                    "reason": "",
                }
            )
            for k in range(3):
                err = 0.01 * (k + 1) * (1 - 0.1 * j)
                scores.append(
                    {
                        "account": ACCOUNT,
                        "as_of": days[-1 - k],
                        "forecast_as_of": days[-10 - k],
                        "ticker": "AAA",
                        "model": m,
                        "horizon": h,
                        "actual": 0.01,
                        "mean": 0.01 - err,
                        "error": err,
                        "naive_error": 0.01 * (k + 1),
                        "covered": True,
                        "hit": k != 1,
                        "prob_up": 0.5,
                    }
                )
    append(con, "forecasts", pd.DataFrame(fc))
    append(con, "signals", pd.DataFrame(sig))
    append(con, "model_weights", pd.DataFrame(weights))
    append(con, "model_scores", pd.DataFrame(scores))
    eq = 1_000_000 * np.cumprod(1 + np.sin(np.arange(n) / 7.0) * 0.004)
    peak = np.maximum.accumulate(eq)
    append(
        con,
        "equity",
        pd.DataFrame(
            {
                "account": ACCOUNT,
                "as_of": days,
                "cash": 400_000.0,
                "equity": eq,
                "gross": 1 - 400_000 / eq,
                "net": 1 - 400_000 / eq,
                "drawdown": eq / peak - 1,
                "daily_return": np.r_[0.0, eq[1:] / eq[:-1] - 1],
            }
        ),
    )
    append(
        con,
        "risk",
        pd.DataFrame(
            [
                {
                    "account": ACCOUNT,
                    "as_of": last,
                    "var_hist_95": 0.012,
                    "var_hist_99": 0.021,
                    "cvar_hist_95": 0.017,
                    "cvar_hist_99": 0.025,
                    "realised_vol": 0.14,
                    "forecast_vol": 0.15,
                    "beta": 0.9,
                    "drawdown": -0.02,
                    "gross": 0.6,
                    "net": 0.6,
                    "concentration": 0.2,
                    "regime": "bull",
                    "halted": False,
                    "halt_reason": None,
                    "limit_utilisation": json.dumps({"gross": 0.6, "daily_loss": 0.25}),
                    "stress": "{}",
                }
            ]
        ),
    )
    append(
        con,
        "positions",
        pd.DataFrame(
            [
                {
                    "account": ACCOUNT,
                    "as_of": last,
                    "ticker": t,
                    "qty": 100 * (i + 1),
                    "avg_cost": 50.0 * (i + 1),
                    "close": 51.0 * (i + 1),
                    "market_value": 5100.0 * (i + 1) ** 2,
                    "weight": 0.01 * (i + 1),
                }
                for i, t in enumerate(TICKERS[:3])
            ]
        ),
    )
    append(
        con,
        "fills",
        pd.DataFrame(
            [
                {
                    "fill_id": f"f{i}",
                    "order_id": f"o{i}",
                    "account": ACCOUNT,
                    "date": last,
                    "ticker": t,
                    "side": "BUY",
                    "qty": 100 * (i + 1),
                    "price": 50.0 * (i + 1),
                    "commission": 1.0,
                    "slippage": 0.01,
                }
                for i, t in enumerate(TICKERS[:3])
            ]
        ),
    )
    append(
        con,
        "orders",
        pd.DataFrame(
            [
                {
                    "order_id": "o9",
                    "account": ACCOUNT,
                    "as_of": last,
                    "ticker": "FFF",
                    "side": "BUY",
                    "qty": 50,
                    "type": "market",
                    "status": "rejected",
                    "reason": "gross exposure limit",
                    "intent": "signal",
                }
            ]
        ),
    )
    return last


class FakeEngine:
    """Engine stand-in: each step commits one more session of bars for AAA..FFF."""

    def __init__(self, store: Store, start: dt.date, max_steps: int = 50) -> None:
        self.store = store
        self.account = ACCOUNT
        self.device = "cpu"
        self.as_of: dt.date | None = start
        self.exhausted = False
        self.steps = 0
        self.max_steps = max_steps
        self._subs: list[Callable[[Any], None]] = []

    def subscribe(self, cb: Callable[[Any], None]) -> None:
        self._subs.append(cb)

    async def step(self) -> CycleCompleted | None:
        if self.steps >= self.max_steps:
            self.exhausted = True
            for cb in self._subs:
                cb(FeedExhausted(self.as_of))
            return None
        session = (pd.Timestamp(self.as_of) + pd.offsets.BDay(1)).date()
        await asyncio.to_thread(self._write, session)
        self.steps += 1
        self.as_of = session
        done = CycleCompleted(session, 100 + self.steps, len(TICKERS), None, 0.0)
        for cb in self._subs:
            cb(done)
        return done

    def _write(self, session: dt.date) -> None:
        with self.store.transaction() as con:
            append(
                con,
                "bars",
                pd.DataFrame(
                    [
                        {
                            "ticker": t,
                            "date": session,
                            "open": 10.0,
                            "high": 11.0,
                            "low": 9.0,
                            "close": 10.0 + self.steps,
                            "volume": 1,
                            "source": "fake",
                        }
                        for t in TICKERS
                    ]
                ),
            )
            append(
                con,
                "cycles",
                pd.DataFrame(
                    [
                        {
                            "account": ACCOUNT,
                            "session": session,
                            "session_index": 0,
                            "run_id": "fake",
                            "n_bars": 6,
                            "committed_at": pd.Timestamp(0),
                        }
                    ]
                ),
            )


class ThreadLog:
    """Wraps a cursor factory; records the thread of every call."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.main_calls = 0
        self.worker_calls = 0

    def __call__(self) -> Any:
        if threading.current_thread() is threading.main_thread():
            self.main_calls += 1
        else:
            self.worker_calls += 1
        return self.factory()


def test_config(tmp_path: Path, **overrides: Any) -> Config:
    base = {
        "tui.start_paused": True,
        "tui.cursor_blink": False,
        "tui.batch_ms": 50,
        "tui.export_dir": str(tmp_path / "exports"),
        "replay.interval_s": 0.0,
    }
    base.update(overrides)
    return load_config(overrides=base)


test_config.__test__ = False  # type: ignore[attr-defined]


def make_app(store: Any, tmp_path: Path, engine: Any = None, **kw: Any) -> tuple[Any, ThreadLog]:
    """A PmaxApp over `store` with test settings and a thread-recording cursor factory."""
    from tui.app import PmaxApp

    log = ThreadLog(store.cursor)
    overrides = kw.pop("overrides", {})
    app = PmaxApp(engine=engine, store=store, config=test_config(tmp_path, **overrides), cursor_factory=log, **kw)
    return app, log


BUSY = (WorkerState.PENDING, WorkerState.RUNNING)
POLL_S = 0.01  # how often a wait re-checks its condition (never a wait of its own)


async def wait_until(pilot: Any, condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up after {timeout} s waiting for {what or condition}"
        await pilot.pause(POLL_S)


async def settle(pilot: Any, app: Any, timeout: float = 20.0) -> None:
    """Wait until the store has been read and applied, every worker is done and the
    forecasts pane (when shown) has the selected ticker; then until the screen is laid out."""

    def done() -> bool:
        if app._dirty or app._refreshing or (app.cursor_factory is not None and app.snapshot is None):
            return False
        if any(w.state in BUSY for w in app.workers if w.group != "loop"):
            return False
        if app.ticker is None or not app.pane_visible("forecasts"):
            return True
        view = app.query_one("#forecasts").view
        return view is not None and view.ticker == app.ticker

    await wait_until(pilot, done, timeout, "the app to settle")
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def test_fill_store_writes_every_table(filled: tuple[Store, dt.date]) -> None:
    store, last = filled
    for table in ("bars", "forecasts", "signals", "model_weights", "equity", "risk", "positions", "fills", "orders"):
        n = store.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        assert n > 0, table
    assert store.con.execute("SELECT max(session) FROM cycles").fetchall()[0][0] == last
