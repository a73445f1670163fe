"""Live mode: a ticker added while running is fetched at once (its history is the
backfill), an unknown one is refused, and a network failure says so."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.config import load_config
from engine.data.live import LiveFeed
from engine.data.providers.base import MarketDataProvider, Quote
from engine.data.providers.local import LocalFileProvider
from engine.errors import DataUnavailableError, InputError
from engine.universe import UniverseDesk

UTC = dt.UTC
NOW = dt.datetime(2018, 1, 10, 22, 0, tzinfo=UTC)


class Offline(MarketDataProvider):
    name = "yfinance"

    def bars(self, tickers, start, end):
        raise DataUnavailableError("yfinance: network unreachable (DNS lookup failed)")

    def quote(self, ticker: str) -> Quote:
        raise DataUnavailableError("yfinance: network unreachable (DNS lookup failed)")


def _feed(providers: list[MarketDataProvider]) -> LiveFeed:
    cfg = load_config(
        env={}, overrides={"data.watchlist": ["AAPL", "MSFT"], "live.warmup_sessions": 20, "live.wait_for_close": False}
    )
    return LiveFeed(None, cfg, providers, clock=lambda: NOW)


def test_live_add_fetches_history_and_refuses_unknown() -> None:
    feed = _feed([LocalFileProvider()])
    desk = UniverseDesk(feed, feed.universe())
    with pytest.raises(InputError, match="ZZZZ is not in the data"):
        desk.request(add=["ZZZZ"])
    desk.request(add=["NVDA"])
    feed.deliver(["AAPL", "MSFT", "NVDA"])
    history = feed.history_of(["NVDA"], dt.date(2018, 1, 10))
    assert len(history) == 19 and set(history["ticker"]) == {"NVDA"}
    assert history["date"].max() == dt.date(2018, 1, 9)
    batch = feed.next_batch(None)
    assert batch is not None and "NVDA" in set(batch.bars["ticker"])


def test_live_add_with_the_network_down_says_so() -> None:
    feed = _feed([Offline()])
    desk = UniverseDesk(feed, feed.universe())
    with pytest.raises(DataUnavailableError, match="could not fetch NVDA: yfinance: network unreachable") as err:
        desk.request(add=["NVDA"])
    assert "nothing was added" in (err.value.hint or "")
    assert desk.pending() == []
