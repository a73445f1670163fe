"""`ChildEngine.step()` and `busy` against a real engine process, in every arrival order.

Two things reach the app about one step: the engine process's reply to "step" (on the
thread that sent it) and the session's outcome (CycleCompleted, FeedExhausted or
StepFailed, on the events thread). Either can come first: a cheap session on a loaded
machine often ends before the app's loop has handled the reply. Each step must still be
answered by its own outcome, and `busy` must clear once that outcome is in, else the app
believes a session is running forever (seen once under load: busy stuck after the loop
ran cheap sessions back to back). The order is forced here, not left to chance: the test
holds the reply until the outcome has arrived, and holds the event stream while later
steps are sent.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from pmax_cli import FAST_CONFIG
from test_tui_support import test_config, wait_until

import engine.serve.client as client
from engine.serve.childproc import ChildEngine
from engine.store import connect


class _Order:
    """Orders what reaches the app: `reply_after_outcome` holds an accepted step's reply
    until a CycleCompleted has been delivered; clearing `release` holds the events thread
    at the next CycleStarted (everything after it queues) until it is set again."""

    def __init__(self, child: ChildEngine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.real = client.send_control
        self.reply_after_outcome = False
        self.completed = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.held = threading.Event()
        self.accepted = 0  # "step" replies that said ok, handed back to ChildEngine
        self.started: list[Any] = []
        child.subscribe(self._on_event)
        monkeypatch.setattr(client, "send_control", self._send)

    def _on_event(self, event: Any) -> None:  # the events thread
        name = type(event).__name__
        if name == "CycleCompleted":
            self.completed.set()
        elif name == "CycleStarted":
            self.started.append(event)
            if not self.release.is_set():
                self.held.set()
                self.release.wait(60)

    def _send(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        reply = self.real(*args, **kwargs)
        if args[1] == "step" and reply.get("ok"):
            if self.reply_after_outcome:
                assert self.completed.wait(60), "the session's outcome never arrived"
            self.accepted += 1
        return reply


async def test_each_step_is_answered_by_its_own_outcome_and_busy_clears_whatever_arrives_first(
    tmp_path: Path, runtime: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "steps.duckdb"
    config = test_config(tmp_path, **FAST_CONFIG, **{"serve.runtime_dir": runtime, "data.watchlist": ["AAPL", "MSFT"]})
    child = ChildEngine(config, db)
    order = _Order(child, monkeypatch)
    child.spawn()
    try:
        # 1. The outcome is in before the reply is handled: the step is done, nothing in flight.
        order.reply_after_outcome = True
        first = await asyncio.wait_for(child.step(), 120)
        assert first is not None and order.completed.is_set()
        assert not child.busy and child.as_of == first.session
        order.reply_after_outcome = False

        # 2. A step whose awaiting task is cancelled after the engine process accepted it:
        # the process still owes that session, so the app is busy until its outcome is in.
        order.release.clear()
        second = asyncio.create_task(child.step())
        await wait_until(lambda: order.held.is_set() and order.accepted == 2, 60)
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
        await wait_until(lambda: child.busy, 5, "a session the process accepted to be counted")

        # 3. The next step, sent while that outcome is still on its way, is answered by its own.
        third = asyncio.create_task(child.step())
        await wait_until(lambda: order.accepted == 3, 60)
        assert child.busy and not third.done()
        order.release.set()
        done = await asyncio.wait_for(third, 60)
        assert done is not None and len(order.started) == 3
        assert done.session == order.started[2].session > order.started[1].session > first.session
        assert not child.busy and child.as_of == done.session
    finally:
        order.release.set()
        assert child.close() == 0
    con = connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM cycles").fetchall() == [(3,)]
    con.close()
