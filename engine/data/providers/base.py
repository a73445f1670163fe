"""The `MarketDataProvider` interface, the `Quote` record and helpers every provider shares.

A provider answers daily bars for tickers and a date range (end inclusive) as a
DataFrame with columns date, ticker, open, high, low, close, volume; tickers it
has nothing for are simply absent. Trouble (network, quota, plan) is raised as
`DataUnavailableError` with a one-line message naming the provider; secrets never
appear in messages.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from engine.errors import DataUnavailableError

BAR_COLUMNS = ["date", "ticker", "open", "high", "low", "close", "volume"]
NEWS_COLUMNS = ["ticker", "time", "headline", "source", "url", "summary"]

_TOKEN = re.compile(r"(token|apikey|api_key)=[^&\s'\"]+", re.IGNORECASE)


@dataclass(frozen=True)
class Quote:
    """The latest price of one ticker."""

    ticker: str
    price: float
    prev_close: float | None
    time: dt.datetime | None
    source: str

    @property
    def change_pct(self) -> float | None:
        if not self.prev_close:
            return None
        return self.price / self.prev_close - 1.0


class MarketDataProvider(ABC):
    """Daily bars, quotes and (optionally) news from one source."""

    name: ClassVar[str] = "provider"

    @abstractmethod
    def bars(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        """Daily bars with start <= date <= end; columns BAR_COLUMNS."""

    @abstractmethod
    def quote(self, ticker: str) -> Quote:
        """The latest price."""

    def news(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Company news; columns NEWS_COLUMNS. Not every provider has news."""
        raise DataUnavailableError(f"{self.name} has no news", "configure Finnhub for company news")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def empty_bars() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.Series(dtype="object"),
            "ticker": pd.Series(dtype="object"),
            **{c: pd.Series(dtype="float64") for c in ("open", "high", "low", "close")},
            "volume": pd.Series(dtype="int64"),
        }
    )


def tidy_bars(df: pd.DataFrame) -> pd.DataFrame:
    """Columns and types every provider returns: dates as datetime.date, volume int64."""
    if df.empty:
        return empty_bars()
    out = df[BAR_COLUMNS].copy()
    out["date"] = pd.to_datetime(out["date"]).dt.date
    out["ticker"] = out["ticker"].astype(str).str.upper()
    for col in ("open", "high", "low", "close"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    out["volume"] = pd.to_numeric(out["volume"], errors="coerce").fillna(0).round().astype("int64")
    return out.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)


def scrub(text: str, *secrets: str | None) -> str:
    """Remove API keys (and token=… query parameters) from a message."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _TOKEN.sub(r"\1=***", text)


def network_reason(text: str) -> str | None:
    """A short reason when an error text says the network is unreachable."""
    low = text.lower()
    if any(k in low for k in ("resolve", "name or service", "nodename", "getaddrinfo", "dns")):
        return "network unreachable (DNS lookup failed)"
    if any(k in low for k in ("timed out", "timeout")):
        return "network timeout"
    if any(
        k in low
        for k in (
            "connection refused",
            "network is unreachable",
            "failed to connect",
            "connection aborted",
            "max retries",
            "failed to perform",
        )
    ):
        return "network unreachable"
    return None
