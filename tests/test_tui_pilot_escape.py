"""Strings from data never reach Rich/Textual markup (issue 12): a ticker named `[/]`,
a halt reason and a keymap warning with brackets are shown verbatim."""

from __future__ import annotations

import json
from pathlib import Path

from test_tui_support import ACCOUNT, drain, make_app, press, settle

from engine.store import append

ODD = ("[/]", "[b]X")


async def test_bracket_tickers_and_reasons_render_verbatim(filled, tmp_path: Path) -> None:
    store, _last = filled
    con = store.con
    bars = con.execute("SELECT * FROM bars WHERE ticker = 'AAA'").df()
    for odd in ODD:
        append(con, "bars", bars.assign(ticker=odd))
        sig = con.execute("SELECT * FROM signals WHERE ticker = 'AAA'").df().assign(ticker=odd)
        append(con, "signals", sig)
        fc = con.execute("SELECT * FROM forecasts WHERE ticker = 'AAA'").df().assign(ticker=odd)
        append(con, "forecasts", fc)
        pos = con.execute("SELECT * FROM positions WHERE ticker = 'AAA'").df().assign(ticker=odd)
        append(con, "positions", pos)
    con.execute(
        "UPDATE risk SET halted = true, halt_reason = '[red]daily loss[/] 3.1% > 3%', "
        "limit_utilisation = ? WHERE account = ?",
        [json.dumps({"gross[/]": 0.5}), ACCOUNT],
    )
    app, _ = make_app(store, tmp_path, overrides={"keymap.no_such_id": "x"})
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.is_running
        assert "[keymap] names unknown binding ids: no_such_id" in app.event_log[0].message
        watch = app.query_one("#watchlist")
        assert ("[/]" in watch._shown and "[B]X" in watch._shown) or "[b]X" in watch._shown
        app.jump_to("[/]")
        await settle(pilot, app)
        assert app.query_one("#forecasts").view.ticker == "[/]"
        header = str(app.query_one("#status").render())
        assert "[red]daily loss[/] 3.1% > 3%" in header
        await press(pilot, app, "question_mark")
        await drain(pilot, app)
        await press(pilot, app, "escape")
        await press(pilot, app, "L")
        await drain(pilot, app)
        assert type(app.screen).__name__ == "EventLogScreen"
        await press(pilot, app, "escape")
        await press(pilot, app, "q")
    assert app.return_code == 0
