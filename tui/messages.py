"""Messages the app posts to itself, the small-screen tab bar, and a test guard.

Engine events and worker results arrive as these messages, so every widget update
happens on the UI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.widgets import Tabs

from tui.panes.views import ForecastView, Snapshot
from tui.reads import FirstRows

__all__ = ["EngineEvent", "FirstRowsLoaded", "ForecastLoaded", "PaneTabs", "SnapshotLoaded", "main_thread_guard"]


class EngineEvent(Message):
    """An engine event, delivered on the UI's message queue."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class FirstRowsLoaded(Message):
    """The watchlist's rows, read before the first full read (see `tui.reads`)."""

    def __init__(self, rows: FirstRows) -> None:
        super().__init__()
        self.rows = rows


class SnapshotLoaded(Message):
    """A worker's read of the store; `changed` names the panes whose data differs from the
    previous read (every pane when None)."""

    def __init__(self, snapshot: Snapshot, forecast: ForecastView | None, changed: set[str] | None = None) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.forecast = forecast
        self.changed = changed if changed is not None else {"watchlist", "signals", "risk", "forecasts"}


class ForecastLoaded(Message):
    def __init__(self, view: ForecastView) -> None:
        super().__init__()
        self.view = view


class PaneTabs(Tabs):
    """The tab bar shown when the terminal is too small for the grid."""

    can_focus = False


def main_thread_guard(factory: Callable[[], Any]) -> Callable[[], Any]:
    """Wrap a cursor factory so that using it on the main thread raises (for tests)."""

    def guarded() -> Any:
        if threading.current_thread() is threading.main_thread():
            raise AssertionError("database cursor requested on the UI thread")
        return factory()

    return guarded
