"""Watchlist and theme edits: validated, undoable (`u`), saved only on request.

Letters in tables must never silently change what persists. Edits here change the
session only; each toast says exactly what happened and how to undo it, and nothing
reaches the user's config file until "Save settings" (`ctrl+s` or the palette).
`EditsMixin` is mixed into `PmaxApp`; its handlers use Textual's `on_*` names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.panes.base import WatchlistEdited

TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,9}$")
SAVED_KEYS = ("data.watchlist", "tui.theme")


@dataclass(frozen=True)
class Edit:
    """One undoable change: the setting, its value before, and what the toast said."""

    key: str
    before: Any
    said: str


def held_quantity(snapshot: Any, ticker: str) -> float:
    """Shares of `ticker` in the latest positions (0 when none or unknown)."""
    pos = getattr(getattr(snapshot, "risk", None), "positions", None)
    if pos is None or pos.empty or "ticker" not in pos:
        return 0.0
    rows = pos[pos["ticker"] == ticker]
    return float(rows["qty"].sum()) if not rows.empty else 0.0


class ConfirmRemoveHeld(ModalScreen[bool]):
    """Removing a held ticker: say what happens to the position, then remove or cancel."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel", id="confirm_cancel")]

    def __init__(self, ticker: str, qty: float) -> None:
        super().__init__()
        self.ticker, self.qty = ticker, qty

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(
                f"{escape(self.ticker)} is held ({self.qty:,.0f} shares).\n\n"
                "Removing it from the watchlist only hides it here: the engine keeps managing the "
                "position (its signals, risk limits and kill switches still apply) and the Risk "
                "pane still lists it. Liquidating from the TUI is not available; a SELL comes from "
                "its signal or a kill switch.", markup=True)
            with Horizontal(id="confirm-buttons"):
                yield Button(Text(f"Remove {self.ticker} from view (keep managing)"), id="confirm-yes",
                             variant="warning")
                yield Button("Cancel", id="confirm-no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


class EditsMixin:
    """Watchlist/theme edits with undo and an explicit save (mixed into PmaxApp)."""

    watchlist: list[str]
    _edits: list[Edit]
    _saved: dict[str, Any]

    def _init_edits(self) -> None:
        self._edits = []
        self._saved = {"data.watchlist": list(self.watchlist), "tui.theme": self.theme}  # type: ignore[attr-defined]
        self._last_theme: str = self.theme  # type: ignore[attr-defined]
        self._undo_theme: str | None = None

    def _current(self, key: str) -> Any:
        return list(self.watchlist) if key == "data.watchlist" else self.theme  # type: ignore[attr-defined]

    def unsaved(self) -> list[str]:
        """Settings whose session value differs from what was loaded or last saved."""
        return [k for k in SAVED_KEYS if self._current(k) != self._saved.get(k)]

    def valid_tickers(self) -> set[str]:
        """Tickers the engine's feed and the database hold; the engine's universe is fixed
        at start, so a ticker outside it would never get bars or forecasts."""
        engine = getattr(self, "engine", None)
        names: set[str] = set(getattr(getattr(engine, "feed", None), "tickers", None) or [])
        snap = getattr(self, "snapshot", None)
        names.update(getattr(snap, "all_tickers", ()) or ())
        return names

    def on_watchlist_edited(self, event: WatchlistEdited) -> None:
        app: Any = self
        current = list(self.watchlist) or [r.ticker for r in (app.snapshot.watch if app.snapshot else ())]
        if event.add:
            self._add_ticker(event.add, current)
        elif event.remove and event.remove in current:
            ticker = event.remove
            qty = held_quantity(app.snapshot, ticker)
            if qty:
                def confirmed(ok: bool | None) -> None:
                    if ok:
                        self._remove_ticker(ticker, current)

                app.push_screen(ConfirmRemoveHeld(ticker, qty), confirmed)
            else:
                self._remove_ticker(ticker, current)

    def _add_ticker(self, ticker: str, current: list[str]) -> None:
        app: Any = self
        if not TICKER_RE.match(ticker):
            app.notify(f"{ticker!r} is not a ticker symbol (letters, digits, . or -); nothing added.",
                       severity="error")
            return
        if ticker in current:
            app.notify(f"{ticker} is already in the watchlist.")
            app.jump_to(ticker)
            return
        if ticker not in self.valid_tickers():
            app.notify(f"{ticker} is not in the data (the feed's tickers or the database); nothing added. "
                       "Put it in [data] watchlist (and in the --data file for a replay), then restart.",
                       severity="error", timeout=8)
            return
        self._record("data.watchlist", f"Added {ticker} to the watchlist")
        self.watchlist = [*current, ticker]
        app.ticker = ticker
        app._dirty = True

    def _remove_ticker(self, ticker: str, current: list[str]) -> None:
        app: Any = self
        self._record("data.watchlist", f"Removed {ticker} from the watchlist")
        self.watchlist = [t for t in current if t != ticker]
        if app.ticker == ticker:
            app.ticker = None
        app._dirty = True

    def _record(self, key: str, said: str) -> None:
        app: Any = self
        self._edits.append(Edit(key, self._current(key), said))
        app.notify(f"{said} (this session only). u undoes; ctrl+s saves to your config.", timeout=6)
        app._show_status()

    def _theme_changed(self, theme: Any) -> None:
        before, self._last_theme = self._last_theme, theme.name
        if theme.name == self._undo_theme or before == theme.name:
            self._undo_theme = None
            return
        if self._edits and self._edits[-1].key == "tui.theme":
            before = self._edits.pop().before  # consecutive theme changes undo as one
        self._edits.append(Edit("tui.theme", before, f"Changed the theme to {theme.name}"))
        self._show_status()  # type: ignore[attr-defined]

    def action_next_theme(self) -> None:
        app: Any = self
        names = sorted(app.available_themes)
        app.theme = names[(names.index(app.theme) + 1) % len(names)] if app.theme in names else names[0]
        app.notify(f"Theme: {app.theme} (this session only). u undoes; ctrl+s saves.", timeout=3)

    def action_undo(self) -> None:
        app: Any = self
        if not self._edits:
            app.notify("Nothing to undo.", timeout=2)
            return
        edit = self._edits.pop()
        if edit.key == "data.watchlist":
            self.watchlist = list(edit.before)
            app._dirty = True
        else:
            self._undo_theme = edit.before
            app.theme = edit.before
        app.notify(f"Undone: {edit.said}.", timeout=4)
        app._show_status()

    def action_save_settings(self) -> None:
        keys = self.unsaved()
        if not keys:
            self.notify("No unsaved changes (watchlist and theme match your config).", timeout=3)  # type: ignore[attr-defined]
            return
        self._save_settings({k: self._current(k) for k in keys})

    @work(thread=True, group="persist", exit_on_error=False)
    def _save_settings(self, values: dict[str, Any]) -> None:
        from tui.panes.userconfig import set_user_value

        app: Any = self
        path = None
        try:
            for key, value in values.items():
                path = set_user_value(key, value, getattr(app.config, "user_path", None))
        except Exception as exc:  # noqa: BLE001 - report, keep the session going
            app.call_from_thread(app.notify, f"Could not save settings: {exc}", severity="error")
            return
        what = []
        if "data.watchlist" in values:
            what.append(f"watchlist ({len(values['data.watchlist'])} tickers)")
        if "tui.theme" in values:
            what.append(f"theme {values['tui.theme']}")
        self._saved.update(values)
        app.call_from_thread(app.notify, f"Saved {' and '.join(what)} to {path}", timeout=6)
        app.call_from_thread(app._show_status)
