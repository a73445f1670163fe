"""Pilot tests: keys typed in one burst (as a terminal delivers fast typing) after a key
that opens a text box go into that box, never to the old pane's commands (issue 12)."""

from __future__ import annotations

from pathlib import Path

from test_tui_support import FakeEngine, key_event, make_app, settle


def burst(app, text: str) -> None:
    """Queue every key at once, with no pause for the app to react in between."""
    for ch in text:
        app.post_message(key_event(app, ch))


async def test_add_then_ticker_in_one_burst(filled, tmp_path: Path) -> None:
    store, last = filled
    engine = FakeEngine(store, last)
    app, _ = make_app(store, tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        before = list(app.watchlist) or [r.ticker for r in app.snapshot.watch]
        burst(app, "ande")  # a opens the add box; n, d, e would step, remove and export
        await settle(pilot, app)
        assert app.focused.id == "watch-add" and app.focused.value == "nde"
        assert engine.steps == 0 and not app._edits and not app.event_log
        assert [r.ticker for r in app.snapshot.watch] == before


async def test_ask_then_question_in_one_burst(filled, tmp_path: Path) -> None:
    store, _ = filled
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        burst(app, "iwhy does d and e matter")
        await settle(pilot, app)
        assert app.focused.id == "cp-input" and app.focused.value == "why does d and e matter"
        assert not app._edits and not app.event_log and not app.unsaved()
