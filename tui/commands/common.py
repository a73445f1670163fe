"""Helpers every `pmax` subcommand shares, so errors look the same everywhere."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from engine.config import Config, load_config, user_data_dir
from engine.errors import PmaxError
from engine.store import Store


def load_cli_config(config_path: str | None, overrides: Mapping[str, Any] | None = None,
                    log_to_stderr: bool = True) -> Config:
    """The merged config for this invocation (ConfigError, exit 2, on any bad setting).

    `load_config` runs every rule itself (engine.config_rules), whatever was imported.
    With `log_to_stderr` (not in the TUI, which owns the terminal), log records at
    `[app] log_level` and above go to stderr as `pmax: …` lines.
    """
    config = load_config(Path(config_path) if config_path else None, overrides=overrides)
    if log_to_stderr:
        configure_logging(config.app.log_level)
    return config


def configure_logging(level: str) -> None:
    """Send log records at `level` ("debug" … "error") and above to stderr, one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pmax: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    wanted = getattr(logging, level.upper())
    root.setLevel(max(wanted, logging.WARNING))  # libraries: warnings and errors only
    for name in ("pmax", "engine", "copilot", "tui"):
        logging.getLogger(name).setLevel(wanted)


def resolve_db_path(db: str | None, config: Config) -> Path:
    """--db, else [app] db_path, else the user data directory."""
    if db:
        return Path(db).expanduser()
    if config.app.db_path:
        return Path(config.app.db_path).expanduser()
    return user_data_dir() / "pmax.duckdb"


def open_store(db: str | None, config: Config, read_only: bool = False) -> Store:
    """Open the store this invocation works on; DatabaseLockedError if another process holds it.

    A database a newer pmax wrote is refused read-only too (writers check on migrate).
    """
    store = Store.open(resolve_db_path(db, config), read_only=read_only)
    if read_only:
        from engine.store.migrate import check_not_newer

        try:
            check_not_newer(store.con)
        except BaseException:
            store.close()
            raise
    return store


def fail(error: PmaxError) -> NoReturn:
    """Print a PmaxError as one line (plus its hint) on stderr and exit with its code."""
    print(f"pmax: {error.message}", file=sys.stderr)
    if error.hint:
        print(f"  hint: {error.hint}", file=sys.stderr)
    raise SystemExit(error.exit_code)
