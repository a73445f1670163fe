"""Helpers every `pmax` subcommand shares, so errors look the same everywhere."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from engine.config import Config, load_config, user_data_dir
from engine.errors import PmaxError
from engine.store import Store

if TYPE_CHECKING:
    from engine.serve.reader import ReaderStore


def load_cli_config(
    config_path: str | None, overrides: Mapping[str, Any] | None = None, log_to_stderr: bool = True
) -> Config:
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


def open_store(db: str | None, config: Config, kind: str = "import") -> Store:
    """Open the store this invocation writes to; DatabaseLockedError naming the owner if another
    pmax holds it (a `kind="run"` writer asks an idle app to hand over first). Readers use
    `open_reader`."""
    from engine.serve.owner import open_owned

    return open_owned(resolve_db_path(db, config), kind, config, announce=note)


def open_reader(db: str | None, config: Config) -> ReaderStore:
    """The store a reading command uses: the file when free, else the owner's endpoint.

    Says `attached to pmax --run (pid N)` on stderr when it attaches.
    """
    from engine.serve.reader import open_reader as _open_reader
    from engine.store.migrate import check_not_newer

    reader = _open_reader(resolve_db_path(db, config), config, announce=note)
    try:
        check_not_newer(reader.con)  # a database a newer pmax wrote is refused to readers too
    except BaseException:
        reader.close()
        raise
    return reader


def note(message: str) -> None:
    """One `pmax: …` line on stderr that is not an error (attached, handed over)."""
    print(f"pmax: {message}", file=sys.stderr, flush=True)


def fail(error: PmaxError) -> NoReturn:
    """Print a PmaxError as one line (plus its hint) on stderr and exit with its code."""
    print(f"pmax: {error.message}", file=sys.stderr)
    if error.hint:
        print(f"  hint: {error.hint}", file=sys.stderr)
    raise SystemExit(error.exit_code)
