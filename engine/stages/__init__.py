"""The loop's stages, in the order they run each cycle.

Entries are `module:Class` paths, imported when an engine is built so that heavy
libraries stay out of start-up. Stage classes are constructed with no arguments
and read settings from `ctx.config`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.cycle import Stage

DEFAULT_STAGES: list[str] = [
    "engine.stages.ingest:IngestStage",
    "engine.stages.broker_fill:BrokerFillStage",
    "engine.stages.forecast:ForecastStage",
    "engine.stages.signals:SignalsStage",
    "engine.stages.portfolio:PortfolioStage",
    "engine.stages.risk:RiskStage",
]


def load_stage(path: str) -> Stage:
    module_name, _, class_name = path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)()


def default_stages() -> list[Stage]:
    """Fresh instances of the default stage list (each reads its settings from `ctx.config`)."""
    return [load_stage(path) for path in DEFAULT_STAGES]
