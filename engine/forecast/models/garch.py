"""`garch`: GARCH(1,1) on daily log returns, Normal or Student-t innovations.

Refits run the batched maximum-likelihood kernel (`garch_kernel`: every ticker at
once, the model `arch` fits, checked against it in tests/test_garch_kernel.py),
warm-started from the previous refit's parameters. Between refits `update`
advances the conditional variance one session at a time with the parameters
fixed. The h-session volatility sets interval widths and is what risk and sizing
read from `forecasts.vol`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np
import pandas as pd

from engine.forecast.base import Forecaster, Panel, columns_of, forecast_frame, normal_ppf, returns_since
from engine.forecast.models import garch_kernel

_SCALE = 100.0  # percent returns, as with arch


class GarchForecaster(Forecaster):
    """Per-ticker GARCH(1,1) volatility with a constant mean."""

    name = "garch"
    min_history = 250
    state_version = 2  # 2: the batched kernel's fit (1 was arch's SLSQP)

    def fit(self, panel: Panel, horizons: Sequence[int], *, executor: Executor | None = None) -> GarchForecaster:
        window = int(self.params.get("window", 756))
        dist = str(self.params.get("dist", "t"))
        r = panel.log_returns()[-window:]
        usable = np.isfinite(r).sum(axis=0) >= self.min_history
        tickers = [t for t, u in zip(panel.tickers, usable) if u]
        prev = dict(zip(getattr(self, "tickers_", ()), getattr(self, "params_", np.empty((0, 7)))))
        k = 5 if dist == "t" else 4
        start = np.full((len(tickers), k), np.nan)
        for i, t in enumerate(tickers):
            if t in prev:
                start[i] = prev[t][:k]
        theta, _, eps, nxt = garch_kernel.fit(r[:, usable] * _SCALE, dist == "t", start)
        nu = theta[:, 4] if dist == "t" else np.full(len(tickers), math.nan)
        fitted = np.column_stack([theta[:, :4], nu, eps, nxt])
        self.params_ = np.asarray(fitted, dtype=float).reshape(len(tickers), 7)
        self.tickers_ = tuple(tickers)
        self.dist_ = dist
        self.last_date_ = panel.dates[-1] if panel.n_sessions else None
        self.fitted_at_ = panel.cutoff
        return self

    def update(self, panel: Panel) -> None:
        """Advance next-session variance: σ²' = ω + α ε² + β σ² per new session (params fixed)."""
        if not self.fitted or self.last_date_ is None:
            return
        new = returns_since(panel, self.last_date_, self.tickers_)
        if not len(new):
            return
        P = self.params_
        for y in new * _SCALE:
            ok = np.isfinite(y)
            eps = y - P[:, 0]
            nxt = P[:, 1] + P[:, 2] * eps * eps + P[:, 3] * P[:, 6]
            P[:, 5] = np.where(ok, eps, P[:, 5])
            P[:, 6] = np.where(ok, nxt, P[:, 6])
        self.last_date_ = panel.dates[-1]

    def variance_path(self, h: int) -> np.ndarray:
        """Per-session variance forecasts σ²_{t+1..t+h} (N, h) in decimal units."""
        P = self.params_
        persist = np.clip(P[:, 2] + P[:, 3], 0.0, 0.9999)
        uncond = P[:, 1] / (1.0 - persist)
        k = np.arange(h)[None, :]
        path = uncond[:, None] + persist[:, None] ** k * (P[:, 6] - uncond)[:, None]
        return path / _SCALE**2

    def predict(self, panel: Panel, horizons: Sequence[int], level: float) -> pd.DataFrame:
        if not self.fitted:
            return pd.concat([forecast_frame([], h, np.array([]), np.array([]), level) for h in horizons])
        self.update(panel)
        cols = columns_of(panel.tickers, self.tickers_)
        live = (cols >= 0) & np.all(np.isfinite(self.params_[:, [0, 1, 2, 3, 6]]), axis=1)
        live[live] = panel.live()[cols[live]]
        names = [t for t, ok in zip(self.tickers_, live) if ok]
        var = np.cumsum(self.variance_path(max(horizons)), axis=1)
        mu = self.params_[:, 0] / _SCALE
        z = _quantile(level, self.params_[:, 4] if self.dist_ == "t" else None)
        frames = []
        for h in horizons:
            mean, vol = mu * h, np.sqrt(var[:, h - 1])
            frames.append(
                forecast_frame(
                    names, h, mean[live], vol[live], level, lower=(mean - z * vol)[live], upper=(mean + z * vol)[live]
                )
            )
        return pd.concat(frames, ignore_index=True)


def _quantile(level: float, nu: np.ndarray | None) -> np.ndarray | float:
    """Two-sided quantile of unit-variance innovations (Student-t scaled when nu given)."""
    if nu is None:
        return normal_ppf(0.5 + level / 2.0)
    from scipy.stats import t as student_t

    nu = np.where(np.isfinite(nu) & (nu > 2.05), nu, 30.0)
    return student_t.ppf(0.5 + level / 2.0, nu) * np.sqrt((nu - 2.0) / nu)
