"""`ssa`: singular spectrum analysis of log prices, written here in numpy.

Refit: trajectory (Hankel) matrix of the last `window` log prices with lag L,
SVD, keep the leading components holding ≥ `energy` of the squared singular
values, and derive the linear recurrence (LRR) of that signal subspace. Daily:
project the latest L-lag vector onto the subspace and run the recurrence h steps
(no new SVD). Volatility for intervals: trailing std of daily returns × sqrt(h).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np
import pandas as pd

from engine.forecast.base import Forecaster, Panel, columns_of, forecast_frame
from engine.forecast.models.naive import trailing_stats


def ssa_basis(y: np.ndarray, L: int, energy: float) -> tuple[np.ndarray, np.ndarray]:
    """Signal basis U_r (L, r) and LRR coefficients R (L-1,) of one series."""
    K = len(y) - L + 1
    X = np.lib.stride_tricks.sliding_window_view(y, L)[:K].T  # (L, K) Hankel
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    share = np.cumsum(s**2) / np.sum(s**2)
    r = int(np.searchsorted(share, energy) + 1)
    r = min(r, L - 1)
    Ur = U[:, :r]
    pi = Ur[-1]
    nu2 = float(pi @ pi)
    if nu2 >= 1.0 - 1e-9:  # verticality: the recurrence is undefined, keep the first component only
        Ur, pi = U[:, :1], U[-1, :1]
        nu2 = float(pi @ pi)
    R = (Ur[:-1] @ pi) / (1.0 - nu2)
    return Ur, R


def recurrent_forecast(v: np.ndarray, P: np.ndarray, R: np.ndarray, h: int) -> np.ndarray:
    """Signal now and h steps on (N, h+1): project lag vectors v (N, L) with P (N, L, L), then apply LRR R (N, L-1)."""
    hat = np.einsum("nij,nj->ni", P, v)
    buf = np.concatenate([hat[:, 1:], np.zeros((len(v), h))], axis=1)
    L1 = R.shape[1]
    for k in range(h):
        buf[:, L1 + k] = np.einsum("nj,nj->n", R, buf[:, k:k + L1])
    return buf[:, L1 - 1:]


class SsaForecaster(Forecaster):
    """Recurrent SSA forecasts of each ticker's log price."""

    name = "ssa"
    min_history = 252

    def fit(self, panel: Panel, horizons: Sequence[int], *, executor: Executor | None = None) -> SsaForecaster:
        window = int(self.params.get("window", 252))
        L = int(self.params.get("lag", 42))
        energy = float(self.params.get("energy", 0.9))
        lc = np.log(panel.close[-window:])
        full = (lc.shape[0] == window) & np.all(np.isfinite(lc), axis=0)
        tickers, Ps, Rs = [], [], []
        for j in np.nonzero(full)[0]:
            Ur, R = ssa_basis(lc[:, j], L, energy)
            tickers.append(panel.tickers[j])
            Ps.append(Ur @ Ur.T)
            Rs.append(R)
        self.tickers_ = tuple(tickers)
        self.proj_ = np.array(Ps).reshape(len(tickers), L, L)
        self.lrr_ = np.array(Rs).reshape(len(tickers), L - 1)
        self.lag_ = L
        self.fitted_at_ = panel.cutoff
        return self

    def predict(self, panel: Panel, horizons: Sequence[int], level: float) -> pd.DataFrame:
        if not self.fitted or not self.tickers_:
            return pd.concat([forecast_frame([], h, np.array([]), np.array([]), level) for h in horizons])
        L = self.lag_
        cols = columns_of(panel.tickers, self.tickers_)
        lc = np.log(panel.close[-L:])
        live = cols >= 0
        live[live] = np.all(np.isfinite(lc[:, cols[live]]), axis=0) & (lc.shape[0] == L)
        idx = np.nonzero(live)[0]
        names = [self.tickers_[i] for i in idx]
        v = lc[:, cols[idx]].T
        path = recurrent_forecast(v, self.proj_[idx], self.lrr_[idx], max(horizons))
        _, sd, _ = trailing_stats(panel.log_returns(), int(self.params.get("vol_window", 63)), 21)
        sd = sd[cols[idx]]
        last = path[:, 0]  # the signal's level now, so the forecast is its change
        frames = []
        for h in horizons:
            ok = np.isfinite(sd)
            mean = path[:, h] - last
            frames.append(forecast_frame([n for n, o in zip(names, ok) if o], h, mean[ok],
                                         sd[ok] * np.sqrt(h), level))
        return pd.concat(frames, ignore_index=True)
