"""What a stage sees during one cycle, and the `Stage` interface itself."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from engine.events import Event

if TYPE_CHECKING:
    import duckdb

    from engine.config import Config

BAR_COLUMNS = ["date", "ticker", "open", "high", "low", "close", "volume"]


@dataclass
class CycleContext:
    """One session's working set. Every write goes through `con` (the cycle's transaction)."""

    session: dt.date
    session_index: int
    account: str
    con: duckdb.DuckDBPyConnection
    config: Config
    bars: pd.DataFrame
    state: dict[str, Any]
    device: str = "cpu"
    warmup: bool = False
    run_id: str = ""
    events: list[Event] = field(default_factory=list)

    def history(
        self,
        tickers: Sequence[str] | None = None,
        lookback: int | None = None,
        start: dt.date | None = None,
        columns: Sequence[str] = BAR_COLUMNS,
    ) -> pd.DataFrame:
        """Stored, non-quarantined bars dated on or before this session.

        Args:
            tickers: restrict to these tickers (None: all).
            lookback: keep only each ticker's last `lookback` sessions.
            start: keep only bars on or after this date.
        """
        if lookback is not None and start is None and tickers is not None:
            return self._recent_history(tickers, int(lookback), columns)
        return self._history(tickers, lookback, start, columns)

    def _recent_history(self, tickers: Sequence[str], lookback: int, columns: Sequence[str]) -> pd.DataFrame:
        """`history(tickers, lookback=…)` reading only recent dates when that gives the same rows.

        A calendar window wide enough for `lookback` sessions usually holds each
        ticker's last `lookback` bars; when a ticker has fewer bars in it (new, or with
        gaps) the whole history is read instead, so the result is always the exact one.
        """
        bound = self.session - dt.timedelta(days=2 * lookback + 10)
        df = self._history(tickers, lookback, bound, columns)
        if "ticker" not in df.columns:
            return self._history(tickers, lookback, None, columns)
        counts = df["ticker"].value_counts()
        if all(counts.get(t, 0) >= lookback for t in set(tickers)):
            return df
        return self._history(tickers, lookback, None, columns)

    def _history(
        self, tickers: Sequence[str] | None, lookback: int | None, start: dt.date | None, columns: Sequence[str]
    ) -> pd.DataFrame:
        cols = ", ".join(columns)
        where = ["date <= ?", "NOT quarantined"]
        params: list[Any] = [self.session]
        if start is not None:
            where.append("date >= ?")
            params.append(start)
        if tickers is not None:
            where.append("list_contains(?, ticker)")
            params.append(list(tickers))
        sql = f"SELECT {cols} FROM bars WHERE {' AND '.join(where)}"
        if lookback is not None:
            sql = (
                f"SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY ticker ORDER BY date DESC) AS rn "
                f"FROM ({sql})) WHERE rn <= {int(lookback)}"
            )
        df = self.con.execute(sql + " ORDER BY ticker, date", params).df()
        if "date" in df.columns:
            df["date"] = pd.to_datetime(df["date"]).dt.date
        return df

    def sessions(self, lookback: int | None = None) -> list[dt.date]:
        """Distinct stored session dates up to this one, oldest first (the last `lookback`).

        With a lookback, a calendar window wide enough for it is read first; only when
        it holds fewer sessions (gaps in the data) is the whole history scanned.
        """
        sql = "SELECT DISTINCT date FROM bars WHERE date <= ?"
        if lookback:
            bound = self.session - dt.timedelta(days=2 * int(lookback) + 10)
            dates = [
                row[0]
                for row in self.con.execute(sql + " AND date >= ? ORDER BY date", [self.session, bound]).fetchall()
            ]
            if len(dates) >= lookback:
                return dates[-lookback:]
        dates = [row[0] for row in self.con.execute(sql + " ORDER BY date", [self.session]).fetchall()]
        return dates[-lookback:] if lookback else dates

    def publish(self, event: Event) -> None:
        """Queue an event; subscribers receive it after the cycle commits."""
        self.events.append(event)


class Stage(ABC):
    """One step of the loop. Synchronous: the engine runs it in a worker thread."""

    name: ClassVar[str]

    @abstractmethod
    def run(self, ctx: CycleContext) -> None:
        """Read up to `ctx.session`, write through `ctx.con`."""
