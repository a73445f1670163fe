"""Reads of the panes' data, without Textual (the launcher starts the first before Textual loads).

`read_first_rows` reads the status and the watchlist as plain rows: it loads neither
pandas nor numpy (nor pyarrow, through a file reader), so the app draws its first
data rows before the data stack has loaded. `read_panes` is the full read behind
every refresh; it imports `tui.panes.queries`, and pandas with it, when first called.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tui.panes.views import ForecastView, Snapshot, WatchRow
from tui.panes.watch_rows import load_status, load_watchlist


@dataclass(frozen=True)
class FirstRows:
    """The store's status and the watchlist rows, ahead of the first full read."""

    as_of: dt.date | None
    sessions: int
    watch: tuple[WatchRow, ...]


def read_first_rows(cursor_factory: Callable[[], Any], account: str, watchlist: list[str], tui: Any) -> FirstRows:
    """The watchlist's rows and the store's status; any thread but the UI's."""
    cur = cursor_factory()
    try:
        as_of, sessions = load_status(cur, account)
        return FirstRows(as_of, sessions, load_watchlist(cur, watchlist, account, int(tui.sparkline_sessions)))
    finally:
        cur.close()


def read_panes(
    cursor_factory: Callable[[], Any], account: str, ticker: str | None, watchlist: list[str], tui: Any
) -> tuple[Snapshot, ForecastView | None]:
    """The snapshot and the selected (else first) ticker's forecast view; any thread but the UI's."""
    from tui.panes.queries import load_forecast, load_snapshot

    cur = cursor_factory()
    try:
        snap = load_snapshot(cur, account, watchlist, int(tui.sparkline_sessions))
        pick = ticker or (snap.watch[0].ticker if snap.watch else None)
        view = load_forecast(cur, account, pick, int(tui.chart_sessions)) if pick else None
    finally:
        cur.close()
    return snap, view
