"""Synthetic daily bars for tests and benchmarks: a one-factor market with shocks.

Dates are NYSE sessions, so the quality gate accepts them.

`synthetic_bars` draws correlated log returns (market factor + idiosyncratic noise)
from an explicit seed, then builds consistent OHLCV rows. `shocks` forces the whole
universe's close-to-close return on given session indices (crash days); `flat`
repeats one ticker's bar over a range of sessions (stale data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def nyse_sessions(start: dt.date, n: int) -> list[dt.date]:
    """The first `n` NYSE sessions on or after `start`."""
    from engine.data.calendar import sessions_between

    days = sessions_between(start, start + dt.timedelta(days=int(n * 1.6) + 30))
    if len(days) < n:
        raise ValueError(f"fewer than {n} NYSE sessions after {start} in the calendar")
    return list(days[:n])


def synthetic_bars(
    tickers: Sequence[str],
    n_sessions: int,
    *,
    start: dt.date = dt.date(2015, 1, 2),
    seed: int = 0,
    drift: float = 0.0004,
    market_vol: float = 0.01,
    idio_vol: float = 0.01,
    shocks: Mapping[int, float] | None = None,
    flat: Mapping[str, tuple[int, int]] | None = None,
    price0: float = 100.0,
    volume: float = 2_000_000.0,
) -> pd.DataFrame:
    """Long bars (date, ticker, open, high, low, close, volume) on business days."""
    rng = np.random.default_rng(seed)
    n = len(tickers)
    dates = nyse_sessions(start, n_sessions)
    mkt = rng.normal(drift, market_vol, size=(n_sessions, 1))
    beta = rng.uniform(0.6, 1.4, size=(1, n))
    r = mkt * beta + rng.normal(0.0, idio_vol, size=(n_sessions, n))
    r[0] = 0.0
    for i, ret in (shocks or {}).items():
        r[i] = np.log1p(ret)
    close = price0 * rng.uniform(0.5, 2.0, size=(1, n)) * np.exp(np.cumsum(r, axis=0))
    gap = np.exp(rng.normal(0.0, 0.002, size=(n_sessions, n)))
    prev = np.vstack([close[:1], close[:-1]])
    open_ = prev * gap
    for i in (shocks or {}):
        open_[i] = close[i] / np.exp(rng.normal(0.0, 0.002, size=n))  # the shock happens at the open
    wick = np.abs(rng.normal(0.0, 0.004, size=(2, n_sessions, n)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    vol = np.round(volume * rng.uniform(0.5, 1.5, size=(n_sessions, n)))
    for t, (a, b) in (flat or {}).items():
        j = list(tickers).index(t)
        c = close[a - 1, j]
        open_[a:b, j] = high[a:b, j] = low[a:b, j] = close[a:b, j] = c
        vol[a:b, j] = vol[a - 1, j]
    frames = []
    for j, t in enumerate(tickers):
        frames.append(pd.DataFrame({"date": dates, "ticker": t, "open": open_[:, j], "high": high[:, j],
                                    "low": low[:, j], "close": close[:, j], "volume": vol[:, j].astype(np.int64)}))
    return pd.concat(frames, ignore_index=True).sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)
