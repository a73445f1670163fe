"""Date-bounded reads on `CycleContext` return exactly what the whole-history reads do."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from engine.config import load_config
from engine.cycle import BAR_COLUMNS, CycleContext
from engine.store import Store, append

DATA = Path(__file__).resolve().parent.parent / "data" / "watchlist_sample.parquet"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    bars = pd.read_parquet(DATA)
    bars["date"] = pd.to_datetime(bars["date"]).dt.date
    tickers = sorted(bars["ticker"].unique())
    # A ticker with a year-long gap, one listed late, one quarantined day: the cases a
    # calendar bound alone would get wrong.
    gap = (bars["ticker"] == tickers[0]) & (bars["date"] > dt.date(2016, 3, 1)) & (bars["date"] < dt.date(2017, 3, 1))
    late = (bars["ticker"] == tickers[1]) & (bars["date"] < dt.date(2017, 1, 20))
    bars = bars[~gap & ~late].assign(source="sample")
    s = Store.open(tmp_path_factory.mktemp("reads") / "r.duckdb")
    append(s.con, "bars", bars[BAR_COLUMNS + ["source"]])
    s.con.execute("UPDATE bars SET quarantined = true WHERE ticker = ? AND date = ?", [tickers[2], dt.date(2017, 2, 1)])
    return s


def _ctx(store: Store, day: dt.date) -> CycleContext:
    return CycleContext(day, 0, "paper", store.con, load_config(), pd.DataFrame(), {})


@pytest.mark.parametrize("day", [dt.date(2016, 1, 20), dt.date(2017, 2, 3), dt.date(2017, 3, 10), dt.date(2018, 6, 1)])
@pytest.mark.parametrize("lookback", [2, 30, 400])
def test_bounded_lookback_reads_equal_the_full_scan(store: Store, day: dt.date, lookback: int) -> None:
    ctx = _ctx(store, day)
    tickers = sorted(store.con.execute("SELECT DISTINCT ticker FROM bars").df()["ticker"])
    for subset in (tickers, tickers[:3], None):
        got = ctx.history(tickers=subset, lookback=lookback)
        want = ctx._history(subset, lookback, None, BAR_COLUMNS)
        pd.testing.assert_frame_equal(got, want)
    full = ctx.sessions()
    assert ctx.sessions(lookback=lookback) == full[-lookback:]
