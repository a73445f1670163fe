"""The app's engine in its own process: `python -m engine.serve.loopchild`.

The terminal app (`pmax`) starts this process so that a cycle's refits never hold
the GIL the app needs to answer keys. It is the same engine as `pmax --run`
(`build_engine` over the store opened with `open_owned`), serving the file through
`StoreEndpoint` like any owner, but it runs a session only when asked:

    stdin (pickled, from the app) : {"config", "db", "live", "key"}  then  "quit"
    control "step"   (with key)   : run one session; its events (CycleCompleted,
                                    FeedExhausted, or StepFailed) come on the stream
    control "universe" (with key, or from an allowed app): forwarded to the engine's
                                    `request_universe_change(add, remove, liquidate)`
    control "schedule"            : the replay's sessions (for "N left" in the header)
    control pause/resume/step from another attached app (`[serve] allow_control`):
                                    published as ControlRequested for the app to act on

It stops when stdin says "quit" or closes (the app exited or died: no orphan), on
SIGTERM/SIGINT, or after handing the file to a `pmax --run`; in every case the
session in flight is finished and committed first. Errors before the loop starts
(locked database, bad settings) are one `pmax: …` line and a hint on stderr, exit 2.
"""

from __future__ import annotations

import asyncio
import pickle
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from engine.serve.loopevents import ControlRequested, HandedOver, StepFailed

__all__ = ["UNIVERSE_HOOK", "LoopChild", "main"]

HANDOVER_WAIT_S = 120.0
# The engine-side API that applies watchlist changes at the start of the next session.
UNIVERSE_HOOK = "request_universe_change"


class LoopChild:
    """One engine, stepped on request, serving its file until told to stop."""

    def __init__(self, config: Any, db: Path, live: bool, key: str) -> None:
        self.config, self.db, self.live, self.key = config, db, live, key
        self.store: Any = None
        self.engine: Any = None
        self.endpoint: Any = None
        self.status = "finished"
        self.handed_over = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._step: asyncio.Task[Any] | None = None
        self._stepping = threading.Event()  # set from the step request until its events are out
        self._closing = False

    # ----- life cycle -----------------------------------------------------------------
    async def serve(self) -> None:
        from engine.runtime import build_engine, build_feed
        from engine.serve.owner import open_owned
        from engine.serve.server import StoreEndpoint

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._loop.add_signal_handler(signal.SIGTERM, self.stop, "interrupted")
        feed = None if self.live else build_feed(self.config, None)
        self.store = open_owned(self.db, "tui", self.config)
        try:
            self.endpoint = StoreEndpoint.start(
                self.store,
                "tui",
                self.config,
                on_handover=self._hand_over,
                on_control=self._control,
                control_key=self.key,
            )
            self.engine = build_engine(self.store, self.config, live=self.live, mode="tui", feed=feed)
            if self.endpoint is not None:
                self.engine.subscribe(self.endpoint.publish)
            await self._stop.wait()
            if self._step is not None:
                await asyncio.gather(self._step, return_exceptions=True)  # commit the session in flight
        finally:
            self._close()

    def stop(self, status: str = "finished") -> None:
        """Stop after the session in flight (loop thread)."""
        if self._stop is not None and not self._stop.is_set():
            self.status = status
            self._stop.set()

    def stop_threadsafe(self, status: str) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.stop, status)

    def _close(self) -> None:
        self._closing = True
        if self.engine is not None and not self.handed_over:
            self.engine.close(self.status)
        if self.endpoint is not None:
            self.endpoint.close()  # waits for requests in flight (a handover's reply)
        if self.store is not None and not self.handed_over:
            self.store.close()

    # ----- steps ----------------------------------------------------------------------
    def _start_step(self) -> None:
        """Loop thread: run one session unless one is running or the process is stopping."""
        if self._stop is None or self._stop.is_set() or (self._step is not None and not self._step.done()):
            self._stepping.clear()
            return
        self._step = asyncio.ensure_future(self._run_step())

    async def _run_step(self) -> None:
        while self.engine is None:  # asked before the engine was built: wait for it
            await asyncio.sleep(0.05)
        try:
            await self.engine.step()
        except Exception as exc:  # noqa: BLE001 - the app shows it and pauses its loop
            self._publish(StepFailed(str(getattr(exc, "message", None) or exc), str(getattr(exc, "hint", "") or "")))
        finally:
            self._stepping.clear()

    def _publish(self, event: Any) -> None:
        if self.endpoint is not None:
            self.endpoint.publish(event)

    # ----- requests from the endpoint's threads ----------------------------------------
    def _control(self, command: str, args: dict[str, Any], trusted: bool) -> str | dict[str, Any]:
        if command == "universe":
            return self._universe(args)
        if command == "schedule":
            return self._schedule()
        if command not in ("pause", "resume", "step"):
            return {"ok": False, "reason": f"unknown command {command!r}"}
        if not trusted:  # another attached app: the app that started this process paces the loop
            self._publish(ControlRequested(command))
            return "sent to the app"
        if command != "step":
            return "the app paces the loop"
        if self._closing or self.handed_over or (self._stop is not None and self._stop.is_set()):
            return {"ok": False, "reason": "the engine process is stopping"}
        if self._stepping.is_set():
            return {"ok": False, "busy": True, "reason": "a session is already running"}
        self._stepping.set()
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._start_step)
        return "stepping"

    def _schedule(self) -> dict[str, Any]:
        """The replay's sessions (None: live), so the app can say how many are left."""
        deadline = time.monotonic() + 60
        while self.engine is None and time.monotonic() < deadline and not self._closing:
            time.sleep(0.05)
        if self.engine is None:
            return {"ok": False, "reason": "the engine is not built"}
        upcoming = self.engine.feed.upcoming(None)
        return {"state": "ok", "sessions": None if upcoming is None else [d.isoformat() for d in upcoming]}

    def _universe(self, args: dict[str, Any]) -> dict[str, Any]:
        hook = getattr(self.engine, UNIVERSE_HOOK, None)
        if hook is None:
            return {
                "ok": False,
                "reason": f"this engine cannot change its universe while it runs yet (no Engine.{UNIVERSE_HOOK})",
            }
        try:
            result = hook(
                add=list(args.get("add") or []),
                remove=list(args.get("remove") or []),
                liquidate=list(args.get("liquidate") or []),
            )
        except Exception as exc:  # noqa: BLE001 - a refused change is a reply, not a crash
            return {
                "ok": False,
                "reason": str(getattr(exc, "message", None) or exc),
                "hint": getattr(exc, "hint", None),
            }
        return {"state": "queued for the next session", "result": result}

    def _hand_over(self, requester: str) -> str | None:
        """A `pmax --run` asks for the file: finish the session in flight, let go, exit."""
        self._closing = True
        deadline = time.monotonic() + HANDOVER_WAIT_S
        while self._stepping.is_set() or (self.engine is not None and self.engine.busy):
            if time.monotonic() > deadline:
                self._closing = False
                return "the app is still busy with a session; try again in a minute"
            time.sleep(0.1)
        self.handed_over = True
        self._publish(HandedOver(requester))
        if self.engine is not None:
            self.engine.close("handed over")
        if self.endpoint is not None:
            self.endpoint.withdraw()
        self.store.close()
        self.stop_threadsafe("handed over")
        return None


def _read_init(stdin: BinaryIO) -> dict[str, Any] | None:
    try:
        init = pickle.load(stdin)
    except (EOFError, pickle.UnpicklingError, OSError):
        return None
    return init if isinstance(init, dict) else None


def _watch_parent(stdin: BinaryIO, child: LoopChild) -> None:
    """Stdin thread: "quit" ends the loop cleanly; EOF means the app has gone."""
    while True:
        try:
            message = pickle.load(stdin)
        except (EOFError, pickle.UnpicklingError, OSError):
            child.stop_threadsafe("interrupted")
            return
        if message == "quit":
            child.stop_threadsafe("finished")


def main() -> int:
    # Ctrl-C in the app's terminal belongs to the app; this process stops when the app says so.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import engine.runtime
    import engine.serve.server  # noqa: F401

    stdin = sys.stdin.buffer
    init = _read_init(stdin)
    if init is None:
        return 0
    child = LoopChild(init["config"], Path(init["db"]), bool(init["live"]), str(init["key"]))
    threading.Thread(target=_watch_parent, args=(stdin, child), name="pmax-parent", daemon=True).start()
    from engine.errors import PmaxError

    try:
        asyncio.run(child.serve())
    except PmaxError as error:
        print(f"pmax: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"  hint: {error.hint}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
