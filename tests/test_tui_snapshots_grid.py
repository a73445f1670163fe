"""SVG snapshots at 120x40: the grid, each pane zoomed, the signal detail and help.

Fixed rows in a temporary store, paused loop, no clock, no cursor blink.
Update with `pytest tests/test_tui_snapshots_grid.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_support import make_app, settle_frame

SIZE = (120, 40)


def _app(filled, tmp_path: Path):
    store, _ = filled
    return make_app(store, tmp_path)[0]


def test_grid(snap_compare, filled, tmp_path: Path) -> None:
    app = _app(filled, tmp_path)

    async def run_before(pilot) -> None:
        await settle_frame(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("pane", ["watchlist", "forecasts", "signals", "risk", "copilot"])
def test_pane_zoomed(snap_compare, filled, tmp_path: Path, pane: str) -> None:
    app = _app(filled, tmp_path)

    async def run_before(pilot) -> None:
        await settle_frame(pilot, app)
        await pilot.press("j")  # select BBB so the panes follow a non-default ticker
        await settle_frame(pilot, app)
        app._set_active(pane)
        app.pane(pane).focus_primary()
        app.action_zoom()  # not the z key: in the copilot pane z would be typed into the box
        await settle_frame(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_signal_detail(snap_compare, filled, tmp_path: Path) -> None:
    app = _app(filled, tmp_path)

    async def run_before(pilot) -> None:
        await settle_frame(pilot, app)
        await pilot.press("tab", "tab", "enter")
        await settle_frame(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, filled, tmp_path: Path) -> None:
    app = _app(filled, tmp_path)

    async def run_before(pilot) -> None:
        await settle_frame(pilot, app)
        await pilot.press("question_mark")
        await settle_frame(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
