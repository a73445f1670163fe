"""Builds an engine from settings: the feed (replay or live), device and stages.

Shared by the headless runner and the TUI so both run the very same loop.
"""

from __future__ import annotations

from pathlib import Path

from engine.config import Config
from engine.feeds import Feed, ReplayFeed
from engine.loop import Engine
from engine.store import Store


def build_feed(config: Config, store: Store | None, live: bool = False) -> Feed:
    """The replay feed on the configured file, or the live feed on the exchange calendar."""
    watchlist = list(config.data.watchlist) or None
    if live:
        from engine.data.live import LiveFeed

        return LiveFeed(store, config)
    path = Path(config.replay.data) if config.replay.data else None
    return ReplayFeed(path, start=config.replay.start, tickers=watchlist)


def select_device_name(config: Config) -> str:
    """The compute device the config asks for ("cpu" unless CUDA is chosen or found), seeded."""
    from engine.device import device_from_config

    return device_from_config(config).name


def build_engine(
    store: Store, config: Config, live: bool = False, mode: str | None = None, feed: Feed | None = None
) -> Engine:
    """An engine over `store`; `feed` may be built beforehand (to check input before opening the store)."""
    feed = feed or build_feed(config, store, live)
    return Engine(store, config, feed, device=select_device_name(config), mode=mode or ("live" if live else "replay"))
