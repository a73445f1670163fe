"""Pilot tests: selecting, filtering, sorting, editing the watchlist; tabs at 80x24."""

from __future__ import annotations

import tomllib
from pathlib import Path

from test_tui_support import TICKERS, make_app, settle

from tui.edits import ConfirmRemoveHeld
from tui.panes.forecasts import ForecastsPane
from tui.panes.signals import SignalDetail, SignalsPane
from tui.panes.watchlist import WatchlistPane


async def test_select_ticker_panes_follow(filled, tmp_path: Path) -> None:
    store, _ = filled
    app, log = make_app(store, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.ticker == "AAA"
        assert app.query_one(ForecastsPane).view.ticker == "AAA"
        await pilot.press("j", "j")
        await settle(pilot, app)
        assert app.ticker == "CCC"
        assert app.query_one(ForecastsPane).view.ticker == "CCC"
        sig = app.query_one(SignalsPane)
        assert sig.signals.iloc[sig.primary().cursor_row]["ticker"] == "CCC"
        await pilot.press("k")
        await settle(pilot, app)
        assert app.ticker == "BBB" and app.query_one(ForecastsPane).view.ticker == "BBB"
    assert log.main_calls == 0 and log.worker_calls >= 3


async def test_filter_and_sort(filled, tmp_path: Path) -> None:
    store, _ = filled
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        watch = app.query_one(WatchlistPane)
        await pilot.press("slash", "e", "enter")
        assert watch._shown == ["EEE"]
        await pilot.press("slash", "escape")
        assert watch._shown == list(TICKERS)
        await pilot.press("s")  # sort by last close
        lasts = [r.last for r in watch.rows]
        assert watch._shown == [r.ticker for r in sorted(watch.rows, key=lambda r: r.last)] and lasts
        await pilot.press("S")
        assert watch._shown == [r.ticker for r in sorted(watch.rows, key=lambda r: -r.last)]


async def test_watchlist_edits_are_undoable_and_saved_only_on_request(
    filled, tmp_path: Path, isolated_home: Path
) -> None:
    """Issue 12: d/a change the session only, say exactly what they did, u undoes,
    an unknown ticker is refused, and only ctrl+s writes the user's config."""
    store, _ = filled
    app, log = make_app(store, tmp_path)
    user_file = isolated_home / ".config" / "pmax" / "config.toml"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        watch = app.query_one(WatchlistPane)
        await pilot.press("a")
        assert app.focused.id == "watch-add"
        await pilot.press("z", "z", "z", "z", "enter")
        await settle(pilot, app)
        assert "ZZZZ" not in app.watchlist
        assert "ZZZZ is not in the data" in app.event_log[-1].message
        watch.select("EEE")  # not held: removed at once
        await pilot.pause()
        await pilot.press("d")
        await settle(pilot, app)
        assert "EEE" not in app.watchlist and "EEE" not in watch._shown
        assert app.event_log[-1].message.startswith("Removed EEE from the watchlist")
        assert not user_file.exists()
        await pilot.press("u")
        await settle(pilot, app)
        assert "EEE" in watch._shown and not app.unsaved()
        assert app.event_log[-1].message == "Undone: Removed EEE from the watchlist."
        watch.select("FFF")
        await pilot.pause()
        await pilot.press("d")
        await settle(pilot, app)
        assert not user_file.exists()
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert tomllib.loads(user_file.read_text())["data"]["watchlist"] == [t for t in TICKERS if t != "FFF"]
        assert app.event_log[-1].message.startswith("Saved watchlist (5 tickers) to ")
    assert log.main_calls == 0


async def test_removing_a_held_ticker_asks_first(filled, tmp_path: Path) -> None:
    store, _ = filled
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.query_one(WatchlistPane).select("AAA")  # held: 100 shares
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmRemoveHeld)
        await pilot.press("escape")
        await pilot.pause()
        assert "AAA" in app.query_one(WatchlistPane)._shown and not app.unsaved()
        await pilot.press("d")
        await pilot.pause()
        assert not app.screen.query("#confirm-liquidate")  # view only: nothing can be sold from here
        await pilot.click("#confirm-keep")
        await settle(pilot, app)
        assert "AAA" not in app.watchlist
        assert app.event_log[-1].message.startswith("Removed AAA from the watchlist; still managing its 100 shares")


async def test_ask_key_focuses_the_copilot_from_anywhere(filled, tmp_path: Path) -> None:
    store, _ = filled
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        assert app.focused.id == "watch-table"
        await pilot.press("i")
        await pilot.pause()
        assert app.focused.id == "cp-input" and app.active_pane == "copilot"
        await pilot.press(*"dtes")  # letters now go into the question, not to commands
        assert app.focused.value == "dtes" and not app.unsaved() and app.theme == "textual-dark"


async def test_tabs_at_80x24_and_pane_keys(filled, tmp_path: Path) -> None:
    store, _ = filled
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        assert app.tab_mode
        shown = [p.id for p in app.query(".pane") if p.display and p.styles.display != "none"]
        visible = [p.id for p in app.query(".pane") if p.region.area > 0]
        assert visible == ["watchlist"], (shown, visible)
        await pilot.press("tab")
        await pilot.pause()
        assert app.active_pane == "forecasts"
        assert [p.id for p in app.query(".pane") if p.region.area > 0] == ["forecasts"]
        fc = app.query_one(ForecastsPane)
        assert fc.horizon == 5  # opens at the signals' horizon ([signals] horizon)
        await pilot.press("h")
        assert fc.horizon == 1
        await pilot.press("tab")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SignalDetail)
        await pilot.press("escape")
        await pilot.press("shift+tab", "shift+tab")
        assert app.active_pane == "watchlist"
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.press("q")
    assert app.return_code == 0
