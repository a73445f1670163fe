"""Helpers every `pmax` subcommand shares, so errors look the same everywhere."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from engine.config import Config, load_config, user_data_dir
from engine.errors import PmaxError
from engine.store import Store

if TYPE_CHECKING:
    from engine.serve.reader import ReaderStore


def load_cli_config(config_path: str | None, overrides: Mapping[str, Any] | None = None) -> Config:
    """The merged config for this invocation (raises ConfigError on bad settings).

    The modules imported first register their `_validate_*` checks (enumerations and
    ranges), so a bad value stops the command at start-up with the key named.
    """
    import copilot.settings  # noqa: F401 - registers [copilot] checks
    import engine.device  # noqa: F401 - registers [device] checks
    import engine.portfolio.settings  # noqa: F401 - registers [signals]/[portfolio]/[broker]/[risk] checks

    return load_config(Path(config_path) if config_path else None, overrides=overrides)


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

    return _open_reader(resolve_db_path(db, config), config, announce=note)


def note(message: str) -> None:
    """One `pmax: …` line on stderr that is not an error (attached, handed over)."""
    print(f"pmax: {message}", file=sys.stderr, flush=True)


def fail(error: PmaxError) -> NoReturn:
    """Print a PmaxError as one line (plus its hint) on stderr and exit with its code."""
    print(f"pmax: {error.message}", file=sys.stderr)
    if error.hint:
        print(f"  hint: {error.hint}", file=sys.stderr)
    raise SystemExit(error.exit_code)
