"""`pmax` with no command: build the engine and open the Textual app."""

from __future__ import annotations

import os
import sys

from engine.config import Config
from engine.runtime import build_engine, build_feed
from tui.commands.common import open_store


def launch_app(config: Config, db: str | None, live: bool) -> None:
    from tui.app import PmaxApp

    feed = None if live else build_feed(config, None)
    store = open_store(db, config)
    try:
        engine = build_engine(store, config, live=live, mode="tui", feed=feed)
        app = PmaxApp(engine=engine, store=store, config=config)
        app.run()
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
        store.close()
