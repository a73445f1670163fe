"""Synthetic daily bars for tests and benchmarks: a one-factor market with shocks, and
a random-walk copy of a real market (`random_walk_market`) with nothing to predict.

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
    for i in shocks or {}:
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
        frames.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "ticker": t,
                    "open": open_[:, j],
                    "high": high[:, j],
                    "low": low[:, j],
                    "close": close[:, j],
                    "volume": vol[:, j].astype(np.int64),
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)


def random_walk_market(
    template: pd.DataFrame, *, seed: int = 0, rho: float = 0.35, gap_share: float = 0.3
) -> pd.DataFrame:
    """A market with nothing to predict, shaped like `template` (long OHLCV bars).

    Same tickers, dates, first closes and volumes as the template; log returns are
    i.i.d. with zero mean, each ticker's daily vol equal to its realised vol in the
    template, and a one-factor correlation `rho` between every pair. A share
    `gap_share` of each day's variance happens overnight (close -> open); highs and
    lows wrap open and close. No past price, volume or cross-section carries
    information about the next return.
    """
    rng = np.random.default_rng(seed)
    close0 = template.pivot(index="date", columns="ticker", values="close").sort_index()
    vol = template.pivot(index="date", columns="ticker", values="volume").sort_index().reindex_like(close0)
    dates, tickers = list(close0.index), list(close0.columns)
    n_t, n = close0.shape
    sigma = np.log(close0).diff().std(ddof=1).to_numpy()
    z = np.sqrt(rho) * rng.standard_normal((n_t, 1)) + np.sqrt(1.0 - rho) * rng.standard_normal((n_t, n))
    gap_z = rng.standard_normal((n_t, n))
    r = z * sigma
    gap = np.sqrt(gap_share) * sigma * gap_z  # overnight part, independent of the day's close
    r[0] = gap[0] = 0.0
    close = close0.iloc[0].to_numpy() * np.exp(np.cumsum(r, axis=0))
    prev = np.vstack([close[:1], close[:-1]])
    open_ = prev * np.exp(gap)
    wick = np.abs(rng.normal(0.0, 0.5, size=(2, n_t, n))) * sigma
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    volume = vol.ffill().bfill().to_numpy().astype(np.int64)
    frames = [
        pd.DataFrame(
            {
                "date": dates,
                "ticker": t,
                "open": open_[:, j],
                "high": high[:, j],
                "low": low[:, j],
                "close": close[:, j],
                "volume": volume[:, j],
            }
        )
        for j, t in enumerate(tickers)
    ]
    return pd.concat(frames, ignore_index=True).sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)
