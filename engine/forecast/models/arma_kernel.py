"""Batched ARMA(p≤2, q≤2) kernels: conditional-sum-of-squares fits for all tickers at once.

Columns are tickers. Parameters are padded to (φ1, φ2, θ1, θ2) with a boolean
mask of which are free, so every order shares one vectorised recursion over time.
Estimation: Hannan–Rissanen start (or a warm start), then damped Gauss–Newton on
the CSS objective with step halving inside the stationary/invertible region.
"""

from __future__ import annotations

import numpy as np

#: (p, q) grid searched by AIC.
ORDER_GRID: tuple[tuple[int, int], ...] = ((0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (0, 2), (2, 1), (1, 2), (2, 2))
_MARGIN = 0.98


def free_mask(p: int, q: int) -> np.ndarray:
    return np.array([p >= 1, p >= 2, q >= 1, q >= 2])


def residuals(x: np.ndarray, beta: np.ndarray, jac: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """CSS residuals e (T, N) of x under beta (N, 4); with jac, de/dbeta (T, N, 4).

    e_t = x_t - φ1 x_{t-1} - φ2 x_{t-2} - θ1 e_{t-1} - θ2 e_{t-2}, zero pre-sample.
    Few columns: one C-level IIR filter per column; many: one vectorised pass over time.
    """
    T, N = x.shape
    if N * 8 < T:
        return _residuals_lfilter(x, beta, jac)
    xp = np.zeros((T + 2, N))
    xp[2:] = x
    e = np.zeros((T + 2, N))
    f1, f2, t1, t2 = beta[:, 0], beta[:, 1], beta[:, 2], beta[:, 3]
    d = np.zeros((T + 2, N, 4)) if jac else None
    t1c, t2c = t1[:, None], t2[:, None]
    for t in range(2, T + 2):
        e[t] = xp[t] - f1 * xp[t - 1] - f2 * xp[t - 2] - t1 * e[t - 1] - t2 * e[t - 2]
        if d is not None:
            dt_ = d[t]
            dt_[:, 0] = -xp[t - 1]
            dt_[:, 1] = -xp[t - 2]
            dt_[:, 2] = -e[t - 1]
            dt_[:, 3] = -e[t - 2]
            dt_ -= t1c * d[t - 1] + t2c * d[t - 2]
    return e[2:], (d[2:] if d is not None else None)


def _residuals_lfilter(x: np.ndarray, beta: np.ndarray, jac: bool) -> tuple[np.ndarray, np.ndarray | None]:
    from scipy.signal import lfilter

    T, N = x.shape
    e = np.empty((T, N))
    d = np.empty((T, N, 4)) if jac else None
    for j in range(N):
        ar = [1.0, beta[j, 2], beta[j, 3]]
        e[:, j] = lfilter([1.0, -beta[j, 0], -beta[j, 1]], ar, x[:, j])
        if d is not None:
            for k, (src, lag) in enumerate(((x[:, j], 1), (x[:, j], 2), (e[:, j], 1), (e[:, j], 2))):
                shifted = np.zeros(T)
                shifted[lag:] = -src[:-lag]
                d[:, j, k] = lfilter([1.0], ar, shifted)
    return e, d


def feasible(beta: np.ndarray) -> np.ndarray:
    """Stationary AR and invertible MA part (AR(2) triangle with a margin), per row."""

    def tri(a1: np.ndarray, a2: np.ndarray) -> np.ndarray:
        m = _MARGIN
        return (a1 + a2 < m) & (a2 - a1 < m) & (np.abs(a2) < m)

    return tri(beta[:, 0], beta[:, 1]) & tri(-beta[:, 2], -beta[:, 3])


def _ols(y: np.ndarray, X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Batched weighted least squares: y (T, N), X (T, N, K), w (T, N) → (N, K)."""
    K = X.shape[2]
    Xw = X * w[:, :, None]
    xtx = np.einsum("tnk,tnl->nkl", Xw, X) + 1e-10 * np.eye(K)
    xty = np.einsum("tnk,tn->nk", Xw, y)
    return np.linalg.solve(xtx, xty[:, :, None])[:, :, 0]


def _lags(a: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(a)
    out[k:] = a[:-k]
    return out


def hannan_rissanen(x: np.ndarray, w: np.ndarray, p: int, q: int, m: int = 10) -> np.ndarray:
    """Two-stage regression start values (N, 4) for order (p, q)."""
    beta = np.zeros((x.shape[1], 4))
    if p == 0 and q == 0:
        return beta
    e_hat = np.zeros_like(x)
    if q > 0:
        X = np.stack([_lags(x, k) for k in range(1, m + 1)], axis=2)
        a = _ols(x, X, w)
        e_hat = x - np.einsum("tnk,nk->tn", X, a)
    cols = [_lags(x, k) for k in range(1, p + 1)] + [_lags(e_hat, k) for k in range(1, q + 1)]
    coef = _ols(x, np.stack(cols, axis=2), w)
    beta[:, :p] = coef[:, :p]
    beta[:, 2 : 2 + q] = coef[:, p:]
    bad = ~feasible(beta)
    beta[bad] = 0.0
    return beta


def fit_css(
    x: np.ndarray, w: np.ndarray, p: int, q: int, start: np.ndarray | None = None, iters: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """CSS estimates (N, 4) and SSE (N,) for order (p, q), vectorised over columns.

    Args:
        x: demeaned series (T, N), zero where missing.
        w: weights (T, N): 1 where the residual counts, 0 before a ticker starts.
        start: warm-start parameters (N, 4); Hannan–Rissanen when None or infeasible.
    """
    mask = free_mask(p, q)
    hr = hannan_rissanen(x, w, p, q)
    beta = hr if start is None else np.where(mask, start, 0.0)
    if start is not None:
        beta = np.where(feasible(beta)[:, None], beta, hr)
    e, _ = residuals(x, beta)
    sse = (w * e * e).sum(axis=0)
    if not mask.any():
        return beta, sse
    k_free = np.nonzero(mask)[0]
    for _ in range(iters):
        e, d = residuals(x, beta, jac=True)
        assert d is not None  # jac=True always returns the Jacobian
        J = d[:, :, k_free]
        Jw = J * w[:, :, None]
        jtj = np.einsum("tnk,tnl->nkl", Jw, J)
        jtj += 1e-8 * (np.trace(jtj, axis1=1, axis2=2)[:, None, None] + 1e-12) * np.eye(len(k_free))
        g = np.einsum("tnk,tn->nk", Jw, e)
        step = np.zeros_like(beta)
        step[:, k_free] = -np.linalg.solve(jtj, g[:, :, None])[:, :, 0]
        scale = np.ones(beta.shape[0])
        improved = np.zeros(beta.shape[0], dtype=bool)
        for _half in range(4):
            todo = ~improved
            if not todo.any():
                break
            cand = beta + scale[:, None] * step
            ok = feasible(cand) & todo
            e_c, _ = residuals(x, np.where(ok[:, None], cand, beta))
            sse_c = (w * e_c * e_c).sum(axis=0)
            better = ok & (sse_c < sse)
            beta = np.where(better[:, None], cand, beta)
            sse = np.where(better, sse_c, sse)
            improved |= better
            scale = np.where(todo & ~better, scale * 0.5, scale)
    return beta, sse


def psi_weights(beta: np.ndarray, n: int) -> np.ndarray:
    """MA(∞) weights ψ_0..ψ_{n-1} (N, n) of the ARMA in beta."""
    N = beta.shape[0]
    psi = np.zeros((N, n))
    psi[:, 0] = 1.0
    for j in range(1, n):
        acc = beta[:, 2] * (j == 1) + beta[:, 3] * (j == 2)
        acc = acc + beta[:, 0] * psi[:, j - 1] + (beta[:, 1] * psi[:, j - 2] if j >= 2 else 0.0)
        psi[:, j] = acc
    return psi


def forecast_path(beta: np.ndarray, x_last: np.ndarray, e_last: np.ndarray, h: int) -> np.ndarray:
    """Point forecasts of x_{t+1..t+h} (N, h) from the last two x and e (N, 2: [t, t-1])."""
    N = beta.shape[0]
    xs = np.concatenate([x_last[:, ::-1], np.zeros((N, h))], axis=1)  # [t-1, t, t+1, ...]
    es = np.concatenate([e_last[:, ::-1], np.zeros((N, h))], axis=1)
    for k in range(h):
        i = k + 2
        xs[:, i] = (
            beta[:, 0] * xs[:, i - 1]
            + beta[:, 1] * xs[:, i - 2]
            + beta[:, 2] * es[:, i - 1]
            + beta[:, 3] * es[:, i - 2]
        )
    return xs[:, 2:]
