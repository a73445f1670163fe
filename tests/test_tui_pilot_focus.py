"""Pilot tests: bursts of tab / shift+tab / clicks never freeze the app (issue 12).

Each burst is sent with no pause between keys (all queued before the app handles the
first, as a held key sends them), running and paused, in the grid (120×40) and tab
(80×24) layouts; then the app must drain it and still answer: `?` opens the help
screen and `q` quits, each within a bounded time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_tui_support import FakeEngine, drain, make_app, send_keys, settle, wait_until
from textual import events
from textual.geometry import Offset
from textual.pilot import _get_mouse_message_arguments

from tui.help import HelpScreen

BURST_S = 30  # a burst drains; a freeze never does
RUNNING = {"replay.interval_s": 0.5, "tui.batch_ms": 200}  # the shipped defaults
SIZES = {"grid": (120, 40), "tabs": (80, 24)}


async def _burst(pilot, app, keys: list[str]) -> None:
    """Queue every key before the app handles the first (`Pilot.press` would wait for the
    app to go idle after each), then wait until the app has handled them all."""
    send_keys(app, *keys)
    await _handled(pilot, app, "the burst to drain")


async def _click_burst(pilot, app, selectors: list[str]) -> None:
    """Click each widget in turn with no pause between clicks (what `Pilot.click` does for
    one, without its wait for idle between events), then wait for the app to drain them."""
    screen = app.screen
    for sel in selectors:
        args = _get_mouse_message_arguments(screen.query_one(sel), (0, 0), button=1)
        for kind in (events.MouseDown, events.MouseUp, events.Click):
            app.mouse_position = Offset(args["x"], args["y"])
            screen._forward_event(kind(**({**args, "chain": 1} if kind is events.Click else args)))
    await _handled(pilot, app, "the clicks to drain")


async def _handled(pilot, app, what: str) -> None:
    """Wait (at most BURST_S in all) until the app has handled what was queued before this
    call, and everything that queued in turn."""
    handled: list[str] = []
    app.call_later(handled.append, "drained")  # runs after the events queued before it

    async def drained() -> None:
        await wait_until(lambda: handled == ["drained"], BURST_S, what)
        await drain(pilot, app, BURST_S)

    await asyncio.wait_for(drained(), timeout=BURST_S)


async def _answers(pilot, app) -> None:
    """`?` opens help and esc closes it within 5 s; the active pane is the focused one."""

    async def help_round() -> None:
        send_keys(app, "question_mark")  # not `Pilot.press`: it also waits for the app to go idle
        await wait_until(lambda: isinstance(app.screen, HelpScreen), what="the help screen")
        send_keys(app, "escape")
        await wait_until(lambda: not isinstance(app.screen, HelpScreen), what="help to close")

    await asyncio.wait_for(help_round(), timeout=5)
    await drain(pilot, app, 5)
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
            send_keys(app, "space")
            await wait_until(lambda: not app.paused, what="the loop to run")
        await _burst(pilot, app, ["tab"] * 10)
        await _answers(pilot, app)
        await _burst(pilot, app, ["shift+tab"] * 10)
        await _answers(pilot, app)
        await _burst(pilot, app, ["tab", "shift+tab", "tab"] * 5)
        await _answers(pilot, app)
        await asyncio.wait_for(pilot.press("q"), timeout=BURST_S)
        await asyncio.wait_for(pilot.pause(), timeout=BURST_S)
    assert app.return_code in (0, None)


@pytest.mark.parametrize("running", [False, True])
async def test_click_bursts_do_not_freeze(filled, tmp_path: Path, running: bool) -> None:
    store, last = filled
    engine = FakeEngine(store, last, max_steps=10_000)
    app, _ = make_app(store, tmp_path, engine=engine, overrides=RUNNING)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        if running:
            send_keys(app, "space")
            await wait_until(lambda: not app.paused, what="the loop to run")
        targets = ["#cp-input", "#sig-table", "#fc-chart", "#cp-input", "#risk-scroll", "#watch-table"]
        await _click_burst(pilot, app, targets * 2)
        assert app.active_pane == "watchlist"  # the last click's pane
        await _answers(pilot, app)
        # The next app shares this engine: no session may be half-taken when this one closes
        # (the engine's thread would commit it after its step was cancelled).
        app.action_pause()
        await wait_until(lambda: not app._stepping, what="the step in flight to end")
    app, _ = make_app(store, tmp_path, engine=engine, overrides=RUNNING)
    async with app.run_test(size=(80, 24)) as pilot:  # tabs: clicks on the tab bar
        await settle(pilot, app)
        if running:
            send_keys(app, "space")
            await wait_until(lambda: not app.paused, what="the loop to run")
        await _click_burst(
            pilot, app, ["#tab-risk", "#tab-signals", "#tab-copilot", "#tab-watchlist", "#tab-forecasts"] * 3
        )
        assert app.active_pane == "forecasts"  # the last tab clicked
        await _answers(pilot, app)
