"""The forecast stage in the real engine: all models + ensemble stored, scored, weighted; resume is bit-identical."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from engine.config import load_config
from engine.feeds import ReplayFeed
from engine.loop import Engine
from engine.stages import DEFAULT_STAGES, load_stage
from engine.stages.forecast import ForecastsUpdated
from engine.store import Store

TICKERS = ["AAPL", "JPM", "XOM"]
START = dt.date(2017, 11, 1)
OVERRIDES = {
    "replay.start": START,
    "forecast.refit_every": 4,
    "forecast.lightgbm.n_estimators": 20,
    "forecast.garch.window": 300,
    "forecast.min_scored": 3,
    "forecast.weight_window": 20,
    "neural.epochs": 1,  # every model still fits, refits and resumes; the neural one trains one pass
}


def run(db: Path, data: Path, cycles: int) -> list[object]:
    cfg = load_config(env={}, overrides=OVERRIDES)
    store = Store.open(db)
    stages = [load_stage("engine.stages.ingest:IngestStage"), load_stage("engine.stages.forecast:ForecastStage")]
    engine = Engine(store, cfg, ReplayFeed(data, start=START, tickers=TICKERS), stages=stages)
    events: list[object] = []
    engine.subscribe(events.append)
    asyncio.run(engine.run(cycles=cycles))
    store.close()
    return events


def table(db: Path, name: str) -> pd.DataFrame:
    store = Store.open(db, read_only=True)
    try:
        return store.query_df(f"SELECT * FROM {name} ORDER BY ALL")
    finally:
        store.close()


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    df = pd.read_parquet(request.config.rootpath / "data" / "watchlist_sample.parquet")
    df = df[df["ticker"].isin(TICKERS) & (df["date"] >= dt.date(2015, 9, 1))]
    path = tmp_path_factory.mktemp("data") / "bars.parquet"
    df.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory, data_file: Path) -> tuple[Path, list[object]]:
    db = tmp_path_factory.mktemp("straight") / "a.duckdb"
    return db, run(db, data_file, 10)


def test_stage_is_in_the_default_list_before_signals() -> None:
    assert DEFAULT_STAGES.index("engine.stages.forecast:ForecastStage") < DEFAULT_STAGES.index(
        "engine.stages.signals:SignalsStage"
    )


def test_every_model_and_the_ensemble_forecast_every_session(straight: tuple[Path, list[object]]) -> None:
    db, events = straight
    fc = table(db, "forecasts")
    counts = fc.groupby(["as_of", "model"]).size().unstack()
    assert set(counts.columns) == {"naive", "drift", "arima", "garch", "ssa", "lightgbm", "neural", "ensemble"}
    assert len(counts) == 10 and (counts == 3 * len(TICKERS)).all().all()
    assert fc.loc[fc["model"] == "lightgbm", "drivers"].notna().all()
    # target dates are NYSE sessions: 21 sessions after 2017-11-01 skip Thanksgiving
    first = fc[(fc["as_of"] == pd.Timestamp(START)) & (fc["horizon"] == 21)]
    assert set(pd.to_datetime(first["target_date"]).dt.date) == {dt.date(2017, 12, 1)}
    updated = [e for e in events if isinstance(e, ForecastsUpdated)]
    assert len(updated) == 10 and updated[0].n_rows == 8 * 3 * len(TICKERS)  # 7 models + ensemble
    assert any(e.refit for e in updated[1:])  # scheduled refits happen during the run


def test_matured_forecasts_are_scored_and_weighted(straight: tuple[Path, list[object]]) -> None:
    db, _ = straight
    scores = table(db, "model_scores")
    bars = table(db, "bars").set_index(["ticker", "date"])["close"]
    one = scores[(scores["horizon"] == 1) & (scores["model"] == "arima")].iloc[0]
    import numpy as np

    expected = np.log(bars[(one["ticker"], one["as_of"])] / bars[(one["ticker"], one["forecast_as_of"])])
    assert one["actual"] == pytest.approx(expected)
    assert one["error"] == pytest.approx(one["actual"] - one["mean"])
    assert set(scores["horizon"]) == {1, 5}  # 21-session forecasts have not matured yet
    w = table(db, "model_weights")
    last = w[w["as_of"] == w["as_of"].max()]
    for _h, g in last.groupby("horizon"):
        assert g["weight"].sum() == pytest.approx(1.0)
        assert (g.loc[g["demoted"], "weight"] == 0).all()
    assert not table(db, "feature_importance").empty


def test_resumed_run_is_bit_identical(straight: tuple[Path, list[object]], data_file: Path, tmp_path: Path) -> None:
    db, _ = straight
    split = tmp_path / "b.duckdb"
    run(split, data_file, 6)  # stops two sessions after a refit (index % 4 != 0)
    run(split, data_file, 4)  # a fresh process: empty ctx.state
    for name in ("forecasts", "model_scores", "model_weights"):
        pd.testing.assert_frame_equal(table(db, name), table(split, name), check_exact=True)
