"""Replaying a file whose bars changed only after T leaves every forecast made on or before T bit-identical."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.config import load_config
from engine.feeds import ReplayFeed
from engine.loop import Engine
from engine.stages import load_stage
from engine.store import Store

TICKERS = ["MSFT", "KO", "CVX"]
START = dt.date(2017, 10, 2)
T = dt.date(2017, 10, 6)
OVERRIDES = {
    "replay.start": START,
    "forecast.refit_every": 3,
    "forecast.lightgbm.n_estimators": 20,
    "forecast.garch.window": 300,
    "forecast.min_scored": 2,
    "neural.epochs": 1,  # a smaller fit, same data path: look-ahead is about what a model sees, not how long it trains
}


def forecasts(data: Path, db: Path, cycles: int) -> pd.DataFrame:
    cfg = load_config(env={}, overrides=OVERRIDES)
    store = Store.open(db)
    stages = [load_stage("engine.stages.ingest:IngestStage"), load_stage("engine.stages.forecast:ForecastStage")]
    asyncio.run(Engine(store, cfg, ReplayFeed(data, start=START, tickers=TICKERS), stages=stages).run(cycles=cycles))
    try:
        return store.query_df("SELECT * FROM forecasts ORDER BY as_of, ticker, model, horizon")
    finally:
        store.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> tuple[pd.DataFrame, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("lookahead")
    df = pd.read_parquet(request.config.rootpath / "data" / "watchlist_sample.parquet")
    df = df[df["ticker"].isin(TICKERS) & (df["date"] >= dt.date(2015, 10, 1)) & (df["date"] <= dt.date(2017, 12, 1))]
    original, changed = tmp / "original.parquet", tmp / "changed.parquet"
    df.to_parquet(original, index=False)
    later = df["date"] > T
    rng = np.random.default_rng(11)
    factor = np.exp(rng.normal(0.0, 0.02, int(later.sum())))
    alt = df.copy()
    for col in ("open", "high", "low", "close"):
        alt.loc[later, col] = alt.loc[later, col] * factor
    alt.loc[later, "volume"] = (alt.loc[later, "volume"] * 1.5).astype("int64")
    alt.to_parquet(changed, index=False)
    return forecasts(original, tmp / "a.duckdb", 7), forecasts(changed, tmp / "b.duckdb", 7)


def test_forecasts_up_to_T_are_bit_identical(runs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    a, b = runs
    upto_a, upto_b = a[a["as_of"] <= pd.Timestamp(T)], b[b["as_of"] <= pd.Timestamp(T)]
    assert upto_a["as_of"].nunique() == 5 and set(upto_a["model"]) >= {"arima", "garch", "lightgbm", "ensemble"}
    pd.testing.assert_frame_equal(upto_a.reset_index(drop=True), upto_b.reset_index(drop=True), check_exact=True)


def test_forecasts_after_T_see_the_changed_bars(runs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    a, b = runs
    after_a, after_b = a[a["as_of"] > pd.Timestamp(T)], b[b["as_of"] > pd.Timestamp(T)]
    assert len(after_a) == len(after_b) > 0
    assert not np.array_equal(after_a["mean"].to_numpy(), after_b["mean"].to_numpy())
