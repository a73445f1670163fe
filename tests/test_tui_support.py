"""Shared pieces for the TUI tests: a store filled with fixed rows, a fake engine,
an app factory, and a cursor factory that records which threads asked for cursors.

Collected by pytest as a module with one smoke test of its own fixtures.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from textual import events
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key
from textual.widgets import DataTable
from textual.worker import WorkerState

from engine.config import Config, load_config
from engine.events import CycleCompleted, FeedExhausted
from engine.store import Store, append

# The app picks glyphs from the locale and NO_COLOR: draw the TUI tests and snapshots in
# UTF-8 with colour whatever the runner's environment (the fallback tests set their own).
os.environ["LC_ALL"] = "C.UTF-8"
os.environ.pop("NO_COLOR", None)

from tui_store_rows import ACCOUNT, TICKERS


class FakeEngine:
    """Engine stand-in: each step commits one more session of bars for AAA..FFF."""

    def __init__(self, store: Store, start: dt.date, max_steps: int = 50) -> None:
        self.store = store
        self.account = ACCOUNT
        self.device = "cpu"
        self.as_of: dt.date | None = start
        self.exhausted = False
        self.steps = 0
        self.max_steps = max_steps
        self._subs: list[Callable[[Any], None]] = []

    def subscribe(self, cb: Callable[[Any], None]) -> None:
        self._subs.append(cb)

    async def step(self) -> CycleCompleted | None:
        if self.steps >= self.max_steps:
            self.exhausted = True
            for cb in self._subs:
                cb(FeedExhausted(self.as_of))
            return None
        session = (pd.Timestamp(self.as_of) + pd.offsets.BDay(1)).date()
        await asyncio.to_thread(self._write, session)
        self.steps += 1
        self.as_of = session
        done = CycleCompleted(session, 100 + self.steps, len(TICKERS), None, 0.0)
        for cb in self._subs:
            cb(done)
        return done

    def _write(self, session: dt.date) -> None:
        with self.store.transaction() as con:
            append(
                con,
                "bars",
                pd.DataFrame(
                    [
                        {
                            "ticker": t,
                            "date": session,
                            "open": 10.0,
                            "high": 11.0,
                            "low": 9.0,
                            "close": 10.0 + self.steps,
                            "volume": 1,
                            "source": "fake",
                        }
                        for t in TICKERS
                    ]
                ),
            )
            append(
                con,
                "cycles",
                pd.DataFrame(
                    [
                        {
                            "account": ACCOUNT,
                            "session": session,
                            "session_index": 0,
                            "run_id": "fake",
                            "n_bars": 6,
                            "committed_at": pd.Timestamp(0),
                        }
                    ]
                ),
            )


class ThreadLog:
    """Wraps a cursor factory; records the thread of every call."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.main_calls = 0
        self.worker_calls = 0

    def __call__(self) -> Any:
        if threading.current_thread() is threading.main_thread():
            self.main_calls += 1
        else:
            self.worker_calls += 1
        return self.factory()


def test_config(tmp_path: Path, **overrides: Any) -> Config:
    base = {
        "tui.start_paused": True,
        "tui.cursor_blink": False,
        "tui.batch_ms": 50,
        "tui.export_dir": str(tmp_path / "exports"),
        "replay.interval_s": 0.0,
    }
    base.update(overrides)
    return load_config(overrides=base)


test_config.__test__ = False  # type: ignore[attr-defined]


def make_app(store: Any, tmp_path: Path, engine: Any = None, **kw: Any) -> tuple[Any, ThreadLog]:
    """A PmaxApp over `store` with test settings and a thread-recording cursor factory."""
    from tui.app import PmaxApp

    log = ThreadLog(store.cursor)
    overrides = kw.pop("overrides", {})
    app = PmaxApp(engine=engine, store=store, config=test_config(tmp_path, **overrides), cursor_factory=log, **kw)
    return app, log


BUSY = (WorkerState.PENDING, WorkerState.RUNNING)
POLL_S = 0.01  # how often a wait re-checks its condition (never a wait of its own)


async def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up after {timeout} s waiting for {what or condition}"
        await asyncio.sleep(POLL_S)


def key_event(app: Any, key: str) -> events.Key:
    """The key event `Pilot.press` builds for `key` (a name such as "tab" or a character)."""
    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    char: str | None
    try:
        char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
    except KeyError:
        char = key if len(key) == 1 else None
    event = events.Key(key, char)
    event.set_sender(app)
    return event


def send_keys(app: Any, *keys: str) -> None:
    """Queue key presses built as `Pilot.press` builds them, without its wait for the app to
    go idle after each (while the loop runs that wait lasts its full second): the caller
    waits for the effect it expects instead."""
    for key in keys:
        app._driver.send_message(key_event(app, key))


async def drain(pilot: Any, app: Any, timeout: float = 20.0) -> None:
    """Until every message queued in the app and its screen's widgets has been handled
    (handling one can queue more, so rounds repeat until the queues are empty) and
    animations have ended. Worker threads are not waited for: see `settle`.

    This replaces `Pilot.pause()`, which sleeps until the process's CPU time stops moving:
    20-40 ms of sleep per call when the app is idle, up to a second while the loop runs."""
    deadline = time.monotonic() + timeout
    while True:
        # A screen just pushed has no running message queue until it is mounted.
        await wait_until(lambda: app.screen.is_mounted, timeout, "the screen to mount")
        await pilot._wait_for_screen()
        await app.animator.wait_until_complete()
        nodes = [app, *app.screen.walk_children(with_self=True)]
        if all(node._message_queue.empty() for node in nodes):
            break
        assert time.monotonic() < deadline, f"messages still queued after {timeout} s"
    app.screen._on_timer_update()


async def press(pilot: Any, app: Any, *keys: str) -> None:
    """`Pilot.press`, each key handled with everything it queued before the next is sent,
    without Pilot's CPU-idle sleeps (see `drain`)."""
    for key in keys:
        app.post_message(key_event(app, key))
        await drain(pilot, app)


async def settle(pilot: Any, app: Any, timeout: float = 20.0) -> None:
    """Wait until the store has been read and applied, every worker is done and the
    forecasts pane (when shown) has the selected ticker; then until the screen is laid out."""

    def done() -> bool:
        if app._dirty or app._refreshing or (app.cursor_factory is not None and app.snapshot is None):
            return False
        if any(w.state in BUSY for w in app.workers if w.group != "loop"):
            return False
        # A DataTable sizes its columns to new rows on its next Idle: until then a frame
        # shows them cut to the header's width (snapshots taken under load did).
        if any(t._require_update_dimensions for t in app.screen.query(DataTable) if t.display):
            return False
        if app.ticker is None or not app.pane_visible("forecasts"):
            return True
        view = app.query_one("#forecasts").view
        return view is not None and view.ticker == app.ticker

    await wait_until(done, timeout, "the app to settle")
    await drain(pilot, app, timeout)
    await wait_until(done, timeout, "the app to settle")


async def settle_frame(pilot: Any, app: Any, timeout: float = 20.0) -> None:
    """`settle`, then Pilot's waits for scheduled animations and for the CPU to go idle:
    for snapshots, where a redraw scheduled after a refresh (a chart after a resize)
    must be on the frame too."""
    await settle(pilot, app, timeout)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def test_fill_store_writes_every_table(filled: tuple[Store, dt.date]) -> None:
    store, last = filled
    for table in ("bars", "forecasts", "signals", "model_weights", "equity", "risk", "positions", "fills", "orders"):
        n = store.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        assert n > 0, table
    assert store.con.execute("SELECT max(session) FROM cycles").fetchall()[0][0] == last
