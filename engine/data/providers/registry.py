"""The provider registry: which market-data sources exist and how to build them from config.

Kept apart from `base` so the interface module imports no concrete provider (the
providers import `base`; only this module imports them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.config_model import model_class
from engine.data.providers.base import MarketDataProvider
from engine.data.providers.local import LocalFileProvider
from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.config import Config

KNOWN_SOURCES = ("local", "yfinance", "finnhub")


def finnhub_key(config: Config | None) -> str:
    """FINNHUB_API_KEY from the environment, else [data] finnhub_api_key; '' if neither."""
    env = os.environ.get("FINNHUB_API_KEY", "").strip()
    if env:
        return env
    if config is None:
        return ""
    return config.data.finnhub_api_key.strip()


def build_providers(config: Config | None, names: Sequence[str] | None = None) -> list[MarketDataProvider]:
    """Providers in priority order ([data] sources, or `names`)."""
    data = config.data.model if config is not None else model_class("data")()  # typed, defaults from TOML
    wanted = list(names) if names else list(data.sources)
    timeout, retries, backoff = data.timeout_s, data.retries, data.backoff_s
    out: list[MarketDataProvider] = []
    for name in wanted:
        key = name.strip().lower()
        if key == "local":
            out.append(LocalFileProvider(data.local_path or None))
        elif key == "yfinance":
            from engine.data.providers.yahoo import YFinanceProvider

            out.append(YFinanceProvider(timeout=timeout))
        elif key == "finnhub":
            from engine.data.providers.finnhub_provider import FinnhubProvider

            out.append(
                FinnhubProvider(
                    api_key=finnhub_key(config),
                    timeout=timeout,
                    retries=retries,
                    backoff_s=backoff,
                    calls_per_minute=data.finnhub_calls_per_minute,
                )
            )
        else:
            raise ConfigError(
                f"unknown market-data source {name!r}", f"[data] sources / --source take {', '.join(KNOWN_SOURCES)}"
            )
    return out
