"""`ssa`: singular spectrum analysis of centred daily log returns, written here in numpy.

Why returns: SSA of uncentred log prices is dominated by the price level — the
first component holds > 90% of the energy for every ticker, its recurrence
extrapolates the trend, and the model became a second `drift` (correlation 0.993
with it on the bundled sample). Here the series decomposed is each ticker's daily
log returns over the last `window` sessions minus their mean, so the level and the
drift are removed and only oscillatory structure is left for SSA to find.

Rank: the Gavish–Donoho (2014) optimal hard threshold for a matrix in noise of
unknown level — keep the singular values above ω(β)·median(s), β = L/K,
ω(β) ≈ 0.56β³ - 0.95β² + 1.82β + 1.43 — capped at `max_rank`. When no component
clears the threshold (the usual case for daily returns) the model has found no
structure and forecasts 0 for that ticker: it says "nothing here", not "drift".

Refit: trajectory (Hankel) matrix with lag L, SVD, the signal subspace U_r and its
linear recurrence (LRR). Daily: project the latest L centred returns onto U_r, run
the recurrence h steps, and forecast the sum of the next h signal returns.
Volatility for intervals: trailing std of daily returns × sqrt(h).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np
import pandas as pd

from engine.forecast.base import Forecaster, Panel, columns_of, forecast_frame
from engine.forecast.models.naive import trailing_stats


def hankel(y: np.ndarray, L: int) -> np.ndarray:
    """Trajectory matrix (L, K) of a series, K = len(y) - L + 1."""
    K = len(y) - L + 1
    return np.lib.stride_tricks.sliding_window_view(y, L)[:K].T


def gavish_donoho_rank(s: np.ndarray, L: int, K: int) -> int:
    """Singular values above the Gavish–Donoho threshold for noise of unknown level."""
    beta = min(L, K) / max(L, K)
    omega = 0.56 * beta**3 - 0.95 * beta**2 + 1.82 * beta + 1.43
    return int(np.sum(s > omega * np.median(s)))


def ssa_basis(y: np.ndarray, L: int, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Signal basis U_r (L, r) and LRR coefficients R (L-1,) of one series for a given rank ≥ 1."""
    U, _, _ = np.linalg.svd(hankel(y, L), full_matrices=False)
    r = max(1, min(int(rank), L - 1))
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
        buf[:, L1 + k] = np.einsum("nj,nj->n", R, buf[:, k : k + L1])
    return buf[:, L1 - 1 :]


class SsaForecaster(Forecaster):
    """Recurrent SSA forecasts of each ticker's centred daily log returns."""

    name = "ssa"
    min_history = 253
    state_version = 2  # 2: centred returns, Gavish-Donoho rank (1 was log prices)

    def fit(self, panel: Panel, horizons: Sequence[int], *, executor: Executor | None = None) -> SsaForecaster:
        window = int(self.params.get("window", 252))
        L = int(self.params.get("lag", 42))
        max_rank = int(self.params.get("max_rank", 10))
        r = panel.log_returns()[-window:]
        full = (r.shape[0] == window) & np.all(np.isfinite(r), axis=0)
        tickers, Ps, Rs, mus, ranks = [], [], [], [], []
        for j in np.nonzero(full)[0]:
            mu = float(r[:, j].mean())
            y = r[:, j] - mu
            s = np.linalg.svd(hankel(y, L), compute_uv=False)
            rank = min(gavish_donoho_rank(s, L, window - L + 1), max_rank)
            tickers.append(panel.tickers[j])
            mus.append(mu)
            ranks.append(rank)
            if rank == 0:  # no structure above the noise: the forecast is 0
                Ps.append(np.zeros((L, L)))
                Rs.append(np.zeros(L - 1))
                continue
            Ur, R = ssa_basis(y, L, rank)
            Ps.append(Ur @ Ur.T)
            Rs.append(R)
        self.tickers_ = tuple(tickers)
        self.proj_ = np.array(Ps).reshape(len(tickers), L, L)
        self.lrr_ = np.array(Rs).reshape(len(tickers), L - 1)
        self.mean_ = np.array(mus)
        self.rank_ = np.array(ranks, dtype=np.int64)
        self.lag_ = L
        self.fitted_at_ = panel.cutoff
        return self

    def predict(self, panel: Panel, horizons: Sequence[int], level: float) -> pd.DataFrame:
        if not self.fitted or not self.tickers_:
            return pd.concat([forecast_frame([], h, np.array([]), np.array([]), level) for h in horizons])
        L = self.lag_
        cols = columns_of(panel.tickers, self.tickers_)
        r = panel.log_returns()[-L:]
        live = cols >= 0
        live[live] = np.all(np.isfinite(r[:, cols[live]]), axis=0) & (r.shape[0] == L)
        idx = np.nonzero(live)[0]
        names = [self.tickers_[i] for i in idx]
        v = r[:, cols[idx]].T - self.mean_[idx, None]
        path = recurrent_forecast(v, self.proj_[idx], self.lrr_[idx], max(horizons))
        _, sd, _ = trailing_stats(panel.log_returns(), int(self.params.get("vol_window", 63)), 21)
        sd = sd[cols[idx]]
        cum = np.cumsum(path[:, 1:], axis=1)  # the next h signal returns, summed
        frames = []
        for h in horizons:
            ok = np.isfinite(sd)
            frames.append(
                forecast_frame([n for n, o in zip(names, ok) if o], h, cum[ok, h - 1], sd[ok] * np.sqrt(h), level)
            )
        return pd.concat(frames, ignore_index=True)
