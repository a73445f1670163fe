"""Small read helpers over a DuckDB cursor that always consume the whole result.

DuckDB 2 refuses new work on a cursor with an unfinished result, so single-row
reads fetch everything (they are all LIMIT 1 or aggregates).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> tuple | None:
    """The first row of a query, or None."""
    rows = con.execute(sql, list(params)).fetchall()
    return rows[0] if rows else None


def insert_row(con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any], replace: bool = False) -> None:
    """One parameterised INSERT (OR REPLACE) of a single row.

    Per-cycle single rows (equity, risk, regimes) go in as one parameterised
    INSERT instead of through a one-row DataFrame that `engine.store.append` would
    scan; bulk writes still use `append`.
    """
    cols = list(row)
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    con.execute(
        f"{verb} INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        [v.item() if hasattr(v, "item") else v for v in (row[c] for c in cols)],
    )
