"""`pmax` with no command: build the engine and open the Textual app."""

from __future__ import annotations

from engine.config import Config
from engine.runtime import build_engine, build_feed
from tui.commands.common import open_store


def launch_app(config: Config, db: str | None, live: bool) -> None:
    from tui.app import PmaxApp

    feed = None if live else build_feed(config, None)
    store = open_store(db, config)
    try:
        engine = build_engine(store, config, live=live, mode="tui", feed=feed)
        PmaxApp(engine=engine, store=store, config=config).run()
    finally:
        store.close()
