"""Array helpers behind `engine.metrics`: float views of pandas/numpy inputs, results
shaped like empyrical's (float, Series or array), and NaN-ignoring column moments that
avoid `warnings.catch_warnings` (not thread-safe; the metrics run in engine threads)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

ArrayLike = Any  # np.ndarray | pd.Series | pd.DataFrame | Sequence[float]


def as_floats(x: ArrayLike) -> np.ndarray:
    """A float ndarray view of `x` (pandas NA becomes NaN)."""
    if isinstance(x, (pd.Series, pd.DataFrame)):
        return x.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(x, dtype=float)


def shaped_like(out: np.ndarray, like: ArrayLike) -> Any:
    """Shape a per-column result like empyrical: float, Series (DataFrame) or array."""
    if np.ndim(like) <= 1:
        return float(np.asarray(out).reshape(-1)[0])
    if isinstance(like, pd.DataFrame):
        return pd.Series(np.asarray(out, dtype=float), index=like.columns)
    return np.asarray(out, dtype=float)


def nan_like(like: ArrayLike) -> Any:
    return shaped_like(np.full(np.shape(like)[1:] or (1,), np.nan), like)


def minus(returns: ArrayLike, by: ArrayLike | float) -> np.ndarray:
    """`returns - by` as floats; pandas operands align on their index first."""
    if isinstance(by, (int, float)) and by == 0:
        return as_floats(returns)
    if isinstance(returns, pd.DataFrame) and isinstance(by, pd.Series):
        return as_floats(returns.sub(by, axis=0))  # one rate per date, for every column
    if isinstance(returns, (pd.Series, pd.DataFrame)) and isinstance(by, (pd.Series, pd.DataFrame)):
        return as_floats(returns - by)
    return as_floats(returns) - as_floats(by)


def nanmean_cols(a: np.ndarray) -> np.ndarray:
    """Column means ignoring NaN (NaN where a column has none), without warnings.

    Same arithmetic as `np.nanmean`; avoids `warnings.catch_warnings`, which is
    not thread-safe and these run in the engine's worker threads.
    """
    present = ~np.isnan(a)
    with np.errstate(all="ignore"):
        return np.where(present, a, 0.0).sum(axis=0) / present.sum(axis=0)


def nanstd_cols(a: np.ndarray, ddof: int = 1) -> np.ndarray:
    """Column standard deviations ignoring NaN (NaN with ≤ ddof values), like `np.nanstd`."""
    present = ~np.isnan(a)
    with np.errstate(all="ignore"):
        dev = np.where(present, a - nanmean_cols(a), 0.0)
        dof = present.sum(axis=0) - ddof
        return np.sqrt((dev * dev).sum(axis=0) / np.where(dof > 0, dof, np.nan))


def nanstd_cols1(a: np.ndarray) -> np.ndarray:
    """Sample std (ddof=1) ignoring NaN; exactly 0 where a column is constant."""
    std = nanstd_cols(a, 1)
    # identical values can leave a ~1e-18 residue; that would turn inf into 1e15
    constant = (np.fmax.reduce(a, axis=0) == np.fmin.reduce(a, axis=0)) & np.isfinite(std)
    return np.where(constant, 0.0, std)
