"""Read-only plumbing shared by the grounding tools: the SELECT-only query helper,
JSON-payload parsing, the tool registry entry type and citation keys.

Every tool reads through ``select``; it refuses anything but one SELECT/WITH
statement, so no tool can write even when handed a read-write cursor. The
tests also run every tool on a read-only store to prove it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from copilot.types import Citation, ToolResult
from engine.sqlguard import read_only_body

if TYPE_CHECKING:
    from engine.store.connection import Queryable


def select(
    con: Queryable, sql: str, params: list[Any] | tuple[Any, ...] = ()
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one read-only SELECT and return (column names, rows).

    Raises InvariantError for anything else: tools never write, and a bug that
    tried to would be caught here before it reached DuckDB.
    """
    from engine.errors import InvariantError

    body = read_only_body(sql)
    if body is None:
        raise InvariantError(
            "copilot tools may only run a single SELECT statement",
            hint="this is a bug in copilot/tools; please report it",
        )
    cur = con.execute(body, list(params))
    cols = [d[0] for d in cur.description]
    return cols, cur.fetchall()


def parse_json(text: Any) -> Any:
    """Parse a JSON payload column; bad or empty text becomes None (never raises)."""
    if text is None or isinstance(text, (list, dict)):
        return text
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def key_of(**parts: Any) -> str:
    """A citation key like ``account=paper, ticker=AAPL`` (None parts left out)."""
    return ", ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


def cite(table: str, when: Any, **parts: Any) -> Citation:
    as_of = when if isinstance(when, dt.date) else None
    if isinstance(when, dt.datetime):
        as_of = when.date()
    return Citation(table=table, key=key_of(**parts), as_of=as_of)


def result(
    tool: str,
    title: str,
    cols: list[str],
    rows: list[tuple[Any, ...]],
    citations: list[Citation],
    *,
    note: str = "",
    data_text: tuple[str, ...] = (),
    args: dict[str, Any] | None = None,
    children: tuple[ToolResult, ...] = (),
) -> ToolResult:
    return ToolResult(
        tool=tool,
        title=title,
        columns=tuple(cols),
        rows=tuple(tuple(r) for r in rows),
        citations=tuple(citations),
        note=note,
        data_text=data_text,
        args=dict(args or {}),
        children=children,
    )


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the router and function-calling backends see it."""

    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of keyword arguments
    fn: Callable[..., ToolResult]  # fn(con, account, **kwargs)

    def schema(self) -> dict[str, Any]:
        """OpenAI ``tools`` entry."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


TICKER_PARAM = {"type": "string", "description": "US equity ticker symbol, e.g. AAPL"}


def params(required: tuple[str, ...] = (), **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required)}


def norm_ticker(ticker: Any) -> str | None:
    if ticker is None:
        return None
    text = str(ticker).strip().upper()
    return text or None


def clamp_limit(limit: Any, default: int, hi: int = 200) -> int:
    try:
        value = int(limit)
    except (TypeError, ValueError):
        return default
    return max(1, min(hi, value))
