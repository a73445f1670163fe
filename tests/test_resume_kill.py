"""Crash safety: a run interrupted at any moment and resumed ends exactly where an
uninterrupted run ends — in process (a stage crashing mid-cycle) and for real (a
`pmax --run` subprocess killed with SIGKILL, then run again).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from engine.config import load_config
from engine.cycle import CycleContext, Stage
from engine.feeds import ReplayFeed
from engine.loop import Engine
from engine.portfolio.synthetic import synthetic_bars
from engine.stages.broker_fill import BrokerFillStage
from engine.stages.ingest import IngestStage
from engine.stages.portfolio import PortfolioStage
from engine.stages.risk import RiskStage
from engine.stages.signals import SignalsStage
from engine.store import Store, connect

TABLES = {
    "orders": "order_id",
    "fills": "fill_id",
    "equity": "as_of",
    "positions": "as_of, ticker",
    "signals": "as_of, ticker",
    "risk": "as_of",
    "regimes": "as_of",
}
REPO = Path(__file__).resolve().parent.parent


def _tables(con: duckdb.DuckDBPyConnection, extra: dict[str, str] | None = None) -> dict[str, pd.DataFrame]:
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY {k}").df() for t, k in {**TABLES, **(extra or {})}.items()}


def _assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for name in a:
        assert len(a[name]) > 0, name
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


class CrashAt(Stage):
    """Raises in the middle of one cycle, after the portfolio stage wrote its orders."""

    name = "crash"

    def __init__(self, session_index: int) -> None:
        self.at = session_index

    def run(self, ctx: CycleContext) -> None:
        if ctx.session_index == self.at:
            raise KeyboardInterrupt("simulated crash")


def test_crash_mid_cycle_then_resume_matches_uninterrupted(tmp_path: Path) -> None:
    bars = synthetic_bars([f"T{i}" for i in range(8)], 90, seed=5)
    path = tmp_path / "bars.parquet"
    bars.to_parquet(path)
    dates = sorted(bars["date"].unique())
    cfg = load_config(env={}, overrides={"risk.mc_paths": 0, "risk.stress": False})

    def stages(extra: list[Stage]) -> list[Stage]:
        return [IngestStage(), BrokerFillStage(), SignalsStage(), PortfolioStage(), *extra, RiskStage()]

    full = Store.open(tmp_path / "full.duckdb")
    asyncio.run(Engine(full, cfg, ReplayFeed(path, start=dates[75]), stages=stages([])).run())
    part = Store.open(tmp_path / "part.duckdb")
    crash_index = dates.index(dates[82])
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(Engine(part, cfg, ReplayFeed(path, start=dates[75]), stages=stages([CrashAt(crash_index)])).run())
    assert part.con.execute("SELECT max(session) FROM cycles").fetchall()[0][0] == dates[81]
    part.close()
    # A new process: fresh engine, empty in-memory state, same file.
    again = Store.open(tmp_path / "part.duckdb")
    asyncio.run(Engine(again, cfg, ReplayFeed(path, start=dates[75]), stages=stages([])).run())
    _assert_same(_tables(full.con), _tables(again.con))
    full.close()
    again.close()


def _pmax(db: Path, until: str) -> list[str]:
    return [sys.executable, "-c", "from tui.cli import main; main()", "--run", "--db", str(db), "--until", until]


@pytest.mark.slow
def test_sigkill_mid_replay_then_resume_matches_uninterrupted(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PMAX_REPLAY__START": "2017-11-01",
        "PMAX_RISK__MC_PATHS": "0",
        "PMAX_FORECAST__MODELS": "naive,drift,garch,ssa",
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "HF_HUB_OFFLINE": "1",
    }
    until = "2017-11-10"  # 8 sessions; 2017-11-08 is a scheduled refit
    full = subprocess.Popen(
        _pmax(tmp_path / "full.duckdb", until), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    victim = subprocess.Popen(
        _pmax(tmp_path / "part.duckdb", until),
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    done = 0
    assert victim.stderr is not None
    for line in victim.stderr:
        done += line.startswith("session ")
        if done == 3:
            break
    victim.send_signal(signal.SIGKILL)  # mid-way through the fourth session
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    resumed = subprocess.run(
        _pmax(tmp_path / "part.duckdb", until), cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert full.wait(timeout=300) == 0
    a = connect(str(tmp_path / "full.duckdb"), read_only=True)
    b = connect(str(tmp_path / "part.duckdb"), read_only=True)
    extra = {"forecasts": "as_of, ticker, model, horizon"}
    ta, tb = _tables(a, extra), _tables(b, extra)
    assert ta["equity"]["as_of"].dt.date.astype(str).tolist()[-1] == until
    _assert_same(ta, tb)
    # The killed run really was interrupted: two runs recorded, the first not finished.
    runs = b.execute("SELECT status FROM runs ORDER BY started_at").fetchall()
    # The dead run is marked crashed when the next run starts (issue 15).
    assert len(runs) == 2 and runs[0][0] == "crashed" and runs[1][0] == "finished"
