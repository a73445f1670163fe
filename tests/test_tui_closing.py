"""A signal's detail screen opened as the app quits raises nothing at exit (its chart is
gone by the time its mount handler runs; `query_one` raised NoMatches there)."""

from __future__ import annotations

from pathlib import Path

from test_tui_support import make_app, settle

from tui.panes.signals import SignalDetail, SignalsPane


async def test_quitting_as_a_signal_detail_opens_raises_nothing(filled, tmp_path: Path) -> None:
    store, _ = filled
    app, _ = make_app(store, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        row = app.query_one(SignalsPane).signals.iloc[0].to_dict()
        assert row.get("drivers")  # the detail draws a chart: the query that must survive
        app.push_screen(SignalDetail(row))
        app.exit()
