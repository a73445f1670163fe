"""Pilot tests: selecting, filtering, sorting, editing the watchlist; tabs at 80x24."""

from __future__ import annotations

import tomllib
from pathlib import Path

from test_tui_support import TICKERS, drain, make_app, press, settle

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
        await press(pilot, app, "j", "j")
        await settle(pilot, app)
        assert app.ticker == "CCC"
        assert app.query_one(ForecastsPane).view.ticker == "CCC"
        sig = app.query_one(SignalsPane)
        assert sig.signals.iloc[sig.primary().cursor_row]["ticker"] == "CCC"
        await press(pilot, app, "k")
        await settle(pilot, app)
        assert app.ticker == "BBB" and app.query_one(ForecastsPane).view.ticker == "BBB"
    assert log.main_calls == 0 and log.worker_calls >= 3


async def test_filter_and_sort(filled, tmp_path: Path) -> None:
    store, _ = filled
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        watch = app.query_one(WatchlistPane)
        await press(pilot, app, "slash", "e", "enter")
        assert watch._shown == ["EEE"]
        await press(pilot, app, "slash", "escape")
        assert watch._shown == list(TICKERS)
        await press(pilot, app, "s")  # sort by last close
        lasts = [r.last for r in watch.rows]
        assert watch._shown == [r.ticker for r in sorted(watch.rows, key=lambda r: r.last)] and lasts
        await press(pilot, app, "S")
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
        await press(pilot, app, "a")
        assert app.focused.id == "watch-add"
        await press(pilot, app, "z", "z", "z", "z", "enter")
        await settle(pilot, app)
        assert "ZZZZ" not in app.watchlist
        assert "ZZZZ is not in the data" in app.event_log[-1].message
        watch.select("EEE")  # not held: removed at once
        await drain(pilot, app)
        await press(pilot, app, "d")
        await settle(pilot, app)
        assert "EEE" not in app.watchlist and "EEE" not in watch._shown
        assert app.event_log[-1].message.startswith("Removed EEE from the watchlist")
        assert not user_file.exists()
        await press(pilot, app, "u")
        await settle(pilot, app)
        assert "EEE" in watch._shown and not app.unsaved()
        assert app.event_log[-1].message == "Undone: Removed EEE from the watchlist."
        watch.select("FFF")
        await drain(pilot, app)
        await press(pilot, app, "d")
        await settle(pilot, app)
        assert not user_file.exists()
        await press(pilot, app, "ctrl+s")
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
        await drain(pilot, app)
        await press(pilot, app, "d")
        await drain(pilot, app)
        assert isinstance(app.screen, ConfirmRemoveHeld)
        await press(pilot, app, "escape")
        await drain(pilot, app)
        assert "AAA" in app.query_one(WatchlistPane)._shown and not app.unsaved()
        await press(pilot, app, "d")
        await drain(pilot, app)
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
        await press(pilot, app, "i")
        await drain(pilot, app)
        assert app.focused.id == "cp-input" and app.active_pane == "copilot"
        await press(pilot, app, *"dtes")  # letters now go into the question, not to commands
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
        await press(pilot, app, "tab")
        await drain(pilot, app)
        assert app.active_pane == "forecasts"
        assert [p.id for p in app.query(".pane") if p.region.area > 0] == ["forecasts"]
        fc = app.query_one(ForecastsPane)
        assert fc.horizon == 5  # opens at the signals' horizon ([signals] horizon)
        await press(pilot, app, "h")
        assert fc.horizon == 1
        await press(pilot, app, "tab")
        await press(pilot, app, "enter")
        await drain(pilot, app)
        assert isinstance(app.screen, SignalDetail)
        await press(pilot, app, "escape")
        await press(pilot, app, "shift+tab", "shift+tab")
        assert app.active_pane == "watchlist"
        await press(pilot, app, "question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await press(pilot, app, "escape")
        await press(pilot, app, "q")
    assert app.return_code == 0
