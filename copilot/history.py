"""Conversation persistence in ``copilot_messages`` and ``copilot_checks`` (the only
tables the copilot writes).

Writes go through the cursor the caller hands over (the TUI's store cursor, or the
store ``pmax ask`` opened). On a read-only store they are skipped, not fatal: the
answer still reaches the user. Tools never come here; they only read.
``check_rate`` summarises the number checks for ``pmax copilot status``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from copilot.types import Citation

if TYPE_CHECKING:
    from engine.store.connection import Queryable


def save_turn(
    con: Queryable,
    conversation_id: str,
    question: str,
    answer: str,
    sources: list[Citation],
    backend: str,
    check: dict[str, Any] | None = None,
    fed_back: bool = True,
) -> bool:
    """Append the user's question, the answer and its number check; False when the
    store is read-only."""
    import duckdb

    now = dt.datetime.now().replace(microsecond=0)
    src = json.dumps([c.to_dict() for c in sources])
    try:
        row = con.execute(
            "SELECT coalesce(max(seq), 0) FROM copilot_messages WHERE conversation_id = ?", [conversation_id]
        ).fetchone()
        seq = int(row[0]) if row else 0
        con.execute(
            "INSERT INTO copilot_messages (conversation_id, seq, role, content, sources, "
            "backend, created_at) VALUES (?, ?, 'user', ?, NULL, NULL, ?), "
            "(?, ?, 'assistant', ?, ?, ?, ?)",
            [conversation_id, seq + 1, question, now, conversation_id, seq + 2, answer, src, backend, now],
        )
        if check is not None:
            con.execute(
                "INSERT INTO copilot_checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    conversation_id,
                    seq + 2,
                    backend,
                    int(check.get("numbers", 0)),
                    int(check.get("verified", 0)),
                    int(check.get("unverified", 0)),
                    str(check.get("action", "none")),
                    json.dumps(check.get("unverified_values", [])),
                    bool(check.get("looped", False)),
                    bool(fed_back),
                    now,
                ],
            )
    except duckdb.Error:  # read-only store, or a write conflict with the engine: skip
        return False
    return True


def load_history(con: Queryable, conversation_id: str) -> list[dict[str, Any]]:
    """Messages of one conversation, oldest first, with sources decoded; ``fed_back``
    is False for answers that must not be sent back to a model (loops, fallbacks)."""
    rows = con.execute(
        "SELECT m.seq, m.role, m.content, m.sources, m.backend, m.created_at, "
        "coalesce(c.fed_back, TRUE) FROM copilot_messages m LEFT JOIN "
        "copilot_checks c ON c.conversation_id = m.conversation_id AND "
        "c.seq = m.seq WHERE m.conversation_id = ? ORDER BY m.seq",
        [conversation_id],
    ).fetchall()
    out = []
    for seq, role, content, sources, backend, created, fed_back in rows:
        out.append(
            {
                "seq": seq,
                "role": role,
                "content": content,
                "sources": json.loads(sources) if sources else [],
                "backend": backend,
                "created_at": created,
                "fed_back": bool(fed_back),
            }
        )
    return out


def check_rate(con: Queryable) -> dict[str, Any]:
    """Answers checked, how many had unverified numbers (before the check acted), and
    the totals, per backend."""
    rows = con.execute(
        "SELECT backend, count(*), count(*) FILTER (WHERE unverified > 0), "
        "sum(numbers), sum(verified), sum(unverified), "
        "count(*) FILTER (WHERE action = 'fallback'), count(*) FILTER (WHERE looped) "
        "FROM copilot_checks GROUP BY backend ORDER BY backend"
    ).fetchall()
    out: dict[str, Any] = {}
    for backend, n, bad, numbers, verified, unverified, fallback, looped in rows:
        out[backend] = {
            "answers": n,
            "answers_with_unverified": bad,
            "share_with_unverified": round(bad / n, 4) if n else None,
            "numbers": int(numbers or 0),
            "verified": int(verified or 0),
            "unverified": int(unverified or 0),
            "fallbacks": fallback,
            "looped": looped,
        }
    return out
