"""SVG snapshots at 80x24, where the panes become tabs: one per pane.

Update with `pytest tests/test_tui_snapshots_tabs.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_support import make_app, settle_frame

PANES = ["watchlist", "forecasts", "signals", "risk", "copilot"]


@pytest.mark.parametrize("pane", PANES)
def test_tab(snap_compare, filled, tmp_path: Path, pane: str) -> None:
    store, _ = filled
    app = make_app(store, tmp_path)[0]

    async def run_before(pilot) -> None:
        await settle_frame(pilot, app)
        for _ in range(PANES.index(pane)):
            await pilot.press("tab")
        await settle_frame(pilot, app)
        assert app.active_pane == pane

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
