"""The watchlist's rows and the store's status, read as plain rows.

No pandas and no numpy here, and through a file reader no pyarrow either
(`engine.serve.reader.fetch_rows`): the app reads these first, before the data stack
has loaded, so its first data row is drawn early (`tui.reads.read_first_rows`); the
full refresh reads them the same way.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from typing import Any

import duckdb

from engine.serve.reader import fetch_rows
from tui.panes.views import WatchRow

__all__ = ["load_status", "load_watchlist"]


def _rows(cur: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows; none when a table does not exist yet (a fresh store)."""
    try:
        return fetch_rows(cur, sql, list(params))
    except duckdb.CatalogException:
        return []


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def load_status(cur: Any, account: str) -> tuple[dt.date | None, int]:
    """The last committed session and how many sessions are committed."""
    rows = _rows(cur, "SELECT max(session), count(*) FROM cycles WHERE account = ?", [account])
    if not rows:
        return None, 0
    return _date(rows[0][0]), int(rows[0][1] or 0)


def load_watchlist(cur: Any, tickers: Sequence[str], account: str, spark_n: int = 20) -> tuple[WatchRow, ...]:
    """One row per ticker (all stored tickers when `tickers` is empty), in the given order."""
    where, params = ("", []) if not tickers else ("AND ticker IN (SELECT unnest(?))", [list(tickers)])
    bars = _rows(
        cur,
        f"""
        SELECT ticker, date, close, stale FROM (
            SELECT ticker, date, close, stale,
                   row_number() OVER (PARTITION BY ticker ORDER BY date DESC) AS rn
            FROM bars WHERE NOT quarantined {where}
        ) WHERE rn <= ? ORDER BY ticker, date
        """,
        [*params, max(spark_n, 2)],
    )
    quarantine = _rows(
        cur, f"SELECT ticker, max(date) AS last_q FROM bars WHERE quarantined {where} GROUP BY ticker", params
    )
    latest_signals = _rows(
        cur,
        """
        SELECT ticker, action, confidence FROM signals
        WHERE account = ? AND as_of = (SELECT max(as_of) FROM signals WHERE account = ?)
        """,
        [account, account],
    )
    last_q = {ticker: _date(day) for ticker, day in quarantine}
    signals = {ticker: (action, conf) for ticker, action, conf in latest_signals}
    rows: dict[str, WatchRow] = {}
    for name, group in itertools.groupby(bars, key=lambda bar: bar[0]):
        history = list(group)
        series = [float(bar[2]) for bar in history]
        first_date, q_date = _date(history[0][1]), last_q.get(name)
        change = series[-1] / series[-2] - 1.0 if len(series) > 1 and series[-2] else None
        action, conf = signals.get(name, (None, None))
        rows[name] = WatchRow(
            ticker=str(name),
            date=_date(history[-1][1]),
            last=series[-1],
            change=change,
            spark=tuple(series[-spark_n:]),
            signal=action,
            confidence=None if conf is None or math.isnan(conf) else float(conf),
            stale=bool(history[-1][3]),
            quarantined=q_date is not None and first_date is not None and q_date >= first_date,
        )
    order = list(tickers) if tickers else sorted(rows)
    return tuple(rows.get(t) or WatchRow(ticker=t, signal=signals.get(t, (None,))[0]) for t in order)
