"""Market regime detection on the universe: trend, volatility, average correlation.

The universe is the equal-weight index of the watchlist's daily simple returns.
`classify_regime` turns three statistics into bull / bear / sideways / crisis; the
regime's exposure scale (config `[portfolio] regime_exposure_*`) multiplies every
target weight. Stored per session in `regimes(as_of, ...)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REGIMES = ("bull", "bear", "sideways", "crisis")


@dataclass(frozen=True)
class RegimeState:
    """One session's regime and the statistics behind it."""

    regime: str
    trend: float  # index return over the trend window (simple, fraction)
    volatility: float  # annualised std of the index's daily returns (vol window)
    avg_correlation: float  # mean off-diagonal correlation of constituents (corr window)
    exposure_scale: float


def average_correlation(returns: np.ndarray) -> float:
    """Mean off-diagonal Pearson correlation of the columns of `returns` (T x N)."""
    returns = np.asarray(returns, dtype=float)
    n = returns.shape[1] if returns.ndim == 2 else 0
    if n < 2 or returns.shape[0] < 3:
        return 0.0
    sd = returns.std(axis=0, ddof=1)
    keep = sd > 0
    if keep.sum() < 2:
        return 0.0
    corr = np.corrcoef(returns[:, keep], rowvar=False)
    k = corr.shape[0]
    return float((corr.sum() - k) / (k * (k - 1)))


def classify_regime(
    trend: float,
    volatility: float,
    avg_corr: float,
    *,
    trend_threshold: float = 0.02,
    crisis_vol: float = 0.35,
    crisis_corr: float = 0.7,
) -> str:
    """Crisis when volatility is extreme, or correlations converge while falling;
    otherwise bull / bear by the sign of a trend beyond the threshold, else sideways."""
    if volatility >= crisis_vol or (avg_corr >= crisis_corr and trend < 0):
        return "crisis"
    if trend >= trend_threshold:
        return "bull"
    if trend <= -trend_threshold:
        return "bear"
    return "sideways"


def detect_regime(
    returns: np.ndarray,
    *,
    trend_window: int = 63,
    vol_window: int = 21,
    corr_window: int = 63,
    trend_threshold: float = 0.02,
    crisis_vol: float = 0.35,
    crisis_corr: float = 0.7,
    exposure: dict[str, float] | None = None,
) -> RegimeState:
    """Regime of the universe from constituent daily simple returns (T x N, NaN = missing).

    Args:
        returns: rows are sessions up to and including the current one.
        exposure: regime -> exposure scale; missing regimes scale by 1.

    Returns:
        the regime with its trend, volatility, average correlation and scale.
    """
    exposure = exposure or {}
    returns = np.asarray(returns, dtype=float)
    if returns.size == 0 or returns.shape[0] < 2:
        return RegimeState("sideways", 0.0, 0.0, 0.0, float(exposure.get("sideways", 1.0)))
    index = np.nanmean(np.where(np.isfinite(returns), returns, np.nan), axis=1)
    index = np.nan_to_num(index, nan=0.0)
    tr = index[-trend_window:]
    trend = float(np.prod(1.0 + tr) - 1.0)
    vr = index[-vol_window:]
    vol = float(vr.std(ddof=1) * np.sqrt(252.0)) if vr.size > 1 else 0.0
    cr = returns[-corr_window:]
    cr = cr[:, np.all(np.isfinite(cr), axis=0)]
    avg_corr = average_correlation(cr)
    regime = classify_regime(
        trend, vol, avg_corr, trend_threshold=trend_threshold, crisis_vol=crisis_vol, crisis_corr=crisis_corr
    )
    return RegimeState(regime, trend, vol, avg_corr, float(exposure.get(regime, 1.0)))
