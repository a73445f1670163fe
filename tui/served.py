"""The app as the owner of its database, or as a viewer attached to the owner.

Engine process (the default, `[tui] engine_process = "child"`): the app's engine runs
in a child process (`engine.serve.childproc.ChildEngine`) that owns and serves the
file; the app reads through its endpoint and paces it step by step (space, n), so a
cycle never holds the GIL the app needs to answer keys. The child finishes its
session and exits when the app quits or dies; if it crashes the app says why and
starts it again on the next space or n. It hands the file to a `pmax --run` like the
in-process owner below, and the app then follows the run.

In-process owner (`engine_process = "inline"`): the app runs the engine and serves the
file (`engine.serve.StoreEndpoint`) so `pmax ask`, `validate` and `data check` attach
to it. When a `pmax --run` asks for
the file (a scheduled run), the app hands it over if `[serve] yield_to_run`: it lets
the cycle in flight finish, stops its loop, closes its store and from then on
follows the run like an attached viewer. With `allow_control`, attached apps may
pause, resume and step this app's loop.

Attached: another pmax owns the file. The app reads through the owner's endpoint,
follows its event stream (a new session shows up as soon as it commits), and says
`attached to pmax --run (pid N)` in the status bar. When the owner stops or dies,
the app keeps showing the file (read directly) and attaches again to the next owner.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import OwnerGoneError
from engine.serve.reader import open_reader
from engine.serve.rendezvous import OwnerInfo, find_owner
from tui.app import PmaxApp
from tui.messages import EngineEvent

if TYPE_CHECKING:  # the endpoint and its client load pyarrow: imported when first used
    from engine.serve.server import StoreEndpoint

__all__ = ["ServedApp"]

HANDOVER_WAIT_S = 120.0
FOLLOW_RETRY_S = 1.0
CHILD_GATE_MAX_S = 2.0


class _Source:
    """The store the app reads now; swapped when the app hands the file over."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def cursor(self) -> Any:
        return self.store.cursor()


class ServedApp(PmaxApp):
    """`PmaxApp` that serves its store as owner, or follows the owner when attached."""

    def __init__(
        self, *, engine: Any, store: Any, config: Any, db_path: Path, child: Any = None, **kwargs: Any
    ) -> None:
        self.source = _Source(store)
        super().__init__(engine=engine, store=store, config=config, cursor_factory=self.source.cursor, **kwargs)
        self.db_path = db_path
        self.runtime = config.serve.runtime_dir
        self.endpoint: StoreEndpoint | None = None
        self.owner: OwnerInfo | None = None
        self.handed_over = False
        self.child = child  # a ChildEngine (also self.engine) when the engine runs in a child process
        self.first_read: Any = None  # a store read tui.launch starts before Textual loads; the first refresh takes it
        self._stop_following = threading.Event()
        if child is not None:
            child.gate.clear()  # the child opens the file once the first read is painted
            child.on_control = self._child_control
            child.on_handover = lambda requester: self._from_thread(self._child_handed_over, requester)
            child.on_exit = lambda message: self._from_thread(self._child_stopped, message)

    # ----- owner ----------------------------------------------------------------------
    def on_mount(self) -> None:
        super().on_mount()
        if self.child is not None:
            self._gate_since = time.monotonic()
            self._gate_timer = self.set_interval(0.05, self._open_gate)
            self._start_following()
        elif self.engine is not None:
            from engine.serve.server import StoreEndpoint

            self.endpoint = StoreEndpoint.start(
                self.store, "tui", self.config, on_handover=self._hand_over, on_control=self._control
            )
            if self.endpoint is not None:
                self.engine.subscribe(self.endpoint.publish)
        else:
            self._start_following()

    def _hand_over(self, requester: str) -> str | None:
        """Endpoint thread: let go of the file for `requester`; None when done."""
        self.call_from_thread(self._stop_loop, requester)
        deadline = time.monotonic() + HANDOVER_WAIT_S
        while self.engine is not None and (self.engine.busy or self._stepping):
            if time.monotonic() > deadline:
                return "the app is still busy with a session; try again in a minute"
            time.sleep(0.1)
        engine, store = self.engine, self.store
        reader = open_reader(self.db_path, self.config)
        self.call_from_thread(self._become_viewer, reader)
        while self._refreshing and time.monotonic() < deadline:
            time.sleep(0.05)
        if engine is not None:
            engine.close("handed over")
        if self.endpoint is not None:
            self.endpoint.withdraw()
            threading.Thread(target=self.endpoint.close, daemon=True).start()
        store.close()
        self.call_from_thread(self._start_following)
        return None

    def _stop_loop(self, requester: str) -> None:
        self.paused = True
        self._finished = True
        self.notify(
            f"{requester} asked for the database: handing it over, then following it.", title="Handing over", timeout=10
        )
        self._show_status()

    def _become_viewer(self, reader: Any) -> None:
        self.source.store = reader
        self.store = reader
        self.engine = None
        self.handed_over = True
        self._show_status()

    def _control(self, command: str, args: dict[str, Any], trusted: bool) -> str | dict[str, Any]:
        """Endpoint thread: an attached app asks this app's loop to pause, resume or step,
        or its engine to change the universe."""
        if command == "universe":
            return self._call_universe_hook(args)
        actions = {"pause": self.action_pause, "resume": self.action_resume, "step": self.action_step}
        if command in actions:
            self.call_from_thread(actions[command])
        return self.call_from_thread(self._loop_state)

    def _from_thread(self, fn: Any, *args: Any) -> None:
        """Run `fn` on the UI thread from another thread; nothing once the app has stopped."""
        with contextlib.suppress(RuntimeError):  # the app's loop is gone (quitting)
            self.call_from_thread(fn, *args)

    # ----- the engine process ---------------------------------------------------------
    def _open_gate(self) -> None:
        """Let the child open the file once the first read is applied (or after 2 s)."""
        first_read_done = not self._dirty and not self._refreshing
        if first_read_done or time.monotonic() - self._gate_since > CHILD_GATE_MAX_S:
            self._gate_timer.stop()
            self.child.gate.set()
            self.run_worker(self._connect_child, thread=True, group="child", exit_on_error=False)

    def _connect_child(self) -> None:
        """Worker: the child opens the file and serves it; the header learns the sessions left."""
        self.child.connect()  # a child that dies here is reported by its exit watcher
        self._from_thread(self._show_status)

    def _child_control(self, command: str) -> None:
        """Child-events thread: another attached app asked to pause, resume or step."""
        with contextlib.suppress(RuntimeError):  # the app is quitting
            self._control(command, {}, True)

    def _child_handed_over(self, requester: str) -> None:
        self._stop_loop(requester)
        self._become_viewer(self.store)

    def _child_stopped(self, message: str) -> None:
        """The engine process stopped between steps (a step in flight reports it itself)."""
        self.notify(
            message + "\nPress space or n to start it again.", title="Engine stopped", severity="error", timeout=15
        )
        self.paused = True
        self._show_status()

    # ----- attached -------------------------------------------------------------------
    def _start_following(self) -> None:
        self._stop_following.clear()
        threading.Thread(target=self._follow, name="pmax-follow", daemon=True).start()

    def _follow(self) -> None:
        """Follow whoever owns the file: events become EngineEvent messages."""
        while not self._stop_following.is_set():
            owner = find_owner(self.db_path, self.runtime)
            if owner is None or owner.pid == os.getpid() or (self.child is not None and owner.pid == self.child.pid):
                time.sleep(FOLLOW_RETRY_S)
                continue
            self.call_from_thread(self._attached, owner)
            gone = ""
            from engine.serve.client import follow_events

            try:
                for event in follow_events(owner):
                    if self._stop_following.is_set():
                        return
                    if type(event).__name__ != "CycleStarted":  # nothing new to read before a commit
                        self.post_message(EngineEvent(event))
                gone = f"{owner.label} has stopped; showing the database as it left it."
            except OwnerGoneError:
                gone = f"{owner.label} went away (killed?); showing the database as it left it."
            if self._stop_following.is_set():
                return
            self.call_from_thread(self._detached, gone)
            time.sleep(FOLLOW_RETRY_S)

    def _attached(self, owner: OwnerInfo) -> None:
        self.owner = owner
        self.paused = True
        self.notify(f"Attached to {owner.label}: following its sessions as they commit.", timeout=6)
        self._dirty = True
        self._show_status()

    def _detached(self, message: str) -> None:
        self.owner = None
        self.notify(message, severity="warning", timeout=10)
        self._dirty = True
        self._show_status()

    def _loop_state(self) -> str:
        if self.engine is None and self.owner is not None:
            return f"attached to {self.owner.label}"
        return super()._loop_state()

    def action_pause(self) -> None:
        if self._remote_control("pause"):
            return
        super().action_pause()

    def action_resume(self) -> None:
        if self._remote_control("resume"):
            return
        super().action_resume()

    def action_step(self) -> None:
        if self._remote_control("step"):
            return
        super().action_step()

    def _remote_control(self, command: str) -> bool:
        """Attached: send `command` to the owner (if it allows that). False when not attached."""
        owner = self.owner
        if self.engine is not None or owner is None:
            return False
        if not owner.allow_control:
            self.notify(
                f"{owner.label} does not take commands from attached apps "
                "(set [serve] allow_control = true where it runs).",
                severity="warning",
            )
            return True
        self.run_worker(lambda: self._send(owner, command), thread=True, group="control", exit_on_error=False)
        return True

    def _send(self, owner: OwnerInfo, command: str) -> None:
        from engine.serve.client import send_control

        try:
            reply = send_control(owner, command)
        except OwnerGoneError as exc:
            self.call_from_thread(self.notify, exc.message, severity="error")
            return
        text = f"{owner.label}: {reply.get('state') or reply.get('reason')}"
        if reply.get("ok"):
            self.paused = reply.get("state") != "running"
        self.call_from_thread(self.notify, text, timeout=4)

    def _call_universe_hook(self, args: dict[str, list[str]]) -> dict[str, Any]:
        owner = self.owner
        if self.engine is None and owner is not None:  # attached: the owner decides ([serve] allow_control)
            from engine.serve.client import send_control

            try:
                return send_control(owner, "universe", args)
            except OwnerGoneError as exc:
                return {"ok": False, "reason": exc.message}
        return super()._call_universe_hook(args)

    def stop_following(self) -> None:
        self._stop_following.set()
