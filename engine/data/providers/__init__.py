"""Market-data providers behind one small ABC, and a factory from config."""

from __future__ import annotations

from engine.data.providers.base import MarketDataProvider, Quote, build_providers
from engine.data.providers.local import LocalFileProvider

__all__ = ["MarketDataProvider", "Quote", "LocalFileProvider", "build_providers"]
