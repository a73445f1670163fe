"""A crash on a refit session, then a resume, gives the forecasts an uninterrupted run gives.

The resumed process restores each model from `forecast_state` and refits; the refit
must warm-start from the same snapshot the uninterrupted run warm-starts from, even
though the uninterrupted run's in-memory model had been updated daily since.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from engine.config import load_config
from engine.cycle import CycleContext, Stage
from engine.feeds import ReplayFeed
from engine.loop import Engine
from engine.stages import default_stages
from engine.store import Store

TICKERS = ["AAPL", "JPM", "XOM"]
OVERRIDES = {
    "forecast.refit_every": 5,
    "forecast.models": ["naive", "arima", "garch", "ssa"],
    "data.watchlist": TICKERS,
    "risk.mc_paths": 0,  # only forecasts are compared: no Monte-Carlo or stress in the risk stage
    "risk.stress": False,
}
# Refits on 01-11, 01-19 and 01-26: the crash on 01-19 resumes on that refit and runs
# across the next one.
END = dt.date(2016, 1, 26)


class CrashOnRefit(Stage):
    """Raises once, on the second refit session, after the forecast stage has run."""

    name = "crash"

    def __init__(self) -> None:
        self.refits_seen = 0

    def run(self, ctx: CycleContext) -> None:
        if ctx.session_index % 5 == 0 and not ctx.warmup:
            self.refits_seen += 1
            if self.refits_seen == 2:
                raise RuntimeError(f"simulated crash on {ctx.session}")


def engine_for(db: Path, extra: list[Stage] | None = None) -> Engine:
    config = load_config(overrides=OVERRIDES)
    feed = ReplayFeed(start=dt.date(2016, 1, 4), tickers=TICKERS)
    return Engine(Store.open(db), config, feed, stages=[*default_stages(), *(extra or [])])


def forecasts(engine: Engine) -> pd.DataFrame:
    return engine.store.query_df(
        "SELECT as_of, ticker, model, horizon, mean, lower, upper, prob_up FROM forecasts "
        "ORDER BY as_of, ticker, model, horizon"
    )


def test_resume_on_a_refit_session_is_bit_identical(tmp_path: Path) -> None:
    crashing = engine_for(tmp_path / "crash.duckdb", [CrashOnRefit()])
    with pytest.raises(RuntimeError, match="simulated crash"):
        asyncio.run(crashing.run(until=END))
    crashed_at = crashing.as_of
    crashing.store.close()
    resumed = engine_for(tmp_path / "crash.duckdb")
    asyncio.run(resumed.run(until=END))

    straight = engine_for(tmp_path / "straight.duckdb")
    asyncio.run(straight.run(until=END))
    got, want = forecasts(resumed), forecasts(straight)
    assert crashed_at is not None and crashed_at < END
    assert len(got) == len(want) > 0
    pd.testing.assert_frame_equal(got, want, check_exact=True)
