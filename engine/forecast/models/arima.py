"""`arima`: ARIMA(p,1,q) on log prices, i.e. ARMA(p,q) on daily log returns, for all tickers at once.

Refits choose each ticker's order on a small AIC grid with batched CSS fits
(`arma_kernel`), warm-started from the previous refit's parameters. Between
refits `update` runs one step of the residual recursion per new session with
the parameters fixed (no refit). `backend = "statsmodels"` fits SARIMAX per
ticker instead (slow; kept as the reference the benchmark compares against).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np
import pandas as pd

from engine.forecast.base import Forecaster, Panel, columns_of, forecast_frame, returns_since
from engine.forecast.models import arma_kernel as K


def prepare(r: np.ndarray, min_obs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Demeaned returns x (zero where missing), weights, means and usable-column mask."""
    ok = np.isfinite(r)
    n = ok.sum(axis=0)
    usable = n >= min_obs
    with np.errstate(all="ignore"):
        mu = np.where(usable, np.where(ok, r, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)
    x = np.where(ok, r - mu, 0.0)
    return x, ok.astype(float), mu, usable


class ArimaForecaster(Forecaster):
    """Per-ticker ARMA on returns with AIC order selection and daily state updates."""

    name = "arima"
    min_history = 120

    def fit(self, panel: Panel, horizons: Sequence[int], *, executor: Executor | None = None) -> ArimaForecaster:
        window = int(self.params.get("window", 504))
        grid = [tuple(o) for o in self.params.get("orders", K.ORDER_GRID)]
        r = panel.log_returns()[-window:]
        x, w, mu, usable = prepare(r, self.min_history)
        tickers = [t for t, u in zip(panel.tickers, usable) if u]
        x, w, mu = x[:, usable], w[:, usable], mu[usable]
        n_obs = w.sum(axis=0)
        prev = getattr(self, "betas_", {})
        prev_idx = {t: i for i, t in enumerate(getattr(self, "tickers_", ()))}
        best_aic = np.full(len(tickers), np.inf)
        beta = np.zeros((len(tickers), 4))
        sse_best = np.zeros(len(tickers))
        order = np.zeros((len(tickers), 2), dtype=np.int64)
        betas: dict[tuple[int, int], np.ndarray] = {}
        for p, q in grid:
            start = None
            if (p, q) in prev and tickers:
                start = np.full((len(tickers), 4), np.nan)
                for j, t in enumerate(tickers):
                    if t in prev_idx:
                        start[j] = prev[(p, q)][prev_idx[t]]
            b, sse = K.fit_css(x, w, p, q, start=start, iters=int(self.params.get("iters", 4)))
            betas[(p, q)] = b
            aic = n_obs * np.log(np.maximum(sse, 1e-300) / n_obs) + 2 * (p + q + 1)
            better = aic < best_aic
            best_aic = np.where(better, aic, best_aic)
            beta[better], sse_best[better] = b[better], sse[better]
            order[better] = (p, q)
        self.tickers_ = tuple(tickers)
        self.betas_ = betas
        self.beta_, self.mu_, self.order_ = beta, mu, order
        self.sigma2_ = sse_best / np.maximum(n_obs - order.sum(axis=1) - 1, 1)
        e, _ = K.residuals(x, beta)
        self.x_last_ = np.stack([x[-1], x[-2]], axis=1) if len(x) > 1 else np.zeros((len(tickers), 2))
        self.e_last_ = np.stack([e[-1], e[-2]], axis=1) if len(e) > 1 else np.zeros((len(tickers), 2))
        self.last_date_ = panel.dates[-1] if panel.n_sessions else None
        self.fitted_at_ = panel.cutoff
        return self

    def update(self, panel: Panel) -> None:
        """One residual-recursion step per session after `last_date_` (parameters fixed)."""
        if not self.fitted or self.last_date_ is None:
            return
        new = returns_since(panel, self.last_date_, self.tickers_)
        if not len(new):
            return
        b = self.beta_
        for y in new:
            ok = np.isfinite(y)
            x = np.where(ok, y - self.mu_, 0.0)
            e = (
                x
                - b[:, 0] * self.x_last_[:, 0]
                - b[:, 1] * self.x_last_[:, 1]
                - b[:, 2] * self.e_last_[:, 0]
                - b[:, 3] * self.e_last_[:, 1]
            )
            new_x = np.stack([x, self.x_last_[:, 0]], axis=1)
            new_e = np.stack([e, self.e_last_[:, 0]], axis=1)
            self.x_last_ = np.where(ok[:, None], new_x, self.x_last_)
            self.e_last_ = np.where(ok[:, None], new_e, self.e_last_)
        self.last_date_ = panel.dates[-1]

    def predict(self, panel: Panel, horizons: Sequence[int], level: float) -> pd.DataFrame:
        if not self.fitted:
            return pd.concat([forecast_frame([], h, np.array([]), np.array([]), level) for h in horizons])
        self.update(panel)
        cols = columns_of(panel.tickers, self.tickers_)
        live = cols >= 0
        live[live] = panel.live()[cols[live]]
        H = max(horizons)
        path = K.forecast_path(self.beta_, self.x_last_, self.e_last_, H)
        psi_cum = np.cumsum(K.psi_weights(self.beta_, H), axis=1)
        names = [t for t, ok in zip(self.tickers_, live) if ok]
        frames = []
        for h in horizons:
            mean = h * self.mu_ + path[:, :h].sum(axis=1)
            vol = np.sqrt(self.sigma2_ * (psi_cum[:, :h] ** 2).sum(axis=1))
            frames.append(forecast_frame(names, h, mean[live], vol[live], level))
        return pd.concat(frames, ignore_index=True)


def sarimax_fit_one(r: np.ndarray, order: tuple[int, int]) -> np.ndarray:
    """Reference: statsmodels SARIMAX(p,0,q) with a constant on one return series (params)."""
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    y = r[np.isfinite(r)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SARIMAX(y, order=(order[0], 0, order[1]), trend="c").fit(disp=False)
    return np.asarray(res.params)
