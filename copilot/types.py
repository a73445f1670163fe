"""Plain value types the copilot passes around: citations, tool results, answers.

Frozen dataclasses with JSON-ready ``to_dict`` converters; nothing here touches the
store or a model, so the TUI and the CLI can import them cheaply.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any


def jsonable(value: Any) -> Any:
    """Convert a store value (dates, numpy scalars, NaN) to plain JSON-ready data."""
    if value is None:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()  # numpy scalar → python scalar
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, (int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


@dataclass(frozen=True)
class Citation:
    """Where a number came from: a store table, the row's key, and its as-of date."""

    table: str
    key: str  # e.g. "account=paper, ticker=AAPL"
    as_of: dt.date | None = None

    def label(self) -> str:
        """One line for the Sources list: ``signals [account=paper, ticker=AAPL] as of 2018-02-07``."""
        when = f" as of {self.as_of.isoformat()}" if self.as_of else ""
        return f"`{self.table}` [{self.key}]{when}"

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "key": self.key, "as_of": self.as_of.isoformat() if self.as_of else None}


@dataclass(frozen=True)
class ToolResult:
    """What a grounding tool returns: structured rows plus the citations for them.

    ``note`` is a short human sentence when there are no rows (why, and what would
    produce them). ``data_text`` lists the row fields that hold free text coming from
    data (reasons, notes, headlines): renderers quote those, prompts fence them.
    ``children`` are nested tables (a signal's validation layers and SHAP drivers).
    """

    tool: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    citations: tuple[Citation, ...]
    note: str = ""
    data_text: tuple[str, ...] = ()
    args: dict[str, Any] = field(default_factory=dict)
    children: tuple[ToolResult, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.rows

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "title": self.title,
            "args": jsonable(self.args),
            "rows": [jsonable(r) for r in self.records()],
            "note": self.note,
            "sources": [c.to_dict() for c in self.citations],
            "children": [c.to_dict() for c in self.children],
        }

    def all_citations(self) -> list[Citation]:
        out = list(self.citations)
        for child in self.children:
            out.extend(child.all_citations())
        return out


@dataclass
class Answer:
    """One finished copilot answer: Markdown text, its sources, who wrote it, timings.

    ``timings`` holds seconds: ``tools_s``, ``first_token_s`` (text reached the
    caller), ``total_s``, and where a model generated text ``prompt_tokens``,
    ``tokens``, ``model_first_token_s`` and ``decode_tokens_per_s`` (= ``tokens_per_s``:
    tokens after the first over the decode time); ``cached`` / ``cancelled`` are 1.0
    when true. ``checks`` is the number check (numbers, verified, unverified, action).
    """

    text: str
    sources: list[Citation]
    backend: str
    timings: dict[str, float] = field(default_factory=dict)
    question: str = ""
    checks: dict[str, Any] = field(default_factory=dict)
    source_rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``sources`` carry the row values the answer used where the check found them."""
        sources = self.source_rows or [{**c.to_dict(), "rows": []} for c in self.sources]
        return {
            "answer": self.text,
            "sources": sources,
            "checks": dict(self.checks),
            "backend": self.backend,
            "timings": dict(self.timings),
        }
