"""`CalmFooter`: Textual's Footer, recomposed at most once per burst of focus changes.

Textual's Footer rebuilds all of its key widgets on every focus change. A burst of
`tab` presses then queues one rebuild per key, each restyling the whole footer, and
keys feel stuck. This footer waits until focus has been still for `DELAY_S` and
rebuilds only when the shown bindings actually differ.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer

DELAY_S = 0.12


class CalmFooter(Footer):
    """A Footer that debounces binding changes and skips identical rebuilds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple[tuple[str, str, bool], ...] | None = None
        self._timer: Any = None

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DELAY_S, self._rebuild_if_changed)

    def _signature(self) -> tuple[tuple[str, str, bool], ...]:
        return tuple(
            (b.key, b.description, bool(enabled))
            for (_, b, enabled, _tip) in self.screen.active_bindings.values()
            if b.show
        )

    async def _rebuild_if_changed(self) -> None:
        self._timer = None
        signature = self._signature()
        if signature != self._shown:
            self._shown = signature
            await self.recompose()
