"""`pmax` with no command: build the engine and open the Textual app.

If another pmax owns the database (`pmax --run`, or another app), the app attaches
to it as a viewer instead of failing; otherwise it owns the file, runs the loop and
serves the file to other pmax processes (see `tui.served`).
"""

from __future__ import annotations

import os
import sys

from engine.config import Config
from engine.errors import DatabaseLockedError
from engine.runtime import build_engine, build_feed
from engine.serve.rendezvous import find_owner
from tui.commands.common import open_reader, open_store, resolve_db_path


def launch_app(config: Config, db: str | None, live: bool) -> None:
    from tui.served import ServedApp

    path = resolve_db_path(db, config)
    runtime = config.serve.runtime_dir
    feed = None if live else build_feed(config, None)
    if find_owner(path, runtime) is None:
        try:
            store = open_store(db, config, kind="tui")
        except DatabaseLockedError:
            if find_owner(path, runtime) is None:  # held, but not by a pmax that serves it
                raise
        else:
            _run_owner(ServedApp, store, config, path, live, feed)
            return
    reader = open_reader(db, config)
    app = ServedApp(engine=None, store=reader, config=config, db_path=path)
    try:
        app.run()
    finally:
        app.stop_following()
        reader.close()
    if app.return_code:  # the app failed (Textual printed why): say so in the exit status
        raise SystemExit(app.return_code)


def _run_owner(app_cls: type, store: object, config: Config, path: object, live: bool, feed: object) -> None:
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
