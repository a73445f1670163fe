"""The DuckDB store: one file holds bars, forecasts, orders, risk and chat history.

`Store.open` migrates the schema forward and turns DuckDB's lock conflict into a
`DatabaseLockedError` naming the holder. Writes are bulk, through DataFrames
(`append`, `upsert`); a cycle's writes share one transaction (`transaction`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from engine.errors import DatabaseLockedError, PmaxError, UsageError
from engine.store.migrate import apply_migrations, latest_version

if TYPE_CHECKING:  # pandas loads with the first DataFrame, not with the store (the app's first rows need none)
    import pandas as pd

__all__ = ["Store", "append", "upsert", "latest_version", "connect"]

# DuckDB's own worker threads (its default: one per core). The engine's statements are
# small and many (~70 per session), and waking a pool for each costs more than it saves:
# on 2 cores one thread took ~10 % less CPU for a 40-session replay of the bundled sample
# (5 interleaved pairs) and replayed 21 sessions of the 505-ticker set no slower. A
# process opens a file with one configuration only (DuckDB refuses a second), so every
# pmax connection uses this one.
DUCKDB_CONFIG = {"threads": 1}

_LOCK_PID = re.compile(r"PID (\d+)")


class Store:
    """Owns one DuckDB connection; hands out cursors for other threads."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, read_only: bool) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only

    @classmethod
    def open(cls, path: str | Path, read_only: bool = False) -> Store:
        """Open (creating if needed) and migrate the database at `path`.

        `":memory:"` gives an in-memory store (tests).
        """
        target = str(path)
        if target != ":memory:":
            file = Path(target).expanduser()
            if read_only and not file.exists():
                raise UsageError(f"database {file} does not exist", "run `pmax --run` first to fill it")
            if file.is_dir():
                raise UsageError(f"database path {file} is a directory", "pass a file path with --db")
            file.parent.mkdir(parents=True, exist_ok=True)
            target = str(file)
        try:
            con = connect(target, read_only=read_only)
        except duckdb.IOException as exc:
            raise _lock_error(target, exc) from None
        except duckdb.Error as exc:
            raise UsageError(
                f"database {target} cannot be opened: {_first_line(exc)}", "check that --db names a DuckDB file"
            ) from None
        store = cls(con, target, read_only)
        if not read_only:
            apply_migrations(con)
        return store

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the same database, for use from another thread."""
        return self.con.cursor()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """BEGIN … COMMIT on a fresh cursor; ROLLBACK if the block raises."""
        cur = self.con.cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            cur.close()
            raise
        cur.execute("COMMIT")
        cur.close()

    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        cur = self.con.cursor()
        try:
            return cur.execute(sql, params or []).df()
        finally:
            cur.close()

    def schema_version(self) -> int:
        rows = self.con.execute("SELECT max(version) FROM schema_migrations").fetchall()
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def close(self) -> None:
        self.con.close()


def connect(target: str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect` with pmax's configuration (`DUCKDB_CONFIG`)."""
    return duckdb.connect(target, read_only=read_only, config=dict(DUCKDB_CONFIG))


def append(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> int:
    """Bulk-insert a DataFrame by column name; returns rows written."""
    if df is None or df.empty:
        return 0
    _pmax_rows = df  # read by DuckDB's replacement scan
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _pmax_rows")
    return len(df)


def upsert(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> int:
    """Bulk insert-or-replace on the table's primary key; returns rows written."""
    if df is None or df.empty:
        return 0
    _pmax_rows = df  # read by DuckDB's replacement scan
    con.execute(f"INSERT OR REPLACE INTO {table} BY NAME SELECT * FROM _pmax_rows")
    return len(df)


def _lock_error(path: str, exc: Exception) -> PmaxError:
    text = str(exc)
    if "lock" in text.lower() or "Conflicting" in text:
        pid = _LOCK_PID.search(text)
        holder = f" by process {pid.group(1)}" if pid else " by another process"
        return DatabaseLockedError(
            f"database {path} is in use{holder}",
            "close the other pmax (or wait for it to finish), or pass another file with --db",
        )
    return UsageError(f"database {path} cannot be opened: {_first_line(exc)}")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
