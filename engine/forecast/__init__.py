"""Forecasting: the `Forecaster` interface, models, ensemble, scoring and SHAP drivers."""

from engine.forecast.base import FORECAST_COLUMNS, Forecaster, forecast_frame
from engine.forecast.registry import available, create, forecaster_class, register
from engine.panel import Panel

__all__ = [
    "FORECAST_COLUMNS",
    "Forecaster",
    "Panel",
    "available",
    "create",
    "forecast_frame",
    "forecaster_class",
    "register",
]
