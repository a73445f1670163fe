"""Market-data providers behind one small ABC, and a factory from config."""

from __future__ import annotations

from engine.data.providers.base import MarketDataProvider, Quote
from engine.data.providers.local import LocalFileProvider
from engine.data.providers.registry import build_providers

__all__ = ["MarketDataProvider", "Quote", "LocalFileProvider", "build_providers"]
