"""What empyrical lacks: profit factor, hit rate, and how much to trust a Sharpe ratio.

Owns `profit_factor` and `hit_rate`, and the statistics that turn one estimated
Sharpe ratio into a probability or an interval:

* `probabilistic_sharpe_ratio` — Bailey & López de Prado (2012), "The Sharpe Ratio
  Efficient Frontier": P(true SR > benchmark) given the sample's length, skewness
  and kurtosis;
* `deflated_sharpe_ratio` — Bailey & López de Prado (2014), "The Deflated Sharpe
  Ratio": the PSR against the Sharpe ratio the best of `n_trials` unskilled
  strategies would show by luck (`expected_max_sharpe`);
* `sharpe_bootstrap_ci` — a percentile bootstrap interval for the annualised
  Sharpe ratio (i.i.d. or moving-block resampling, explicit seed/Generator).

Sharpe ratios in PSR/DSR are *per period* (not annualised), mean over sample std
(ddof=1); skewness and kurtosis are the sample moments (kurtosis not excess, so a
normal distribution has 3).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.periods import annualization_factor

EULER_GAMMA = 0.5772156649015329


def _flat(returns: Any) -> np.ndarray:
    """Returns as a 1-D float array without NaN (pandas NA counts as NaN)."""
    if hasattr(returns, "to_numpy"):
        returns = returns.to_numpy(dtype=float, na_value=np.nan)
    r = np.asarray(returns, dtype=float).ravel()
    return r[~np.isnan(r)]


def _clean(returns: Any, risk_free: Any = 0.0) -> np.ndarray:
    """Excess returns as a 1-D float array without NaN; two Series align on dates."""
    if hasattr(returns, "index") and hasattr(risk_free, "index"):
        return _flat(returns - risk_free)
    if np.ndim(risk_free) == 0:
        return _flat(returns) - float(risk_free)
    if hasattr(returns, "to_numpy"):
        returns = returns.to_numpy(dtype=float, na_value=np.nan)
    return _flat(np.asarray(returns, dtype=float).ravel() - np.asarray(risk_free, dtype=float).ravel())


def profit_factor(returns: Any) -> float:
    """Gross profit / gross loss: sum of positive returns over |sum of negative ones|.

    Totals, not averages. inf when there are gains and no losses; NaN when there
    are neither (or no returns). NaN returns are skipped.
    """
    r = _flat(returns)
    gains, losses = float(r[r > 0].sum()), -float(r[r < 0].sum())
    if losses > 0:
        return gains / losses
    return np.inf if gains > 0 else np.nan


def hit_rate(returns: Any, threshold: float = 0.0) -> float:
    """Share of (non-NaN) periods whose return exceeds `threshold`; NaN if none."""
    r = _flat(returns)
    return float(np.mean(r > threshold)) if len(r) else np.nan


def _norm_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _norm_ppf(p: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(p))


def psr_from_moments(sr: float, n: int, skew: float, kurtosis: float, sr_benchmark: float = 0.0) -> float:
    """PSR from summary statistics (per-period Sharpe `sr` over `n` returns).

    PSR = Φ((sr - sr*)·sqrt(n - 1) / sqrt(1 - skew·sr + (kurtosis - 1)/4·sr²)).
    NaN when n < 2 or the variance term is not positive.
    """
    if n < 2 or not np.isfinite(sr):
        return np.nan
    var_term = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not var_term > 0:
        return np.nan
    return _norm_cdf((sr - sr_benchmark) * math.sqrt(n - 1) / math.sqrt(var_term))


def _sample_moments(r: np.ndarray) -> tuple[float, float, float]:
    """(per-period Sharpe with ddof=1, skewness, kurtosis) of `r` (biased moments)."""
    mean = float(r.mean())
    std = float(r.std(ddof=1))
    dev = r - mean
    dev2 = dev * dev
    m2 = float(np.mean(dev2))
    if not (std > 0 and m2 > 0):
        return np.nan, np.nan, np.nan
    skew = float(np.mean(dev2 * dev)) / m2**1.5
    kurt = float(np.mean(dev2 * dev2)) / m2**2
    return mean / std, skew, kurt


def probabilistic_sharpe_ratio(returns: Any, sr_benchmark: float = 0.0, risk_free: Any = 0.0) -> float:
    """Probability that the true per-period Sharpe ratio exceeds `sr_benchmark`.

    Args:
        returns: per-period simple returns (array or Series; NaN skipped).
        sr_benchmark: per-period Sharpe to beat (an annual one divided by
            sqrt(periods per year)).
        risk_free: per-period risk-free return subtracted first.

    Returns:
        A probability in [0, 1]; NaN with fewer than 3 returns or zero dispersion.
    """
    r = _clean(returns, risk_free)
    if len(r) < 3:
        return np.nan
    sr, skew, kurt = _sample_moments(r)
    return psr_from_moments(sr, len(r), skew, kurt, sr_benchmark)


def expected_max_sharpe(n_trials: int, sr_variance: float, sr_mean: float = 0.0) -> float:
    """Expected maximum Sharpe among `n_trials` unskilled trials (False Strategy Theorem).

    E[max SR] ≈ sr_mean + sqrt(V)·((1-γ)·Φ⁻¹(1 - 1/N) + γ·Φ⁻¹(1 - 1/(N·e))), with
    V the variance of the trials' (per-period) Sharpe ratios and γ Euler's constant.
    """
    if n_trials < 1 or sr_variance < 0:
        raise ValueError("n_trials must be ≥ 1 and sr_variance ≥ 0")
    if n_trials == 1:
        return sr_mean
    z1 = _norm_ppf(1.0 - 1.0 / n_trials)
    z2 = _norm_ppf(1.0 - 1.0 / (n_trials * math.e))
    return sr_mean + math.sqrt(sr_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def deflated_sharpe_ratio(returns: Any, n_trials: int, sr_variance: float, risk_free: Any = 0.0) -> float:
    """PSR against the Sharpe the best of `n_trials` lucky strategies would show.

    Args:
        returns: per-period returns of the selected strategy.
        n_trials: how many independent configurations were tried.
        sr_variance: variance across trials of their per-period Sharpe ratios.
        risk_free: per-period risk-free return.
    """
    return probabilistic_sharpe_ratio(returns, expected_max_sharpe(n_trials, sr_variance), risk_free)


def _row_sharpe(samples: np.ndarray) -> np.ndarray:
    """Per-row mean / sample std, with ±inf or NaN for constant rows (empyrical)."""
    with np.errstate(all="ignore"):
        std = samples.std(axis=1, ddof=1)
        std = np.where(samples.max(axis=1) == samples.min(axis=1), 0.0, std)
        return samples.mean(axis=1) / std


def sharpe_bootstrap_ci(
    returns: Any,
    n_boot: int = 2000,
    alpha: float = 0.05,
    rng: np.random.Generator | int = 0,
    risk_free: Any = 0.0,
    period: str = "daily",
    annualization: float | None = None,
    block: int = 1,
) -> tuple[float, float]:
    """Percentile bootstrap interval for the annualised Sharpe ratio.

    Args:
        returns: per-period returns (NaN skipped).
        n_boot: bootstrap replications.
        alpha: 1 - confidence level (0.05 gives a 95% interval).
        rng: a `numpy.random.Generator` or an int seed.
        risk_free: per-period risk-free return.
        period, annualization: as in `engine.metrics.sharpe_ratio`.
        block: block length; 1 resamples returns i.i.d., >1 resamples
            overlapping blocks (moving-block bootstrap) to keep autocorrelation.

    Returns:
        (low, high); (nan, nan) with fewer than two returns.
    """
    if not 0 < alpha < 1 or n_boot < 1 or block < 1:
        raise ValueError("need 0 < alpha < 1, n_boot ≥ 1 and block ≥ 1")
    r = _clean(returns, risk_free)
    n = len(r)
    if n < 2:
        return np.nan, np.nan
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    block = min(block, n)
    n_blocks = -(-n // block)
    chunk = max(1, 2_000_000 // n)  # bounds memory at ~16 MB of samples per chunk
    stats = []
    for start in range(0, n_boot, chunk):
        rows = min(chunk, n_boot - start)
        starts = gen.integers(0, n - block + 1, size=(rows, n_blocks))
        idx = (starts[:, :, None] + np.arange(block)).reshape(rows, n_blocks * block)[:, :n]
        stats.append(_row_sharpe(r[idx]))
    sharpes = np.concatenate(stats) * math.sqrt(annualization_factor(period, annualization))
    qs = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    with np.errstate(invalid="ignore"):
        bounds = np.nanpercentile(sharpes, qs)
    if np.isnan(bounds).any():  # tiny samples: constant resamples give ±inf, and inf - inf is NaN
        bounds = np.where(np.isnan(bounds), np.nanpercentile(sharpes, qs, method="nearest"), bounds)
    return float(bounds[0]), float(bounds[1])
