"""Features use bars ≤ t only; targets are purged and embargoed; kernels match a slow oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.features import compute_features, direction, ewm, forward_returns, rolling_mean, rolling_std, training_mask
from engine.panel import Panel


@pytest.fixture(scope="module")
def panel(request: pytest.FixtureRequest) -> Panel:
    df = pd.read_parquet(request.config.rootpath / "data" / "watchlist_sample.parquet")
    return Panel.from_long(df[df["ticker"].isin(["AAPL", "JPM", "XOM", "KO", "NEE"])])


def test_panel_pivot_matches_long_bars(panel: Panel) -> None:
    assert panel.tickers == ("AAPL", "JPM", "KO", "NEE", "XOM")
    assert np.all(np.diff(panel.dates.astype(np.int64)) > 0)
    assert np.isfinite(panel.close).all()


def test_features_are_finite_after_warmup(panel: Panel) -> None:
    fs = compute_features(panel)
    assert fs.values.shape == (panel.n_sessions, panel.n_tickers, len(fs.names))
    assert np.isfinite(fs.values[260:]).all()
    assert (
        0
        <= np.nanmin(fs.values[..., fs.names.index("rsi_14")])
        <= np.nanmax(fs.values[..., fs.names.index("rsi_14")])
        <= 1
    )


def test_rolling_kernels_match_pandas_oracle() -> None:
    rng = np.random.default_rng(3)
    a = 100 + np.cumsum(rng.standard_normal((300, 4)), axis=0)
    a[50, 1] = np.nan
    ref = pd.DataFrame(a)
    np.testing.assert_allclose(rolling_mean(a, 20), ref.rolling(20).mean().to_numpy(), rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(rolling_std(a, 20), ref.rolling(20).std().to_numpy(), rtol=1e-7, equal_nan=True)
    np.testing.assert_allclose(
        ewm(a, 0.1), ref.ewm(alpha=0.1, adjust=False, ignore_na=True).mean().to_numpy(), rtol=1e-12
    )


def test_targets_and_purged_training_mask(panel: Panel) -> None:
    y = forward_returns(panel, 5)
    lc = np.log(panel.close)
    assert y[10, 0] == pytest.approx(lc[15, 0] - lc[10, 0])
    assert np.isnan(y[-5:]).all() and np.isfinite(y[:-5]).all()
    assert set(np.unique(direction(y[:-5]))) <= {0.0, 1.0}
    ok = training_mask(100, h=5)
    assert ok[94] and not ok[95]  # target of row 95 ends after the last row
    ok = training_mask(100, h=5, test_start=40, test_stop=60, embargo=3)
    rows = np.nonzero(ok)[0]
    assert rows.max() <= 94 and 35 not in rows and 34 in rows  # 35+5 reaches the test block
    assert not ok[40:63].any() and ok[63]  # test block then 3 embargoed rows
