"""Issue 2's snapshot: the app at 120x40 after a few cycles of the bundled sample.

The engine runs the ingest stage and a test-only mark-to-market stage (an all-cash account) over
data/watchlist_sample.parquet; the loop is paused and stepped with `n`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from test_tui_support import settle_frame, test_config, wait_until

from engine.cycle import CycleContext, Stage
from engine.feeds import ReplayFeed
from engine.loop import Engine
from engine.stages.ingest import IngestStage
from engine.store import Store, upsert
from tui.app import PmaxApp


class MarkToMarketStage(Stage):
    """An all-cash account marked each session: equity rows without the trading stages."""

    name = "mark"

    def run(self, ctx: CycleContext) -> None:
        cash = ctx.config.portfolio.initial_cash
        upsert(
            ctx.con,
            "equity",
            pd.DataFrame(
                [
                    {
                        "account": ctx.account,
                        "as_of": ctx.session,
                        "cash": cash,
                        "equity": cash,
                        "gross": 0.0,
                        "net": 0.0,
                        "drawdown": 0.0,
                        "daily_return": 0.0,
                    }
                ]
            ),
        )


def test_sample_after_three_cycles(snap_compare, tmp_path: Path, sample_path: Path) -> None:
    store = Store.open(tmp_path / "sample.duckdb")
    config = test_config(tmp_path)
    feed = ReplayFeed(sample_path, start=config.replay.start)
    engine = Engine(store, config, feed, stages=[IngestStage(), MarkToMarketStage()], device="cpu")
    app = PmaxApp(engine=engine, store=store, config=config)

    async def run_before(pilot) -> None:
        for _ in range(3):
            before = engine.as_of
            await pilot.press("n")
            await wait_until(lambda: engine.as_of != before and not app._stepping, 60, "one step")  # noqa: B023 - awaited here
        await settle_frame(pilot, app)
        assert str(engine.as_of) == "2016-01-06" and app.sessions == 3

    try:
        assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
    finally:
        store.close()
