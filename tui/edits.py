"""Watchlist and theme edits: validated, undoable (`u`), saved only on request.

Letters in tables must never silently change what persists. Edits here change the
session only; each toast says exactly what happened and how to undo it, and nothing
reaches the user's config file until "Save settings" (`ctrl+s` or the palette).
With an engine, watchlist edits are queued with `Engine.request_universe_change`
(an added ticker is checked against the data; a held one removed is kept or
liquidated, as the user chooses) and take effect at the next cycle.
`EditsMixin` is mixed into `PmaxApp`; its handlers use Textual's `on_*` names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from tui.panes.base import WatchlistEdited

TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,9}$")
SAVED_KEYS = ("data.watchlist", "tui.theme")


@dataclass(frozen=True)
class Edit:
    """One undoable change: the setting, its value before, what the toast said, and the
    engine request that reverses it (`("add" | "remove", ticker)`, None when none was made)."""

    key: str
    before: Any
    said: str
    engine_undo: tuple[str, str] | None = None


def held_quantity(snapshot: Any, ticker: str) -> float:
    """Shares of `ticker` in the latest positions (0 when none or unknown)."""
    pos = getattr(getattr(snapshot, "risk", None), "positions", None)
    if pos is None or pos.empty or "ticker" not in pos:
        return 0.0
    rows = pos[pos["ticker"] == ticker]
    return float(rows["qty"].sum()) if not rows.empty else 0.0


class ConfirmRemoveHeld(ModalScreen[str | None]):
    """Removing a held ticker: keep managing the position, liquidate it, or cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="confirm_cancel"),
        Binding("k", "dismiss('keep')", "Keep", id="confirm_keep", show=False),
        Binding("l", "dismiss('liquidate')", "Liquidate", id="confirm_liquidate", show=False),
    ]

    def __init__(self, ticker: str, qty: float, can_liquidate: bool = True) -> None:
        super().__init__()
        self.ticker, self.qty, self.can_liquidate = ticker, qty, can_liquidate

    def compose(self) -> ComposeResult:
        sell = (
            " Liquidate: the next cycle orders the sale and it fills at the following session's open "
            "(costs and all, like any order)."
            if self.can_liquidate
            else " (No engine runs in this view, so nothing can be sold from here.)"
        )
        with Vertical(id="confirm"):
            yield Static(
                Text(
                    f"{self.ticker} is held ({self.qty:,.0f} shares). What should happen to the position?\n\n"
                    "Keep: it leaves the watchlist, but the engine keeps managing it (forecasts, signals, "
                    "risk limits and kill switches still apply) and the Risk pane still lists it." + sell
                )
            )
            with Horizontal(id="confirm-buttons"):
                yield Button(Text("k Keep managing it"), id="confirm-keep", variant="primary")
                if self.can_liquidate:
                    yield Button(Text("l Liquidate at next open"), id="confirm-liquidate", variant="warning")
                yield Button("esc Cancel", id="confirm-no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss({"confirm-keep": "keep", "confirm-liquidate": "liquidate"}.get(event.button.id or ""))


class EditsMixin:
    """Watchlist/theme edits with undo and an explicit save (mixed into PmaxApp)."""

    watchlist: list[str]
    _edits: list[Edit]
    _saved: dict[str, Any]

    async def _on_key(self, event: events.Key) -> None:
        """While a text box has focus, a printable key is text. Keys arrive in bursts (typing
        `a` then a ticker, `i` then a question): those read before the focus moved were sent
        to the old widget and bubble up here; they belong in the box, not to its commands."""
        focused = self.focused  # type: ignore[attr-defined]
        if isinstance(focused, Input) and event.is_printable and event.character:
            focused.insert_text_at_cursor(event.character)
            event.prevent_default()  # App._on_key would run the old pane's binding for it
            event.stop()

    def _init_edits(self) -> None:
        self._edits = []
        self._saved = {"data.watchlist": list(self.watchlist), "tui.theme": self.theme}  # type: ignore[attr-defined]
        self._last_theme: str = self.theme  # type: ignore[attr-defined]
        self._undo_theme: str | None = None

    def _current(self, key: str) -> Any:
        return list(self.watchlist) if key == "data.watchlist" else self.theme  # type: ignore[attr-defined]

    def _watching(self) -> list[str]:
        app: Any = self
        return list(self.watchlist) or [r.ticker for r in (app.snapshot.watch if app.snapshot else ())]

    def unsaved(self) -> list[str]:
        """Settings whose session value differs from what was loaded or last saved."""
        return [k for k in SAVED_KEYS if self._current(k) != self._saved.get(k)]

    def valid_tickers(self) -> set[str]:
        """Tickers the database holds (a view without an engine can show only those)."""
        snap = getattr(self, "snapshot", None)
        return set(getattr(snap, "all_tickers", ()) or ())

    def on_watchlist_edited(self, event: WatchlistEdited) -> None:
        app: Any = self
        current = self._watching()
        if event.add:
            self._add_ticker(event.add, current)
        elif event.remove and event.remove in current:
            ticker = event.remove
            qty = held_quantity(app.snapshot, ticker)
            if qty:

                def chosen(choice: str | None) -> None:
                    if choice:
                        self._remove_ticker(ticker, choice, qty)

                app.push_screen(ConfirmRemoveHeld(ticker, qty, app.engine is not None), chosen)
            else:
                self._remove_ticker(ticker, "remove", 0.0)

    def _add_ticker(self, ticker: str, current: list[str]) -> None:
        app: Any = self
        if not TICKER_RE.match(ticker):
            app.notify(f"{ticker!r} is not a ticker symbol (letters, digits, . or -); nothing added.", severity="error")
            return
        if ticker in current:
            app.notify(f"{ticker} is already in the watchlist.")
            app.jump_to(ticker)
            return
        if app.engine is None:
            if ticker not in self.valid_tickers():
                app.notify(
                    f"{ticker} is not in the data (this database has no bars for it); nothing added.",
                    severity="error",
                    timeout=8,
                )
                return
            self._apply_add(ticker, None)
            return
        app.notify(f"Checking {ticker} against the data…", timeout=2)
        self._ask_engine((ticker,), (), (), lambda: self._apply_add(ticker, ("remove", ticker)))

    def _apply_add(self, ticker: str, undo: tuple[str, str] | None) -> None:
        app: Any = self
        current = self._watching()
        if ticker in current:
            return
        when = (
            "its history is loaded at the start of the next cycle (pooled models forecast it then, "
            "per-ticker models from their next refit)"
            if undo
            else "view only: no engine runs here"
        )
        self._record("data.watchlist", f"Added {ticker} to the watchlist", when, undo)
        self.watchlist = [*current, ticker]
        app.ticker = ticker
        app._dirty = True

    def _remove_ticker(self, ticker: str, choice: str, qty: float) -> None:
        app: Any = self
        if app.engine is None:
            self._apply_remove(ticker, choice, qty, None)
            return
        liquidate = (ticker,) if choice == "liquidate" else ()
        self._ask_engine((), (ticker,), liquidate, lambda: self._apply_remove(ticker, choice, qty, ("add", ticker)))

    def _apply_remove(self, ticker: str, choice: str, qty: float, undo: tuple[str, str] | None) -> None:
        app: Any = self
        current = self._watching()
        if choice == "liquidate":
            said, when = (
                f"Removed {ticker}; liquidating {qty:,.0f} shares",
                "the next cycle orders the sale, filled at the following session's open",
            )
        elif choice == "keep":
            said, when = (
                f"Removed {ticker} from the watchlist; still managing its {qty:,.0f} shares",
                "the Risk pane lists the position",
            )
        else:
            said, when = f"Removed {ticker} from the watchlist", ""
        self._record("data.watchlist", said, when, undo)
        self.watchlist = [t for t in current if t != ticker]
        if app.ticker == ticker:
            app.ticker = None
        app._dirty = True

    @work(thread=True, group="universe", exit_on_error=False)
    def _ask_engine(
        self, add: tuple[str, ...], remove: tuple[str, ...], liquidate: tuple[str, ...], then: Callable[[], None]
    ) -> None:
        """Queue the change with the engine (may fetch in live mode: off the UI thread)."""
        app: Any = self
        try:
            app.engine.request_universe_change(add=add, remove=remove, liquidate=liquidate)
        except Exception as exc:  # noqa: BLE001 - every refusal becomes one readable toast
            hint = getattr(exc, "hint", None)
            text = (getattr(exc, "message", None) or str(exc)) + (f"\n{hint}" if hint else "")
            app.call_from_thread(app.notify, text, title="Watchlist unchanged", severity="error", timeout=10)
            return
        app.call_from_thread(then)

    def _record(self, key: str, said: str, when: str = "", undo: tuple[str, str] | None = None) -> None:
        app: Any = self
        self._edits.append(Edit(key, self._current(key), said, undo))
        detail = f": {when}" if when else ""
        app.notify(
            f"{said}{detail}. The watchlist change is for this session only: u undoes, ctrl+s saves it to your config.",
            timeout=8,
        )
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
        note = ""
        if edit.key == "data.watchlist":
            self.watchlist = list(edit.before)
            app._dirty = True
            if edit.engine_undo is not None and app.engine is not None:
                verb, ticker = edit.engine_undo
                self._ask_engine(
                    (ticker,) if verb == "add" else (), (ticker,) if verb == "remove" else (), (), lambda: None
                )
                if "liquidating" in edit.said:
                    note = (
                        " If a cycle already ordered the sale, that order still fills; the book then "
                        f"trades {ticker} back to its target."
                    )
        else:
            self._undo_theme = edit.before
            app.theme = edit.before
        app.notify(f"Undone: {edit.said}.{note}", timeout=6)
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
