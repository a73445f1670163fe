"""Refresh while the loop runs (tui/refresh.py): unchanged panes are not redrawn, a
hidden pane gets its data when it is shown, and the first read names every pane."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_tui_support import ACCOUNT, FakeEngine, drain, make_app, press, settle, wait_until

from tui.panes.risk import RiskPane
from tui.panes.signals import SignalsPane
from tui.panes.watchlist import WatchlistPane
from tui.refresh import changed_panes


def _count_calls(obj: Any, name: str) -> list[int]:
    calls = [0]
    original = getattr(obj, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    setattr(obj, name, counted)
    return calls


async def test_a_cycle_redraws_only_the_panes_whose_data_changed(filled, tmp_path: Path) -> None:
    store, last = filled
    engine = FakeEngine(store, last)  # each step writes new bars only: no signals, equity or risk
    app, log = make_app(store, tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        watch = app.query_one(WatchlistPane)
        before = {r.ticker: r.last for r in watch.rows}
        risk_calls = _count_calls(app.query_one(RiskPane), "set_view")
        signal_calls = _count_calls(app.query_one(SignalsPane), "set_signals")
        await press(pilot, app, "n")
        await settle(pilot, app)
        assert engine.steps == 1
        after = {r.ticker: r.last for r in watch.rows}
        assert after != before  # the new bars reached the watchlist
        assert risk_calls[0] == 0 and signal_calls[0] == 0  # unchanged panes were not touched
    assert log.main_calls == 0


async def test_a_hidden_tab_is_drawn_when_shown(filled, tmp_path: Path) -> None:
    store, last = filled
    engine = FakeEngine(store, last)
    app, _ = make_app(store, tmp_path, engine=engine)
    async with app.run_test(size=(80, 24)) as pilot:  # tabs layout: one pane visible
        await settle(pilot, app)
        watch = app.query_one(WatchlistPane)
        before = {r.ticker: r.last for r in watch.rows}
        app._set_active(RiskPane.PANE_ID)
        app.pane(RiskPane.PANE_ID).focus_primary()
        await drain(pilot, app)
        app.action_step()
        await wait_until(lambda: engine.steps == 1, what="one step")
        await settle(pilot, app)
        assert engine.steps == 1
        assert {r.ticker: r.last for r in watch.rows} == before  # hidden: not redrawn yet
        assert WatchlistPane.PANE_ID in app._stale
        app._set_active(WatchlistPane.PANE_ID)
        await drain(pilot, app)
        assert {r.ticker: r.last for r in watch.rows} != before  # shown: the latest data is drawn
        assert WatchlistPane.PANE_ID not in app._stale  # (other hidden tabs still wait for theirs)


def test_changed_panes_first_read_names_every_pane_and_equal_reads_none(filled, tmp_path: Path) -> None:
    from tui.panes.queries import load_forecast, load_snapshot

    store, _ = filled
    account = ACCOUNT
    cur = store.cursor()
    try:
        tickers = [r[0] for r in cur.execute("SELECT DISTINCT ticker FROM bars ORDER BY 1").fetchall()]
        snap = load_snapshot(cur, account, tickers, 20)
        view = load_forecast(cur, account, tickers[0], 60)
        again = load_snapshot(cur, account, tickers, 20)
        view_again = load_forecast(cur, account, tickers[0], 60)
    finally:
        cur.close()
    assert changed_panes(None, snap, view) == {"watchlist", "signals", "risk", "forecasts"}
    assert changed_panes((snap, view), again, view_again) == set()
