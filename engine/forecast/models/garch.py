"""`garch`: GARCH(1,1) on daily log returns (arch), Normal or Student-t innovations.

Refits run arch's MLE per ticker (in the stage's process pool when given one),
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

_SCALE = 100.0  # arch is happier with percent returns
_NAN5 = (math.nan,) * 7


def fit_one(args: tuple[np.ndarray, str, tuple[float, ...] | None]) -> tuple[float, ...]:
    """Fit one series: (mu, omega, alpha, beta, nu, last_resid, next_var) in percent units."""
    import warnings

    from arch import arch_model

    y, dist, start = args
    y = y[np.isfinite(y)] * _SCALE
    model = arch_model(y, mean="Constant", vol="GARCH", p=1, q=1,
                       dist="t" if dist == "t" else "normal", rescale=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sv = None if start is None or not np.all(np.isfinite(start)) else np.asarray(start)
            res = model.fit(disp="off", starting_values=sv, show_warning=False,
                            options={"maxiter": 200})
        except (ValueError, np.linalg.LinAlgError):
            return _NAN5
    p = res.params
    mu, omega, alpha, beta = float(p["mu"]), float(p["omega"]), float(p["alpha[1]"]), float(p["beta[1]"])
    nu = float(p["nu"]) if "nu" in p else math.nan
    eps = float(y[-1] - mu)
    s2 = float(res.conditional_volatility[-1]) ** 2
    return (mu, omega, alpha, beta, nu, eps, omega + alpha * eps * eps + beta * s2)


def fit_chunk(items: list[tuple[np.ndarray, str, tuple[float, ...] | None]]) -> list[tuple[float, ...]]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return [fit_one(it) for it in items]


class GarchForecaster(Forecaster):
    """Per-ticker GARCH(1,1) volatility with a constant mean."""

    name = "garch"
    min_history = 250

    def fit(self, panel: Panel, horizons: Sequence[int], *, executor: Executor | None = None) -> GarchForecaster:
        window = int(self.params.get("window", 756))
        dist = str(self.params.get("dist", "t"))
        r = panel.log_returns()[-window:]
        usable = np.isfinite(r).sum(axis=0) >= self.min_history
        tickers = [t for t, u in zip(panel.tickers, usable) if u]
        prev = dict(zip(getattr(self, "tickers_", ()), getattr(self, "params_", np.empty((0, 7)))))
        items = []
        for j in np.nonzero(usable)[0]:
            old = prev.get(panel.tickers[j])
            start = None if old is None else tuple(old[:4]) + ((old[4],) if dist == "t" else ())
            items.append((r[:, j].copy(), dist, start))
        fitted: Sequence[tuple[float, ...] | None]
        if executor is not None and len(items) > 1:
            n_chunks = int(self.params.get("chunks", 8))
            chunks = [items[i::n_chunks] for i in range(n_chunks) if items[i::n_chunks]]
            out: list[tuple[float, ...] | None] = [None] * len(items)
            for c, res in enumerate(executor.map(fit_chunk, chunks)):
                out[c::len(chunks)] = res
            fitted = out
        else:
            fitted = fit_chunk(items)
        self.params_ = np.array(fitted, dtype=float).reshape(len(items), 7)
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
            frames.append(forecast_frame(names, h, mean[live], vol[live], level,
                                         lower=(mean - z * vol)[live], upper=(mean + z * vol)[live]))
        return pd.concat(frames, ignore_index=True)


def _quantile(level: float, nu: np.ndarray | None) -> np.ndarray | float:
    """Two-sided quantile of unit-variance innovations (Student-t scaled when nu given)."""
    if nu is None:
        return normal_ppf(0.5 + level / 2.0)
    from scipy.stats import t as student_t

    nu = np.where(np.isfinite(nu) & (nu > 2.05), nu, 30.0)
    return student_t.ppf(0.5 + level / 2.0, nu) * np.sqrt((nu - 2.0) / nu)
