"""Forecaster registry: model name → class, resolved lazily from "module:attr".

Heavy libraries stay unimported until a model is created. Other packages add
models with `register("neural", "engine.forecast.models.neural:NeuralForecaster")`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from engine.errors import ConfigError
from engine.forecast.base import Forecaster

_REGISTRY: dict[str, str | type[Forecaster]] = {
    "naive": "engine.forecast.models.naive:NaiveForecaster",
    "drift": "engine.forecast.models.naive:DriftForecaster",
    "arima": "engine.forecast.models.arima:ArimaForecaster",
    "garch": "engine.forecast.models.garch:GarchForecaster",
    "ssa": "engine.forecast.models.ssa:SsaForecaster",
    "lightgbm": "engine.forecast.models.lgbm:LightGBMForecaster",
    "neural": "engine.forecast.models.neural:NeuralForecaster",
}


def register(name: str, target: str | type[Forecaster]) -> None:
    """Add or replace a model: a `Forecaster` subclass or a "module:attr" path."""
    _REGISTRY[name] = target


def available() -> list[str]:
    """Registered model names (whether or not their module imports)."""
    return list(_REGISTRY)


def forecaster_class(name: str) -> type[Forecaster]:
    """Resolve a registered name to its class (imports its module)."""
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown forecast model {name!r}", hint=f"forecast.models may contain: {', '.join(sorted(_REGISTRY))}"
        ) from None
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        try:
            target = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"forecast model {name!r} is not available ({exc})",
                hint="remove it from forecast.models or install what it needs",
            ) from exc
        _REGISTRY[name] = target
    return target


def create(name: str, params: Mapping[str, Any] | None = None, *, seed: int = 0, device: str = "cpu") -> Forecaster:
    """Instantiate a registered model."""
    return forecaster_class(name)(params, seed=seed, device=device)
