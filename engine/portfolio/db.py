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
