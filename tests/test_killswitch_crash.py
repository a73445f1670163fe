"""Kill switches: a pure table, then synthetic crash and stale-data replays through the loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest

from engine.config import load_config
from engine.feeds import ReplayFeed
from engine.loop import Engine
from engine.portfolio.killswitch import KillSwitchLimits, KillSwitchState, evaluate_killswitches
from engine.portfolio.synthetic import synthetic_bars
from engine.stages.broker_fill import BrokerFillStage
from engine.stages.ingest import IngestStage
from engine.stages.portfolio import PortfolioStage
from engine.stages.risk import RiskStage
from engine.stages.signals import SignalsStage
from engine.store import Store

LIM = KillSwitchLimits(
    daily_loss=0.02, dd_halve=0.10, dd_flatten=0.15, market_shock=0.07, flatten_cooldown=3, basis="absolute"
)

# (name, equity, prev equity, prev state, universe median, flags,
#  halt_buys, flatten, exposure, new state, breached limits)
TABLE = [
    ("quiet day", 99.5, 100.0, KillSwitchState(100.0), -0.004, {}, False, False, 1.0, KillSwitchState(100.0), []),
    (
        "new high moves the peak",
        101.0,
        100.0,
        KillSwitchState(100.0),
        0.01,
        {},
        False,
        False,
        1.0,
        KillSwitchState(101.0),
        [],
    ),
    (
        "daily loss 2% halts buys",
        97.9,
        100.0,
        KillSwitchState(100.0),
        -0.01,
        {},
        True,
        False,
        1.0,
        KillSwitchState(100.0),
        ["daily_loss"],
    ),
    (
        "drawdown 10% halves exposure",
        89.5,
        90.0,
        KillSwitchState(100.0),
        0.0,
        {},
        False,
        False,
        0.5,
        KillSwitchState(100.0),
        ["drawdown_halve"],
    ),
    (
        "drawdown 15% flattens and starts the cooldown",
        84.9,
        85.5,
        KillSwitchState(100.0),
        0.0,
        {},
        True,
        True,
        0.0,
        KillSwitchState(100.0, 3),
        ["drawdown_flatten"],
    ),
    (
        "cooldown: still flat, peak follows equity",
        84.0,
        84.9,
        KillSwitchState(100.0, 3),
        0.0,
        {},
        True,
        True,
        0.0,
        KillSwitchState(84.0, 2),
        ["cooldown"],
    ),
    (
        "re-armed after the cooldown, measured from the new peak",
        83.0,
        84.0,
        KillSwitchState(84.0, 0),
        0.0,
        {},
        False,
        False,
        1.0,
        KillSwitchState(84.0),
        [],
    ),
    (
        "market shock halts buys",
        99.0,
        100.0,
        KillSwitchState(100.0),
        -0.08,
        {},
        True,
        False,
        1.0,
        KillSwitchState(100.0),
        ["market_shock"],
    ),
    (
        "stale ticker halts that ticker only",
        100.0,
        100.0,
        KillSwitchState(100.0),
        0.0,
        {"XOM": "stale data"},
        False,
        False,
        1.0,
        KillSwitchState(100.0),
        ["ticker"],
    ),
]


@pytest.mark.parametrize("case", TABLE, ids=[c[0] for c in TABLE])
def test_killswitch_table(case: tuple) -> None:
    _n, eq, prev_eq, prev, med, flags, halt_buys, flatten, expo, state, limits = case
    d = evaluate_killswitches(eq, prev_eq, prev, med, flags, LIM)
    assert (d.halt_buys, d.flatten, d.exposure_scale) == (halt_buys, flatten, expo)
    assert d.state == state
    assert [b.limit for b in d.breaches] == limits
    assert d.halted == (halt_buys or flatten)
    assert (d.reason is None) == (not limits)
    assert d.ticker_halts == flags


TICKERS = [f"T{i}" for i in range(6)]
N, START = 130, 100


def _run(tmp_path: Path, bars: pd.DataFrame, overrides: dict | None = None) -> tuple[Store, list]:
    path = tmp_path / "bars.parquet"
    bars.to_parquet(path)
    cfg = load_config(
        env={},
        overrides={
            "risk.mc_paths": 0,
            "risk.stress": False,
            "risk.flatten_cooldown": 5,
            "portfolio.regime_exposure_bull": 1.0,
            "portfolio.regime_exposure_sideways": 1.0,
            "portfolio.regime_exposure_bear": 1.0,
            "portfolio.regime_exposure_crisis": 1.0,
            **(overrides or {}),
        },
    )
    start = sorted(bars["date"].unique())[START]
    store = Store.open(tmp_path / "ks.duckdb")
    eng = Engine(
        store,
        cfg,
        ReplayFeed(path, start=start),
        stages=[IngestStage(), BrokerFillStage(), SignalsStage(), PortfolioStage(), RiskStage()],
    )
    events: list = []
    eng.subscribe(events.append)
    asyncio.run(eng.run())
    return store, events


def test_crash_days_halt_buys_then_halve_then_flatten(tmp_path: Path) -> None:
    bars = synthetic_bars(TICKERS, N, seed=11, shocks={110: -0.08, 111: -0.05, 112: -0.12})
    dates = sorted(bars["date"].unique())
    store, events = _run(tmp_path, bars, {"risk.drawdown_basis": "absolute"})  # the market itself crashes
    risk = store.query_df("SELECT as_of, halted, halt_reason FROM risk ORDER BY as_of").set_index("as_of")
    risk.index = [d.date() for d in risk.index]
    day = {k: dates[k] for k in range(N)}
    assert not risk.loc[day[109], "halted"]
    r110 = risk.loc[day[110], "halt_reason"]
    assert risk.loc[day[110], "halted"] and "universe median" in r110 and "daily loss" in r110
    assert "exposure halved" in risk.loc[day[111], "halt_reason"]
    assert "flatten" in risk.loc[day[112], "halt_reason"]
    # No buy is accepted while buys are halted or the book is flat.
    buys = store.query_df(
        "SELECT as_of, status, reason FROM orders WHERE side = 'BUY' AND as_of BETWEEN ? AND ?", [day[110], day[117]]
    )
    assert (buys["status"] == "rejected").all()
    assert buys["reason"].str.startswith("kill switch").all()
    flat = store.query_df("SELECT intent, side, status FROM orders WHERE as_of = ?", [day[112]])
    assert len(flat) > 0 and (flat["intent"] == "flatten").all() and (flat["side"] == "SELL").all()
    held = store.query_df("SELECT count(*) AS n FROM positions WHERE as_of BETWEEN ? AND ?", [day[113], day[117]])
    assert held["n"][0] == 0
    assert "cooldown" in risk.loc[day[114], "halt_reason"]
    # Re-armed after the cooldown: the book is invested again by the end.
    assert store.query_df("SELECT count(*) AS n FROM positions WHERE as_of = ?", [day[N - 1]])["n"][0] > 0
    limits = {e.limit for e in events if type(e).__name__ == "RiskLimitBreached"}
    assert {"market_shock", "daily_loss", "drawdown_halve", "drawdown_flatten", "cooldown"} <= limits
    store.close()


def test_stale_ticker_is_not_traded(tmp_path: Path) -> None:
    bars = synthetic_bars(TICKERS, 120, seed=12, flat={"T3": (102, 115)})
    dates = sorted(bars["date"].unique())
    store, _ = _run(tmp_path, bars)
    flagged = store.query_df("SELECT date FROM bars WHERE ticker = 'T3' AND stale")
    assert len(flagged) > 0
    stale_days = [d.date() for d in flagged["date"]]
    risk = store.query_df("SELECT as_of, halt_reason FROM risk WHERE list_contains(?, as_of)", [stale_days])
    assert len(risk) > 0 and risk["halt_reason"].str.contains("T3 halted: stale data").all()
    traded = store.query_df(
        "SELECT count(*) AS n FROM orders WHERE ticker = 'T3' AND list_contains(?, as_of)", [stale_days]
    )
    assert traded["n"][0] == 0
    # The other names keep trading in the meantime.
    assert store.query_df("SELECT count(*) AS n FROM orders WHERE as_of >= ?", [dates[START]])["n"][0] > 0
    store.close()
