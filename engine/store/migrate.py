"""Forward-only schema migrations, discovered from `engine/store/migrations/`.

Each module `m<NNN>_<name>.py` defines `VERSION: int` and `SQL: str`. They apply in
order of VERSION, each once, inside one transaction per migration; the applied set
is recorded in `schema_migrations`. A database holding a version this code does not
know was written by a newer pmax and is refused (`SchemaTooNewError`, exit 2).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache

import duckdb

from engine.errors import InvariantError, SchemaTooNewError
from engine.store.connection import Queryable


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@cache
def discover() -> tuple[Migration, ...]:
    from engine.store import migrations as pkg

    found: dict[int, Migration] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("m"):
            continue
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        version = int(module.VERSION)
        if version in found:
            raise InvariantError(f"two migrations share version {version}: {found[version].name}, {info.name}")
        found[version] = Migration(version, info.name, module.SQL)
    return tuple(found[v] for v in sorted(found))


def latest_version() -> int:
    migrations = discover()
    return migrations[-1].version if migrations else 0


def check_not_newer(con: Queryable, done: set[int] | None = None) -> None:
    """Refuse a database that a newer pmax migrated: this code would misread its tables."""
    if done is None:
        try:
            done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
        except duckdb.CatalogException:  # not (yet) a pmax database: nothing newer in it
            return
    unknown = sorted(done - {m.version for m in discover()})
    if unknown:
        path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
        where = path[0] if path and path[0] else "the database"
        raise SchemaTooNewError(
            f"{where} was written by a newer pmax (schema version {unknown[-1]}; this pmax knows up to "
            f"{latest_version()})",
            "upgrade pmax (git pull && scripts/install.sh), or use another --db",
        )


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration not yet recorded; returns the versions applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    check_not_newer(con, done)
    applied: list[int] = []
    for migration in discover():
        if migration.version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)", [migration.version, migration.name]
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        applied.append(migration.version)
    return applied
