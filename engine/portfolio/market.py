"""The price panel the portfolio stages share within one cycle.

`market_view(ctx)` reads the last `[portfolio] lookback` sessions of stored,
non-quarantined bars (never after `ctx.session`) once per cycle and pivots them to
(T x N) arrays; later stages of the same cycle reuse it from `ctx.state`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from engine.cycle import CycleContext

_KEY = "portfolio.market"


@dataclass(eq=False)
class MarketView:
    """Aligned bars: rows are sessions (ascending, last = the current one), columns tickers."""

    session: dt.date
    dates: list[dt.date]
    tickers: list[str]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    _col: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._col = {t: i for i, t in enumerate(self.tickers)}

    def col(self, ticker: str) -> int | None:
        return self._col.get(ticker)

    def cols(self, tickers: list[str]) -> list[int]:
        """Column positions of `tickers`, every one of which is in the view (KeyError if not)."""
        return [self._col[t] for t in tickers]

    @property
    def returns(self) -> np.ndarray:
        """Simple close-to-close returns ((T-1) x N), NaN where either close is missing."""
        c = self.close
        with np.errstate(divide="ignore", invalid="ignore"):
            return c[1:] / c[:-1] - 1.0

    def has_today(self) -> np.ndarray:
        """(N,) True where the ticker has a usable bar dated `session`."""
        if not self.dates or self.dates[-1] != self.session:
            return np.zeros(len(self.tickers), dtype=bool)
        return np.isfinite(self.close[-1])

    def last_close(self) -> np.ndarray:
        """(N,) the latest close on or before `session` (NaN if none in the window)."""
        c = pd.DataFrame(self.close).ffill().to_numpy()
        return c[-1] if c.size else np.full(len(self.tickers), np.nan)

    def adv(self, window: int = 20) -> np.ndarray:
        """(N,) mean volume over the last `window` sessions (missing days skipped)."""
        v = self.volume[-window:]
        with np.errstate(invalid="ignore"):
            return (
                np.nanmean(np.where(np.isfinite(v), v, np.nan), axis=0)
                if v.size
                else np.full(len(self.tickers), np.nan)
            )

    def universe_median_return(self) -> float:
        """Median simple return of the tickers with a bar today and yesterday."""
        if len(self.dates) < 2 or self.dates[-1] != self.session:
            return float("nan")
        r = self.returns[-1]
        r = r[np.isfinite(r)]
        return float(np.median(r)) if r.size else float("nan")


def build_view(bars: pd.DataFrame, session: dt.date, lookback: int) -> MarketView:
    """Pivot long bars (date, ticker, OHLCV) into the last `lookback + 1` sessions."""
    cols = {c: bars[c].to_numpy() for c in ("date", "ticker", "open", "high", "low", "close", "volume")}
    return _pivot(cols, session, lookback)


def _pivot(cols: dict[str, np.ndarray], session: dt.date, lookback: int) -> MarketView:
    dates_all = np.asarray(cols["date"])
    if dates_all.size == 0:
        z = np.zeros((0, 0))
        return MarketView(session, [], [], z, z, z, z, z)
    # Hash factorisation (sorted codes): much faster than np.unique on object arrays.
    di, udates = pd.factorize(dates_all, sort=True)
    udates = np.asarray(udates)
    keep_from = max(0, udates.size - (lookback + 1))
    ti, tickers = pd.factorize(np.asarray(cols["ticker"], dtype=object), sort=True)
    rows = di - keep_from
    ok = rows >= 0
    shape = (udates.size - keep_from, tickers.size)
    arrays = {}
    for col in ("open", "high", "low", "close", "volume"):
        a = np.full(shape, np.nan)
        a[rows[ok], ti[ok]] = np.asarray(cols[col], dtype=float)[ok]
        arrays[col] = a
    kept = udates[keep_from:]
    dates = kept.astype("datetime64[D]").tolist() if kept.dtype.kind == "M" else list(kept)
    return MarketView(
        session,
        dates,
        [str(t) for t in tickers],
        open=arrays["open"],
        high=arrays["high"],
        low=arrays["low"],
        close=arrays["close"],
        volume=arrays["volume"],
    )


def market_view(ctx: CycleContext) -> MarketView:
    """This cycle's view (cached in `ctx.state`): stored, non-quarantined bars up to
    and including `ctx.session` (the same rows `ctx.history` returns)."""
    cached = ctx.state.get(_KEY)
    if cached is not None and cached.session == ctx.session:
        return cached
    from engine.universe import priced_tickers

    lookback = ctx.config.portfolio.lookback
    # Calendar-day bound first (cheap), then keep the last lookback+1 sessions.
    start = ctx.session - dt.timedelta(days=int(lookback * 1.6) + 14)
    watch = priced_tickers(ctx) or []
    sql = (
        "SELECT date, ticker, open, high, low, close, volume FROM bars "
        "WHERE date >= ? AND date <= ? AND NOT quarantined"
    )
    params: list = [start, ctx.session]
    if watch:
        sql += " AND list_contains(?, ticker)"
        params.append(watch)
    cols = ctx.con.execute(sql, params).fetchnumpy()
    view = _pivot(cols, ctx.session, lookback)
    ctx.state[_KEY] = view
    return view
