"""Reading a database file that may be owned by another pmax process.

`open_reader(path, config)` gives a `ReaderStore`: the small part of `Store` that
readers use (`con`, `cursor()`, `query_df`, `close`, `read_only`). Its connections
are DuckDB-like (`execute(sql, params)` returning an object with `df()`,
`fetchall()`, `fetchone()`, `description`) and route every statement:

- to the owner's endpoint when a live owner file names one (attached), or
- to the file itself, opened read-only only for as long as statements keep coming
  (released after `HOLD_S` idle), so a reader never keeps a starting `pmax --run`
  waiting for more than a moment.

Results are materialised in a private in-memory DuckDB, so callers see exactly the
Python and pandas types a DuckDB connection would give them. `fetch_rows` gives plain
rows instead; on the file it needs neither pyarrow nor pandas (the app's first rows
are read before either has loaded). If the owner goes away
mid-way (killed, finished), the next statement reads the file directly and the
reader is told so. Only SELECT/WITH statements pass (`engine.sqlguard`); anything
else raises `duckdb.PermissionException`, which callers that may write (copilot
history) already treat as "read-only store".
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from engine.errors import DatabaseLockedError, OwnerGoneError, UsageError
from engine.serve.rendezvous import OwnerInfo, find_owner
from engine.serve.wire import REFUSED, query_ticket, server_message
from engine.sqlguard import read_only_body
from engine.store import connect

if TYPE_CHECKING:  # pyarrow loads with the first statement that needs it (see fetch_rows)
    import pandas as pd
    import pyarrow as pa
    import pyarrow.flight as fl

__all__ = ["ReaderStore", "ReadConnection", "fetch_rows", "open_reader"]

HOLD_S = 0.25  # idle seconds before the file is let go
QUERY_TIMEOUT_S = 120.0
Announce = Callable[[str], None]


class _Route:
    """Where statements go, shared by every cursor of one ReaderStore (thread-safe)."""

    def __init__(self, path: Path, runtime: str, lock_wait_s: float, announce: Announce | None) -> None:
        self.path = path
        self.runtime = runtime
        self.lock_wait_s = lock_wait_s
        self.announce = announce or (lambda _msg: None)
        self.owner: OwnerInfo | None = None
        self._client: fl.FlightClient | None = None
        self._local: duckdb.DuckDBPyConnection | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.RLock()
        self._announced: tuple[str, int] | None = None

    # ---- routing -------------------------------------------------------------------
    def resolve(self) -> OwnerInfo | None:
        """The owner to attach to now (None: read the file), announcing a change."""
        owner = find_owner(self.path, self.runtime)
        if owner is not None and owner.pid == os.getpid():
            owner = None
        if owner is not None and (self.owner is None or self.owner.token != owner.token):
            self._connect(owner)
        elif owner is None and self.owner is not None:
            self._disconnect(f"{self.owner.label} has stopped; reading {self.path} directly")
        return self.owner

    def fetch(self, sql: str, params: Sequence[Any] | None, rows: bool = False) -> Any:
        """The result as an Arrow table, or with `rows` as a list of tuples (from the file
        without pyarrow; from an owner, converted from its Arrow stream)."""
        deadline = time.monotonic() + self.lock_wait_s
        while True:
            with self._lock:
                owner = self.resolve()
                if owner is not None:
                    from pyarrow import flight as fl

                    try:
                        table = self._remote(owner, sql, params)
                        return list(zip(*(c.to_pylist() for c in table.columns), strict=True)) if rows else table
                    except fl.FlightError as exc:  # unavailable, cancelled, shut down mid-query
                        if time.monotonic() > deadline:
                            raise OwnerGoneError(
                                f"{owner.label} stopped answering: {server_message(exc)}",
                                "run the command again; once the owner has exited it reads the file directly",
                            ) from None
                else:
                    try:
                        return self._file(sql, params, rows)
                    except _Locked as exc:
                        if time.monotonic() > deadline:
                            raise DatabaseLockedError(
                                f"database {self.path} is in use{exc.holder} and nobody serves it",
                                "that process does not share the file (not pmax, or [serve] enabled = false "
                                "there); wait for it to finish or stop it",
                            ) from None
            time.sleep(0.2)

    # ---- the owner -----------------------------------------------------------------
    def _connect(self, owner: OwnerInfo) -> None:
        from pyarrow import flight as fl

        if self._client is not None:
            self._client.close()
        self._release()
        self._client = fl.FlightClient(owner.socket)
        self.owner = owner
        if self._announced != ("attached", owner.pid):
            self._announced = ("attached", owner.pid)
            self.announce(f"attached to {owner.label}")

    def _disconnect(self, message: str) -> None:
        if self._client is not None:
            self._client.close()
        self._client, self.owner = None, None
        self._announced = ("file", 0)
        self.announce(message)

    def _remote(self, owner: OwnerInfo, sql: str, params: Sequence[Any] | None) -> pa.Table:
        from pyarrow import flight as fl

        assert self._client is not None
        ticket = fl.Ticket(query_ticket(owner.token, sql, params))
        try:
            return self._client.do_get(ticket, options=fl.FlightCallOptions(timeout=QUERY_TIMEOUT_S)).read_all()
        except fl.FlightUnauthorizedError as exc:
            raise duckdb.PermissionException(server_message(exc)) from None
        except fl.FlightServerError as exc:
            message = server_message(exc)
            if message.startswith(REFUSED):
                raise duckdb.PermissionException(message) from None
            raise duckdb.Error(message) from None

    # ---- the file ------------------------------------------------------------------
    def _file(self, sql: str, params: Sequence[Any] | None, rows: bool = False) -> Any:
        if self._timer is not None:
            self._timer.cancel()
        if self._local is None:
            if not self.path.exists():
                raise UsageError(f"database {self.path} does not exist", "run `pmax --run` first to fill it")
            try:
                self._local = connect(str(self.path), read_only=True)
            except duckdb.IOException as exc:
                raise _Locked(str(exc)) from None
        try:
            if rows:
                return self._local.execute(sql, list(params) if params else None).fetchall()
            return self._local.sql(sql, params=list(params) if params else None).to_arrow_table()
        finally:
            self._timer = threading.Timer(HOLD_S, self._release_locked)
            self._timer.daemon = True
            self._timer.start()

    def _release_locked(self) -> None:
        with self._lock:
            self._release()

    def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._local is not None:
            self._local.close()
            self._local = None

    def close(self) -> None:
        with self._lock:
            self._release()
            if self._client is not None:
                self._client.close()
                self._client = None


class _Locked(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        pid = re.search(r"PID (\d+)", text)
        self.holder = f" by process {pid.group(1)}" if pid else ""


class ReadConnection:
    """A DuckDB-like read-only connection; `execute` returns a DuckDB result object."""

    def __init__(self, route: _Route) -> None:
        self._route = route
        self._mem = connect()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyConnection:
        body = read_only_body(sql)
        if body is None:
            raise duckdb.PermissionException("read-only: this reader runs one SELECT statement at a time")
        _pmax_result = self._route.fetch(body, params)  # read by DuckDB's replacement scan
        return self._mem.execute("SELECT * FROM _pmax_result")

    def fetch_rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """`execute(sql, params).fetchall()`, without pyarrow or pandas when reading the file."""
        body = read_only_body(sql)
        if body is None:
            raise duckdb.PermissionException("read-only: this reader runs one SELECT statement at a time")
        return list(self._route.fetch(body, params, rows=True))

    def cursor(self) -> ReadConnection:
        return ReadConnection(self._route)

    def close(self) -> None:
        self._mem.close()


def fetch_rows(cur: Any, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """Plain rows from a reader's cursor or a DuckDB connection alike."""
    if isinstance(cur, ReadConnection):
        return cur.fetch_rows(sql, params)
    return list(cur.execute(sql, list(params) if params else []).fetchall())


class ReaderStore:
    """What readers need of a `Store`, over a file that may be owned elsewhere."""

    read_only = True

    def __init__(self, route: _Route) -> None:
        self._route = route
        self.path = str(route.path)
        self.con = ReadConnection(route)

    @property
    def attached(self) -> OwnerInfo | None:
        """The owner this reader is attached to, or None when it reads the file."""
        return self._route.owner

    def cursor(self) -> ReadConnection:
        return self.con.cursor()

    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        cur = self.cursor()
        try:
            return cur.execute(sql, params).df()
        finally:
            cur.close()

    def close(self) -> None:
        self.con.close()
        self._route.close()


def open_reader(
    path: str | Path, config: Any, announce: Announce | None = None, must_exist: bool = True
) -> ReaderStore:
    """A reader of the database at `path`: attached to its owner, or on the file itself.

    Raises UsageError when the file does not exist, unless `must_exist` is false (the
    app's engine process is about to create it; statements fail until it has).
    """
    file = Path(path).expanduser()
    if must_exist and not file.exists():
        raise UsageError(f"database {file} does not exist", "run `pmax --run` first to fill it, or pass --db PATH")
    serve = config.section("serve")
    route = _Route(file, serve.runtime_dir, serve.lock_wait_s, announce)
    route.resolve()
    return ReaderStore(route)
