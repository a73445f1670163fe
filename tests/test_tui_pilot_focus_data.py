"""Keys reach the watchlist once its first rows arrive (issue 12).

An empty pane hides its table (its empty-state text shows instead); Textual blurs a
hidden focused widget and leaves focus nowhere. Before the fix, a first run on an empty
database kept focus nowhere after the first session landed: j/k, sort, remove and the
other table keys reached no pane until a tab or a click (and `bench_tui --loop` timed
keys that moved nothing).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_support import make_app, press, settle, wait_until
from tui_store_rows import fill_store

from engine.store import Store


@pytest.mark.asyncio
async def test_the_watchlist_takes_focus_back_when_its_first_rows_arrive(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "empty.duckdb")
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        watchlist = app.query_one("#watchlist")
        assert watchlist.has_class("-empty")
        await wait_until(lambda: app.focused is None, what="the hidden table blurred")
        fill_store(store)  # the first sessions land
        app._dirty = True
        await wait_until(lambda: not watchlist.has_class("-empty"), what="rows shown")
        table = app.query_one("#watch-table")
        await wait_until(lambda: app.focused is table, what="focus back on the watchlist table")
        row = table.cursor_row
        await press(pilot, app, "j")
        await wait_until(lambda: table.cursor_row == row + 1, what="j moved the cursor")


@pytest.mark.asyncio
async def test_focus_is_not_taken_from_a_dialog_or_another_pane(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "empty.duckdb")
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "tab")  # the user moved on to the Forecasts pane
        await wait_until(lambda: app.active_pane != "watchlist", what="another pane active")
        chosen = app.focused
        fill_store(store)
        app._dirty = True
        await wait_until(lambda: not app.query_one("#watchlist").has_class("-empty"), what="rows shown")
        await settle(pilot, app)
        assert app.focused is chosen
