"""The owner's life cycle seen by readers: killed mid-stream, finished, handed over.

Real processes only: `pmax --run` subprocesses own the file; readers are the
library's reader and event stream, `pmax data check` (its entry point called in this
process once the owner has gone: `call_pmax`), and the app (Pilot).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from pmax_cli import FAST, FAST_CONFIG
from test_serve_readers import Owner, _config

from engine.errors import OwnerGoneError
from engine.serve.client import follow_events
from engine.serve.reader import open_reader
from engine.serve.rendezvous import find_owner, owner_paths

if TYPE_CHECKING:
    from textual.pilot import Pilot


def _check(run: Owner) -> Any:
    """`pmax data check --json` on the run's file, with the run's settings (in this process)."""
    return run.read("data", "check", "--db", str(run.db), "--json")


def test_owner_killed_mid_stream_readers_say_so_then_read_the_file(tmp_path: Path, runtime: str) -> None:
    run = Owner(tmp_path / "killed.duckdb", runtime)
    try:
        run.wait_sessions(2)
        info = find_owner(run.db, runtime)
        assert info is not None
        reader = open_reader(run.db, _config(runtime))
        notes: list[str] = []
        reader._route.announce = notes.append
        assert reader.attached == info
        errors: list[OwnerGoneError] = []
        got_one = threading.Event()

        def follow() -> None:
            try:
                for _event in follow_events(info):
                    got_one.set()
            except OwnerGoneError as exc:
                errors.append(exc)

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        assert got_one.wait(60)
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait()
        follower.join(30)
        assert errors and f"pmax --run (pid {info.pid}) went away" in errors[0].message

        # The same reader carries on from the file, and says why.
        rows = reader.con.execute("SELECT count(*) FROM cycles").fetchall()[0][0]
        assert rows >= 2 and reader.attached is None
        assert notes == [f"pmax --run (pid {info.pid}) has stopped; reading {run.db} directly"]
        reader.close()
        assert find_owner(run.db, runtime) is None
        assert not owner_paths(run.db, runtime)[0].exists()  # the stale owner file is gone

        check = _check(run)
        assert check.returncode == 0 and "attached" not in check.stderr
    finally:
        run.stop()


def test_a_finished_run_withdraws_and_readers_use_the_file(tmp_path: Path, runtime: str) -> None:
    run = Owner(tmp_path / "short.duckdb", runtime, until="2016-01-06")
    try:
        assert run.proc.wait(300) == 0, "".join(run.stderr)
    finally:
        run.stop()
    assert find_owner(run.db, runtime) is None and not any(Path(runtime).iterdir())
    check = _check(run)
    assert check.returncode == 0 and "attached" not in check.stderr
    # A second run is not kept out by a reader that read the file a moment ago.
    again = run.pmax("--run", "--cycles", "1", "--db", str(run.db))
    assert again.returncode == 0, again.stderr


async def _wait(pilot: Pilot[Any], cond: Callable[[], bool], timeout: float = 240.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.05)  # a poll, not a wait (a finer one only costs CPU)
    return True


async def test_attached_app_follows_a_running_owner(tmp_path: Path, runtime: str) -> None:
    from test_tui_support import test_config

    from tui.served import ServedApp

    run = Owner(tmp_path / "followed.duckdb", runtime)
    try:
        run.wait_sessions(2)
        config = test_config(tmp_path, **{"serve.runtime_dir": runtime})
        reader = open_reader(run.db, config)
        app = ServedApp(engine=None, store=reader, config=config, db_path=run.db)
        async with app.run_test(size=(120, 40)) as pilot:
            assert await _wait(pilot, lambda: app.owner is not None and app.as_of is not None)
            first = app.as_of
            assert first is not None
            status = str(app.query_one("#status").render())
            assert f"attached to pmax --run (pid {run.proc.pid})" in status
            # New sessions show up as the run commits them, without a key press.
            assert await _wait(
                pilot,
                lambda: (
                    app.as_of is not None
                    and app.as_of > first
                    and app.snapshot is not None
                    and app.snapshot.as_of == app.as_of
                ),
            )
            # The owner does not take commands unless it says so ([serve] allow_control).
            await pilot.press("space")
            await pilot.pause()  # the key is handled once the app is idle
            assert run.proc.poll() is None and app.engine is None
            os.kill(run.proc.pid, signal.SIGKILL)
            run.proc.wait()
            assert await _wait(pilot, lambda: app.owner is None, 30)
            assert "view only" in str(app.query_one("#status").render())
        app.stop_following()
        reader.close()
    finally:
        run.stop()


async def test_idle_app_hands_the_file_to_a_scheduled_run(tmp_path: Path, runtime: str) -> None:
    import subprocess
    import sys

    from test_tui_support import test_config

    from engine.runtime import build_engine, build_feed
    from tui.commands.common import open_store
    from tui.served import ServedApp

    db = tmp_path / "app.duckdb"
    config = test_config(
        tmp_path, **{"serve.runtime_dir": runtime, "data.watchlist": ["AAPL", "MSFT", "XOM"]}, **FAST_CONFIG
    )
    store = open_store(str(db), config, kind="tui")
    engine = build_engine(store, config, mode="tui", feed=build_feed(config, None))
    app = ServedApp(engine=engine, store=store, config=config, db_path=db)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await _wait(pilot, lambda: app.endpoint is not None, 10)
        owner = find_owner(db, runtime)
        assert app.paused and owner is not None and owner.kind == "tui"
        env = os.environ.copy()
        env.update({"PMAX_DATA__WATCHLIST": "AAPL,MSFT,XOM", "PMAX_SERVE__RUNTIME_DIR": runtime, **FAST})
        proc = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "--run", "--cycles", "2", "--db", str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert await _wait(pilot, lambda: proc.poll() is not None)
        err = proc.stderr.read() if proc.stderr else ""
        assert proc.returncode == 0, err
        assert f"the pmax app (pid {os.getpid()}) handed the database over" in err
        assert app.handed_over and app.engine is None
        # The app now shows what the run wrote, reading the file it let go of.
        app.action_refresh()
        assert await _wait(pilot, lambda: app.snapshot is not None and app.snapshot.sessions == 2, 30)
    app.stop_following()
    app.store.close()
    assert find_owner(db, runtime) is None


async def test_owning_app_takes_loop_commands_only_when_allowed(tmp_path: Path, runtime: str) -> None:
    from test_tui_support import test_config

    from engine.runtime import build_engine, build_feed
    from engine.serve.client import send_control
    from tui.commands.common import open_store
    from tui.served import ServedApp

    for allowed in (False, True):
        db = tmp_path / f"ctl{int(allowed)}.duckdb"
        config = test_config(
            tmp_path,
            **{"serve.runtime_dir": runtime, "serve.allow_control": allowed, "data.watchlist": ["AAPL", "MSFT", "XOM"]},
            **FAST_CONFIG,
        )
        store = open_store(str(db), config, kind="tui")
        engine = build_engine(store, config, mode="tui", feed=build_feed(config, None))
        app = ServedApp(engine=engine, store=store, config=config, db_path=db)
        async with app.run_test(size=(120, 40)) as pilot:
            assert await _wait(pilot, lambda: app.endpoint is not None, 10)  # noqa: B023 - awaited here
            owner = find_owner(db, runtime)
            assert owner is not None and owner.allow_control is allowed
            reply = await asyncio.to_thread(send_control, owner, "step")
            if not allowed:
                assert reply == {
                    "ok": False,
                    "reason": f"{owner.label} does not take commands ([serve] allow_control = false)",
                }
                await pilot.pause()  # idle: a step, had one been taken, would have started
                assert engine.as_of is None and not engine.busy
            else:
                assert reply["ok"] is True
                assert await _wait(pilot, lambda: engine.as_of is not None, 120)  # noqa: B023 - awaited here
                assert app.paused
            await _wait(pilot, lambda: not engine.busy and not app._refreshing, 60)  # noqa: B023 - awaited here
        assert app.endpoint is not None
        app.endpoint.close()
        for _ in range(50):  # a refresh worker may still be taking a cursor as the app exits
            try:
                store.close()
                break
            except duckdb.Error:
                await asyncio.sleep(0.1)
