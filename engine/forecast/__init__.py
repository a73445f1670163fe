"""Forecasting: the `Forecaster` interface, models, ensemble, scoring and SHAP drivers."""

from engine.forecast.base import (
    DEFAULT_HORIZONS,
    FORECAST_COLUMNS,
    Forecaster,
    Panel,
    forecast_frame,
)
from engine.forecast.registry import available, create, forecaster_class, register

__all__ = [
    "DEFAULT_HORIZONS",
    "FORECAST_COLUMNS",
    "Forecaster",
    "Panel",
    "available",
    "create",
    "forecast_frame",
    "forecaster_class",
    "register",
]
