"""The app's engine in its own process (`[tui] engine_process = "child"`, the default).

Real processes only: the engine process is `engine.serve.loopchild` over a temporary
database filled from the bundled sample; the app is `ServedApp` under Pilot, or the
real `pmax` command in a pseudo-terminal. Proves that keys are handled while a
session runs in the engine process, that quitting lets the session in flight commit
and the process exit, that killing the app stops it too (no orphan), and that a
crashed engine process is reported and started again (going on from the sessions
the killed one committed).

Every engine process runs the cheap models only (`FAST_CONFIG`): what is proved here is
process behaviour, not forecasting. A session is kept "in flight" for as long as a test
needs by freezing the engine process (SIGSTOP) the moment its session has started; no
CycleCompleted of that session before the thaw proves the freeze fell inside it. (A freeze
can also land before the process's "stepping" reply has left it, so the session's outcome
may reach the app first: `ChildEngine` handles both orders, see test_child_steps.py.)
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pmax_cli import FAST
from pmax_cli import FAST_CONFIG as FAST_OVERRIDES
from test_tui_support import test_config

from engine.config import load_config
from engine.serve.childproc import ChildEngine
from engine.serve.reader import open_reader
from engine.serve.rendezvous import find_owner
from engine.store import connect
from tui.panes.watchlist import WatchlistPane
from tui.served import ServedApp

FEW = ["AAPL", "MSFT", "XOM"]


def _children() -> set[int]:
    """This process's live child processes, as `pgrep -P` lists them."""
    out = subprocess.run(["pgrep", "-P", str(os.getpid())], check=False, capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def _sessions(db: Path) -> int:
    con = connect(str(db), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM cycles").fetchall()[0][0])
    finally:
        con.close()


async def _until(pilot: Any, cond: Callable[[], bool], timeout: float = 240.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.05)
    return True


async def _forecast_reads_drawn(pilot: Any, app: ServedApp) -> None:
    """Let the forecast reads the keys started (queued behind the frozen process) land before
    the app closes: one landing while Pilot tears the panes down raises NoMatches in
    `on_forecast_loaded` (tui/refresh.py, which does not guard it yet)."""
    await pilot.pause(0.2)  # past the selection's debounce, so its read has started
    assert await _until(pilot, lambda: all(w.is_finished for w in app.workers if w.group == "forecast"), 60)
    await pilot.pause(0.1)  # and its ForecastLoaded is handled


def _config(tmp_path: Path, runtime: str, **more: Any) -> Any:
    """Test settings with the cheap models only, over FEW names, serving from `runtime`."""
    return test_config(tmp_path, **FAST_OVERRIDES, **{"serve.runtime_dir": runtime, "data.watchlist": FEW, **more})


def _open(tmp_path: Path, runtime: str, db: Path) -> tuple[ServedApp, ChildEngine, Any]:
    config = _config(tmp_path, runtime)
    child = ChildEngine(config, db)
    child.spawn()
    reader = open_reader(db, config, must_exist=False)
    return ServedApp(engine=child, store=reader, config=config, db_path=db, child=child), child, reader


class _Freezer:
    """Subscribed to the engine process: once armed, freezes it (SIGSTOP) as its next
    session starts, so that session stays in flight until `thaw()`."""

    def __init__(self, child: ChildEngine) -> None:
        self.child = child
        self.armed = False
        self.started: list[Any] = []
        self.completed: list[Any] = []
        self.frozen_at: float | None = None
        child.subscribe(self._on_event)

    def _on_event(self, event: Any) -> None:
        name = type(event).__name__
        if name == "CycleStarted":
            self.started.append(event)
            if self.armed and self.child.pid is not None:  # on the thread that delivers events
                os.kill(self.child.pid, signal.SIGSTOP)
                self.frozen_at = time.monotonic()
                self.armed = False
        elif name == "CycleCompleted":
            self.completed.append(event)

    def thaw(self) -> float:
        """Let the engine process go on; how long it was frozen (s)."""
        assert self.frozen_at is not None and self.child.pid is not None
        held = time.monotonic() - self.frozen_at
        os.kill(self.child.pid, signal.SIGCONT)
        self.frozen_at = None
        return held


async def test_keys_answer_while_a_session_runs_and_another_app_paces_it_through_the_app(
    tmp_path: Path, runtime: str
) -> None:
    """Keys are handled while the engine process runs a session; with `[serve] allow_control`,
    another attached app's step / resume / pause reach this app's loop (one app, one engine)."""
    from engine.serve.client import send_control

    db = tmp_path / "keys.duckdb"
    config = _config(tmp_path, runtime, **{"serve.allow_control": True})
    child = ChildEngine(config, db)
    child.spawn()
    reader = open_reader(db, config, must_exist=False)
    app = ServedApp(engine=child, store=reader, config=config, db_path=db, child=child)
    freezer = _Freezer(child)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            assert app.paused and app.engine is child and child.pid in _children()
            assert await _until(pilot, lambda: child.owner is not None, 120)
            owner = child.owner
            assert owner is not None
            # Another app's step: the first session, which fills the Watchlist.
            assert (await asyncio.to_thread(send_control, owner, "step")) == {"ok": True, "state": "sent to the app"}
            assert await _until(pilot, lambda: app.as_of is not None and not child.busy)
            assert app.paused
            assert await _until(pilot, lambda: len(app.query_one(WatchlistPane)._shown) == len(FEW), 60)
            table = app.query_one(WatchlistPane).primary()
            # A warm session takes a fraction of a second: the freeze may land after it ended
            # (its CycleCompleted then arrives before the thaw); try the next session then.
            for _attempt in range(5):
                await pilot.press("k", "k")
                assert table.cursor_row == 0
                done = len(freezer.completed)
                freezer.armed = True
                await pilot.press("n")
                assert await _until(pilot, lambda: freezer.frozen_at is not None, 60)
                rows = []
                for key in ("j", "j", "k"):
                    await pilot.press(key)
                    rows.append(table.cursor_row)
                busy, state = child.busy, app._loop_state()
                inside = len(freezer.completed) == done  # nothing of this session came back yet
                freezer.thaw()
                assert await _until(pilot, lambda: not child.busy)
                if inside:
                    break
            else:
                pytest.fail("five sessions in a row ended before the engine process was frozen")
            # Handled while the session was still running in the engine process.
            assert busy and rows == [1, 2, 1]
            assert state == "stepping"
            assert app.as_of == freezer.started[-1].session == freezer.completed[-1].session
            # Another app resumes and pauses this app's loop.
            await asyncio.to_thread(send_control, owner, "resume")
            assert await _until(pilot, lambda: not app.paused, 10)
            await asyncio.to_thread(send_control, owner, "pause")
            assert await _until(pilot, lambda: app.paused, 10)
            assert await _until(pilot, lambda: not child.busy)
            await _forecast_reads_drawn(pilot, app)
    finally:
        if freezer.frozen_at is not None:
            freezer.thaw()
        app.stop_following()
        assert child.close() == 0
        reader.close()
    assert child.pid not in _children()
    assert _sessions(db) == len(freezer.completed) >= 2


async def test_quit_lets_the_session_in_flight_commit_and_the_process_exit(tmp_path: Path, runtime: str) -> None:
    db = tmp_path / "quit.duckdb"
    app, child, reader = _open(tmp_path, runtime, db)
    freezer = _Freezer(child)
    freezer.armed = True
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        assert await _until(pilot, lambda: freezer.frozen_at is not None, 120)
        await pilot.press("q")  # quit while the first session is in flight (frozen mid-way)
        assert child.busy
    app.stop_following()
    pid = child.pid
    assert pid in _children()
    freezer.thaw()
    assert child.close() == 0  # the app's launcher waits like this after the app has closed
    reader.close()
    assert pid not in _children() and _gone(pid)
    assert _sessions(db) == 1  # the session in flight was committed, not lost
    con = connect(str(db), read_only=True)
    assert con.execute("SELECT status, sessions FROM runs").fetchall() == [("finished", 1)]
    con.close()
    assert find_owner(db, runtime) is None


async def test_a_crashed_engine_process_is_reported_and_started_again(tmp_path: Path, runtime: str) -> None:
    db = tmp_path / "crash.duckdb"
    app, child, reader = _open(tmp_path, runtime, db)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            assert await _until(pilot, lambda: child.owner is not None, 120)
            await pilot.press("n")  # one session, committed by the process about to be killed
            assert await _until(pilot, lambda: app.as_of is not None and not child.busy)
            before, first = app.as_of, child.pid
            assert before is not None
            assert first is not None
            os.kill(first, signal.SIGKILL)
            assert await _until(pilot, lambda: any(e.title == "Engine stopped" for e in app.event_log), 30)
            entry = next(e for e in app.event_log if e.title == "Engine stopped")
            assert f"the engine process (pid {first}) was killed by signal 9" in entry.message
            assert "Press space or n to start it again" in entry.message and app.paused
            await pilot.press("n")
            assert await _until(pilot, lambda: app.as_of is not None and app.as_of > before and not child.busy)
            assert child.pid != first and child.alive
            await _universe_change_reaches_the_engine(child)
    finally:
        app.stop_following()
        assert child.close() == 0
        reader.close()
    assert _sessions(db) == 2  # the new process went on from the session the killed one committed


async def _universe_change_reaches_the_engine(child: ChildEngine) -> None:
    """A watchlist change goes to the engine process's `Engine.request_universe_change`."""
    from engine.errors import PmaxError
    from engine.loop import Engine

    if hasattr(Engine, "request_universe_change"):
        await asyncio.to_thread(child.request_universe_change, remove=["XOM"])  # queued, no error
        with pytest.raises(PmaxError):  # the engine refuses what the data does not hold
            await asyncio.to_thread(child.request_universe_change, add=["ZZZZ"])
    else:  # the engine API is not there yet: the refusal says which call is missing
        with pytest.raises(PmaxError, match=r"no Engine\.request_universe_change"):
            await asyncio.to_thread(child.request_universe_change, add=["MSFT"])


def _pmax_in_pty(db: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "--db", str(db)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    return proc, master


def _drain(master: int, until: Callable[[bytes], bool], timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while not until(seen) and time.monotonic() < deadline:
        if select.select([master], [], [], 0.05)[0]:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    return seen


@pytest.mark.parametrize("how", ["quit", "kill"])
def test_the_engine_process_ends_with_the_app(tmp_path: Path, runtime: str, how: str) -> None:
    """The real `pmax` in a terminal: `q`, or the app killed with SIGKILL, leaves no engine process."""
    db = tmp_path / f"{how}.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMAX_")}
    env.update(
        {
            "TERM": "xterm-256color",
            "PMAX_DATA__WATCHLIST": ",".join(FEW),
            "PMAX_SERVE__RUNTIME_DIR": runtime,
            "PMAX_TUI__START_PAUSED": "false",
            "PMAX_REPLAY__INTERVAL_S": "1",  # one session, then idle until the test acts
            **FAST,
        }
    )
    proc, master = _pmax_in_pty(db, env)
    try:
        _drain(master, lambda _b: find_owner(db, runtime) is not None, 120)
        owner = find_owner(db, runtime)
        assert owner is not None and owner.kind == "tui" and owner.pid != proc.pid
        kids = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], check=False, capture_output=True, text=True
        ).stdout.split()
        assert str(owner.pid) in kids  # the engine process is the app's child
        _drain(master, _served_sessions(db, runtime), 240)
        if how == "quit":
            os.write(master, b"q")
            out = _drain(master, lambda _b: proc.poll() is not None, 120)
            assert proc.wait(5) == 0, out[-500:]
        else:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        deadline = time.monotonic() + 120  # it finishes the session in flight first
        while not _gone(owner.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(owner.pid), f"engine process {owner.pid} outlived the app ({how})"
        assert find_owner(db, runtime) is None
        con = connect(str(db), read_only=True)
        status = con.execute("SELECT status FROM runs").fetchall()
        con.close()
        assert status == [("finished" if how == "quit" else "interrupted",)]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(master)


def _served_sessions(db: Path, runtime: str) -> Callable[[bytes], bool]:
    """A check for `_drain`: at least one session committed (read through the owner, twice a second)."""
    last = [0.0]

    def check(_seen: bytes) -> bool:
        if time.monotonic() - last[0] < 0.5:
            return False
        last[0] = time.monotonic()
        reader = open_reader(db, load_config(overrides={"serve.runtime_dir": runtime}))
        try:
            return int(reader.con.execute("SELECT count(*) FROM cycles").fetchall()[0][0]) >= 1
        finally:
            reader.close()

    return check


def test_engine_process_is_the_default_and_inline_remains_a_setting(tmp_path: Path) -> None:
    from tui.launch import engine_in_child

    db = tmp_path / "x.duckdb"
    assert engine_in_child(test_config(tmp_path), db)
    assert not engine_in_child(test_config(tmp_path, **{"tui.engine_process": "inline"}), db)
    assert not engine_in_child(test_config(tmp_path, **{"serve.enabled": False}), db)  # it serves the app


async def test_the_engine_process_hands_the_file_to_a_scheduled_run(tmp_path: Path, runtime: str) -> None:
    db = tmp_path / "handover.duckdb"
    app, child, reader = _open(tmp_path, runtime, db)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            assert await _until(pilot, lambda: child.owner is not None, 120)
            env = {k: v for k, v in os.environ.items() if not k.startswith("PMAX_")}
            env.update({"PMAX_DATA__WATCHLIST": ",".join(FEW), "PMAX_SERVE__RUNTIME_DIR": runtime, **FAST})
            run = subprocess.Popen(
                [sys.executable, "-m", "tui.cli", "--run", "--cycles", "2", "--db", str(db)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            assert await _until(pilot, lambda: run.poll() is not None)
            err = run.stderr.read() if run.stderr else ""
            assert run.returncode == 0, err
            assert f"the pmax app (pid {child.pid}) handed the database over" in err
            assert await _until(pilot, lambda: app.handed_over and app.engine is None, 30)
            assert any(e.title == "Handing over" for e in app.event_log)
            assert await _until(pilot, lambda: not child.alive, 30)
            app.action_refresh()
            assert await _until(pilot, lambda: app.snapshot is not None and app.snapshot.sessions == 2, 30)
    finally:
        app.stop_following()
        child.close()
        reader.close()
    assert child.pid not in _children()
