"""Vectorised research backtest that reproduces the paper broker's P&L.

Given the share quantities the strategy decided at each close (signed, one row per
session) and the sessions' open/close prices, `vector_backtest` fills every
decision at the next open with the same slippage, commission and cent rounding
as `PaperBroker`, in whole-array numpy, and returns cash and equity per session.
With no partial fills, rejections or cancellations it matches the event-driven
broker to the cent; `orders_matrix` builds its input from the `orders` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import duckdb


def _cents(x: np.ndarray) -> np.ndarray:
    return np.copysign(np.floor(np.abs(x) * 100.0 + 0.5) / 100.0, x)


@dataclass(frozen=True)
class BacktestResult:
    cash: np.ndarray       # (T,) cash at each close
    equity: np.ndarray     # (T,) cash + holdings x close
    holdings: np.ndarray   # (T, N) shares held at each close


def vector_backtest(decided: np.ndarray, open_: np.ndarray, close: np.ndarray, initial_cash: float,
                    slippage_bps: float = 10.0, commission_bps: float = 10.0) -> BacktestResult:
    """Fills `decided[t]` (signed shares, T x N) at `open_[t + 1]`; returns the books per session."""
    d = np.asarray(decided, dtype=np.int64)
    q = np.zeros_like(d)
    q[1:] = d[:-1]                              # decided at t, filled at t + 1
    s, c = slippage_bps / 1e4, commission_bps / 1e4
    price = np.floor(np.where(q > 0, open_ * (1 + s), open_ * (1 - s)) * 1e4 + 0.5) / 1e4  # = broker.round_price
    notional = _cents(np.abs(q) * np.nan_to_num(price))
    commission = _cents(notional * c)
    flow = np.where(q > 0, -(notional + commission), np.where(q < 0, notional - commission, 0.0))
    cash = initial_cash + np.cumsum(flow.sum(axis=1))
    holdings = np.cumsum(q, axis=0)
    marks = pd.DataFrame(close).ffill().to_numpy()
    equity = cash + np.nansum(holdings * np.nan_to_num(marks), axis=1)
    return BacktestResult(cash, equity, holdings)


def orders_matrix(con: duckdb.DuckDBPyConnection, account: str) -> tuple[list, list[str], np.ndarray,
                                                                         np.ndarray, np.ndarray]:
    """(sessions, tickers, decided T x N, open T x N, close T x N) from the store's
    accepted orders and bars over the account's equity sessions."""
    sessions = [r[0] for r in con.execute("SELECT as_of FROM equity WHERE account = ? ORDER BY as_of",
                                          [account]).fetchall()]
    orders = con.execute("SELECT as_of, ticker, CASE WHEN side = 'BUY' THEN qty ELSE -qty END FROM orders "
                         "WHERE account = ? AND status <> 'rejected'", [account]).fetchall()
    bars = con.execute("SELECT date, ticker, open, close FROM bars WHERE date BETWEEN ? AND ? AND NOT quarantined",
                       [sessions[0], sessions[-1]]).df()
    tickers = sorted(bars["ticker"].unique())
    si = {d: i for i, d in enumerate(sessions)}
    ti = {t: j for j, t in enumerate(tickers)}
    decided = np.zeros((len(sessions), len(tickers)), dtype=np.int64)
    for day, t, q in orders:
        decided[si[day], ti[t]] += int(q)
    op = np.full(decided.shape, np.nan)
    cl = np.full(decided.shape, np.nan)
    dates = pd.to_datetime(bars["date"]).dt.date
    rows = [si.get(d, -1) for d in dates]
    cols = [ti[t] for t in bars["ticker"]]
    for r, k, o, c in zip(rows, cols, bars["open"], bars["close"]):
        if r >= 0:
            op[r, k], cl[r, k] = o, c
    return sessions, tickers, decided, op, cl
