"""Baselines: random walk (`naive`, mean 0) and random walk with drift (`drift`).

Volatility for the interval is the sample std of the last `vol_window` daily log
returns, scaled by sqrt(h). Everything else is judged against `naive`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np
import pandas as pd

from engine.forecast.base import Forecaster, Panel, forecast_frame


def trailing_stats(r: np.ndarray, window: int, min_obs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column mean, std (ddof=1) and count of the last `window` finite returns."""
    tail = r[-window:]
    ok = np.isfinite(tail)
    n = ok.sum(axis=0)
    x = np.where(ok, tail, 0.0)
    with np.errstate(all="ignore"):
        mean = x.sum(axis=0) / n
        var = (np.where(ok, tail - mean, 0.0) ** 2).sum(axis=0) / (n - 1)
    bad = n < min_obs
    return np.where(bad, np.nan, mean), np.where(bad, np.nan, np.sqrt(var)), n


class NaiveForecaster(Forecaster):
    """Random walk: the h-session log return is forecast as zero."""

    name = "naive"
    min_history = 21
    drift = False

    def fit(self, panel: Panel, horizons: Sequence[int], *, executor: Executor | None = None) -> NaiveForecaster:
        self.fitted_at_ = panel.cutoff
        return self

    def predict(self, panel: Panel, horizons: Sequence[int], level: float) -> pd.DataFrame:
        window = int(self.params.get("vol_window", 63))
        drift_window = int(self.params.get("drift_window", 252))
        r = panel.log_returns()
        _, sd, _ = trailing_stats(r, window, self.min_history)
        mu = trailing_stats(r, drift_window, self.min_history)[0] if self.drift else np.zeros_like(sd)
        live = panel.live() & np.isfinite(sd) & np.isfinite(mu)
        names = [t for t, ok in zip(panel.tickers, live) if ok]
        frames = [forecast_frame(names, h, mu[live] * h, sd[live] * np.sqrt(h), level) for h in horizons]
        return pd.concat(frames, ignore_index=True)


class DriftForecaster(NaiveForecaster):
    """Random walk with drift: the trailing mean daily log return times h."""

    name = "drift"
    drift = True
