"""Background refits: swapped in at a fixed session, so timing never changes a number.

A model in `forecast.background_refit` refits on the refit session's data on a
background thread and forecasts with its old fit until exactly `swap_after`
sessions later. A crash on the refit session, or between it and the swap, then a
resume, must give the forecasts an uninterrupted run gives; after the swap the
model forecasts what an in-cycle refit (swap_after = 0) forecasts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from engine.config import load_config
from engine.cycle import CycleContext, Stage
from engine.errors import ConfigError
from engine.feeds import ReplayFeed
from engine.loop import Engine
from engine.stages import default_stages
from engine.store import Store

TICKERS = ["AAPL", "JPM", "XOM"]
EVERY, SWAP = 5, 2
OVERRIDES: dict[str, Any] = {
    "forecast.refit_every": EVERY,
    "forecast.swap_after": SWAP,
    "forecast.background_refit": ["garch"],
    "forecast.models": ["naive", "arima", "garch"],
    "data.watchlist": TICKERS,
    "risk.mc_paths": 0,  # only forecasts are compared: no Monte-Carlo or stress in the risk stage
    "risk.stress": False,
}
# Refits on 01-04, 01-11 and 01-19 (session_index % 5 == 0): each crash (01-11 to 01-13)
# resumes across the swap on 01-13, then the next background refit and its swap on 01-21.
END = dt.date(2016, 1, 21)


class CrashAt(Stage):
    """Raises once, on the second refit cycle's session `offset` sessions after the refit."""

    name = "crash"

    def __init__(self, offset: int) -> None:
        self.offset, self.seen = offset, 0

    def run(self, ctx: CycleContext) -> None:
        if ctx.session_index % EVERY == self.offset and ctx.session_index >= EVERY:
            self.seen += 1
            if self.seen == 2:
                raise RuntimeError(f"simulated crash on {ctx.session}")


def engine_for(db: Path, extra: list[Stage] | None = None, **overrides: Any) -> Engine:
    config = load_config(overrides={**OVERRIDES, **overrides})
    feed = ReplayFeed(start=dt.date(2016, 1, 4), tickers=TICKERS)
    return Engine(Store.open(db), config, feed, stages=[*default_stages(), *(extra or [])])


def forecasts(engine: Engine) -> pd.DataFrame:
    return engine.store.query_df(
        "SELECT as_of, ticker, model, horizon, mean, lower, upper, prob_up FROM forecasts "
        "ORDER BY as_of, ticker, model, horizon"
    )


def session_index(engine: Engine) -> dict[dt.date, int]:
    rows = engine.store.con.execute("SELECT session, session_index FROM cycles").fetchall()
    return dict(rows)


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, dict[dt.date, int]]:
    engine = engine_for(tmp_path_factory.mktemp("bg") / "straight.duckdb")
    asyncio.run(engine.run(until=END))
    out = forecasts(engine), session_index(engine)
    engine.store.close()
    return out


@pytest.mark.parametrize("offset", [0, 1, SWAP])
def test_resume_around_a_background_refit_is_bit_identical(
    tmp_path: Path, offset: int, straight: tuple[pd.DataFrame, dict[dt.date, int]]
) -> None:
    crashing = engine_for(tmp_path / "crash.duckdb", [CrashAt(offset)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        asyncio.run(crashing.run(until=END))
    crashed_at = crashing.as_of
    crashing.store.close()
    resumed = engine_for(tmp_path / "crash.duckdb")
    asyncio.run(resumed.run(until=END))
    got = forecasts(resumed)
    resumed.store.close()
    assert crashed_at is not None and crashed_at < END
    assert len(got) == len(straight[0]) > 0
    pd.testing.assert_frame_equal(got, straight[0], check_exact=True)


def test_the_new_fit_forecasts_from_the_swap_session_on(
    tmp_path: Path, straight: tuple[pd.DataFrame, dict[dt.date, int]]
) -> None:
    in_cycle = engine_for(tmp_path / "sync.duckdb", None, **{"forecast.swap_after": 0})
    asyncio.run(in_cycle.run(until=END))
    want = forecasts(in_cycle)
    in_cycle.store.close()
    got, index = straight
    assert len(got) == len(want) > 0
    k = got["as_of"].map(lambda d: index[pd.Timestamp(d).date()])
    garch = (got["model"] == "garch").to_numpy()
    pending = garch & (k >= EVERY).to_numpy() & (k % EVERY < SWAP).to_numpy()
    cols = ["mean", "lower", "upper"]
    assert pending.any() and (~pending & garch).any()
    # Before the swap the old fit forecasts; from the swap on, the very fit an in-cycle
    # refit makes (same data, warm-started from the same snapshot).
    gap = (got.loc[pending, cols] - want.loc[pending, cols]).abs().to_numpy().max()
    assert gap > 1e-4
    settled = garch & ~pending
    pd.testing.assert_frame_equal(got.loc[settled], want.loc[settled], check_exact=True)
    others = ~garch & (got["model"] != "ensemble").to_numpy()
    pd.testing.assert_frame_equal(got.loc[others], want.loc[others], check_exact=True)


def test_swap_comes_before_the_next_refit() -> None:
    from engine.stages.forecast import _swap_after

    assert _swap_after(load_config(overrides={"forecast.refit_every": 3, "forecast.swap_after": 5}).forecast) == 2
    assert _swap_after(load_config(overrides={"forecast.refit_every": 1}).forecast) == 0
    with pytest.raises(ConfigError, match="swap_after"):
        load_config(overrides={"forecast.swap_after": -1})
