"""Hard wall-clock deadlines around provider calls, whatever the library does inside.

HTTP clients time out per socket operation, and yfinance makes several requests per
ticker, so a network that accepts connections and never answers can hold a call for
minutes. `call_with_deadline` runs the call in a daemon thread and stops waiting
after `seconds`; the abandoned thread ends on its own (or with the process).
`Deadline` is the budget one fetch gets from `[data] timeout_s` and `retries`: each
attempt at most `timeout_s`, all attempts together at most `timeout_s x (retries + 1)`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from engine.config import Config

T = TypeVar("T")


class NoAnswer(Exception):
    """The call did not return within its deadline."""


@dataclass
class Deadline:
    """The time budget of one fetch (all providers, all attempts)."""

    attempt_s: float = 10.0
    retries: int = 2
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def from_config(cls, config: Config | None) -> Deadline:
        if config is None:
            return cls()
        return cls(config.data.timeout_s, config.data.retries)

    @property
    def total_s(self) -> float:
        return self.attempt_s * (self.retries + 1)

    def left(self) -> float:
        return self.total_s - (time.monotonic() - self.started)


def call_with_deadline(fn: Callable[..., T], seconds: float, *args: Any, stop: threading.Event | None = None) -> T:
    """`fn(*args)`, or NoAnswer after `seconds` or once `stop` is set (the call keeps
    running, unobserved)."""
    box: dict[str, Any] = {}
    streams = (sys.stdout, sys.stderr)

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="pmax-provider-call", daemon=True)
    worker.start()
    until = time.monotonic() + max(seconds, 0.0)
    while worker.is_alive() and (left := until - time.monotonic()) > 0:
        worker.join(min(left, 0.2))
        if stop is not None and stop.is_set():
            break
    if worker.is_alive():
        # A library that redirected stdout/stderr inside the call must not keep our
        # streams after we stop waiting for it.
        sys.stdout, sys.stderr = streams
        raise NoAnswer
    if "error" in box:
        raise box["error"]
    return box["value"]
