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
    cash: np.ndarray  # (T,) cash at each close
    equity: np.ndarray  # (T,) cash + holdings x close
    holdings: np.ndarray  # (T, N) shares held at each close


def vector_backtest(
    decided: np.ndarray,
    open_: np.ndarray,
    close: np.ndarray,
    initial_cash: float,
    slippage_bps: float = 10.0,
    commission_bps: float = 10.0,
) -> BacktestResult:
    """Fills `decided[t]` (signed shares, T x N) at `open_[t + 1]`; returns the books per session."""
    d = np.asarray(decided, dtype=np.int64)
    q = np.zeros_like(d)
    q[1:] = d[:-1]  # decided at t, filled at t + 1
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


def _positions(sorted_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in the sorted unique keys, -1 where it is absent."""
    if len(sorted_keys) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)
    return np.where(sorted_keys[pos] == values, pos, -1).astype(np.int64)


def orders_matrix(
    con: duckdb.DuckDBPyConnection, account: str
) -> tuple[list, list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(sessions, tickers, decided T x N, open T x N, close T x N) from the store's
    accepted orders and bars over the account's equity sessions."""
    sessions = [
        r[0] for r in con.execute("SELECT as_of FROM equity WHERE account = ? ORDER BY as_of", [account]).fetchall()
    ]
    orders = con.execute(
        "SELECT as_of, ticker, CASE WHEN side = 'BUY' THEN qty ELSE -qty END FROM orders "
        "WHERE account = ? AND status <> 'rejected'",
        [account],
    ).fetchall()
    bars = con.execute(
        "SELECT date, ticker, open, close FROM bars WHERE date BETWEEN ? AND ? AND NOT quarantined",
        [sessions[0], sessions[-1]],
    ).df()
    tickers = sorted(bars["ticker"].unique())
    days = np.array(sessions, dtype="datetime64[D]")
    names = np.array(tickers, dtype=object)
    decided = np.zeros((len(sessions), len(tickers)), dtype=np.int64)
    if orders:
        o_day = np.array([o[0] for o in orders], dtype="datetime64[D]")
        o_tick = np.array([o[1] for o in orders], dtype=object)
        r, k = _positions(days, o_day), _positions(names, o_tick)
        if (r < 0).any() or (k < 0).any():  # an order off the equity sessions or the bars
            bad = int(np.flatnonzero((r < 0) | (k < 0))[0])
            raise KeyError(orders[bad][0] if r[bad] < 0 else orders[bad][1])
        np.add.at(decided, (r, k), np.array([int(o[2]) for o in orders], dtype=np.int64))
    op = np.full(decided.shape, np.nan)
    cl = np.full(decided.shape, np.nan)
    r = _positions(days, pd.to_datetime(bars["date"]).to_numpy().astype("datetime64[D]"))
    k = _positions(names, bars["ticker"].to_numpy(dtype=object))
    on = r >= 0
    op[r[on], k[on]] = bars["open"].to_numpy(dtype=float)[on]
    cl[r[on], k[on]] = bars["close"].to_numpy(dtype=float)[on]
    return sessions, tickers, decided, op, cl
