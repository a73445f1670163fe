"""Pilot tests: bursts of tab / shift+tab / clicks never freeze the app (issue 12).

Each burst is sent with no pause between keys, running and paused, in the grid
(120×40) and tab (80×24) layouts; then the app must still answer: `?` opens the help
screen and `q` quits, each within a bounded time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_tui_support import FakeEngine, make_app, settle

from tui.help import HelpScreen

BURST_S = 30  # a burst drains (Pilot waits for idle after every key); a freeze never does
RUNNING = {"replay.interval_s": 0.5, "tui.batch_ms": 200}  # the shipped defaults
SIZES = {"grid": (120, 40), "tabs": (80, 24)}


async def _answers(pilot, app) -> None:
    """`?` opens help and esc closes it within 5 s; the active pane is the focused one."""
    async def help_round() -> None:
        await pilot.press("question_mark")
        while not isinstance(app.screen, HelpScreen):
            await pilot.pause(0.02)
        await pilot.press("escape")
        while isinstance(app.screen, HelpScreen):
            await pilot.pause(0.02)

    await asyncio.wait_for(help_round(), timeout=5)
    await asyncio.wait_for(pilot.pause(0.2), timeout=5)
    focused = app.focused
    node = focused
    while node is not None and "pane" not in node.classes:
        node = node.parent
    assert node is not None and node.id == app.active_pane
    assert f"tab-{app.active_pane}" == app.query_one("#tabs").active


@pytest.mark.parametrize("layout", sorted(SIZES))
@pytest.mark.parametrize("running", [False, True])
async def test_tab_bursts_do_not_freeze(filled, tmp_path: Path, layout: str, running: bool) -> None:
    store, last = filled
    engine = FakeEngine(store, last, max_steps=10_000)
    app, _ = make_app(store, tmp_path, engine=engine, overrides=RUNNING)
    async with app.run_test(size=SIZES[layout]) as pilot:
        await settle(pilot, app)
        if running:
            await pilot.press("space")
        await asyncio.wait_for(pilot.press(*["tab"] * 10), timeout=BURST_S)
        await _answers(pilot, app)
        await asyncio.wait_for(pilot.press(*["shift+tab"] * 10), timeout=BURST_S)
        await _answers(pilot, app)
        await asyncio.wait_for(pilot.press(*(["tab", "shift+tab", "tab"] * 5)), timeout=BURST_S)
        await _answers(pilot, app)
        await asyncio.wait_for(pilot.press("q"), timeout=BURST_S)
        await asyncio.wait_for(pilot.pause(0.1), timeout=BURST_S)
    assert app.return_code in (0, None)


@pytest.mark.parametrize("running", [False, True])
async def test_click_bursts_do_not_freeze(filled, tmp_path: Path, running: bool) -> None:
    store, last = filled
    engine = FakeEngine(store, last, max_steps=10_000)
    app, _ = make_app(store, tmp_path, engine=engine, overrides=RUNNING)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        if running:
            await pilot.press("space")
        targets = ["#cp-input", "#sig-table", "#fc-chart", "#cp-input", "#risk-scroll", "#watch-table"]
        for _ in range(2):
            for sel in targets:
                await asyncio.wait_for(pilot.click(sel), timeout=BURST_S)
        await _answers(pilot, app)
    app, _ = make_app(store, tmp_path, engine=engine, overrides=RUNNING)
    async with app.run_test(size=(80, 24)) as pilot:  # tabs: clicks on the tab bar
        await settle(pilot, app)
        if running:
            await pilot.press("space")
        for _ in range(3):
            for tab in ("#tab-risk", "#tab-signals", "#tab-copilot", "#tab-watchlist", "#tab-forecasts"):
                await asyncio.wait_for(pilot.click(tab), timeout=BURST_S)
        await _answers(pilot, app)
