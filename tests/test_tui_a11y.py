"""Accessibility and robustness (issue 12): NO_COLOR, ASCII locale, keymap conflicts,
screenshots without ~/Downloads, kill-switch trips in the event log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from rich.text import Text
from test_tui_support import FakeEngine, make_app, settle

from engine.stages.risk import RiskLimitBreached
from tui.eventlog import breach_reason
from tui.keymap import conflicts
from tui.panes.views import WatchRow
from tui.panes.watchlist import row_cells
from tui.widgets import text as tx


@pytest.fixture
def fresh_glyphs():
    tx.glyphs.cache_clear()
    yield
    tx.glyphs.cache_clear()


def test_no_color_marks_sign_without_colour(monkeypatch, fresh_glyphs) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    down = WatchRow("AAA", last=10.0, change=-0.0123, spark=(1.0, 2.0), signal="SELL", confidence=0.6)
    cells = row_cells(down)
    change, signal = cells[2], cells[4]
    assert isinstance(change, Text) and isinstance(signal, Text)
    assert change.plain == "\u22121.23%" and change.style == ""  # a true minus, default (full-contrast) text
    assert signal.plain == "SELL 60%" and signal.style == ""  # the word carries it
    assert tx.signed_pct(0.034) == "+3.4%"


def test_colour_only_repeats_the_sign(monkeypatch, fresh_glyphs) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert tx.sign_style(-0.1) == "red" and tx.sign_style(0.1) == "green"


@pytest.mark.parametrize(
    "env,utf8",
    [
        ({"LANG": "C"}, False),
        ({"LANG": "C", "LC_CTYPE": "C.UTF-8"}, False),
        ({"LANG": "en_US.UTF-8"}, True),
        ({"LC_ALL": "de_DE.utf8"}, True),
        ({}, False),
    ],
)
def test_locale_detection(env: dict[str, str], utf8: bool) -> None:
    assert tx.locale_is_utf8(env) is utf8


def test_ascii_fallback(monkeypatch, fresh_glyphs) -> None:
    for name in ("LC_ALL", "LC_CTYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C")
    drawn = tx.sparkline([1, 2, 3, 4, 5]) + tx.hbar(0.5, 10) + tx.mark(True) + tx.mark(False) + tx.signed_pct(-0.01)
    assert drawn.isascii(), drawn


def test_keymap_conflicts_name_both_ids() -> None:
    assert conflicts({}) == []
    assert ("step", "sort", "s") in conflicts({"step": "s"})
    assert conflicts({"step": "x"}) == []


def test_breach_reason_says_which_limit_and_action() -> None:
    event = RiskLimitBreached(dt.date(2016, 3, 1), "daily_loss", 0.031, 0.03, "halt_buys", "loss −3.1%")
    text = breach_reason(event)
    assert text.startswith("daily_loss: 0.031 past its threshold 0.03; action halt_buys") and "loss" in text


async def test_kill_switch_trip_is_logged_and_conflict_reported(filled, tmp_path: Path, isolated_home) -> None:
    store, last = filled
    engine = FakeEngine(store, last)
    app, _ = make_app(store, tmp_path, engine=engine, overrides={"keymap.step": "s"})
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert any("step and sort are both bound to 's'" in e.message for e in app.event_log)
        app._engine_callback(RiskLimitBreached(last, "drawdown_flatten", -0.21, -0.2, "flatten", ""))
        await settle(pilot, app)
        trip = app.event_log[-1]
        assert trip.title.startswith("Kill switch tripped") and "drawdown_flatten" in trip.message
        assert "flatten" in trip.message and trip.severity == "warning"
        assert not (isolated_home / "Downloads").exists()
        path = app.deliver_screenshot()  # the palette's "Screenshot"
        assert path is not None and Path(path).is_file() and Path(path).parent == tmp_path / "exports"


async def test_header_matches_the_risk_pane_when_halted(filled, tmp_path: Path) -> None:
    store, _ = filled
    store.con.execute("UPDATE risk SET halted = true, halt_reason = 'daily loss 3.1% > 3%'")
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        header = str(app.query_one("#status").render())
        assert "KILL SWITCH HALTED: daily loss 3.1% > 3%" in header
        assert str(app.query_one("#risk").border_subtitle) == "HALTED"
        assert header.startswith("view") and "vs B&H" in header


async def test_app_in_a_c_locale_draws_ascii(filled, tmp_path: Path, monkeypatch, fresh_glyphs) -> None:
    for name in ("LC_ALL", "LC_CTYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C")
    store, _ = filled
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.has_class("-ascii")
        assert str(app.query_one("#status").render()).isascii()
        assert str(app.query_one("#watchlist").border_subtitle).isascii()
        assert app.query_one("#forecasts").chart_text(80, 16).isascii()
