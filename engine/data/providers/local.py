"""Bars from a local Parquet/CSV file (the bundled sample by default)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from engine.data.providers.base import MarketDataProvider, Quote, tidy_bars
from engine.errors import DataUnavailableError


def sample_path() -> Path:
    from engine.config import REPO_ROOT

    return REPO_ROOT / "data" / "watchlist_sample.parquet"


class LocalFileProvider(MarketDataProvider):
    """A file with date, ticker, open, high, low, close, volume, read once."""

    name = "local"

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser().resolve() if path else sample_path()
        self.source = "sample" if self.path == sample_path() else f"file:{self.path.name}"
        self._bars: pd.DataFrame | None = None

    def __repr__(self) -> str:
        return f"LocalFileProvider({str(self.path)!r})"

    def frame(self) -> pd.DataFrame:
        """Every bar in the file (InputError if the file is unusable)."""
        if self._bars is None:
            from engine.feeds import read_bars_file

            self._bars = read_bars_file(self.path)
        return self._bars

    def bars(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        df = self.frame()
        wanted = {t.upper() for t in tickers}
        mask = df["ticker"].isin(wanted) & (df["date"] >= start) & (df["date"] <= end)
        return tidy_bars(df.loc[mask])

    def quote(self, ticker: str) -> Quote:
        df = self.frame()
        rows = df[df["ticker"] == ticker.upper()]
        if rows.empty:
            raise DataUnavailableError(f"local: {ticker} is not in {self.path.name}")
        last = rows.iloc[-1]
        prev = float(rows.iloc[-2]["close"]) if len(rows) > 1 else None
        when = dt.datetime.combine(last["date"], dt.time(16, 0))
        return Quote(ticker.upper(), float(last["close"]), prev, when, self.source)
