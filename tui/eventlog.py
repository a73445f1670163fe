"""The event log: every toast kept, engine events turned into messages by type.

`LogMixin` (mixed into `PmaxApp`) overrides `notify` so every toast is plain text
(never markup: tickers and reasons come from data) and lands in a bounded history;
`L` opens `EventLogScreen`, newest first. Engine events are dispatched by their
class (`isinstance`), and a kill-switch trip is logged with its limit, value,
threshold and action.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.events import CycleCompleted, DataStale, FeedExhausted
from engine.universe import UniverseChanged
from tui.messages import EngineEvent

if TYPE_CHECKING:  # the risk stage (and the book it imports) loads with the first event: a faster start
    from engine.stages.risk import RiskLimitBreached

HISTORY = 500


@dataclass(frozen=True)
class LogEntry:
    """One toast or logged event."""

    at: dt.datetime
    session: dt.date | None
    severity: str
    title: str
    message: str


def breach_reason(event: RiskLimitBreached) -> str:
    """A kill-switch trip in one line: which limit, how far past it, what it does."""
    text = f"{event.limit}: {event.value:.4g} past its threshold {event.threshold:.4g}; action {event.action}"
    return text + (f" ({event.detail})" if event.detail else "")


def universe_line(event: UniverseChanged) -> str:
    """What a watchlist change did in the engine, in one line."""
    parts = []
    if event.added:
        parts.append(f"added {', '.join(event.added)} ({event.backfilled:,} history bars loaded)")
    if event.removed:
        parts.append(f"removed {', '.join(event.removed)}")
    if event.kept:
        parts.append(f"still managing {', '.join(event.kept)} (held, off the watchlist)")
    if event.liquidating:
        parts.append(f"liquidating {', '.join(event.liquidating)}: sale ordered, fills at the next open")
    if event.left:
        parts.append(f"{', '.join(event.left)} now flat, left the universe")
    return "; ".join(parts) or "no change"


class EventLogScreen(ModalScreen[None]):
    """The toast history, newest first; esc, q or L closes it."""

    BINDINGS = [Binding("escape,q,L", "dismiss", "Close", id="log_close")]

    def __init__(self, entries: list[LogEntry]) -> None:
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, pad_edge=False)
        for name in ("Time", "Session", "Kind", "What"):
            table.add_column(name, no_wrap=name != "What")
        for e in reversed(self.entries):
            what = Text(e.title + ": ", style="bold") + Text(e.message) if e.title else Text(e.message)
            table.add_row(e.at.strftime("%H:%M:%S"), str(e.session or "—"), e.severity, what)
        with VerticalScroll(id="eventlog"):
            yield Static(
                Text("Event log (every toast, kill-switch trips with their reasons; esc closes)", style="bold")
            )
            yield Static(table if self.entries else Text("Nothing has happened yet."))


class LogMixin:
    """Toast history and engine-event dispatch (mixed into PmaxApp)."""

    as_of: dt.date | None
    _log_entries: deque[LogEntry]  # not `_log`: that is Textual's own App._log method

    def _init_log(self) -> None:
        self._log_entries = deque(maxlen=HISTORY)

    @property
    def event_log(self) -> list[LogEntry]:
        return list(self._log_entries)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast is kept in the log and shown as plain text (no markup from data)."""
        self._log_entries.append(LogEntry(dt.datetime.now(), self.as_of, str(severity), title, message))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)  # type: ignore[misc]

    def action_event_log(self) -> None:
        self.push_screen(EventLogScreen(self.event_log))  # type: ignore[attr-defined]

    def on_engine_event(self, message: EngineEvent) -> None:
        from engine.stages.risk import RiskLimitBreached

        app: Any = self
        event = message.event
        if isinstance(event, CycleCompleted):
            app.as_of = event.session
        elif isinstance(event, RiskLimitBreached):
            app.notify(
                breach_reason(event), title=f"Kill switch tripped on {event.session}", severity="warning", timeout=8
            )
        elif isinstance(event, DataStale):
            app.notify(event.reason, title=f"Data stale on {event.session}", severity="warning")
        elif isinstance(event, UniverseChanged):
            app.notify(universe_line(event), title=f"Watchlist change applied on {event.session}", timeout=6)
        elif isinstance(event, FeedExhausted):
            pass  # the loop reports the end of the replay
        app._dirty = True
        app._show_status()
