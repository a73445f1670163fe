"""Every key binding of the app, with a stable id, and the `[keymap]` remapping.

Bindings are declared once here (id, default key, action, description, scope) and
each widget builds its `BINDINGS` from its scope, so the help screen, the footer and
the `[keymap]` config table (binding id = "key") all agree. Textual's own keymap
mechanism (`App.set_keymap`) applies the remapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class BindingSpec:
    """One binding: `id` is what `[keymap]` refers to; `scope` is where it applies."""

    id: str
    key: str
    action: str
    description: str
    scope: str
    show: bool = True
    priority: bool = False


SCOPES = ("app", "watchlist", "forecasts", "signals", "risk", "copilot", "table")

SPECS: tuple[BindingSpec, ...] = (
    BindingSpec("quit", "q", "quit", "Quit", "app"),
    BindingSpec("pause", "space", "toggle_pause", "Pause/Run", "app"),
    BindingSpec("step", "n", "step", "Step", "app"),
    BindingSpec("next_pane", "tab", "next_pane", "Next pane", "app", show=False, priority=True),
    BindingSpec("prev_pane", "shift+tab", "prev_pane", "Prev pane", "app", show=False, priority=True),
    BindingSpec("help", "question_mark", "help", "Help", "app"),
    BindingSpec("palette", "ctrl+p", "command_palette", "Palette", "app", show=False, priority=True),
    BindingSpec("zoom", "z", "zoom", "Zoom pane", "app"),
    BindingSpec("theme", "t", "next_theme", "Theme", "app", show=False),
    BindingSpec("export_csv", "e", "export('csv')", "Export CSV", "app", show=False),
    BindingSpec("export_parquet", "E", "export('parquet')", "Export Parquet", "app", show=False),
    BindingSpec("export_chart", "g", "export_chart", "Chart to text", "app", show=False),
    BindingSpec("refresh", "ctrl+r", "refresh", "Reload from store", "app", show=False),
    BindingSpec("down", "j", "cursor_down", "Down", "table", show=False),
    BindingSpec("up", "k", "cursor_up", "Up", "table", show=False),
    BindingSpec("filter", "slash", "filter", "Filter", "watchlist"),
    BindingSpec("add_ticker", "a", "add_ticker", "Add", "watchlist"),
    BindingSpec("remove_ticker", "d", "remove_ticker", "Remove", "watchlist"),
    BindingSpec("sort", "s", "sort", "Sort", "watchlist"),
    BindingSpec("sort_reverse", "S", "sort_reverse", "Reverse sort", "watchlist", show=False),
    BindingSpec("horizon", "h", "next_horizon", "Horizon", "forecasts"),
    BindingSpec("detail", "enter", "detail", "Detail", "signals"),
    BindingSpec("cancel", "escape", "cancel", "Cancel / leave box", "copilot"),
    BindingSpec("ask", "i", "focus_input", "Ask", "copilot", show=False),
)

BY_ID: dict[str, BindingSpec] = {spec.id: spec for spec in SPECS}


def bindings(scope: str) -> list[Binding]:
    """The Textual bindings of one scope, each carrying its stable id."""
    return [
        Binding(s.key, s.action, s.description, show=s.show, priority=s.priority, id=s.id)
        for s in SPECS
        if s.scope == scope
    ]


def unknown_ids(keymap: Mapping[str, str]) -> list[str]:
    """Ids in a `[keymap]` table that name no binding."""
    return sorted(k for k in keymap if k not in BY_ID)


def effective_keys(keymap: Mapping[str, str]) -> dict[str, str]:
    """Binding id -> the key(s) in force after `keymap` is applied."""
    return {s.id: str(keymap.get(s.id, s.key)) for s in SPECS}


def display_key(key: str) -> str:
    """A short, human form of a Textual key name."""
    names = {"question_mark": "?", "slash": "/", "space": "space", "escape": "esc"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in key.split(","))
