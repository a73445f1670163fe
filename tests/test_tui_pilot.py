"""Pilot tests of the app's key paths, on a store filled with fixed rows."""

from __future__ import annotations

import threading
import tomllib
from pathlib import Path
from typing import Any

from test_tui_support import TICKERS, FakeEngine, ThreadLog, filled, settle, test_config  # noqa: F401
from textual.widgets import Input, Markdown

from tui.app import PmaxApp
from tui.panes.copilot import CopilotPane
from tui.panes.forecasts import ForecastsPane
from tui.panes.signals import SignalDetail, SignalsPane
from tui.panes.watchlist import WatchlistPane


def make_app(store: Any, tmp_path: Path, engine: Any = None, **kw: Any) -> tuple[PmaxApp, ThreadLog]:
    log = ThreadLog(store.cursor)
    overrides = kw.pop("overrides", {})
    app = PmaxApp(engine=engine, store=store, config=test_config(tmp_path, **overrides), cursor_factory=log, **kw)
    return app, log


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


async def test_pause_resume_and_step(filled, tmp_path: Path) -> None:  # noqa: F811
    store, last = filled
    engine = FakeEngine(store, last, max_steps=1000)
    app, log = make_app(store, tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.paused and engine.steps == 0
        await pilot.press("n")
        await settle(pilot, app)
        assert engine.steps == 1 and app.as_of == engine.as_of and app.paused
        await pilot.press("space")
        for _ in range(20):
            await pilot.pause(0.05)
            if engine.steps >= 4:
                break
        assert not app.paused and engine.steps >= 4
        await pilot.press("space")
        await settle(pilot, app)
        frozen = engine.steps
        await settle(pilot, app)
        assert app.paused and engine.steps == frozen
        assert app.sessions == 70 + frozen  # the header count comes from the store
    assert log.main_calls == 0


async def test_replay_end_is_reported(filled, tmp_path: Path) -> None:  # noqa: F811
    store, last = filled
    engine = FakeEngine(store, last, max_steps=1)
    app, _ = make_app(store, tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await settle(pilot, app)
        await pilot.press("n")
        await settle(pilot, app)
        assert app._loop_state() == "finished"
        assert "finished" in str(app.query_one("#status").render())


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


async def test_palette_jump_and_step(filled, tmp_path: Path) -> None:  # noqa: F811
    store, last = filled
    engine = FakeEngine(store, last)
    app, _ = make_app(store, tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.press(*"jump to EEE")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.ticker == "EEE" and app.query_one(ForecastsPane).view.ticker == "EEE"
        await pilot.press("ctrl+p")
        await pilot.press(*"step one session")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot, app)
        assert engine.steps == 1


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


async def test_keymap_remaps_and_theme_persists(filled, tmp_path: Path, isolated_home: Path) -> None:  # noqa: F811
    store, last = filled
    engine = FakeEngine(store, last)
    app, _ = make_app(store, tmp_path, engine=engine, overrides={"keymap.step": "x"})
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("n")
        await settle(pilot, app)
        assert engine.steps == 0
        await pilot.press("x")
        await settle(pilot, app)
        assert engine.steps == 1
        before = app.theme
        await pilot.press("t")
        await settle(pilot, app)
        assert app.theme != before
        saved = tomllib.loads((isolated_home / ".config" / "pmax" / "config.toml").read_text())
        assert saved["tui"]["theme"] == app.theme


async def test_export_table_and_chart(filled, tmp_path: Path) -> None:  # noqa: F811
    store, last = filled
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        await settle(pilot, app)
        out = tmp_path / "exports" / f"watchlist-{last.isoformat()}.csv"
        assert out.is_file() and out.read_text().count("\n") == len(TICKERS) + 1
        await pilot.press("tab", "E", "g")
        await settle(pilot, app)
        assert (tmp_path / "exports" / f"forecasts-{last.isoformat()}.parquet").is_file()
        chart = (tmp_path / "exports" / f"forecasts-chart-{last.isoformat()}.txt").read_text()
        assert "AAA close" in chart


class FakeSession:
    """Streams a fixed answer; blocks mid-way when `gate` is given until cancelled."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.last_answer: Any = None

    def stream(self, question: str, cancel: threading.Event):
        from copilot.types import Answer, Citation

        yield f"**{question}** — "
        if self.gate is not None:
            cancel.wait(5)
        yield "AAA is a BUY."
        self.last_answer = Answer("…", [Citation("signals", "account=paper, ticker=AAA")], "fake", {"total_s": 0.5})


async def test_copilot_streams_answer_with_sources(filled, tmp_path: Path) -> None:  # noqa: F811
    store, _ = filled
    app, _ = make_app(store, tmp_path, copilot_factory=FakeSession)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.query_one(CopilotPane).focus_primary()
        await pilot.press(*"why q", "enter")
        await settle(pilot, app)
        assert app.return_code is None  # typing q in the box did not quit
        md = app.query_one(".cp-answer", Markdown)
        assert "AAA is a BUY." in md.source and "why q" in md.source
        assert "signals" in str(app.query_one("#cp-sources").render())


async def test_copilot_escape_cancels(filled, tmp_path: Path) -> None:  # noqa: F811
    store, _ = filled
    app, _ = make_app(store, tmp_path, copilot_factory=lambda: FakeSession(gate=threading.Event()))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        pane = app.query_one(CopilotPane)
        pane.focus_primary()
        await pilot.press("h", "i", "enter")
        await pilot.pause(0.2)
        assert pane.busy
        await pilot.press("escape")
        await settle(pilot, app)
        assert not pane.busy
        assert "(cancelled)" in app.query_one(".cp-answer", Markdown).source


async def test_copilot_missing_shows_empty_state(filled, tmp_path: Path) -> None:  # noqa: F811
    store, _ = filled

    def broken() -> Any:
        raise ImportError("No module named 'copilot.session'")

    app, _ = make_app(store, tmp_path, copilot_factory=broken)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.query_one(CopilotPane).focus_primary()
        await pilot.press("h", "enter")
        await settle(pilot, app)
        assert "not available" in app.query_one(".cp-answer", Markdown).source
        assert isinstance(app.focused, Input)


async def test_no_database_on_ui_thread_across_key_paths(filled, tmp_path: Path) -> None:  # noqa: F811
    store, last = filled
    engine = FakeEngine(store, last)
    app, log = make_app(store, tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        for keys in (("n",), ("j", "k"), ("tab", "h"), ("tab", "enter", "escape"), ("tab",), ("ctrl+r",),
                     ("space",), ("space",), ("e",)):
            await pilot.press(*keys)
            await settle(pilot, app, 2)
        app.action_run_validation()
        await settle(pilot, app)
        assert type(app.screen).__name__ == "ValidationScreen"
    assert log.main_calls == 0 and log.worker_calls >= 8
