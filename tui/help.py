"""The help screen (`?`): every key binding with its id, plus how to remap keys."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keymap import SPECS, display_key, effective_keys

SCOPE_NAMES = {
    "app": "Everywhere",
    "table": "Tables",
    "watchlist": "Watchlist",
    "forecasts": "Forecasts",
    "signals": "Signals",
    "risk": "Risk",
    "copilot": "Copilot",
}


def bindings_table(keymap: Mapping[str, str]) -> Table:
    """A Rich table of every binding: where, key, what, id."""
    keys = effective_keys(keymap)
    table = Table(box=None, expand=True, pad_edge=False)
    table.add_column("Where", style="dim", no_wrap=True)
    table.add_column("Key", style="bold", no_wrap=True)
    table.add_column("Action")
    table.add_column("Id (for \\[keymap])", style="dim", no_wrap=True)
    for scope, title in SCOPE_NAMES.items():
        for spec in (s for s in SPECS if s.scope == scope):
            table.add_row(title, display_key(keys[spec.id]), spec.description, spec.id)
    table.add_row("Everywhere", "ctrl+q", "Quit (Textual default)", "—")
    table.add_row("Detail view", "esc", "Close", "detail_close")
    return table


class HelpScreen(ModalScreen[None]):
    """Lists every binding; esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help_close")]

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = dict(keymap)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("[b]pmax keys[/b]  (esc closes)", id="help-title")
            yield Static(bindings_table(self.keymap), id="help-table")
            yield Static(
                "Remap any key in ~/.config/pmax/config.toml, e.g.\n"
                "  \\[keymap]\n  quit = \"ctrl+q\"\n  step = \"s\"\n"
                "ctrl+p opens the palette: jump to a ticker, pause/step/resume, theme, export, validation.",
                id="help-foot",
            )
