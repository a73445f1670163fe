"""Every key binding of the app, with a stable id, and the `[keymap]` remapping.

Bindings are declared once here (id, default key, action, description, scope) and
each widget builds its `BINDINGS` from its scope, so the help screen, the footer and
the `[keymap]` config table (binding id = "key") all agree. Textual's own keymap
mechanism (`App.set_keymap`) applies the remapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType


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
    BindingSpec("ask", "i", "ask", "Ask", "app"),
    BindingSpec("undo", "u", "undo", "Undo edit", "app", show=False),
    BindingSpec("save_settings", "ctrl+s", "save_settings", "Save settings", "app", show=False),
    BindingSpec("event_log", "L", "event_log", "Event log", "app"),
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
)

BY_ID: dict[str, BindingSpec] = {spec.id: spec for spec in SPECS}


def bindings(scope: str) -> list[BindingType]:
    """The Textual bindings of one scope, each carrying its stable id."""
    return [
        Binding(s.key, s.action, s.description, show=s.show, priority=s.priority, id=s.id)
        for s in SPECS
        if s.scope == scope
    ]


def unknown_ids(keymap: Mapping[str, str]) -> list[str]:
    """Ids in a `[keymap]` table that name no binding."""
    return sorted(k for k in keymap if k not in BY_ID)


# Scopes that are active at the same time: a key bound twice within one of these groups clashes.
_OVERLAPS = {"app": set(SCOPES), "table": {"app", "table", "watchlist", "forecasts", "signals", "risk"}}


def _overlap(a: str, b: str) -> bool:
    return a == b or b in _OVERLAPS.get(a, set()) or a in _OVERLAPS.get(b, set())


def conflicts(keymap: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(id, other id, key) for every key bound to two ids that can be active together."""
    keys = effective_keys(keymap)
    found: list[tuple[str, str, str]] = []
    specs = list(SPECS)
    for i, a in enumerate(specs):
        for b in specs[i + 1 :]:
            shared = {k.strip() for k in keys[a.id].split(",")} & {k.strip() for k in keys[b.id].split(",")}
            if shared and _overlap(a.scope, b.scope) and (a.id in keymap or b.id in keymap):
                found.append((a.id, b.id, sorted(shared)[0]))
    return found


def effective_keys(keymap: Mapping[str, str]) -> dict[str, str]:
    """Binding id -> the key(s) in force after `keymap` is applied."""
    return {s.id: str(keymap.get(s.id, s.key)) for s in SPECS}


def display_key(key: str) -> str:
    """A short, human form of a Textual key name."""
    names = {"question_mark": "?", "slash": "/", "space": "space", "escape": "esc"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in key.split(","))
