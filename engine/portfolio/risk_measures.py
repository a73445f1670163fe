"""Portfolio risk measures for the `risk` table (pure numpy).

Sign convention (empyrical's): VaR and CVaR are *returns*, so a loss is negative.
`var_hist(r, 0.95)` is the 5th percentile of the return sample
(`np.percentile(r, 5)`, as empyrical.value_at_risk(cutoff=0.05)); CVaR is the mean of
the returns at or below it (empyrical.conditional_value_at_risk). Parametric VaR is
mu + sigma * z_(1-level) with sample std (ddof=1); parametric CVaR is
mu - sigma * phi(z) / (1 - level). All are one-session figures on the current
weights applied to the lookback's asset returns.
"""

from __future__ import annotations

import math

import numpy as np

_Z = {0.95: -1.6448536269514722, 0.99: -2.3263478740408408}


def _z(level: float) -> float:
    if level in _Z:
        return _Z[level]
    from scipy.stats import norm

    return float(norm.ppf(1.0 - level))


def var_hist(returns: np.ndarray, level: float) -> float:
    """Historical VaR at `level` (negative return fraction; NaN if empty)."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan")
    return float(np.percentile(r, 100.0 * (1.0 - level)))


def cvar_hist(returns: np.ndarray, level: float) -> float:
    """Historical CVaR (expected shortfall): mean of returns <= the historical VaR."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan")
    v = np.percentile(r, 100.0 * (1.0 - level))
    return float(r[r <= v].mean())


def var_param(returns: np.ndarray, level: float) -> float:
    """Gaussian VaR: mean + std * z, z the (1 - level) normal quantile."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 2:
        return float("nan")
    return float(r.mean() + r.std(ddof=1) * _z(level))


def cvar_param(returns: np.ndarray, level: float) -> float:
    """Gaussian CVaR: mean - std * phi(z) / (1 - level)."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 2:
        return float("nan")
    z = _z(level)
    phi = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return float(r.mean() - r.std(ddof=1) * phi / (1.0 - level))


def annual_vol(returns: np.ndarray) -> float:
    """Annualised std (ddof=1, 252 sessions) of daily simple returns."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 2:
        return float("nan")
    return float(r.std(ddof=1) * math.sqrt(252.0))


def beta(port: np.ndarray, market: np.ndarray) -> float:
    """cov(port, market) / var(market), sample moments on rows where both are finite."""
    p, m = np.asarray(port, dtype=float), np.asarray(market, dtype=float)
    ok = np.isfinite(p) & np.isfinite(m)
    if ok.sum() < 3:
        return float("nan")
    p, m = p[ok], m[ok]
    vm = m.var(ddof=1)
    if vm <= 0:
        return float("nan")
    return float(((p - p.mean()) @ (m - m.mean())) / (p.size - 1) / vm)


def forecast_vol(weights: np.ndarray, vols_ann: np.ndarray, corr: np.ndarray) -> float:
    """sqrt(w' D C D w) with forecast (e.g. GARCH) annualised vols on the diagonal D."""
    w = np.asarray(weights, dtype=float)
    v = np.asarray(vols_ann, dtype=float)
    if w.size == 0 or not np.any(w):
        return 0.0
    ok = np.isfinite(v)
    if not ok.all():
        return float("nan")
    c = np.nan_to_num(np.asarray(corr, dtype=float))
    np.fill_diagonal(c, 1.0)
    cov = c * np.outer(v, v)
    return float(math.sqrt(max(w @ cov @ w, 0.0)))


def concentration(weights: np.ndarray) -> float:
    """Herfindahl index of the absolute position weights, normalised by gross (1/N..1)."""
    w = np.abs(np.asarray(weights, dtype=float))
    g = w.sum()
    if g <= 0:
        return 0.0
    s = w / g
    return float(s @ s)


def drawdown_series(equity: np.ndarray) -> np.ndarray:
    """equity / running peak - 1 (negative fractions, 0 at new highs)."""
    e = np.asarray(equity, dtype=float)
    if e.size == 0:
        return e
    return e / np.maximum.accumulate(e) - 1.0
