"""Look-ahead checks on features: the real set is causal, a planted one-session peek is caught."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.features import FEATURE_BLOCKS, compute_features
from engine.panel import Panel
from engine.forecast.leakage import find_lookahead


@pytest.fixture(scope="module")
def panel(request: pytest.FixtureRequest) -> Panel:
    df = pd.read_parquet(request.config.rootpath / "data" / "watchlist_sample.parquet")
    return Panel.from_long(df[df["ticker"].isin(["AAPL", "JPM", "XOM", "KO", "NEE"])])


def test_real_feature_set_has_no_lookahead(panel: Panel) -> None:
    assert find_lookahead(panel) == []


def test_planted_peeking_feature_is_caught(panel: Panel) -> None:
    def peek(p: Panel) -> dict[str, np.ndarray]:
        lc = np.log(p.close)
        out = np.full_like(lc, np.nan)
        out[:-1] = lc[1:] - lc[:-1]  # tomorrow's return: a one-session leak
        return {"tomorrow": out}

    leaks = find_lookahead(panel, lambda p: compute_features(p, [*FEATURE_BLOCKS, peek]))
    assert {leak.feature for leak in leaks} == {"tomorrow"}
    assert all(leak.first_row == leak.cut - 1 for leak in leaks)  # caught at the last kept row
