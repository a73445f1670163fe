"""engine.store.read_model: the SQL skill and hit rate agree with engine.forecast_metrics,
and the TUI and the copilot read the same forecasts through it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from copilot.testing import seed_store
from copilot.tools import run_tool
from engine.forecast_metrics import hit_rate, skill_score
from engine.store import Store, append
from engine.store.read_model import latest_forecasts, scores_by_model
from tui.panes.queries import load_forecast

AS_OF = dt.date(2018, 2, 7)


def test_sql_skill_and_hit_rate_match_the_python_definitions(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 120
    actual = np.round(rng.normal(0, 0.02, n), 3)  # rounding makes exact zeros (ties) likely
    mean = np.round(rng.normal(0, 0.01, n), 3)
    actual[:3], mean[3:6] = 0.0, 0.0
    store = Store.open(tmp_path / "s.duckdb")
    with store.transaction() as con:
        append(
            con,
            "model_scores",
            pd.DataFrame(
                {
                    "account": "paper",
                    "as_of": [AS_OF - dt.timedelta(days=int(i)) for i in range(n)],
                    "forecast_as_of": [AS_OF - dt.timedelta(days=int(i) + 5) for i in range(n)],
                    "ticker": "AAPL",
                    "model": "arima",
                    "horizon": 5,
                    "actual": actual,
                    "mean": mean,
                    "error": actual - mean,
                    "naive_error": actual,
                    "covered": rng.random(n) < 0.9,
                    "hit": None,
                    "prob_up": 0.5,
                }
            ),
        )
    got = scores_by_model("paper").frame(store.cursor()).iloc[0]
    assert got["n_scored"] == n and got["sessions"] == n
    assert got["skill"] == pytest.approx(skill_score(np.sum((actual - mean) ** 2), np.sum(actual**2)))
    rate, calls = hit_rate(actual, mean)
    assert calls < n - 5 and got["hit_rate"] == pytest.approx(rate)  # ties out, stored hit ignored
    store.close()


def test_tui_and_copilot_read_the_same_latest_forecasts(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    store = Store.open(path)
    with store.transaction() as con:
        seed_store(con, AS_OF)
    cur = store.cursor()
    shared = latest_forecasts("paper", "AAPL").frame(cur)
    assert not shared.empty and shared["as_of"].nunique() == 1
    view = load_forecast(cur, "paper", "AAPL")
    res = run_tool(cur, "paper", "forecasts", {"ticker": "AAPL"})
    tui_rows = sorted(zip(view.forecasts["model"], view.forecasts["horizon"], view.forecasts["mean"]))
    copilot_rows = sorted((r["model"], r["horizon"], r["mean"]) for r in res.records())
    assert tui_rows == copilot_rows == sorted(zip(shared["model"], shared["horizon"], shared["mean"]))
    skill = dict(zip(view.weights["model"], view.weights["skill"]))
    for r in res.records():
        if r["skill"] is not None:
            assert skill[r["model"]] == pytest.approx(r["skill"])
    store.close()
