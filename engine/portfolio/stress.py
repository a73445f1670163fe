"""Historical stress test: replay named S&P 500 sell-offs on today's portfolio through betas.

Each holding's daily return in a window is modelled as beta x the S&P 500's daily
return that day; the portfolio's daily return is the weighted sum (cash earns
nothing) and the window's result is those daily returns compounded. The index
history is the one that ships inside `arch` (`arch.data.sp500`, 1999-2018), so the
test works offline and in tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import pandas as pd

from engine.errors import InputError

# name -> (first session, last session), both inclusive; the first session's return
# is its close over the previous close.
STRESS_WINDOWS: dict[str, tuple[dt.date, dt.date]] = {
    # Lehman's failure to the March 2009 low.
    "gfc_2008_09": (dt.date(2008, 9, 2), dt.date(2009, 3, 9)),
    # The debt-ceiling stand-off and S&P's downgrade of the US, to the October low.
    "us_downgrade_2011": (dt.date(2011, 7, 25), dt.date(2011, 10, 3)),
    # China's devaluation and the oil rout, to the February 2016 low.
    "selloff_2015_16": (dt.date(2015, 8, 18), dt.date(2016, 2, 11)),
}


@lru_cache(maxsize=1)
def sp500_returns() -> pd.Series:
    """Daily simple returns of the S&P 500 (adjusted close), indexed by date.

    The data file ships with `arch`; it is read the way `arch.data.sp500.load()` reads
    it, without importing `arch` (its package import costs ~1.5 s, the loop needs none of it).
    """
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("arch")  # locates the package without running it
    assert spec is not None and spec.submodule_search_locations
    data = pd.read_csv(Path(next(iter(spec.submodule_search_locations))) / "data" / "sp500" / "sp500.csv.gz")
    data = data.set_index(pd.to_datetime(data["Date"]))
    close = pd.to_numeric(data["Adj Close"], errors="coerce").astype(float)
    ret = close.pct_change().dropna()
    ret.index = pd.Index([ts.date() for ts in pd.to_datetime(ret.index)], name="date")
    ret.name = "sp500"
    return ret


def window_returns(name: str) -> pd.Series:
    """The index's daily returns inside one named window."""
    first, last = STRESS_WINDOWS[name]
    ret = sp500_returns()
    return ret[(ret.index >= first) & (ret.index <= last)]


def stress_test(
    weights: Mapping[str, float],
    betas: Mapping[str, float],
    windows: Mapping[str, tuple[dt.date, dt.date]] | None = None,
    default_beta: float = 1.0,
) -> dict[str, float]:
    """Portfolio return over each named window, replayed day by day through betas.

    Args:
        weights: ticker -> weight as a fraction of equity (short is negative).
        betas: ticker -> beta to the S&P 500; a holding without one gets `default_beta`.
        windows: name -> (first, last) session; default STRESS_WINDOWS.
        default_beta: beta assumed for holdings missing from `betas`.

    Returns:
        name -> compounded portfolio return over the window (e.g. -0.43).
    """
    beta_p = float(sum(w * float(betas.get(t, default_beta)) for t, w in weights.items()))
    ret = sp500_returns()
    out: dict[str, float] = {}
    for name, (first, last) in (windows or STRESS_WINDOWS).items():
        window = ret[(ret.index >= first) & (ret.index <= last)].to_numpy()
        out[name] = float(np.prod(1.0 + beta_p * window) - 1.0) if window.size else float("nan")
    return out


def estimate_betas(
    returns_df: pd.DataFrame, market_returns: pd.Series | np.ndarray, min_obs: int = 20
) -> dict[str, float]:
    """OLS beta of each column on the market: cov(r, m) / var(m) over shared days.

    Args:
        returns_df: daily returns, one column per ticker, indexed like `market_returns`
            (or positionally aligned when `market_returns` is an array).
        market_returns: the market's daily returns.
        min_obs: tickers with fewer overlapping non-missing days are left out.
    """
    if isinstance(market_returns, pd.Series):
        market = market_returns.reindex(returns_df.index).to_numpy(dtype=float)
    else:
        market = np.asarray(market_returns, dtype=float)
        if market.shape[0] != len(returns_df):
            raise InputError(f"market returns have {market.shape[0]} rows, returns_df {len(returns_df)}")
    out: dict[str, float] = {}
    for ticker in returns_df.columns:
        r = returns_df[ticker].to_numpy(dtype=float)
        ok = np.isfinite(r) & np.isfinite(market)
        if ok.sum() < min_obs:
            continue
        m = market[ok] - market[ok].mean()
        var = float(m @ m)
        if var <= 0:
            continue
        out[str(ticker)] = float(m @ (r[ok] - r[ok].mean()) / var)
    return out
