"""One read of every pane's data, without Textual (the launcher starts one before Textual loads)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tui.panes.queries import ForecastView, Snapshot, load_forecast, load_snapshot


def read_panes(
    cursor_factory: Callable[[], Any], account: str, ticker: str | None, watchlist: list[str], tui: Any
) -> tuple[Snapshot, ForecastView | None]:
    """The snapshot and the selected (else first) ticker's forecast view; any thread but the UI's."""
    cur = cursor_factory()
    try:
        snap = load_snapshot(cur, account, watchlist, int(tui.sparkline_sessions))
        pick = ticker or (snap.watch[0].ticker if snap.watch else None)
        view = load_forecast(cur, account, pick, int(tui.chart_sessions)) if pick else None
    finally:
        cur.close()
    return snap, view
