"""The app's side of its engine process: `ChildEngine`, driven like an in-process Engine.

`ChildEngine` starts `engine.serve.loopchild` (the engine, in its own process), and
offers what the app's loop uses of `engine.loop.Engine`: `await step()`, `subscribe`,
`as_of`, `exhausted`, `busy`, `account`, `feed` (the app's copy, for "sessions
left"), `close(status)`, and `request_universe_change`. A step is a control command
to the child; its result is the CycleCompleted / FeedExhausted / StepFailed event on
the child's event stream, which this object follows on a thread of its own.

The child's reply to "step" and the session's outcome arrive on two threads, in either
order, so steps are numbered: the n-th step the child accepted is answered by the n-th
outcome, and `busy` holds while fewer outcomes than accepted steps are in.

The child reads its settings from a pipe on stdin; closing the pipe (the app quit or
died) stops it after the session in flight. Its stderr goes to an unnamed file kept
here, so a crash can be reported with its last lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.errors import OwnerGoneError, PmaxError
from engine.events import CycleCompleted, FeedExhausted
from engine.serve.rendezvous import OwnerInfo, find_owner

__all__ = ["ChildEngine", "EngineProcessStopped", "Schedule"]

START_WAIT_S = 120.0  # the child's imports, migrations and engine build
BUSY_RETRY_S = 0.05
UNIVERSE_TIMEOUT_S = 120.0  # a live add fetches the ticker's history before it is queued


class EngineProcessStopped(PmaxError):
    """The engine process exited while the app needed it."""


class Schedule:
    """What the app needs of the child's feed: the replay's sessions, once the child says.

    `upcoming` is None while unknown and for a live feed, like `Feed.upcoming`.
    """

    def __init__(self, sessions: list[Any] | None = None) -> None:
        self.calendar = sessions

    def upcoming(self, after: Any) -> list[Any] | None:
        if self.calendar is None:
            return None
        return list(self.calendar) if after is None else [d for d in self.calendar if d > after]


class ChildEngine:
    """An engine running in a child process, stepped and followed over its endpoint."""

    mode = "tui"

    def __init__(self, config: Any, db_path: Path, live: bool = False, feed: Any = None) -> None:
        self.config = config
        self.db_path = Path(db_path)
        self.live = live
        # The app's copy of the feed when it built one (a --data file it checked), else the
        # child's schedule, fetched once the child serves.
        self.feed = feed if feed is not None else Schedule()
        self.account: str = config.app.account
        self.as_of: Any = None
        self.exhausted = False
        self.key = secrets.token_hex(16)
        self.owner: OwnerInfo | None = None
        self.handed_over = False
        self.on_control: Callable[[str], None] | None = None  # another app's pause/resume/step
        self.on_handover: Callable[[str], None] | None = None  # the child gave the file to a run
        self.on_exit: Callable[[str], None] | None = None  # the child stopped on its own
        # Open: the child may open the store. The app closes it until its first read of the
        # file is done, so that read never waits for the child's lock.
        self.gate = threading.Event()
        self.gate.set()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._subscribers: list[Callable[[Any], None]] = []
        self._pending: _Awaited | None = None
        self._begun = False
        self._stopping = False
        self._accepted = self._outcomes = 0  # steps the child accepted; their outcomes received
        self._last: tuple[int, Any] = (0, None)  # the last outcome, numbered
        self._count = threading.Lock()
        self._streaming = threading.Event()
        self._lock = threading.Lock()
        self._connecting = threading.Lock()

    # ----- the process --------------------------------------------------------------
    def spawn(self) -> None:
        """Start the process; it imports the engine and waits for `begin()`."""
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - kept open for the crash report
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.serve.loopchild"],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=self._log,
            env=env,
            start_new_session=True,
        )
        self._begun = self._stopping = False
        self._streaming.clear()
        self.owner = None
        with self._count:  # a new process owes no session
            self._outcomes = self._accepted
        threading.Thread(target=self._wait_exit, args=(self.proc,), name="pmax-child-exit", daemon=True).start()

    def begin(self) -> None:
        """Let the child open the store (after the app's first read of the file)."""
        with self._lock:
            if self._begun or self.proc is None or self.proc.stdin is None:
                return
            self._begun = True
            self._write({"config": self.config, "db": str(self.db_path), "live": self.live, "key": self.key})

    def _write(self, message: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            pickle.dump(message, self.proc.stdin)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass  # the child has gone; _wait_exit reports it

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def busy(self) -> bool:
        """From `step()` until the outcome of every step the child accepted is in (awaited or not)."""
        return self._pending is not None or self._outcomes < self._accepted

    def close(
        self, status: str = "finished", wait_s: float | None = None, say: Callable[[str], None] | None = None
    ) -> int | None:
        """Ask the child to finish the session in flight and exit; its exit code (None: still running).

        `say` is told once if the wait lasts more than a second.
        """
        proc = self.proc
        if proc is None:
            return None
        self._stopping = True
        if proc.poll() is None and proc.stdin is not None:
            if status == "finished":
                self._write("quit")
            with contextlib.suppress(OSError):
                proc.stdin.close()  # EOF: stop after the session in flight
        try:
            return proc.wait(1.0)
        except subprocess.TimeoutExpired:
            if say is not None:
                say(f"waiting for the engine process (pid {proc.pid}) to commit its session and exit…")
        try:
            return proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """Stop at once: the session in flight is rolled back (never committed)."""
        if self.proc is not None and self.proc.poll() is None:
            self._stopping = True
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 6) -> str:
        if self._log is None:
            return ""
        try:
            self._log.seek(0)
            text = self._log.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""
        return "\n".join(line for line in text.strip().splitlines()[-lines:])

    def _wait_exit(self, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        if proc is self.proc:
            with self._count:
                self._outcomes = self._accepted  # a dead process owes nothing more
        if proc is not self.proc or self._stopping or self.handed_over:
            return
        tail = self.log_tail()
        how = f"was killed by signal {-code}" if code < 0 else f"stopped (exit {code})"
        message = f"the engine process (pid {proc.pid}) {how}" + (f":\n{tail}" if tail else "")
        if self._pending is not None:  # the step that waited for it says so (and pauses the loop)
            self._fail(EngineProcessStopped(message, "press space or n to start it again"))
        elif self.on_exit is not None:
            self.on_exit(message)

    # ----- following the child ------------------------------------------------------
    def _find_owner(self) -> OwnerInfo:
        deadline = time.monotonic() + START_WAIT_S
        runtime = self.config.section("serve").runtime_dir
        while True:
            if not self.alive:
                raise EngineProcessStopped(
                    f"the engine process stopped before it served {self.db_path}",
                    self.log_tail() or "see `pmax --run` for the same error",
                )
            owner = find_owner(self.db_path, runtime)
            if owner is not None and owner.pid == self.pid:
                return owner
            if time.monotonic() > deadline:
                raise EngineProcessStopped(f"the engine process did not start serving in {START_WAIT_S:.0f} s")
            time.sleep(0.05)

    def connect(self) -> OwnerInfo:
        """Worker thread: let the child open the store, wait until it serves, follow its events."""
        self.begin()
        return self._connect()

    def _connect(self) -> OwnerInfo:
        """Worker thread: wait for the child's endpoint and open its event stream."""
        with self._connecting:
            if self.owner is not None and self._streaming.is_set():
                return self.owner
            owner = self._find_owner()
            threading.Thread(target=self._follow, args=(owner,), name="pmax-child-events", daemon=True).start()
            if not self._streaming.wait(30):
                raise EngineProcessStopped("the engine process did not open its event stream")
            self.owner = owner  # set once its events reach this process
            if isinstance(self.feed, Schedule) and self.feed.calendar is None and not self.live:
                self._fetch_schedule(owner)
            return owner

    def _fetch_schedule(self, owner: OwnerInfo) -> None:
        import datetime as dt

        from engine.serve.client import send_control

        try:
            reply = send_control(owner, "schedule", None, self.key)
        except OwnerGoneError:
            return
        if reply.get("ok") and reply.get("sessions") is not None:
            self.feed = Schedule([dt.date.fromisoformat(d) for d in reply["sessions"]])

    def _follow(self, owner: OwnerInfo) -> None:
        import engine.serve.loopevents  # noqa: F401 - registers the child's own events before any arrives
        from engine.serve.client import follow_events

        try:
            for event in follow_events(owner, on_open=self._streaming.set):
                if owner.pid == self.pid:  # not a replaced process's last words
                    self._deliver(event)
        except OwnerGoneError:
            pass
        finally:
            self._streaming.clear()

    def _deliver(self, event: Any) -> None:
        from engine.serve.loopevents import ControlRequested, HandedOver, StepFailed

        if isinstance(event, ControlRequested):
            if self.on_control is not None:
                self.on_control(event.command)
            return
        if isinstance(event, HandedOver):
            self.handed_over = True
            self._fail(EngineProcessStopped(f"{event.requester} took the database over"))
            if self.on_handover is not None:
                self.on_handover(event.requester)
            return
        if isinstance(event, StepFailed):
            self._outcome(PmaxError(event.message, event.hint or None))
            return
        if isinstance(event, CycleCompleted):
            self.as_of = event.session
        for callback in list(self._subscribers):
            callback(event)
        if isinstance(event, FeedExhausted):
            self.exhausted = True
            self._outcome(None)
        elif isinstance(event, CycleCompleted):
            self._outcome(event)

    def _outcome(self, value: Any) -> None:
        """Events thread: the next step's outcome (an event, None, or an exception) is in."""
        with self._count:
            self._outcomes += 1
            self._last = (self._outcomes, value)
            pending = self._pending
            if pending is None or pending.step != self._outcomes:
                return  # not numbered yet (step() settles it with its reply), or abandoned
        pending.settle(value)

    def _fail(self, exc: BaseException) -> None:
        pending = self._pending
        if pending is not None:
            pending.settle(exc)

    # ----- what the app's loop calls ------------------------------------------------
    def subscribe(self, callback: Callable[[Any], None]) -> None:
        self._subscribers.append(callback)

    async def step(self) -> CycleCompleted | None:
        """Run one session in the child; None when the feed has no more sessions."""
        if self.handed_over:
            raise EngineProcessStopped("the database was handed over to a `pmax --run`")
        if not self.alive:
            self.spawn()  # started again after a crash (space or n)
        await asyncio.to_thread(self.gate.wait, 5.0)
        self.begin()
        pending = self._pending = _Awaited(asyncio.get_running_loop())
        try:
            owner = await asyncio.to_thread(self._connect)
            while True:
                reply = await asyncio.to_thread(self._send_step, owner, pending)
                if reply.get("ok") or not reply.get("busy"):
                    break
                await asyncio.sleep(BUSY_RETRY_S)  # its previous step is still publishing
            if not reply.get("ok"):
                raise EngineProcessStopped(str(reply.get("reason") or "the engine process refused to step"))
            with self._count:
                number, value = self._last
            if number == pending.step:  # its outcome came before this reply was handled
                pending.settle(value)
            return await pending.fut
        finally:
            if self._pending is pending:
                self._pending = None

    def _send_step(self, owner: OwnerInfo, pending: _Awaited) -> dict[str, Any]:
        """Worker thread: one session, please; numbered here if accepted (even if `step()` was cancelled)."""
        from engine.serve.client import send_control

        reply = send_control(owner, "step", None, self.key)
        if reply.get("ok"):
            with self._count:
                self._accepted += 1
                pending.step = self._accepted
        return reply

    def request_universe_change(
        self, add: Sequence[str] = (), remove: Sequence[str] = (), liquidate: Sequence[str] = ()
    ) -> None:
        """`Engine.request_universe_change` in the child (blocking: call it on a worker).

        Queued there for the start of its next session; a refusal (unknown ticker, a live
        fetch that failed, an engine without the API) raises PmaxError with the child's
        message and hint, as the in-process call raises.
        """
        from engine.serve.client import send_control

        owner = self.connect()
        reply = send_control(
            owner,
            "universe",
            {"add": list(add), "remove": list(remove), "liquidate": list(liquidate)},
            self.key,
            UNIVERSE_TIMEOUT_S,
        )
        if not reply.get("ok"):
            raise PmaxError(
                str(reply.get("reason") or "the engine process refused the change"), reply.get("hint") or None
            )


class _Awaited:
    """The step `step()` awaits: its future on the app's loop and, once the child accepted
    it, its number (the outcome with that number answers it)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.fut: asyncio.Future[Any] = loop.create_future()
        self.step: int | None = None

    def settle(self, value: Any) -> None:
        """Any thread: resolve the future with `value` (fail it with an exception)."""
        with contextlib.suppress(RuntimeError):  # the app's loop has closed
            self.loop.call_soon_threadsafe(self._settle, value)

    def _settle(self, value: Any) -> None:
        """On the app's loop: unless the future is done already (cancelled, or settled)."""
        if not self.fut.done():
            if isinstance(value, BaseException):
                self.fut.set_exception(value)
            else:
                self.fut.set_result(value)
