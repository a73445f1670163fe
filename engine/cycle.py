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
        """Distinct stored session dates up to this one, oldest first."""
        sql = "SELECT DISTINCT date FROM bars WHERE date <= ? ORDER BY date"
        dates = [row[0] for row in self.con.execute(sql, [self.session]).fetchall()]
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
