"""`Pane`: the titled container every pane derives from, and the messages panes post."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget

if TYPE_CHECKING:
    import pandas as pd


#: What a pane shows until the app's first read of the store reaches it (not "no data": it is not known yet).
WAITING = "Waiting for the first read of the store…"


class TickerSelected(Message):
    """The user moved to a ticker in a table; the other panes follow."""

    def __init__(self, ticker: str) -> None:
        super().__init__()
        self.ticker = ticker


class WatchlistEdited(Message):
    """The user added or removed a watchlist ticker; the app persists the list."""

    def __init__(self, add: str | None = None, remove: str | None = None) -> None:
        super().__init__()
        self.add = add
        self.remove = remove


class Pane(Vertical):
    """A bordered pane. Subclasses name their id, title and primary (focus) widget."""

    PANE_ID: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    can_focus = False
    ALLOW_MAXIMIZE = True

    def __init__(self) -> None:
        super().__init__(id=self.PANE_ID, classes="pane")
        self.border_title = self.TITLE

    def primary(self) -> Widget | None:
        """The widget that takes focus when the pane is entered."""
        return None

    def set_empty(self, empty: bool) -> None:
        """Show the pane's empty state (its table hidden) or its data. Hiding the focused
        table blurs it, and Textual leaves focus nowhere: keys then reach no pane. So when
        data arrives in the active pane while nothing has focus, its table takes focus back."""
        was_empty = self.has_class("-empty")
        self.set_class(empty, "-empty")
        if was_empty and not empty:
            self.call_after_refresh(self._refocus_if_lost)

    def _refocus_if_lost(self) -> None:
        app = self.app
        if (
            self.is_attached
            and app.screen is self.screen  # no dialog or help screen on top
            and self.screen.focused is None
            and getattr(app, "active_pane", None) == self.id
        ):
            self.focus_primary()

    def focus_primary(self) -> None:
        """Focus the pane's main widget now (not after the queued keys: in a burst like `i` then
        a question, the letters after `i` must reach the question, not the old pane's commands)."""
        target = self.primary()
        if target is not None:
            self.screen.set_focus(target)

    def export_frame(self) -> pd.DataFrame | None:
        """The table this pane shows, for export; None when it has none."""
        return None

    def chart_text(self, width: int = 100, height: int = 25) -> str | None:
        """This pane's chart as plain text; None when it has none."""
        return None
