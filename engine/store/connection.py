"""The connection type read code accepts: a DuckDB connection or a served reader's.

`engine.serve.reader.ReadConnection` mirrors the one `duckdb` method readers use, so
code that only reads types its connection as `Queryable` and takes either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import duckdb


class Queryable(Protocol):
    """Anything with DuckDB's `execute(sql, params)` returning a DuckDB result."""

    def execute(self, query: str, parameters: Sequence[Any] | None = None, /) -> duckdb.DuckDBPyConnection: ...
