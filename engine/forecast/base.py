"""The forecaster interface: the `Forecaster` ABC and forecast frames over a `Panel`.

Every model (naive, drift, arima, garch, ssa, lightgbm, neural) implements
`Forecaster`: `fit` on every session of a panel (data up to its cutoff only),
`update` cheaply between scheduled refits, `predict` h-session forward log returns
with a mean, an interval at `level`, P(up) and a volatility. Fitted state lives
on the object in attributes ending in `_`. This module imports only numpy/pandas.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from datetime import date
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from engine.panel import Panel

#: Columns of the frame every `Forecaster.predict` returns (one row per ticker × horizon).
FORECAST_COLUMNS: tuple[str, ...] = (
    "ticker",
    "horizon",
    "mean",
    "lower",
    "upper",
    "level",
    "prob_up",
    "vol",
    "drivers",
)


def columns_of(panel_tickers: Sequence[str], fitted: Sequence[str]) -> np.ndarray:
    """For each fitted ticker, its column in the panel (-1 if absent)."""
    pos = {t: i for i, t in enumerate(panel_tickers)}
    return np.array([pos.get(t, -1) for t in fitted], dtype=np.int64)


def returns_since(panel: Panel, last_date: Any, fitted: Sequence[str]) -> np.ndarray:
    """Log returns of the sessions after `last_date`, one row per session, one column per
    fitted ticker (NaN where the panel lacks it): what a daily state update folds in."""
    start = int(np.searchsorted(panel.dates, last_date, side="right"))
    cols = columns_of(panel.tickers, fitted)
    r = panel.log_returns()[start:]
    out = np.full((len(r), len(fitted)), np.nan)
    have = cols >= 0
    out[:, have] = r[:, cols[have]]
    return out


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF, vectorised without scipy."""
    from math import erf

    v = np.vectorize(erf, otypes=[float])
    return 0.5 * (1.0 + v(np.asarray(x, dtype=float) / math.sqrt(2.0)))


def normal_ppf(p: float) -> float:
    """Standard normal quantile (scalar)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def forecast_frame(
    tickers: Sequence[str],
    horizon: int,
    mean: np.ndarray,
    vol: np.ndarray,
    level: float,
    *,
    prob_up: np.ndarray | None = None,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    drivers: Sequence[str | None] | None = None,
) -> pd.DataFrame:
    """Build a forecast frame; Gaussian interval/P(up) from mean and vol where not given."""
    mean = np.asarray(mean, dtype=float)
    vol = np.asarray(vol, dtype=float)
    z = normal_ppf(0.5 + level / 2.0)
    safe = np.where(vol > 0, vol, np.nan)
    if prob_up is None:
        prob_up = np.where(vol > 0, normal_cdf(mean / np.where(vol > 0, vol, 1.0)), 0.5)
    return pd.DataFrame(
        {
            "ticker": list(tickers),
            "horizon": np.full(len(mean), int(horizon), dtype=np.int64),
            "mean": mean,
            "lower": mean - z * np.nan_to_num(safe, nan=0.0) if lower is None else np.asarray(lower, float),
            "upper": mean + z * np.nan_to_num(safe, nan=0.0) if upper is None else np.asarray(upper, float),
            "level": np.full(len(mean), float(level)),
            "prob_up": np.asarray(prob_up, dtype=float),
            "vol": vol,
            "drivers": list(drivers) if drivers is not None else [None] * len(mean),
        },
        columns=list(FORECAST_COLUMNS),
    )


def empty_forecasts() -> pd.DataFrame:
    """A forecast frame with no rows (the right columns and dtypes)."""
    return forecast_frame([], 1, np.array([]), np.array([]), 0.9)


def drivers_json(items: Sequence[tuple[str, float, float]]) -> str:
    """Serialise SHAP drivers [(feature, value, shap)] as the forecasts.drivers JSON."""
    return json.dumps([{"feature": f, "value": _r(v), "shap": _r(s)} for f, v, s in items])


def _r(x: float) -> float | None:
    return None if not np.isfinite(x) else float(np.round(x, 8))


class Forecaster(ABC):
    """A model that forecasts h-session forward log returns for many tickers.

    Lifecycle, driven by the forecast stage: `fit(panel)` on scheduled refit
    sessions (data ≤ cutoff only), `update(panel)` on the sessions between
    (cheap: new data, same parameters), `predict(panel, horizons, level)` every
    session. The stage always passes panels ending at the current session; a
    resumed run replays fit-then-updates, so fit/update/predict must be
    deterministic functions of their inputs (seeded randomness only).
    """

    #: Registry name, also the `forecasts.model` value.
    name: ClassVar[str] = ""
    #: True when one model is trained across all tickers (lightgbm, neural).
    pooled: ClassVar[bool] = False
    #: Sessions of history a ticker needs before it can be forecast.
    min_history: ClassVar[int] = 30
    #: Layout of the fitted attributes. Bump it when they change: a stored snapshot of
    #: another version (pickled by older code) is refitted, never restored half-fitting.
    state_version: ClassVar[int] = 1

    def __init__(self, params: Mapping[str, Any] | None = None, *, seed: int = 0, device: str = "cpu") -> None:
        self.params: dict[str, Any] = dict(params or {})
        self.seed = int(seed)
        self.device = device
        self.fitted_at_: date | None = None
        self.state_version_ = type(self).state_version

    @property
    def fitted(self) -> bool:
        return self.fitted_at_ is not None

    @abstractmethod
    def fit(self, panel: Panel, horizons: Sequence[int], *, executor: Executor | None = None) -> Forecaster:
        """Refit on every session of `panel`; set `fitted_at_ = panel.cutoff`."""

    def update(self, panel: Panel) -> None:
        """Fold in sessions after the last fit/update without refitting (default: none needed)."""

    @abstractmethod
    def predict(self, panel: Panel, horizons: Sequence[int], level: float) -> pd.DataFrame:
        """Forecast from `panel.cutoff`: a frame with `FORECAST_COLUMNS`, live tickers only."""

    def feature_importance(self) -> pd.DataFrame | None:
        """Global importance at the last refit: columns horizon, feature, importance."""
        return None
