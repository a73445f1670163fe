"""Events the engine publishes: small frozen dataclasses, named in the past tense.

Stages define their own events beside themselves, subclassing `Event`. Subscribers
(the TUI, headless progress) receive them after the cycle's transaction commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """Base class of every engine event."""


@dataclass(frozen=True)
class CycleStarted(Event):
    session: dt.date
    session_index: int


@dataclass(frozen=True)
class CycleCompleted(Event):
    session: dt.date
    session_index: int
    n_bars: int
    equity: float | None
    elapsed_s: float


@dataclass(frozen=True)
class FeedExhausted(Event):
    last_session: dt.date | None


@dataclass(frozen=True)
class DataStale(Event):
    """The feed is working from cached bars because its sources failed."""

    session: dt.date
    reason: str
