"""Pilot tests: selecting, filtering, sorting, editing the watchlist; tabs at 80x24."""

from __future__ import annotations

import tomllib
from pathlib import Path

from test_tui_support import TICKERS, FakeEngine, filled, make_app, settle  # noqa: F401

from tui.panes.forecasts import ForecastsPane
from tui.panes.signals import SignalDetail, SignalsPane
from tui.panes.watchlist import WatchlistPane


async def test_select_ticker_panes_follow(filled, tmp_path: Path) -> None:  # noqa: F811
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


async def test_filter_and_sort(filled, tmp_path: Path) -> None:  # noqa: F811
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


async def test_add_and_remove_ticker_persist(filled, tmp_path: Path, isolated_home: Path) -> None:  # noqa: F811
    store, _ = filled
    app, log = make_app(store, tmp_path)
    user_file = isolated_home / ".config" / "pmax" / "config.toml"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("a")
        assert app.focused.id == "watch-add"
        await pilot.press("z", "z", "z", "enter")
        await settle(pilot, app)
        assert app.watchlist == [*TICKERS, "ZZZ"]
        assert tomllib.loads(user_file.read_text())["data"]["watchlist"] == [*TICKERS, "ZZZ"]
        watch = app.query_one(WatchlistPane)
        assert "ZZZ" in watch._shown and app.ticker == "ZZZ"
        await pilot.press("d")
        await settle(pilot, app)
        assert "ZZZ" not in app.watchlist
        assert tomllib.loads(user_file.read_text())["data"]["watchlist"] == list(TICKERS)
        await pilot.press("d")  # remove the ticker now under the cursor
        await settle(pilot, app)
        assert len(app.watchlist) == len(TICKERS) - 1
        assert len(watch._shown) == len(TICKERS) - 1
    assert log.main_calls == 0


async def test_tabs_at_80x24_and_pane_keys(filled, tmp_path: Path) -> None:  # noqa: F811
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
        assert fc.horizon == 1
        await pilot.press("h")
        assert fc.horizon == 5
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
