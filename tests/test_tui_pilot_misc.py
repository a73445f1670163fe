"""Pilot tests: export, the copilot pane, and no database access on the UI thread."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from test_tui_support import TICKERS, FakeEngine, make_app, press, settle, wait_until
from textual.widgets import Input, Markdown

from tui.panes.copilot import CopilotPane


async def test_export_table_and_chart(filled, tmp_path: Path) -> None:
    store, last = filled
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "e")
        await settle(pilot, app)
        out = tmp_path / "exports" / f"watchlist-{last.isoformat()}.csv"
        assert out.is_file() and out.read_text().count("\n") == len(TICKERS) + 1
        await press(pilot, app, "tab", "E", "g")
        await settle(pilot, app)
        assert (tmp_path / "exports" / f"forecasts-{last.isoformat()}.parquet").is_file()
        chart = (tmp_path / "exports" / f"forecasts-chart-{last.isoformat()}.txt").read_text()
        assert "AAA: closes and forecasts" in chart and "legend: " in chart


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


async def test_copilot_streams_answer_with_sources(filled, tmp_path: Path) -> None:
    store, _ = filled
    app, _ = make_app(store, tmp_path, copilot_factory=FakeSession)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.query_one(CopilotPane).focus_primary()
        await press(pilot, app, *"why q", "enter")
        await settle(pilot, app)
        assert app.return_code is None  # typing q in the box did not quit
        md = app.query_one(".cp-answer", Markdown)
        assert "AAA is a BUY." in md.source and "why q" in md.source
        assert "fake · 0.5s · 1 source" in str(app.query_one("#cp-sources").render())


async def test_copilot_escape_cancels(filled, tmp_path: Path) -> None:
    store, _ = filled
    app, _ = make_app(store, tmp_path, copilot_factory=lambda: FakeSession(gate=threading.Event()))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        pane = app.query_one(CopilotPane)
        pane.focus_primary()
        await press(pilot, app, "h", "i", "enter")
        await wait_until(lambda: pane.busy, what="the copilot to start answering")
        await press(pilot, app, "escape")
        await settle(pilot, app)
        assert not pane.busy
        assert "(cancelled)" in app.query_one(".cp-answer", Markdown).source


async def test_copilot_missing_shows_empty_state(filled, tmp_path: Path) -> None:
    store, _ = filled

    def broken() -> Any:
        raise ImportError("No module named 'copilot.session'")

    app, _ = make_app(store, tmp_path, copilot_factory=broken)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.query_one(CopilotPane).focus_primary()
        await press(pilot, app, "h", "enter")
        await settle(pilot, app)
        assert "not available" in app.query_one(".cp-answer", Markdown).source
        assert isinstance(app.focused, Input)


async def test_no_database_on_ui_thread_across_key_paths(filled, tmp_path: Path) -> None:
    store, last = filled
    engine = FakeEngine(store, last)
    app, log = make_app(store, tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        for keys in (
            ("n",),
            ("j", "k"),
            ("tab", "h"),
            ("tab", "enter", "escape"),
            ("tab",),
            ("ctrl+r",),
            ("space",),
            ("space",),
            ("e",),
        ):
            await pilot.press(*keys)  # Pilot's idle waits let a started loop run a few cycles
            await settle(pilot, app)
        app.action_run_validation()
        await settle(pilot, app)
        assert type(app.screen).__name__ == "ValidationScreen"
    assert log.main_calls == 0 and log.worker_calls >= 8
