"""Events the app's engine process publishes about itself (beside the engine's own).

They travel on the owner's event stream like any engine event and are rebuilt as
these classes on the app's side (`wire.register_events`).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import Event
from engine.serve.wire import register_events

__all__ = ["ControlRequested", "HandedOver", "StepFailed"]


@dataclass(frozen=True)
class StepFailed(Event):
    """A step the app asked for raised; nothing of it was committed."""

    message: str
    hint: str


@dataclass(frozen=True)
class ControlRequested(Event):
    """Another attached app (with `[serve] allow_control`) asks the app to pause, resume or step."""

    command: str


@dataclass(frozen=True)
class HandedOver(Event):
    """The engine process let go of the file for a `pmax --run` and is exiting."""

    requester: str


register_events(StepFailed, ControlRequested, HandedOver)
