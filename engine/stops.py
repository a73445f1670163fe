"""Graceful stops for a headless run: SIGTERM and SIGINT end it on a committed session.

The first signal lets the cycle in flight commit (or, while the loop is only waiting
for the feed, cancels the wait) and the run ends `interrupted` with exit code
128 + signal (130 for Ctrl-C, 143 for SIGTERM). A second signal stops at once: the
run row is marked `interrupted`, the open cycle transaction is never committed (DuckDB
rolls it back on the next open) and the process exits with the same code.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def signal_name(signum: int) -> str:
    return "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name


class SignalStop:
    """Installs the stop handlers on the running event loop (main thread only)."""

    def __init__(self, cancel_wait: Callable[[], bool], force_stop: Callable[[int], None]) -> None:
        self.signum: int | None = None
        self._cancel_wait = cancel_wait
        self._force_stop = force_stop
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def install(self) -> SignalStop:
        if threading.current_thread() is not threading.main_thread():
            return self
        loop = asyncio.get_running_loop()
        try:
            for sig in STOP_SIGNALS:
                loop.add_signal_handler(sig, self._on_signal, sig)
        except (NotImplementedError, RuntimeError):  # not a Unix loop: default behaviour
            return self
        self._loop = loop
        return self

    def uninstall(self) -> None:
        if self._loop is None:
            return
        for sig in STOP_SIGNALS:
            self._loop.remove_signal_handler(sig)
        self._loop = None

    def _on_signal(self, signum: int) -> None:
        if self.signum is not None:
            self._force_stop(signum)
            return
        self.signum = signum
        if self._cancel_wait():
            print(f"pmax: {signal_name(signum)} — stopping", file=sys.stderr, flush=True)
        else:
            print(
                f"pmax: {signal_name(signum)} — finishing the session in flight, then stopping "
                "(signal again to stop now and roll it back)",
                file=sys.stderr,
                flush=True,
            )


def exit_now(signum: int, message: str) -> None:
    """Leave the process at once with 128 + signum (no cleanup: the open transaction is lost)."""
    print(message, file=sys.stderr, flush=True)
    os._exit(128 + signum)
