"""Pilot tests: pause/step/resume, end of replay, palette commands, keymap and theme."""

from __future__ import annotations

import tomllib
from pathlib import Path

from test_tui_support import FakeEngine, make_app, press, send_keys, settle, wait_until
from textual.command import CommandList, CommandPalette

from tui.panes.forecasts import ForecastsPane


async def test_pause_resume_and_step(filled, tmp_path: Path) -> None:
    store, last = filled
    engine = FakeEngine(store, last, max_steps=1000)
    app, log = make_app(store, tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.paused and engine.steps == 0
        await press(pilot, app, "n")
        await settle(pilot, app)
        assert engine.steps == 1 and app.as_of == engine.as_of and app.paused
        send_keys(app, "space")  # not `Pilot.press`: its idle wait would let the loop run a full second
        await wait_until(lambda: engine.steps >= 4, what="four steps while running")
        assert not app.paused
        await press(pilot, app, "space")
        await settle(pilot, app)
        frozen = engine.steps
        await settle(pilot, app)
        assert app.paused and engine.steps == frozen
        assert app.sessions == 70 + frozen  # the header count comes from the store
    assert log.main_calls == 0


async def test_replay_end_is_reported(filled, tmp_path: Path) -> None:
    store, last = filled
    engine = FakeEngine(store, last, max_steps=1)
    app, _ = make_app(store, tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, app, "n")
        await settle(pilot, app)
        await press(pilot, app, "n")
        await settle(pilot, app)
        assert app._loop_state() == "finished"
        assert "finished" in str(app.query_one("#status").render())


async def _palette_highlights(pilot, app, text: str) -> None:
    """Wait until the command palette's search has put `text` first (enter runs it)."""

    def highlighted() -> bool:
        if not isinstance(app.screen, CommandPalette):
            return False
        options = app.screen.query_one(CommandList)
        return options.highlighted is not None and text in str(options.get_option_at_index(options.highlighted).prompt)

    await wait_until(highlighted, what=f"the palette to offer {text!r}")


async def test_palette_jump_and_step(filled, tmp_path: Path) -> None:
    store, last = filled
    engine = FakeEngine(store, last)
    app, _ = make_app(store, tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "ctrl+p")
        send_keys(app, *"jump to EEE")  # typed as one burst; the wait below is for its result
        await _palette_highlights(pilot, app, "Jump to EEE")
        await press(pilot, app, "enter")
        await settle(pilot, app)
        assert app.ticker == "EEE" and app.query_one(ForecastsPane).view.ticker == "EEE"
        await press(pilot, app, "ctrl+p")
        send_keys(app, *"step one session")  # typed as one burst; the wait below is for its result
        await _palette_highlights(pilot, app, "Step one session")
        await press(pilot, app, "enter")
        await settle(pilot, app)
        assert engine.steps == 1


async def test_keymap_remaps_and_theme_saved_only_on_request(filled, tmp_path: Path, isolated_home: Path) -> None:
    store, last = filled
    engine = FakeEngine(store, last)
    app, _ = make_app(store, tmp_path, engine=engine, overrides={"keymap.step": "x"})
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "n")
        await settle(pilot, app)
        assert engine.steps == 0
        await press(pilot, app, "x")
        await settle(pilot, app)
        assert engine.steps == 1
        before = app.theme
        await press(pilot, app, "t")
        await settle(pilot, app)
        assert app.theme != before
        user_file = isolated_home / ".config" / "pmax" / "config.toml"
        assert not user_file.exists()  # a letter never writes the config
        await press(pilot, app, "u")
        await settle(pilot, app)
        assert app.theme == before
        await press(pilot, app, "t")
        await press(pilot, app, "ctrl+s")
        await settle(pilot, app)
        saved = tomllib.loads(user_file.read_text())
        assert saved["tui"]["theme"] == app.theme != before
