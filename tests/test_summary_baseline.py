"""The run summary puts the strategy beside equal-weight buy-and-hold over the same sessions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from engine.portfolio.summary import run_summary
from engine.store import Store, append

DAYS = [dt.date(2016, 1, 4), dt.date(2016, 1, 5), dt.date(2016, 1, 6)]


def test_baseline_is_equal_weight_buy_and_hold(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.duckdb")
    closes = {"AAA": [10.0, 11.0, 12.0], "BBB": [20.0, 16.0, 30.0]}
    append(
        store.con,
        "bars",
        pd.DataFrame(
            [
                {"ticker": t, "date": d, "open": c, "high": c, "low": c, "close": c, "volume": 1000, "source": "test"}
                for t, cs in closes.items()
                for d, c in zip(DAYS, cs)
            ]
        ),
    )
    append(
        store.con,
        "equity",
        pd.DataFrame(
            {
                "account": "paper",
                "as_of": DAYS,
                "cash": [100.0, 100.0, 100.0],
                "equity": [100.0, 101.0, 102.01],
                "gross": 0.0,
                "net": 0.0,
                "drawdown": 0.0,
                "daily_return": [0.0, 0.01, 0.01],
            }
        ),
    )
    summary = run_summary(store.con, "paper")
    base = summary["baseline"]
    # equal dollars at the first close: (12/10 + 30/20) / 2 - 1
    assert base["total_return"] == pytest.approx((1.2 + 1.5) / 2 - 1, abs=1e-6)
    assert base["max_drawdown"] == pytest.approx((1.1 + 0.8) / 2 - 1, abs=1e-6)  # day 2: 0.95 of the start
    assert summary["total_return"] == pytest.approx(0.0201, abs=1e-6)
