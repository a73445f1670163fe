"""Command palette: pmax's commands through Textual's `get_system_commands`, plus
a provider that matches tickers as "Jump to <ticker>"."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Protocol, cast

from textual.app import SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider


class PaletteHost(Protocol):
    """What the palette needs of the app (`tui.app.PmaxApp` has it; this module does not import it)."""

    def action_ask(self) -> None: ...
    def action_pause(self) -> None: ...
    def action_resume(self) -> None: ...
    def action_step(self) -> None: ...
    def action_next_theme(self) -> None: ...
    def action_undo(self) -> None: ...
    def action_save_settings(self) -> None: ...
    def action_event_log(self) -> None: ...
    def action_export(self, fmt: str) -> None: ...
    def action_export_chart(self) -> None: ...
    def action_run_validation(self) -> None: ...
    def action_refresh(self) -> None: ...
    def action_help(self) -> None: ...
    def known_tickers(self) -> list[str]: ...
    def jump_to(self, ticker: str) -> None: ...


def system_commands(app: PaletteHost) -> Iterator[SystemCommand]:
    """pmax's palette entries (Textual adds its own: theme, keys, screenshot, quit)."""
    yield SystemCommand("Ask the copilot…", "focus the question box (key i)", app.action_ask)
    yield SystemCommand("Pause the loop", "stop running cycles", app.action_pause)
    yield SystemCommand("Resume the loop", "run cycles continuously", app.action_resume)
    yield SystemCommand("Step one session", "run exactly one cycle", app.action_step)
    yield SystemCommand("Next theme", "cycle themes (this session; save keeps it)", app.action_next_theme)
    yield SystemCommand("Undo last edit", "watchlist or theme (key u)", app.action_undo)
    yield SystemCommand("Save settings", "write watchlist and theme to your config (ctrl+s)", app.action_save_settings)
    yield SystemCommand("Event log", "every toast and kill-switch trip (key L)", app.action_event_log)
    yield SystemCommand("Export table to CSV", "the focused pane's table", partial(app.action_export, "csv"))
    yield SystemCommand("Export table to Parquet", "the focused pane's table", partial(app.action_export, "parquet"))
    yield SystemCommand("Export chart to text", "the focused pane's chart", app.action_export_chart)
    yield SystemCommand("Run validation", "walk-forward validation report", app.action_run_validation)
    yield SystemCommand("Reload from store", "re-read every pane", app.action_refresh)
    yield SystemCommand("Help: keys and glossary", "every binding and what each column means", app.action_help)


class PmaxCommands(Provider):
    """Tickers match as "Jump to <ticker>"."""

    async def discover(self) -> Hits:
        app = cast(PaletteHost, self.app)
        for ticker in app.known_tickers()[:10]:
            yield DiscoveryHit(f"Jump to {ticker}", partial(app.jump_to, ticker), help="select it in every pane")

    async def search(self, query: str) -> Hits:
        app = cast(PaletteHost, self.app)
        matcher = self.matcher(query)
        for ticker in app.known_tickers():
            label = f"Jump to {ticker}"
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(app.jump_to, ticker), help="select it in every pane")
