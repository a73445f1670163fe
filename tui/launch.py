"""`pmax` with no command: open the Textual app over the database.

If another pmax owns the database (`pmax --run`, or another app), the app attaches
to it as a viewer. Otherwise the app's engine runs in a child process that owns and
serves the file (`[tui] engine_process = "child"`, the default: keys never wait for
a cycle), or in the app's own process (`"inline"`, also used when `[serve] enabled =
false`, since the app then reads the child's file through its endpoint). See
`tui.served`.

Heavy modules (the engine's stages, Textual's widgets) are imported here only when
needed, so the first frame and the first data row come early.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from engine.config import Config
from engine.errors import DatabaseLockedError
from engine.serve.rendezvous import find_owner
from tui.commands.common import note, open_reader, open_store, resolve_db_path


def launch_app(config: Config, db: str | None, live: bool) -> None:
    path = resolve_db_path(db, config)
    runtime = config.serve.runtime_dir
    if find_owner(path, runtime) is None and engine_in_child(config, path):
        # The engine process replays the feed; a --data file is checked here first, so a bad
        # one fails before anything starts (the bundled sample needs no check: it starts faster).
        _run_with_child(config, path, live, _feed(config) if not live and config.replay.data else None)
        return
    feed = None if live else _feed(config)  # a bad --data file fails before anything starts
    if find_owner(path, runtime) is None:
        from tui.served import ServedApp

        try:
            store = open_store(db, config, kind="tui")
        except DatabaseLockedError:
            if find_owner(path, runtime) is None:  # held, but not by a pmax that serves it
                raise
        else:
            _run_owner(ServedApp, store, config, path, live, feed)
            return
    from tui.served import ServedApp

    reader = open_reader(db, config)
    app = ServedApp(engine=None, store=reader, config=config, db_path=path)
    try:
        app.run()
    finally:
        app.stop_following()
        reader.close()
    if app.return_code:  # the app failed (Textual printed why): say so in the exit status
        raise SystemExit(app.return_code)


def _feed(config: Config) -> object:
    from engine.runtime import build_feed

    return build_feed(config, None)


def engine_in_child(config: Config, path: Path) -> bool:
    """Whether the app's engine runs in a child process (it needs the endpoint to serve the app)."""
    return (
        config.section("tui").engine_process == "child"
        and bool(config.section("serve").enabled)
        and str(path) != ":memory:"
    )


def _run_with_child(config: Config, path: Path, live: bool, feed: object) -> None:
    from engine.serve.childproc import ChildEngine
    from engine.serve.reader import open_reader as open_file_reader

    child = ChildEngine(config, path, live=live, feed=feed)
    child.spawn()  # imports the engine while the app paints; opens the file after the first read
    reader = open_file_reader(path, config, must_exist=False)  # the child creates and migrates it
    first_read = _read_early(reader, config) if path.exists() else None
    app = None
    try:
        from tui.served import ServedApp

        app = ServedApp(engine=child, store=reader, config=config, db_path=path, child=child)
        app.first_read = first_read
        app.run()
    finally:
        if app is not None:
            app.stop_following()
        try:
            child.close("finished", say=note)
        except KeyboardInterrupt:
            child.kill()  # a second ctrl+c: the session in flight is rolled back
            raise
        finally:
            reader.close()
    if app.return_code:  # the app failed (Textual printed why): say so in the exit status
        raise SystemExit(app.return_code)


def _read_early(reader: object, config: Config) -> Future:
    """Read the watchlist on a thread now, while Textual loads: the first rows come sooner
    (without pandas, which the full read loads after the first frame)."""
    from tui.reads import read_first_rows

    tui = config.section("tui")
    watchlist = [t.upper() for t in config.data.watchlist]
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pmax-first-read")
    future = pool.submit(read_first_rows, reader.cursor, config.app.account, watchlist, tui)  # type: ignore[attr-defined]
    pool.shutdown(wait=False)
    return future


def _run_owner(app_cls: type, store: object, config: Config, path: object, live: bool, feed: object) -> None:
    from engine.runtime import build_engine

    app = None
    try:
        engine = build_engine(store, config, live=live, mode="tui", feed=feed)  # type: ignore[arg-type]
        app = app_cls(engine=engine, store=store, config=config, db_path=path)
        app.run()
        app.stop_following()
        if app.handed_over:  # the run that took the file over owns it now
            app.store.close()
            return
        if app.endpoint is not None:
            app.endpoint.close()
        engine.close("interrupted" if engine.busy else "finished")
        if app.return_code:  # the app failed (Textual printed why): say so in the exit status
            raise SystemExit(app.return_code)
        if engine.busy:
            # A cycle is still running in a worker thread. It is one transaction, so
            # leaving now loses only that session (resumed next time) instead of
            # keeping the user waiting for a refit to finish.
            sys.stdout.flush()
            os._exit(0)
    finally:
        if app is None or not app.handed_over:
            store.close()  # type: ignore[attr-defined]
