"""Pilot tests: watchlist edits reach a real engine (issue 12, watchlist consequences).

A real `Engine` replays synthetic bars (no forecast stage, so cycles are quick):
removing a held ticker offers keep / liquidate and liquidating sells it at the open
after the next cycle; adding a ticker the data lacks is refused with the engine's
message; adding one it has backfills its history at the next cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_tui_support import drain, make_app, press, settle, wait_until
from test_universe_change import TICKERS, _engine, _qty

from tui.edits import ConfirmRemoveHeld
from tui.panes.watchlist import WatchlistPane


async def _ready(tmp_path: Path, name: str, watch: list[str] | None = None) -> tuple[Any, Any]:
    engine, _ = _engine(tmp_path, name, watch)
    for _ in range(3):  # fund the benchmark and fill it
        await engine.step()
    app, _ = make_app(engine.store, tmp_path, engine=engine)
    return engine, app


async def _until(pilot: Any, cond: Any, what: str) -> None:
    await wait_until(cond, 8.0, what)  # the 400 polls of 20 ms this replaced


async def test_removing_a_held_ticker_can_liquidate_it(tmp_path: Path) -> None:
    engine, app = await _ready(tmp_path, "liq")
    held = _qty(engine, "T3")
    assert held > 0
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.query_one(WatchlistPane).select("T3")
        await drain(pilot, app)
        await press(pilot, app, "d")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmRemoveHeld), "the question")
        assert app.screen.query("#confirm-liquidate") and app.screen.query("#confirm-keep")
        await press(pilot, app, "l")
        await _until(pilot, lambda: engine.universe.pending(), "the queued request")
        await settle(pilot, app)
        assert "T3" not in app.watchlist
        assert app.event_log[-1].message.startswith(f"Removed T3; liquidating {held:,} shares")
        await press(pilot, app, "n")  # the next cycle orders the sale…
        await _until(pilot, lambda: not engine.universe.pending() and not app._stepping, "a cycle")
        await settle(pilot, app)
        applied = [e for e in app.event_log if e.title.startswith("Watchlist change applied")]
        assert applied and "liquidating T3: sale ordered" in applied[-1].message
        await press(pilot, app, "n")  # …which fills at the following open
        await _until(pilot, lambda: _qty(engine, "T3") == 0 and not app._stepping, "the sale")
        await settle(pilot, app)
    order = engine.store.query_df("SELECT status, filled_qty FROM orders WHERE ticker = 'T3' AND intent = 'liquidate'")
    assert list(order["status"]) == ["filled"] and order["filled_qty"][0] == held


async def test_keep_and_undo_and_unknown_tickers(tmp_path: Path) -> None:
    engine, app = await _ready(tmp_path, "keep", watch=TICKERS[:-1])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await press(pilot, app, "a", *"zzzz", "enter")
        await _until(pilot, lambda: "Watchlist unchanged" in app.event_log[-1].title, "the refusal")
        assert "ZZZZ is not in the data" in app.event_log[-1].message and "ZZZZ" not in app.watchlist
        assert engine.universe.pending() == []
        new = TICKERS[-1]
        await press(pilot, app, "a", *new.lower(), "enter")
        await _until(pilot, lambda: new in app.watchlist, "the add")
        assert app.event_log[-1].message.startswith(f"Added {new} to the watchlist: its history")
        await settle(pilot, app)
        app.jump_to("T2")
        await settle(pilot, app)
        await press(pilot, app, "d")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmRemoveHeld), "the question")
        await press(pilot, app, "k")
        await _until(pilot, lambda: "T2" not in app.watchlist, "the removal")
        await press(pilot, app, "u")  # undo the keep before any cycle: the engine request is reversed too
        await _until(pilot, lambda: len(engine.universe.pending()) == 3, "the reversing request")
        await settle(pilot, app)
        assert "T2" in app.watchlist
        await press(pilot, app, "n")
        await _until(pilot, lambda: not engine.universe.pending() and not app._stepping, "a cycle")
        await settle(pilot, app)
    assert engine.universe.current.watch == tuple(TICKERS) and engine.universe.current.kept == ()
    bars = engine.store.query_df(f"SELECT count(*) AS n FROM bars WHERE ticker = '{TICKERS[-1]}'")["n"][0]
    assert bars > 50  # its history was backfilled
