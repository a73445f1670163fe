"""The replay loop: warm-up, one session per cycle, no future bars, resume after a crash."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from pmax_cli import FAST_CONFIG

from engine.config import load_config
from engine.cycle import CycleContext, Stage
from engine.errors import InputError
from engine.events import CycleCompleted, Event
from engine.feeds import ReplayFeed
from engine.loop import Engine
from engine.stages import default_stages
from engine.store import Store

START = dt.date(2016, 1, 4)


class CrashOnSession(Stage):
    """Raises inside the cycle's transaction on one session (a simulated crash)."""

    name = "crash"

    def __init__(self, session: dt.date) -> None:
        self.session = session

    def run(self, ctx: CycleContext) -> None:
        if ctx.session == self.session:
            raise RuntimeError("simulated crash")


class SawFuture(Stage):
    """Records the latest bar any stage could read."""

    name = "probe"

    def __init__(self) -> None:
        self.violations: list[dt.date] = []

    def run(self, ctx: CycleContext) -> None:
        latest = ctx.con.execute("SELECT max(date) FROM bars").fetchall()[0][0]
        if latest > ctx.session:
            self.violations.append(ctx.session)


def make_engine(db: Path, stages: list[Stage] | None = None) -> Engine:
    """Every stage, with two cheap models: these tests are about sessions and bars, not forecasts."""
    config = load_config(overrides=FAST_CONFIG)
    feed = ReplayFeed(start=START, tickers=["AAPL", "MSFT", "XOM"])
    return Engine(Store.open(db), config, feed, stages=stages)


def test_first_cycle_is_warmup_then_one_session_each(tmp_path: Path) -> None:
    probe = SawFuture()
    engine = make_engine(tmp_path / "r.duckdb", [*default_stages(), probe])
    events: list[Event] = []
    engine.subscribe(events.append)
    first = asyncio.run(engine.step())
    assert first is not None and first.session == START
    warm_n, warm_lo = engine.store.con.execute("SELECT count(DISTINCT date), min(date) FROM bars").fetchall()[0]
    assert warm_lo == dt.date(2013, 2, 8) and warm_n == first.session_index + 1
    summary = asyncio.run(engine.run(cycles=3))
    assert summary.sessions_run == 3
    assert engine.store.con.execute("SELECT max(date) FROM bars").fetchall()[0][0] == engine.as_of
    assert probe.violations == []
    completed = [e.session for e in events if isinstance(e, CycleCompleted)]
    assert completed == [START, dt.date(2016, 1, 5), dt.date(2016, 1, 6), dt.date(2016, 1, 7)]


def test_crash_loses_only_the_cycle_in_flight_and_resume_matches(tmp_path: Path) -> None:
    crash_day = dt.date(2016, 1, 8)
    crashing = make_engine(tmp_path / "crash.duckdb", [*default_stages(), CrashOnSession(crash_day)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        asyncio.run(crashing.run(cycles=10))
    assert crashing.as_of == dt.date(2016, 1, 7)
    stored = crashing.store.con.execute("SELECT max(date) FROM bars").fetchall()[0][0]
    assert stored == dt.date(2016, 1, 7)  # the crashed session's bars were rolled back
    crashing.store.close()

    resumed = make_engine(tmp_path / "crash.duckdb")
    assert resumed.as_of == dt.date(2016, 1, 7)
    asyncio.run(resumed.run(until=dt.date(2016, 1, 12)))

    straight = make_engine(tmp_path / "straight.duckdb")
    asyncio.run(straight.run(until=dt.date(2016, 1, 12)))
    query = "SELECT ticker, date, close FROM bars ORDER BY ticker, date"
    pd.testing.assert_frame_equal(resumed.store.query_df(query), straight.store.query_df(query))
    sessions = "SELECT session FROM cycles ORDER BY session"
    assert resumed.store.query_df(sessions).equals(straight.store.query_df(sessions))


def test_until_is_idempotent(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "u.duckdb")
    first = asyncio.run(engine.run(until=dt.date(2016, 1, 8)))
    again = asyncio.run(engine.run(until=dt.date(2016, 1, 8)))
    assert first.sessions_run == 5 and again.sessions_run == 0
    assert engine.as_of == dt.date(2016, 1, 8)


def test_bad_data_files_are_input_errors(tmp_path: Path) -> None:
    missing_col = tmp_path / "m.csv"
    missing_col.write_text("date,ticker,open,high,low,close\n2016-01-04,A,1,1,1,1\n")
    with pytest.raises(InputError, match="lacks column"):
        ReplayFeed(missing_col)
    broken = tmp_path / "b.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(InputError, match="cannot be read"):
        ReplayFeed(broken)
    with pytest.raises(InputError, match="after the last session"):
        ReplayFeed(start=dt.date(2030, 1, 1))


def test_csv_replay_works_like_parquet(tmp_path: Path, sample_path: Path) -> None:
    frame = pd.read_parquet(sample_path)
    frame = frame[frame["ticker"].isin(["KO", "PG"])]
    csv = tmp_path / "two.csv"
    frame.to_csv(csv, index=False)
    feed = ReplayFeed(csv, start=START)
    batch = feed.next_batch(None)
    assert batch is not None and batch.warmup and set(batch.bars["ticker"]) == {"KO", "PG"}
    nxt = feed.next_batch(batch.session)
    assert nxt is not None and nxt.session == dt.date(2016, 1, 5) and len(nxt.bars) == 2
