"""Command-palette provider: jump to a ticker, loop control, theme, export, validation."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import PmaxApp


def _commands(app: PmaxApp) -> list[tuple[str, Callable[[], object], str]]:
    return [
        ("Pause the loop", app.action_pause, "stop running cycles"),
        ("Resume the loop", app.action_resume, "run cycles continuously"),
        ("Step one session", app.action_step, "run exactly one cycle"),
        ("Switch theme", app.action_change_theme, "pick a theme (saved to your config)"),
        ("Next theme", app.action_next_theme, "cycle themes (saved to your config)"),
        ("Export table to CSV", partial(app.action_export, "csv"), "the focused pane's table"),
        ("Export table to Parquet", partial(app.action_export, "parquet"), "the focused pane's table"),
        ("Export chart to text", app.action_export_chart, "the focused pane's chart"),
        ("Run validation", app.action_run_validation, "walk-forward validation report"),
        ("Reload from store", app.action_refresh, "re-read every pane"),
        ("Help: key bindings", app.action_help, "list every binding"),
    ]


class PmaxCommands(Provider):
    """pmax's own palette commands; tickers match as "jump to <ticker>"."""

    async def discover(self) -> Hits:
        app: PmaxApp = self.app  # type: ignore[assignment]
        for name, action, help_text in _commands(app):
            yield DiscoveryHit(name, action, help=help_text)

    async def search(self, query: str) -> Hits:
        app: PmaxApp = self.app  # type: ignore[assignment]
        matcher = self.matcher(query)
        for name, action, help_text in _commands(app):
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), action, help=help_text)
        for ticker in app.known_tickers():
            label = f"Jump to {ticker}"
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(app.jump_to, ticker), help="select it in every pane")
