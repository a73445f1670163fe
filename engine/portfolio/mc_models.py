"""Fitting the return models that the Monte-Carlo risk simulates, in plain numpy.

Two models of tomorrow's joint asset returns, both fitted to a (T x N) window of
daily simple returns:

* `StudentT`: a multivariate Student-t with the sample mean, a Ledoit-Wolf shrunk
  covariance (so it stays positive definite when N is close to or above T) and
  degrees of freedom from the portfolio's excess kurtosis.
* `Filtered`: filtered historical simulation - each asset's returns divided by its
  EWMA volatility (RiskMetrics, lambda 0.94) give standardised residuals that are
  resampled by whole days (keeping the cross-section) and rescaled by tomorrow's
  volatility.

Also the tail statistics both Monte-Carlo kernels share, in empyrical's conventions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import InputError

MIN_DAYS = 20
DOF_BOUNDS = (3.0, 30.0)


@dataclass(frozen=True)
class StudentT:
    """X = mu + L z / sqrt(g), z ~ N(0, I), g ~ chi2(dof) / dof; cov(X) = L L' dof/(dof-2)."""

    mu: np.ndarray  # (N,)
    chol: np.ndarray  # (N, N) lower Cholesky factor of the scale matrix
    dof: float
    shrinkage: float


@dataclass(frozen=True)
class Filtered:
    """X = z[day] * sigma_next, the day drawn uniformly from the window."""

    z: np.ndarray  # (T, N) standardised residuals
    sigma_next: np.ndarray  # (N,) EWMA volatility forecast for the next session


def clean_returns(returns: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes and drop days with a missing return; returns float64 copies.

    Raises:
        InputError: mismatched shapes, or fewer than MIN_DAYS complete days.
    """
    r = np.asarray(returns, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if r.ndim != 2 or r.shape[1] != w.shape[0]:
        raise InputError(
            f"Monte-Carlo needs returns of shape (T, N) and N weights; got {r.shape} and {w.shape}",
            "pass one column of returns per weight",
        )
    r = r[np.isfinite(r).all(axis=1)]
    if r.shape[0] < MIN_DAYS:
        raise InputError(
            f"Monte-Carlo needs at least {MIN_DAYS} days with a return for every holding; got {r.shape[0]}",
            "wait for more history or drop holdings without it",
        )
    if not np.isfinite(w).all():
        raise InputError("Monte-Carlo weights contain NaN or infinity")
    return r, w


def ledoit_wolf(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf (2004) covariance shrunk towards a scaled identity.

    Args:
        x: (T, N) observations.

    Returns:
        The shrunk (N, N) covariance (maximum-likelihood scaling, divides by T)
        and the shrinkage intensity in [0, 1].
    """
    t, n = x.shape
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / t
    m = np.trace(s) / n
    delta = (np.sum(s * s) - 2.0 * m * np.trace(s) + n * m * m) / n  # ||S - mI||^2 / n
    row_norm2 = np.einsum("ij,ij->i", xc, xc)
    beta_bar = (np.sum(row_norm2**2) - t * np.sum(s * s)) / (t * t * n)
    beta = min(max(beta_bar, 0.0), delta)
    shrink = 0.0 if delta <= 0 else beta / delta
    cov = shrink * m * np.eye(n) + (1.0 - shrink) * s
    return cov, float(shrink)


def dof_from_kurtosis(series: np.ndarray) -> float:
    """Student-t degrees of freedom matching a series' excess kurtosis (6 / (dof - 4))."""
    x = series - series.mean()
    var = np.mean(x * x)
    if var <= 0:
        return DOF_BOUNDS[1]
    excess = np.mean(x**4) / var**2 - 3.0
    if excess <= 6.0 / (DOF_BOUNDS[1] - 4.0):
        return DOF_BOUNDS[1]
    return float(np.clip(4.0 + 6.0 / excess, *DOF_BOUNDS))


def fit_student_t(returns: np.ndarray, weights: np.ndarray, dof: float | None = None) -> StudentT:
    """Fit the multivariate t to a clean (T, N) window; dof from the portfolio's kurtosis."""
    cov, shrink = ledoit_wolf(returns)
    nu = dof_from_kurtosis(returns @ weights) if dof is None else float(dof)
    if nu <= 2.0:
        raise InputError(f"Student-t degrees of freedom must exceed 2, got {nu}")
    scale = cov * (nu - 2.0) / nu
    # A tiny ridge keeps Cholesky stable when an asset never moved in the window.
    ridge = 1e-12 * max(float(np.trace(scale)) / scale.shape[0], 1e-12)
    chol = np.linalg.cholesky(scale + ridge * np.eye(scale.shape[0]))
    return StudentT(mu=returns.mean(axis=0), chol=chol, dof=nu, shrinkage=shrink)


def fit_filtered(returns: np.ndarray, lam: float = 0.94) -> Filtered:
    """EWMA-standardise each asset's returns (volatility known at t-1 scales day t)."""
    t = returns.shape[0]
    var = np.var(returns[: min(t, MIN_DAYS)], axis=0, ddof=1)
    floor = 1e-16
    z = np.empty_like(returns)
    for i in range(t):
        z[i] = returns[i] / np.sqrt(np.maximum(var, floor))
        var = lam * var + (1.0 - lam) * returns[i] ** 2
    return Filtered(z=z, sigma_next=np.sqrt(np.maximum(var, floor)))


def tail_stats(port: np.ndarray, levels: Sequence[float]) -> tuple[dict[float, float], dict[float, float]]:
    """Historical VaR and CVaR of simulated portfolio returns, empyrical's way.

    VaR at level c is the (1 - c) percentile (linear interpolation, a negative
    number for a loss); CVaR is the mean of the lowest int((n - 1)(1 - c)) + 1 returns.
    """
    port = np.asarray(port, dtype=np.float64)
    n = port.shape[0]
    # Only the lowest returns are read: partition them off, then sort just those (the
    # same sorted prefix as a full sort, so the same VaR and the same CVaR sums).
    need = max((min(int(np.floor((1.0 - float(c)) * (n - 1))) + 1, n - 1) for c in levels), default=0) + 1
    need = max(need, max((int((n - 1) * (1.0 - float(c))) + 1 for c in levels), default=0))
    sorted_ = np.sort(np.partition(port, need - 1)[:need]) if 0 < need < n else np.sort(port)
    return tails_of_sorted(sorted_, n, levels, lambda tail: tail.mean())


def tails_of_sorted(
    sorted_: Any, n: int, levels: Sequence[float], mean: Callable[[Any], Any]
) -> tuple[dict[float, float], dict[float, float]]:
    """VaR (linear interpolation, numpy's default) and CVaR (mean of the tail) at each
    level from the lowest returns sorted ascending (`n` draws in all). Array-agnostic:
    numpy here, torch on the device (`engine.gpu.montecarlo`); `mean` averages a tail."""
    var: dict[float, float] = {}
    cvar: dict[float, float] = {}
    for level in levels:
        cutoff = 1.0 - float(level)
        pos = cutoff * (n - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, n - 1)
        var[level] = float(sorted_[lo] + (pos - lo) * (sorted_[hi] - sorted_[lo]))
        cvar[level] = float(mean(sorted_[: int((n - 1) * cutoff) + 1]))
    return var, cvar
