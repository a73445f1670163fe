"""Pane layout and focus: the grid at 120×40 and larger, tabs below, one active pane.

Focus is the single source of truth for the active pane. Programmatic tab changes
never post `Tabs.TabActivated`, and stale focus or tab events (focus has moved on
since they were posted) are ignored, so a burst of tab / shift+tab / clicks cannot
make tab activation and focus answer each other in a loop (the freeze of issue 12).
`LayoutMixin` is mixed into `PmaxApp`.
"""

from __future__ import annotations

from typing import Any

from textual.events import DescendantFocus
from textual.widgets import Tabs

from tui.messages import PaneTabs
from tui.panes.base import Pane

GRID_MIN = (120, 40)


class LayoutMixin:  # methods use App's query/screen/focused
    """Grid/tab layout, the active pane and pane navigation (mixed into PmaxApp)."""

    active_pane: str
    tab_mode: bool
    PANE_IDS: tuple[str, ...] = ()
    query: Any
    query_one: Any
    screen: Any
    screen_stack: Any
    focused: Any
    _apply_stale: Any

    def _apply_layout(self, width: int, height: int) -> None:
        self.tab_mode = width < GRID_MIN[0] or height < GRID_MIN[1]
        self.query_one("#panes").set_class(self.tab_mode, "-tabs")
        self.query_one("#tabs").display = self.tab_mode
        self._set_active(self.active_pane)

    def _set_active(self, pane_id: str) -> None:
        """Mark `pane_id` active and show its tab. Focus is the one source of truth: this
        never posts `TabActivated` (a programmatic tab change is not a user's choice), so
        tab activation and focus cannot answer each other in a loop."""
        self.active_pane = pane_id
        for pane in self.query(Pane):
            pane.set_class(pane.id == pane_id, "-active")
        tabs = self.query_one(PaneTabs)
        if tabs.active != f"tab-{pane_id}":
            with tabs.prevent(Tabs.TabActivated):
                tabs.active = f"tab-{pane_id}"
        self._apply_stale()  # a pane shown now gets the data it missed while hidden

    def pane(self, pane_id: str | None = None) -> Pane:
        return self.query_one(f"#{pane_id or self.active_pane}", Pane)

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        """A tab the user clicked; stale activations (the bar has moved on) are ignored."""
        tab_id = event.tab.id if event.tab and event.tabs.id == "tabs" else None
        if not tab_id or tab_id != self.query_one(PaneTabs).active:
            return
        pane_id = tab_id.removeprefix("tab-")
        if pane_id != self.active_pane:
            self._set_active(pane_id)
            self.pane(pane_id).focus_primary()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        """Follow focus into a pane; a focus event that is no longer current is ignored,
        as is one that arrives while the app closes (its screens are already gone)."""
        if not self.screen_stack or event.widget is not self.focused:
            return
        node = event.widget
        while node is not None and not isinstance(node, Pane):
            node = node.parent
        if isinstance(node, Pane) and node.id and node.id != self.active_pane:
            self._set_active(node.id)

    def _move_pane(self, step: int) -> None:
        ids = list(self.PANE_IDS)
        target = ids[(ids.index(self.active_pane) + step) % len(ids)]
        self._set_active(target)
        self.pane(target).focus_primary()

    def action_next_pane(self) -> None:
        self._move_pane(1)

    def action_prev_pane(self) -> None:
        self._move_pane(-1)

    def action_zoom(self) -> None:
        if self.screen.maximized is not None:
            self.screen.minimize()
        else:
            self.screen.maximize(self.pane(), container=False)
        self._apply_stale()

    def _zoom_changed(self, _maximized: Any) -> None:
        self._apply_stale()  # esc un-zooms through Textual's own binding
