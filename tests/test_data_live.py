"""LiveFeed on the NYSE calendar with a fixed clock: warm-up, one session per cycle,
waiting for the close, and the offline paths (stale cache, or a clear error)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from engine.config import load_config
from engine.data.cache import import_file
from engine.data.live import LiveFeed
from engine.data.providers.base import MarketDataProvider, Quote
from engine.data.providers.local import LocalFileProvider
from engine.errors import DataUnavailableError
from engine.store import Store

UTC = dt.UTC


class Offline(MarketDataProvider):
    name = "yfinance"

    def bars(self, tickers, start, end):
        raise DataUnavailableError("yfinance: network unreachable (DNS lookup failed)")

    def quote(self, ticker: str) -> Quote:
        raise DataUnavailableError("yfinance: network unreachable (DNS lookup failed)")


def config(**over):
    base = {"data.watchlist": ["AAPL", "MSFT"], "live.warmup_sessions": 20, "live.poll_s": 0.01}
    return load_config(env={}, overrides={**base, **over})


def test_warmup_then_one_session_per_cycle() -> None:
    now = [dt.datetime(2018, 1, 10, 22, 0, tzinfo=UTC)]  # after the 2018-01-10 close + 30 min
    feed = LiveFeed(None, config(**{"live.wait_for_close": False}), [LocalFileProvider()], clock=lambda: now[0])
    first = feed.next_batch(None)
    assert first is not None and first.warmup and not first.stale
    assert first.session == dt.date(2018, 1, 10) and first.source == "sample"
    assert first.bars["date"].nunique() == 20 and set(first.bars["ticker"]) == {"AAPL", "MSFT"}
    assert max(first.bars["date"]) == dt.date(2018, 1, 10)
    assert feed.next_batch(first.session) is None  # 01-11 has not closed: not waiting
    now[0] = dt.datetime(2018, 1, 16, 23, 0, tzinfo=UTC)  # Tuesday after MLK day
    nxt = feed.next_batch(first.session)
    assert nxt is not None
    assert nxt.session == dt.date(2018, 1, 11) and not nxt.warmup and len(nxt.bars) == 2
    assert nxt.session_index == first.session_index + 1
    after_holiday = feed.next_batch(dt.date(2018, 1, 12))
    assert after_holiday is not None and after_holiday.session == dt.date(2018, 1, 16)  # skips the holiday


def test_waits_for_the_half_day_close() -> None:
    ticks = iter(
        [
            dt.datetime(2017, 11, 24, 15, 0, tzinfo=UTC),
            dt.datetime(2017, 11, 24, 17, 0, tzinfo=UTC),
            dt.datetime(2017, 11, 24, 18, 31, tzinfo=UTC),
            dt.datetime(2017, 11, 24, 18, 31, tzinfo=UTC),
        ]
    )
    notices: list[str] = []
    feed = LiveFeed(None, config(), [LocalFileProvider()], clock=lambda: next(ticks), on_notice=notices.append)
    batch = feed.next_batch(dt.date(2017, 11, 22))
    assert batch is not None
    assert batch.session == dt.date(2017, 11, 24)  # ready at 13:00 ET + 30 min
    assert any("waiting for the 2017-11-24 close" in n for n in notices)


def test_offline_with_cache_runs_stale(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.duckdb")
    try:
        import_file(store, "data/watchlist_sample.parquet", tickers=["AAPL", "MSFT"])
        notices: list[str] = []
        feed = LiveFeed(
            store,
            config(),
            [Offline()],
            clock=lambda: dt.datetime(2026, 11, 20, 23, 0, tzinfo=UTC),
            on_notice=notices.append,
        )
        batch = feed.next_batch(None)
        assert batch is not None
        assert batch.stale and batch.warmup and batch.session == dt.date(2018, 2, 7)
        assert batch.source == "sample" and batch.bars["date"].nunique() == 20
        assert "network unreachable" in batch.reason and "2018-02-07" in batch.reason
        assert len(notices) == 1 and "stale" in notices[0]
        with pytest.raises(DataUnavailableError, match="no cached bars after 2018-02-07"):
            feed.next_batch(batch.session)
    finally:
        store.close()


def test_offline_without_cache_names_what_failed(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "e.duckdb")
    try:
        feed = LiveFeed(store, config(), [Offline()], clock=lambda: dt.datetime(2026, 11, 20, 23, 0, tzinfo=UTC))
        with pytest.raises(DataUnavailableError) as err:
            feed.next_batch(None)
        assert "yfinance: network unreachable" in err.value.message and "no cached bars" in err.value.message
        assert "pmax data import" in (err.value.hint or "")
    finally:
        store.close()


def test_cached_bars_keep_source_and_flags(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.duckdb")
    try:
        summary = import_file(store, "data/watchlist_sample.parquet", tickers=["KO"])
        got = store.query_df("SELECT source, count(*) AS n FROM bars GROUP BY source")
        assert got.to_dict("records") == [{"source": "sample", "n": summary.rows}]
        again = import_file(store, "data/watchlist_sample.parquet", tickers=["KO"])  # idempotent
        assert store.query_df("SELECT count(*) AS n FROM bars")["n"].iloc[0] == again.rows == 1259
        assert isinstance(pd.Timestamp(summary.first), pd.Timestamp)
    finally:
        store.close()
