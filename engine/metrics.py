"""Portfolio and strategy metrics with empyrical's names, parameters and conventions.

Owns the per-period performance statistics the app, the validation report and the
copilot quote: cumulative and annual return, volatility, drawdown, Sharpe, Sortino,
Calmar, Omega, VaR/CVaR, tail ratio, stability, alpha/beta, plus what empyrical
lacks (profit factor, hit rate, PSR, DSR and a bootstrap Sharpe interval) lives in
`engine.sharpe_stats`; the period names and annualisation factors both use live in
`engine.periods`.

Conventions (empyrical's; checked against its own test suite in
`tests/test_metrics_empyrical*.py` and against empyrical itself on random and
edge-case inputs in `tests/test_metrics_property.py`):

* inputs are per-period *simple* returns: a numpy array, a pandas Series, or a
  DataFrame (one column per strategy) wherever empyrical takes one;
* `period` is 'daily' (252), 'weekly' (52), 'monthly' (12), 'quarterly' (4) or
  'yearly' (1); `annualization` overrides it;
* `risk_free` and `required_return` are per-period returns (a number or a series),
  except Omega's `required_return`, which is annual as in empyrical;
* standard deviations are sample ones (ddof=1) ignoring NaN; NaN returns count
  as zero in compounding and are skipped in means;
* `max_drawdown` is a negative fraction; `value_at_risk` is the historical
  percentile at `cutoff` (and, like empyrical, NaN if any return is NaN).

A 1-D input gives a float; a DataFrame gives a Series indexed by its columns; a
2-D array gives an array. Calmar, Omega, VaR, CVaR, tail ratio, stability, alpha
and beta take one return stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.metric_arrays import (
    ArrayLike,
    as_floats,
    minus,
    nan_like,
    nanmean_cols,
    nanstd_cols,
    nanstd_cols1,
    shaped_like,
)
from engine.periods import (
    ANNUALIZATION_FACTORS,
    APPROX_BDAYS_PER_YEAR,
    DAILY,
    MONTHLY,
    QUARTERLY,
    WEEKLY,
    YEARLY,
    annualization_factor,
)

# --- compounding and drawdown ------------------------------------------------------


def cum_returns(returns: ArrayLike, starting_value: float = 0) -> Any:
    """Cumulative returns from simple returns (NaN counts as 0), same type as input.

    With `starting_value` 0 the result is the cumulative return; otherwise the
    value of `starting_value` invested at the start.
    """
    if len(returns) < 1:
        return returns.copy() if hasattr(returns, "copy") else np.asarray(returns, dtype=float)
    r = np.nan_to_num(as_floats(returns), nan=0.0, posinf=np.inf, neginf=-np.inf)
    out = np.cumprod(1.0 + r, axis=0)
    out = out - 1.0 if starting_value == 0 else out * starting_value
    if isinstance(returns, pd.Series):
        return pd.Series(out, index=returns.index, name=returns.name)
    if isinstance(returns, pd.DataFrame):
        return pd.DataFrame(out, index=returns.index, columns=returns.columns)
    return out


def cum_returns_final(returns: ArrayLike, starting_value: float = 0) -> Any:
    """Total compounded return (or final value when `starting_value` is not 0)."""
    if len(returns) == 0:
        return np.nan
    result = np.nanprod(1.0 + as_floats(returns), axis=0)
    result = result - 1.0 if starting_value == 0 else result * starting_value
    return shaped_like(result, returns)


def _drawdowns(returns: ArrayLike) -> np.ndarray:
    """Drawdown of 100 invested before the first period, rows 0..n (row 0 is the start)."""
    r = np.nan_to_num(as_floats(returns), nan=0.0, posinf=np.inf, neginf=-np.inf)
    start = np.full((1,) + r.shape[1:], 100.0)
    wealth = np.concatenate([start, 100.0 * np.cumprod(1.0 + r, axis=0)], axis=0)
    with np.errstate(all="ignore"):
        peak = np.fmax.accumulate(wealth, axis=0)
        return (wealth - peak) / peak


def drawdown_series(returns: ArrayLike) -> Any:
    """Drawdown from the running peak at each period (≤ 0), same type as input."""
    if len(returns) < 1:
        return np.nan
    dd = _drawdowns(returns)[1:]
    if isinstance(returns, pd.Series):
        return pd.Series(dd, index=returns.index, name=returns.name)
    if isinstance(returns, pd.DataFrame):
        return pd.DataFrame(dd, index=returns.index, columns=returns.columns)
    return dd


def max_drawdown(returns: ArrayLike) -> Any:
    """Largest peak-to-trough loss as a negative fraction (0.0 if none)."""
    if len(returns) < 1:
        return nan_like(returns)
    return shaped_like(np.fmin.reduce(_drawdowns(returns), axis=0), returns)


# --- annualised return and risk ----------------------------------------------------


def annual_return(returns: ArrayLike, period: str = DAILY, annualization: float | None = None) -> Any:
    """Compound annual growth rate: final value ** (periods per year / n) - 1."""
    if len(returns) < 1:
        return np.nan
    years = len(returns) / annualization_factor(period, annualization)
    ending = np.nanprod(1.0 + as_floats(returns), axis=0)
    with np.errstate(all="ignore"):
        return shaped_like(ending ** (1.0 / years) - 1.0, returns)


def cagr(returns: ArrayLike, period: str = DAILY, annualization: float | None = None) -> Any:
    """Alias of `annual_return`."""
    return annual_return(returns, period, annualization)


def annual_volatility(
    returns: ArrayLike, period: str = DAILY, alpha: float = 2.0, annualization: float | None = None
) -> Any:
    """Sample std (ddof=1) scaled by periods-per-year ** (1/alpha)."""
    if len(returns) < 2:
        return nan_like(returns)
    ann = annualization_factor(period, annualization)
    return shaped_like(nanstd_cols(as_floats(returns), 1) * ann ** (1.0 / alpha), returns)


def sharpe_ratio(
    returns: ArrayLike, risk_free: ArrayLike | float = 0, period: str = DAILY, annualization: float | None = None
) -> Any:
    """Annualised Sharpe ratio: mean / sample std of excess returns × sqrt(ann).

    NaN for fewer than two returns; ±inf when excess returns are constant and
    non-zero (empyrical's convention).
    """
    if len(returns) < 2:
        return nan_like(returns)
    adj = minus(returns, risk_free)
    ann = annualization_factor(period, annualization)
    with np.errstate(all="ignore"):
        out = nanmean_cols(adj) / nanstd_cols1(adj) * np.sqrt(ann)
    return shaped_like(out, returns)


def downside_risk(
    returns: ArrayLike, required_return: ArrayLike | float = 0, period: str = DAILY, annualization: float | None = None
) -> Any:
    """Annualised root-mean-square of returns below `required_return` (others count 0)."""
    if len(returns) < 1:
        return nan_like(returns)
    ann = annualization_factor(period, annualization)
    below = np.clip(minus(returns, required_return), -np.inf, 0.0)
    return shaped_like(np.sqrt(nanmean_cols(below * below)) * np.sqrt(ann), returns)


def sortino_ratio(
    returns: ArrayLike, required_return: ArrayLike | float = 0, period: str = DAILY, annualization: float | None = None
) -> Any:
    """Annualised mean excess return over annualised downside risk."""
    if len(returns) < 2:
        return nan_like(returns)
    ann = annualization_factor(period, annualization)
    mean = nanmean_cols(minus(returns, required_return)) * ann
    dr = np.asarray(as_floats(downside_risk(returns, required_return, period, annualization)))
    with np.errstate(all="ignore"):
        return shaped_like(mean / dr, returns)


def calmar_ratio(returns: ArrayLike, period: str = DAILY, annualization: float | None = None) -> float:
    """Annual return over |max drawdown|; NaN without a drawdown or when infinite."""
    max_dd = max_drawdown(returns)
    if not max_dd < 0:
        return np.nan
    ratio = annual_return(returns, period, annualization) / abs(max_dd)
    return np.nan if np.isinf(ratio) else ratio


def omega_ratio(
    returns: ArrayLike,
    risk_free: ArrayLike | float = 0.0,
    required_return: float = 0.0,
    annualization: float = APPROX_BDAYS_PER_YEAR,
) -> float:
    """Sum of gains over sum of losses relative to a threshold.

    `required_return` is *annual* and converted to per period with `annualization`
    (pass 1 to use it as is), as in empyrical.
    """
    if len(returns) < 2:
        return np.nan
    if annualization == 1:
        threshold = required_return
    elif required_return <= -1:
        return np.nan
    else:
        threshold = (1 + required_return) ** (1.0 / annualization) - 1
    excess = minus(returns, risk_free) - threshold
    gains = float(np.sum(excess[excess > 0.0]))
    losses = -float(np.sum(excess[excess < 0.0]))
    return gains / losses if losses > 0.0 else np.nan


# --- distribution -----------------------------------------------------------------


def value_at_risk(returns: ArrayLike, cutoff: float = 0.05) -> float:
    """Historical VaR: the `cutoff` percentile of returns (linear interpolation)."""
    if np.size(returns) < 1:
        return np.nan
    return float(np.percentile(as_floats(returns), 100 * cutoff))


def conditional_value_at_risk(returns: ArrayLike, cutoff: float = 0.05) -> float:
    """Expected shortfall: mean of the worst int((n-1)·cutoff)+1 returns (NaN skipped)."""
    r = as_floats(returns).ravel()
    r = r[~np.isnan(r)]
    if len(r) == 0:
        return np.nan
    k = int((len(r) - 1) * cutoff)
    return float(np.mean(np.partition(r, k)[: k + 1]))


def tail_ratio(returns: ArrayLike) -> float:
    """|95th percentile| / |5th percentile| of returns (NaN skipped)."""
    if len(returns) < 1:
        return np.nan
    r = as_floats(returns).ravel()
    r = r[~np.isnan(r)]
    if len(r) < 1:
        return np.nan
    with np.errstate(all="ignore"):
        return float(np.abs(np.percentile(r, 95)) / np.abs(np.percentile(r, 5)))


def stability_of_timeseries(returns: ArrayLike) -> float:
    """R² of a straight line fitted to cumulative log returns (NaN skipped)."""
    if len(returns) < 2:
        return np.nan
    r = as_floats(returns).ravel()
    r = r[~np.isnan(r)]
    if len(r) < 2:
        return np.nan
    from scipy import stats

    with np.errstate(all="ignore"):
        rvalue = stats.linregress(np.arange(len(r)), np.log1p(r).cumsum())[2]
    return float(rvalue**2)


# --- against a benchmark --------------------------------------------------------------


def _aligned(returns: ArrayLike, factor_returns: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Pair two return streams: equal-length arrays as is, pandas by index (outer join)."""
    if (
        isinstance(returns, np.ndarray)
        and isinstance(factor_returns, np.ndarray)
        and len(returns) == len(factor_returns)
    ):
        r, f = as_floats(returns), as_floats(factor_returns)
    else:

        def as_pd(x: ArrayLike) -> pd.Series | pd.DataFrame:
            if isinstance(x, (pd.Series, pd.DataFrame)):
                return x
            x = np.asarray(x, dtype=float)
            return pd.Series(x) if x.ndim == 1 else pd.DataFrame(x)

        both = pd.concat([as_pd(returns), as_pd(factor_returns)], axis=1)
        r, f = as_floats(both.iloc[:, 0]), as_floats(both.iloc[:, 1])
    if f.ndim == 2 and f.shape[1] == 1:
        f = f[:, 0]
    return r, f


def _slope(r: np.ndarray, f: np.ndarray) -> float:
    """OLS slope of r on f over the periods where both are present."""
    if len(r) < 1 or len(f) < 2:
        return np.nan
    x = np.where(np.isnan(r), np.nan, f)
    x_res = x - nanmean_cols(x)
    cov = nanmean_cols(x_res * r)
    var = nanmean_cols(x_res * x_res)
    return np.nan if not var >= 1.0e-30 else float(cov / var)


def _alpha(r: np.ndarray, f: np.ndarray, risk_free: ArrayLike | float, ann: float, b: float) -> float:
    if len(r) < 2:
        return np.nan
    rf = risk_free if isinstance(risk_free, (int, float)) else as_floats(risk_free)
    with np.errstate(all="ignore"):
        return float((nanmean_cols((r - rf) - b * (f - rf)) + 1.0) ** ann - 1.0)


def beta(returns: ArrayLike, factor_returns: ArrayLike, risk_free: ArrayLike | float = 0.0) -> float:
    """Beta of `returns` on `factor_returns` (aligned on dates; NaN pairs dropped).

    `risk_free` is accepted for empyrical's signature; like empyrical it does not
    change the slope.
    """
    r, f = _aligned(returns, factor_returns)
    return _slope(r, f)


def alpha(
    returns: ArrayLike,
    factor_returns: ArrayLike,
    risk_free: ArrayLike | float = 0.0,
    period: str = DAILY,
    annualization: float | None = None,
    _beta: float | None = None,
) -> float:
    """Annualised Jensen's alpha: (1 + mean(r - rf - β(f - rf))) ** ann - 1."""
    r, f = _aligned(returns, factor_returns)
    ann = annualization_factor(period, annualization)
    b = _slope(r, f) if _beta is None else _beta
    return _alpha(r, f, risk_free, ann, b)


def alpha_beta(
    returns: ArrayLike,
    factor_returns: ArrayLike,
    risk_free: ArrayLike | float = 0.0,
    period: str = DAILY,
    annualization: float | None = None,
) -> tuple[float, float]:
    """(annualised alpha, beta) in one pass; see `alpha` and `beta`."""
    r, f = _aligned(returns, factor_returns)
    ann = annualization_factor(period, annualization)
    b = _slope(r, f)
    return _alpha(r, f, risk_free, ann, b), b


__all__ = [
    "ANNUALIZATION_FACTORS",
    "DAILY",
    "WEEKLY",
    "MONTHLY",
    "QUARTERLY",
    "YEARLY",
    "annualization_factor",
    "cum_returns",
    "cum_returns_final",
    "drawdown_series",
    "max_drawdown",
    "annual_return",
    "cagr",
    "annual_volatility",
    "sharpe_ratio",
    "downside_risk",
    "sortino_ratio",
    "calmar_ratio",
    "omega_ratio",
    "value_at_risk",
    "conditional_value_at_risk",
    "tail_ratio",
    "stability_of_timeseries",
    "alpha",
    "beta",
    "alpha_beta",
]
