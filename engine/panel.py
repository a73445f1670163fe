"""`Panel`: daily bars of many tickers aligned on sessions, the input of features and models.

A panel is plain arrays (numpy/pandas only). Derived values are cached on it in
`_cache` by whoever computes them (`log_returns` here, the feature set in
`engine.features.features_of`), so a panel shared by threads computes each once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True, eq=False)
class Panel:
    """Daily bars of many tickers aligned on sessions: arrays of shape (T, N).

    Rows are sessions (ascending), columns tickers; a missing bar is NaN. A panel
    never holds a row after its `cutoff`, so anything computed from it is causal.
    """

    dates: np.ndarray  # datetime64[D], shape (T,)
    tickers: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_long(cls, bars: pd.DataFrame, tickers: Sequence[str] | None = None) -> Panel:
        """Pivot long bars (date, ticker, open, high, low, close, volume) to a panel."""
        if bars.empty:
            names = tuple(tickers or ())
            empty = np.empty((0, len(names)))
            return cls(np.array([], dtype="datetime64[D]"), names, empty, empty, empty, empty, empty)
        df = bars[["date", "ticker", "open", "high", "low", "close", "volume"]]
        day = pd.to_datetime(df["date"]).to_numpy().astype("datetime64[D]")
        dates = np.unique(day)
        names = tuple(sorted(df["ticker"].unique())) if tickers is None else tuple(tickers)
        row = np.searchsorted(dates, day)
        col_of = {t: i for i, t in enumerate(names)}
        col = df["ticker"].map(col_of).to_numpy(dtype=float)
        keep = ~np.isnan(col)
        row, col = row[keep], col[keep].astype(np.int64)
        arrays = []
        for name in ("open", "high", "low", "close", "volume"):
            a = np.full((len(dates), len(names)), np.nan)
            a[row, col] = df[name].to_numpy(dtype=float)[keep]
            arrays.append(a)
        opens, highs, lows, closes, volumes = arrays
        return cls(dates, names, opens, highs, lows, closes, volumes)

    @property
    def n_sessions(self) -> int:
        return int(self.dates.shape[0])

    @property
    def n_tickers(self) -> int:
        return len(self.tickers)

    @property
    def cutoff(self) -> date | None:
        """The last session in the panel (the forecast origin)."""
        return None if self.n_sessions == 0 else pd.Timestamp(self.dates[-1]).date()

    def log_returns(self) -> np.ndarray:
        """Close-to-close log returns (T, N); row 0 and gaps are NaN."""
        if "log_returns" not in self._cache:
            lc = np.log(self.close)
            r = np.full_like(lc, np.nan)
            r[1:] = lc[1:] - lc[:-1]
            self._cache["log_returns"] = r
        return self._cache["log_returns"]

    def rows(self, stop: int, start: int = 0) -> Panel:
        """The sub-panel of rows [start, stop) (positions, not dates)."""
        sl = slice(start, stop)
        return Panel(
            self.dates[sl], self.tickers, self.open[sl], self.high[sl], self.low[sl], self.close[sl], self.volume[sl]
        )

    def upto(self, day: date | np.datetime64, lookback: int | None = None) -> Panel:
        """Rows with date ≤ `day`, the last `lookback` of them if given."""
        # numpy's stubs take a date or a datetime64, not their union
        stop = int(np.searchsorted(self.dates, np.datetime64(day, "D"), side="right"))  # type: ignore[call-overload]
        start = 0 if lookback is None else max(0, stop - lookback)
        return self.rows(stop, start)

    def select(self, tickers: Sequence[str]) -> Panel:
        """The same rows for a subset of tickers (in the given order)."""
        idx = [self.tickers.index(t) for t in tickers]
        return Panel(
            self.dates,
            tuple(tickers),
            self.open[:, idx],
            self.high[:, idx],
            self.low[:, idx],
            self.close[:, idx],
            self.volume[:, idx],
        )

    def live(self) -> np.ndarray:
        """Boolean (N,): tickers with a bar at the cutoff (the ones to forecast)."""
        if self.n_sessions == 0:
            return np.zeros(self.n_tickers, dtype=bool)
        return np.isfinite(self.close[-1])
