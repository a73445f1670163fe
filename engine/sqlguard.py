"""The SELECT-only guard: decides whether a SQL text is one read-only query.

Pure (no database, no imports beyond `re`), so the copilot's grounding tools and the
owner's read endpoint (`engine.serve`) apply the very same rule. Conservative on
purpose: a write keyword anywhere, even inside a string literal, is refused.
"""

from __future__ import annotations

import re

__all__ = ["read_only_body", "is_read_only"]

_READ_ONLY = re.compile(r"^\s*(SELECT|WITH)\b", re.IGNORECASE)
_WRITE_WORDS = re.compile(
    r"\b(INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|ATTACH|DETACH|COPY|EXPORT|IMPORT|"
    r"INSTALL|LOAD|PRAGMA|SET|CALL|CHECKPOINT|VACUUM|TRUNCATE|REPLACE\s+INTO)\b",
    re.IGNORECASE,
)


def read_only_body(sql: str) -> str | None:
    """The statement without surrounding blanks and a trailing `;`, or None when it is
    not exactly one SELECT/WITH statement free of write keywords."""
    body = sql.strip().rstrip(";")
    if not _READ_ONLY.match(body) or ";" in body or _WRITE_WORDS.search(body):
        return None
    return body


def is_read_only(sql: str) -> bool:
    """Whether `sql` is one read-only SELECT/WITH statement."""
    return read_only_body(sql) is not None
